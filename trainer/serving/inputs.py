"""What `trainer predict` reads: raw article files (through the dataset build's readers), JSONL of texts, stdin."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from trainer.data import reader_kinds
from trainer.data.article import join_title_body
from trainer.errors import DataError

READER_KINDS = reader_kinds.SINGLE_FILE_KINDS


def detect_kind(path: Path) -> str:
    """Reader kind from the extension, else from the content (markup -> html, otherwise scraped text)."""
    kind = reader_kinds.kind_of(path.suffix)
    if kind is not None:
        return kind
    with open(path, "rb") as fh:
        head = fh.read(2048).lstrip().lower()
    return "html" if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head else "scraped"


def read_raw(path: str | Path, kind: str | None = None, cleaning=None, outlet: str | None = None):
    """Articles (or rejects) from one raw input file, read exactly as `trainer data build` read the model's
    dataset: `cleaning` (trainer.data.cleaning.Cleaning, saved with the model; None: each reader's defaults)
    holds its reader settings and each outlet's learned boilerplate; `outlet` names the page's outlet
    (default: found from the page). Each article's meta["cleaning"] says which cleaning it got."""
    from trainer.data.cleaning import generic

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give article files (scraped page text or HTML)")
    kind = kind or detect_kind(path)
    if kind not in READER_KINDS:
        raise DataError(f"{path}: kind {kind!r} not supported here; use one of {', '.join(READER_KINDS)}")
    return (cleaning or generic()).read(path, kind, outlet)


def jsonl_record(line: str, source: str, number: int) -> tuple[str, str] | None:
    """(id, text) of one JSONL line holding {"text": ...} or {"id", "title", "body"}; None for a blank line.
    A record without an id gets its line number. Errors name the source and line."""
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{source}:{number}: invalid JSON ({exc.msg}); one JSON object per line") from None
    if not isinstance(record, dict) or not ({"text", "body", "title"} & record.keys()):
        raise DataError(f"{source}:{number}: expected an object with \"text\", or \"title\" and \"body\"")
    fields = {key: record[key] for key in ("text", "title", "body") if record.get(key) is not None}
    if not all(isinstance(value, str) for value in fields.values()):
        raise DataError(f"{source}:{number}: \"text\", \"title\" and \"body\" must be strings")
    text = fields["text"] if "text" in fields else join_title_body(fields.get("title", ""), fields.get("body", ""))
    return str(record.get("id", number)), text


def read_jsonl_records(lines: Iterable[str], source: str) -> tuple[list[str], list[str]]:
    """(ids, texts) from JSONL lines holding {"text": ...} or {"id", "title", "body"} (stream.jsonl_record).

    A record without an id gets its line number. Errors name the source and line.
    """
    ids, texts = [], []
    for number, line in enumerate(lines, start=1):
        parsed = jsonl_record(line, source, number)
        if parsed is not None:
            ids.append(parsed[0])
            texts.append(parsed[1])
    return ids, texts
