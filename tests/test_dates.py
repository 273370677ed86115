"""The data layer's one date module: each input shape, and no second date parser elsewhere."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from trainer.data.dates import parse_iso_or_formats, parse_iso_utc, parse_with_formats

FORMATS = ["%H:%M GMT%d %B %Y", "%d %B %Y", "%Y-%m-%d"]


@pytest.mark.parametrize("text, expected", [
    ("08:25 GMT18 February 2020", "2020-02-18T08:25:00"),   # a format with an hour keeps the time
    ("18 February 2020", "2020-02-18"),
    ("Listen Live", None),
])
def test_dates_with_formats(text, expected):
    assert parse_with_formats(text, FORMATS) == expected


@pytest.mark.parametrize("raw, expected", [
    ("2020-02-18", "2020-02-18"),                            # a date stays a date
    (" 2020-02-18T08:25:00Z ", "2020-02-18T08:25:00+00:00"),
    ("18 February 2020", "2020-02-18"),                      # not ISO: the formats are tried
    ("last Tuesday", None), ("", None), (None, None),
])
def test_dates_iso_or_formats(raw, expected):
    assert parse_iso_or_formats(raw, FORMATS) == expected


def test_dates_iso_utc_is_aware_and_in_utc():
    assert parse_iso_utc("2021-03-01T10:00:00+02:00") == datetime(2021, 3, 1, 8, tzinfo=timezone.utc)
    assert parse_iso_utc("2021-03-02") == datetime(2021, 3, 2, tzinfo=timezone.utc)
    assert parse_iso_utc("not a date") is None and parse_iso_utc(None) is None


def test_dates_are_parsed_only_in_trainer_data_dates():
    data = Path(__file__).resolve().parents[1] / "trainer" / "data"
    parsing = re.compile(r"strptime|fromisoformat|def parse_date")
    offenders = [str(p.relative_to(data)) for p in data.rglob("*.py")
                 if p.name != "dates.py" and parsing.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
