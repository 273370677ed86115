"""Date parsing for the data layer, one function per input shape. Readers store ISO 8601 strings in
`Article.published`; the time split reads them back as aware UTC datetimes.

    parse_with_formats("18 February 2020", ["%d %B %Y"])   -> "2020-02-18"       (scraped pages)
    parse_iso_or_formats("2020-02-18T08:25:00Z", [...])     -> "2020-02-18T08:25:00+00:00"  (JSONL/CSV)
    parse_reuters_date("26-FEB-1987 15:01:01.79")           -> "1987-02-26T15:01:01.790"    (Reuters SGML)
    parse_iso_utc("2020-02-18")                             -> datetime(2020, 2, 18, tzinfo=UTC)  (time split)

Each returns None for a value it cannot read: an undated document is the caller's decision
(kept with `published` None, or rejected by a time split), never a guess.
"""
from __future__ import annotations

import contextlib
import re
from datetime import date, datetime, timezone
from typing import Sequence

_REUTERS = re.compile(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})(?:\s+(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,2}))?)?")
_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}


def parse_with_formats(text: str, formats: Sequence[str]) -> str | None:
    """ISO date (or date and time, when the format has an hour) of the first strptime format that parses."""
    for fmt in formats:
        try:
            value = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value.isoformat() if "%H" in fmt else value.date().isoformat()
    return None


def parse_iso_or_formats(raw: str | None, formats: Sequence[str]) -> str | None:
    """ISO 8601 as given (normalised; a date stays a date), else the first of `formats` that parses."""
    if not raw or not raw.strip():
        return None
    raw = raw.strip()
    for parse in (date.fromisoformat, datetime.fromisoformat):
        with contextlib.suppress(ValueError):
            return parse(raw.replace("Z", "+00:00")).isoformat()
    return parse_with_formats(raw, formats)


def parse_reuters_date(raw: str) -> str | None:
    """`26-FEB-1987 15:01:01.79` (maybe with trailing noise) as ISO; the date alone if the time is bad."""
    match = _REUTERS.search(raw)
    if match is None:
        return None
    day, mon, year, hour, minute, sec, hundredths = match.groups()
    month = _MONTHS.get(mon.upper())
    if month is None:
        return None
    try:
        day_only = datetime(int(year), month, int(day))
    except ValueError:
        return None
    try:  # one document has hour 605: keep its date rather than drop it
        stamp = day_only.replace(hour=int(hour), minute=int(minute), second=int(sec),
                                 microsecond=int((hundredths or "0").ljust(2, "0")) * 10_000)
    except (TypeError, ValueError):
        return day_only.date().isoformat()
    return stamp.isoformat(timespec="milliseconds")


def parse_iso_utc(value: str | None) -> datetime | None:
    """ISO date/datetime as an aware UTC datetime (naive values are taken as UTC); None if unparsable."""
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)
