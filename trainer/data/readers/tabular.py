"""Reader for JSONL and CSV files, one article per line / row (kinds "jsonl" and "csv").

`source.columns` maps input keys (JSONL) or header names (CSV) to Article fields. Lists (topics,
tags, places) are JSON arrays in JSONL, or cells split on `columns.list_separator` (a cell holding a
JSON array is read as one). A bad line or row is rejected as "file:line", a file that cannot be read
or decoded as "file" (see files.py and the reader policy in docs/contracts.md).

Field types (JSONL): title and body must be strings; id, section, url and published may also be
numbers; a list where one value is expected is taken when it holds exactly one string. Anything
else rejects the row, naming the key. A body column (or a column named in `source.columns`) that
a file lacks rejects that file; when no file has it, the mapping is wrong and the build stops
(DataError naming the key to set).
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Iterator

from trainer.data.article import Article, Rejected
from trainer.data.config import ColumnMap, SourceConfig
from trainer.data.dates import parse_iso_or_formats
from trainer.data.readers.plan import ReadPlan
from trainer.data.readers.files import (EMPTY_FILE, ENCODING_SAMPLE_BYTES, check_encoding, has_lone_surrogate,
                                        line_encoding, looks_binary, scan, splits_on_newline_byte, unreadable)
from trainer.errors import DataError

_LIST_FIELDS = ("topics", "tags", "places")
_TEXT_FIELDS = ("title", "section", "url")
_NUMBERS_ALLOWED = ("id", "section", "url", "published")   # a number there is read as its text
_REST = "; the rest of the file is not read"


class _ColumnMissing(DataError):
    """A file lacks a configured column: that file is rejected; if no file has it, the build stops."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def inputs(source: SourceConfig) -> list[Path]:
    return scan(source).files


def plan(source: SourceConfig) -> ReadPlan:
    check_encoding(source.encoding)
    found = scan(source)
    return ReadPlan([str(p) for p in found.files], leading=found.rejects, limit=source.limit,
                    unit_records=1_000_000)   # unknown: a file per task


def read_unit(source: SourceConfig, unit: str, state=None) -> Iterator[Article | Rejected]:
    """The rows of one file; a file lacking a configured column ends with a Rejected whose `fatal` error
    stops the build when no file had the column (the mapping is wrong, not the files)."""
    path = Path(unit)
    rows = read_jsonl if source.kind == "jsonl" else read_csv
    try:
        yield from rows(path, source)
    except _ColumnMissing as exc:
        yield Rejected(str(path), exc.reason, fatal=str(exc))


# ---- lines, decoded ------------------------------------------------------------------------------
def decoded_lines(path: Path, encoding: str) -> Iterator[tuple[int, str | None, str | None]]:
    """(line number, text, None) per line; (n, text decoded with replacement characters, reason) for an
    undecodable line; (n, None, reason) when the rest of the file (n = 0: all of it) cannot be read."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        yield 0, None, unreadable(exc)
        return
    with fh:
        try:
            head = fh.read(ENCODING_SAMPLE_BYTES)
            fh.seek(0)
        except OSError as exc:
            yield 0, None, unreadable(exc)
            return
        codec, reason = line_encoding(head, encoding, complete=len(head) < ENCODING_SAMPLE_BYTES)
        if codec is None:
            yield 0, None, reason
        elif splits_on_newline_byte(codec):
            yield from _byte_lines(fh, codec)
        else:
            yield from _text_lines(fh, codec)


def _byte_lines(fh, codec: str) -> Iterator[tuple[int, str | None, str | None]]:
    n = 0
    try:
        for n, raw in enumerate(fh, start=1):
            try:
                yield n, raw.decode(codec), None
            except UnicodeDecodeError as exc:
                yield n, raw.decode(codec, errors="replace"), f"undecodable bytes ({codec}: {exc.reason})"
    except OSError as exc:
        yield n + 1, None, unreadable(exc) + _REST


def _text_lines(fh, codec: str) -> Iterator[tuple[int, str | None, str | None]]:
    """UTF-16/32: the byte 0x0A is no line break there, so lines come from a text stream."""
    text, n = io.TextIOWrapper(fh, encoding=codec, newline=""), 0
    try:
        for n, line in enumerate(text, start=1):
            yield n, line, None
    except UnicodeDecodeError as exc:
        yield n + 1, None, f"undecodable bytes ({codec}: {exc.reason}){_REST}"
    except OSError as exc:
        yield n + 1, None, unreadable(exc) + _REST
    finally:
        text.detach()   # the caller closes the file


def _ref(path: Path, n: int) -> str:
    return f"{path}:{n}" if n > 0 else str(path)


# ---- JSONL ---------------------------------------------------------------------------------------
def read_jsonl(path: Path, source: SourceConfig) -> Iterator[Article | Rejected]:
    body_key, seen_body, any_line = source.columns.body, False, False
    for n, line, reason in decoded_lines(path, source.encoding):
        if reason is not None:
            any_line = True
            yield Rejected(_ref(path, n), reason)
            continue
        if not line.strip():
            continue
        any_line, ref = True, f"{path}:{n}"
        row, reason = parse_json_object(line)
        if row is None:
            yield Rejected(ref, reason)
            continue
        seen_body = seen_body or body_key in row
        if not seen_body and not _jsonl_has_key(path, body_key, source.encoding):
            raise _missing_body(path, body_key, sorted(map(str, row)))
        seen_body = True
        yield row_to_article(row, path, n, source)
    if not any_line:
        yield Rejected(str(path), EMPTY_FILE)


def parse_json_object(line: str) -> tuple[dict | None, str | None]:
    """(object, None), or (None, reject reason) for invalid JSON, JSON too deep, or a non-object."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    except ValueError as exc:     # Python refuses integers of more than 4,300 digits
        return None, "invalid JSON: a number too long to read" if "digits" in str(exc) else f"invalid JSON: {exc}"
    if not isinstance(row, dict):
        return None, f"invalid JSON: expected an object, got {_json_type(row)}"
    return row, None


def _jsonl_has_key(path: Path, key: str, encoding: str) -> bool:
    """Whether any object of the file has `key` (asked once, when the first object lacks it)."""
    for _, line, reason in decoded_lines(path, encoding):
        if reason is None:
            row, _ = parse_json_object(line)
            if row is not None and key in row:
                return True
    return False


# ---- CSV -----------------------------------------------------------------------------------------
def read_csv(path: Path, source: SourceConfig) -> Iterator[Article | Rejected]:
    bad: dict[int, str] = {}           # line number -> why it could not be decoded
    stop: list[tuple[int, str]] = []   # where reading ended early, and why
    reader = csv.DictReader(_csv_text(decoded_lines(path, source.encoding), bad, stop))
    with _field_size_limit():
        try:
            header = reader.fieldnames
        except csv.Error as exc:
            yield Rejected(str(path), f"invalid CSV header: {exc}")
            return
        header_bad = [bad[n] for n in range(1, reader.line_num + 1) if n in bad]
        if not header or header_bad:
            reason = stop[0][1] if stop else f"{header_bad[0]} in the CSV header" if header_bad else EMPTY_FILE
            yield Rejected(str(path), reason)
            return
        _check_header(path, header, source.columns)
        yield from _csv_rows(reader, path, source, bad)
    if stop:
        yield Rejected(_ref(path, stop[0][0]), stop[0][1])


def _csv_text(lines, bad: dict[int, str], stop: list) -> Iterator[str]:
    """The text lines the csv module parses; undecodable lines are noted in `bad` (their rows are
    rejected) and still passed on, so that the parser keeps its place."""
    for n, text, reason in lines:
        if text is None:
            stop.append((n, reason))
            return
        if reason is not None:
            bad[n] = reason
        yield text


def _csv_rows(reader: csv.DictReader, path: Path, source: SourceConfig,
              bad: dict[int, str]) -> Iterator[Article | Rejected]:
    start, rows = reader.line_num + 1, 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield Rejected(f"{path}:{start}", f"invalid CSV: {exc}")
        else:
            rows += 1
            broken = [bad[n] for n in range(start, reader.line_num + 1) if n in bad]
            yield Rejected(f"{path}:{start}", broken[0]) if broken else row_to_article(row, path, start, source)
        start = reader.line_num + 1
    if not rows:
        yield Rejected(str(path), "no data rows after the CSV header")


def _check_header(path: Path, header: list[str], columns: ColumnMap) -> None:
    if columns.body not in header:
        raise _missing_body(path, columns.body, header)
    # A column the user named must exist; one left at its schema default (title) may be absent.
    for name in columns.model_fields_set - {"body", "list_separator"}:
        column = getattr(columns, name)
        if column is not None and column not in header:
            raise _ColumnMissing(
                f"{path}: column {column!r} (source.columns.{name}) is not in the CSV header; "
                f"available columns: {', '.join(header)}. Set source.columns.{name} to one of them",
                f"column {column!r} (source.columns.{name}) not in the CSV header; set source.columns.{name}")


def _missing_body(path: Path, column: str, available: list[str]) -> _ColumnMissing:
    return _ColumnMissing(
        f"{path}: body column {column!r} not found; available columns: {', '.join(available) or '(none)'}. "
        "Set source.columns.body to the column holding the text",
        f"body column {column!r} not in the file; set source.columns.body")


@contextlib.contextmanager
def _field_size_limit():
    """Article bodies can exceed csv's 128 KiB field limit; raise it while reading, then restore it."""
    old = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


# ---- rows to articles ----------------------------------------------------------------------------
class _BadField(ValueError):
    pass


def row_to_article(row: dict[str, Any], path: Path, line: int, source: SourceConfig) -> Article | Rejected:
    columns, ref = source.columns, f"{path}:{line}"
    try:
        body = _scalar(row, columns.body, "body")
        if body is None:
            return Rejected(ref, f"missing value for body column {columns.body!r}")
        if not body.strip():
            return Rejected(ref, f"empty body (column {columns.body!r})")
        fields = {name: _scalar(row, getattr(columns, name), name) for name in _TEXT_FIELDS}
        lists = {name: _list(row, getattr(columns, name), columns.list_separator) for name in _LIST_FIELDS}
        raw_date = _scalar(row, columns.published, "published")
        row_id = _scalar(row, columns.id, "id")
    except _BadField as exc:
        return Rejected(ref, str(exc))
    published = parse_iso_or_formats(raw_date, source.profile.date_formats)
    meta = {"published_raw": raw_date} if raw_date and published is None else {}
    return Article(
        id=row_id.strip() if row_id and row_id.strip() else f"{path.stem}-{line}",
        source=source.profile.outlet or path.stem, body=body.strip(), title=(fields["title"] or "").strip(),
        url=fields["url"], published=published, section=fields["section"], path=ref, meta=meta, **lists,
    )


def _scalar(row: dict[str, Any], column: str | None, name: str) -> str | None:
    """The string in `column`, or None when the column is not mapped or empty; _BadField naming the
    column when the value is no string (numbers are fine for id, section, url, published)."""
    if not column:
        return None
    value = row.get(column)
    if isinstance(value, list):
        if len(value) != 1 or not isinstance(value[0], str):
            raise _BadField(f"column {column!r} (source.columns.{name}): expected one string, "
                            f"got a list of {len(value)} values")
        value = value[0]
    if value is None or isinstance(value, str):
        return _text_only(value, column)
    if name in _NUMBERS_ALLOWED and _is_number(value):
        return str(value)
    raise _BadField(f"column {column!r} (source.columns.{name}): expected a string, got {_json_type(value)}")


def _list(row: dict[str, Any], column: str | None, separator: str) -> list[str]:
    if not column:
        return []
    value = row.get(column)
    if value is None or value == "":
        return []
    if isinstance(value, str) and value.lstrip().startswith("["):
        with contextlib.suppress(ValueError, RecursionError):
            value = json.loads(value)
    if _is_number(value):
        value = str(value)
    if isinstance(value, str):
        value = value.split(separator)
    if not isinstance(value, list) or not all(v is None or isinstance(v, str) or _is_number(v) for v in value):
        raise _BadField(f"column {column!r}: expected strings, got {_json_type(value)}")
    items = (_text_only(str(v), column).strip() for v in value if v is not None)
    return list(dict.fromkeys(s for s in items if s))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text_only(value: str | None, column: str) -> str | None:
    """Text holding a NUL character is binary: the same rule as for whole files (files.looks_binary).
    A lone surrogate (JSON's "\\ud800") is no text either: it cannot be written as UTF-8."""
    if value is not None and "\x00" in value:
        raise _BadField(f"{looks_binary(value)} in column {column!r}")
    if value is not None and has_lone_surrogate(value):
        raise _BadField(f"invalid text (a lone UTF-16 surrogate) in column {column!r}")
    return value


_NOUNS = {dict: "object", bool: "boolean", int: "number", float: "number", str: "string", type(None): "null",
          list: "list"}


def _json_type(value: Any) -> str:
    """What a JSON value is, for reject reasons: "a number", "an object", "a list of number/string"."""
    if isinstance(value, list):
        kinds = sorted({_NOUNS.get(type(v), type(v).__name__) for v in value})
        return f"a list of {'/'.join(kinds)}" if kinds else "an empty list"
    noun = _NOUNS.get(type(value), type(value).__name__)
    return "null" if noun == "null" else f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"
