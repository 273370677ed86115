"""Reader for JSONL and CSV files, one article per line / row (kinds "jsonl" and "csv").

`source.columns` maps input keys (JSONL) or header names (CSV) to Article fields. Lists (topics,
tags, places) are JSON arrays in JSONL, or cells split on `columns.list_separator` (a cell holding a
JSON array is read as one). A bad line or row is rejected as "file:line"; a body column absent from
a whole file is a configuration error (DataError) naming the key to set.
"""
from __future__ import annotations

import contextlib
import csv
import json
import sys
from pathlib import Path
from typing import Any, Iterator

from trainer.data.article import Article, Rejected
from trainer.data.config import ColumnMap, SourceConfig
from trainer.data.dates import parse_iso_or_formats
from trainer.data.readers.files import check_encoding, list_files
from trainer.errors import DataError

_LIST_FIELDS = ("topics", "tags", "places")
_TEXT_FIELDS = ("title", "section", "url")


def inputs(source: SourceConfig) -> list[Path]:
    return list_files(source)


def read(source: SourceConfig) -> Iterator[Article | Rejected]:
    check_encoding(source.encoding)
    rows = read_jsonl if source.kind == "jsonl" else read_csv
    count = 0
    for path in inputs(source):
        for record in rows(path, source):
            yield record
            count += 1
            if source.limit and count >= source.limit:
                return


def read_jsonl(path: Path, source: SourceConfig) -> Iterator[Article | Rejected]:
    body_key, seen_body, any_line = source.columns.body, False, False
    encoding = _bom_safe(source.encoding)
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            any_line, ref = True, f"{path}:{n}"
            try:
                row = json.loads(raw.decode(encoding))
            except UnicodeDecodeError as exc:
                yield Rejected(ref, f"undecodable bytes ({source.encoding}: {exc.reason}); set source.encoding")
                continue
            except json.JSONDecodeError as exc:
                yield Rejected(ref, f"invalid JSON: {exc.msg} at column {exc.colno}")
                continue
            if not isinstance(row, dict):
                yield Rejected(ref, f"invalid JSON: expected an object, got {type(row).__name__}")
                continue
            seen_body = seen_body or body_key in row
            if not seen_body and not _jsonl_has_key(path, body_key, encoding):
                raise _missing_body(path, body_key, sorted(row))
            seen_body = True
            yield row_to_article(row, path, n, source)
    if not any_line:
        yield Rejected(str(path), "empty file")


def _jsonl_has_key(path: Path, key: str, encoding: str) -> bool:
    """Whether any object of the file has `key` (asked once, when the first object lacks it)."""
    with path.open("rb") as fh:
        for raw in fh:
            with contextlib.suppress(ValueError):
                row = json.loads(raw.decode(encoding))
                if isinstance(row, dict) and key in row:
                    return True
    return False


def read_csv(path: Path, source: SourceConfig) -> Iterator[Article | Rejected]:
    with path.open(encoding=_bom_safe(source.encoding), newline="") as fh, _field_size_limit():
        reader = csv.DictReader(fh)
        try:
            header = reader.fieldnames
            if not header:
                yield Rejected(str(path), "empty file")
                return
            _check_header(path, header, source.columns)
            yield from _csv_rows(reader, path, source)
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not valid {source.encoding} text ({exc.reason} at byte {exc.start}); "
                            f"set source.encoding (e.g. cp1252 or latin-1)") from None


def _csv_rows(reader: csv.DictReader, path: Path, source: SourceConfig) -> Iterator[Article | Rejected]:
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
            yield row_to_article(row, path, start, source)
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
            raise DataError(f"{path}: column {column!r} (source.columns.{name}) is not in the CSV header; "
                            f"available columns: {', '.join(header)}. Set source.columns.{name} to one of them")


def _bom_safe(encoding: str) -> str:
    """utf-8-sig reads plain UTF-8 too, and drops the byte-order mark spreadsheet exports start with."""
    return "utf-8-sig" if check_encoding(encoding) == "utf-8" else encoding


def _missing_body(path: Path, column: str, available: list[str]) -> DataError:
    return DataError(f"{path}: body column {column!r} not found; available columns: "
                     f"{', '.join(available) or '(none)'}. Set source.columns.body to the column holding the text")


@contextlib.contextmanager
def _field_size_limit():
    """Article bodies can exceed csv's 128 KiB field limit; raise it while reading, then restore it."""
    old = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def row_to_article(row: dict[str, Any], path: Path, line: int, source: SourceConfig) -> Article | Rejected:
    columns, ref = source.columns, f"{path}:{line}"
    body = _text(row.get(columns.body))
    if body is None:
        return Rejected(ref, f"missing value for body column {columns.body!r}")
    if not body.strip():
        return Rejected(ref, f"empty body (column {columns.body!r})")
    fields = {name: _text(row.get(getattr(columns, name))) if getattr(columns, name) else None
              for name in _TEXT_FIELDS}
    lists = {name: _list(row.get(getattr(columns, name)), columns.list_separator) if getattr(columns, name) else []
             for name in _LIST_FIELDS}
    raw_date = _text(row.get(columns.published)) if columns.published else None
    published = parse_iso_or_formats(raw_date, source.profile.date_formats)
    meta = {"published_raw": raw_date} if raw_date and published is None else {}
    row_id = _text(row.get(columns.id)) if columns.id else None
    return Article(
        id=row_id.strip() if row_id and row_id.strip() else f"{path.stem}-{line}",
        source=source.profile.outlet or path.stem, body=body.strip(), title=(fields["title"] or "").strip(),
        url=fields["url"], published=published, section=fields["section"], path=ref, meta=meta, **lists,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _list(value: Any, separator: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str) and value.lstrip().startswith("["):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    items = value if isinstance(value, list) else str(value).split(separator)
    return list(dict.fromkeys(s for s in (str(v).strip() for v in items if v is not None) if s))

