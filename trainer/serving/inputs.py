"""What `trainer predict` reads: raw article files (through the dataset build's readers), JSONL of texts, stdin."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

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


def read_jsonl_records(lines: Iterable[str], source: str) -> tuple[list[str], list[str]]:
    """(ids, texts) from JSONL lines holding {"text": ...} or {"id", "title", "body"}.

    A record without an id gets its line number. Errors name the source and line.
    """
    ids, texts = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
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
        ids.append(str(record.get("id", number)))
        texts.append(text)
    return ids, texts


def predict_inputs(predictor, files: Sequence[str] = (), jsonl: str | None = None,
                   kind: str | None = None, top_k: int | None = None, threshold: float | None = None,
                   stdin=None, texts: Sequence[str] = (), outlet: str | None = None) -> list[dict]:
    """What `trainer predict` prints: records for texts given as such (ids text-1, text-2, ...), raw article
    files and/or a JSONL file of texts, in the wire format (Predictor.wire).

    "-" as a file reads one article's plain text from `stdin`; `jsonl="-"` reads JSONL from `stdin`.
    """
    if "-" in files and jsonl == "-":
        raise DataError("stdin can feed either a FILE argument '-' or --input -, not both")
    for i, text in enumerate(texts, 1):
        if not text.strip():
            raise DataError(f"--text number {i} is empty; give the text to label")
    records = [{"id": f"text-{i}", **result} for i, result in enumerate(predictor.predict(list(texts), top_k, threshold), 1)
               ] if texts else []
    raw = [f for f in files if f != "-"]
    if "-" in files:
        result = predictor.predict([stdin.read()], top_k, threshold)[0]
        records.append({"id": "-", **result})
    if raw:
        records.extend(predictor.predict_articles(raw, kind, top_k, threshold, outlet=outlet))
    if jsonl is not None:
        if jsonl == "-":
            ids, texts = read_jsonl_records(stdin, "<stdin>")
        else:
            path = Path(jsonl)
            if not path.is_file():
                raise DataError(f"{path}: no such file; --input takes a JSONL file (or - for stdin)")
            try:
                with open(path, encoding="utf-8") as fh:
                    ids, texts = read_jsonl_records(fh, str(path))
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        results = predictor.predict(texts, top_k, threshold)
        records.extend({"id": doc_id, **result} for doc_id, result in zip(ids, results))
    return [predictor.wire(record) for record in records]   # a one-target model's answer at the top level
