"""`trainer predict` over inputs of any size: read lazily, score in batches, yield the wire rows in order.

The inputs are cut into *units* (at most --batch-size texts, article files or JSONL lines each, in the order
`predict_inputs` has always answered: --text, stdin's text, the article files, the JSONL, then the folder entries
that are not read). A unit is a small picklable description (paths, a byte range of the JSONL, ...), read when
it is scored, so memory holds one unit's texts, never the input's. Each unit is scored on its own, its texts in
batches of --batch-size: the local engine and Ray (trainer/serving/predict_ray.py) score the same units the
same way, so their rows are the same, and a resumed run (trainer/workflows/predict_output.py) rescoring the
unit it stopped in gets the rows it lost exactly as the first run would have written them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from trainer.data.article import Rejected
from trainer.data.cleaning import GENERIC
from trainer.errors import DataError
from trainer.serving.inputs import jsonl_record, read_raw


@dataclass(frozen=True)
class Settings:
    """What the rows depend on besides the model and the inputs."""
    kind: str | None = None
    outlet: str | None = None
    top_k: int | None = None
    threshold: float | None = None
    batch_size: int = 32


# ---- units: ("texts", [text, ...]) | ("stdin", text) | ("files", [path, ...])
#             | ("lines", source, first line number, [line, ...]) | ("range", path, start, end, first line number)
#             | ("rows", [record, ...])

def units(files: Sequence[str] = (), jsonl: str | None = None, texts: Sequence[str] = (), stdin=None,
          not_read: Sequence[dict] = (), size: int = 32, jsonl_ranges: bool = False) -> Iterator[tuple]:
    """The inputs as units of at most `size` texts, files or lines, lazily. `jsonl_ranges`: a JSONL file's units
    are byte ranges of it (read where they are scored: Ray) instead of its lines (read here)."""
    if "-" in files and jsonl == "-":
        raise DataError("stdin can feed either a FILE argument '-' or --input -, not both")
    for i, text in enumerate(texts, 1):
        if not text.strip():
            raise DataError(f"--text number {i} is empty; give the text to label")
    for i in range(0, len(texts), size):
        yield ("texts", i, list(texts[i:i + size]))
    if "-" in files:
        yield ("stdin", stdin.read())
    raw = [f for f in files if f != "-"]
    for i in range(0, len(raw), size):
        yield ("files", raw[i:i + size])
    if jsonl == "-":
        yield from _line_units(stdin, "<stdin>", size)
    elif jsonl is not None:
        path = Path(jsonl)
        if not path.is_file():
            raise DataError(f"{path}: no such file; --input takes a JSONL file (or - for stdin)")
        yield from (_range_units(path, size) if jsonl_ranges else _file_line_units(path, size))
    for i in range(0, len(not_read), size):
        yield ("rows", list(not_read[i:i + size]))


def _line_units(lines: Iterable[str], source: str, size: int) -> Iterator[tuple]:
    chunk, first = [], 1
    for number, line in enumerate(lines, start=1):
        if not chunk:
            first = number
        chunk.append(line)
        if len(chunk) == size:
            yield ("lines", source, first, chunk)
            chunk = []
    if chunk:
        yield ("lines", source, first, chunk)


def _file_line_units(path: Path, size: int) -> Iterator[tuple]:
    offset = 0
    with open(path, "rb") as fh:
        chunk, first, number = [], 1, 0
        for raw in fh:
            number += 1
            if not chunk:
                first = number
            chunk.append(_decode(raw, path, offset))
            offset += len(raw)
            if len(chunk) == size:
                yield ("lines", str(path), first, chunk)
                chunk = []
        if chunk:
            yield ("lines", str(path), first, chunk)


def _range_units(path: Path, size: int) -> Iterator[tuple]:
    """Byte ranges of `size` lines each (the file is scanned here; the lines are read where they are scored)."""
    with open(path, "rb") as fh:
        start = offset = 0
        first, count, number = 1, 0, 0
        for raw in fh:
            number += 1
            count += 1
            offset += len(raw)
            if count == size:
                yield ("range", str(path), start, offset, first)
                start, first, count = offset, number + 1, 0
        if count:
            yield ("range", str(path), start, offset, first)


def _decode(raw: bytes, path, offset: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason} at byte {offset + exc.start})") from None


def unit_items(unit: tuple, predictor, settings: Settings) -> list[tuple[dict, str | None, object]]:
    """One unit's rows before scoring, in order: (record, text to score or None for a row as it is, tags)."""
    what = unit[0]
    if what == "texts":
        return [({"id": f"text-{unit[1] + i}"}, text, None) for i, text in enumerate(unit[2], 1)]
    if what == "stdin":
        return [({"id": "-"}, unit[1], None)]
    if what == "rows":
        return [(record, None, None) for record in unit[1]]
    if what == "files":
        items = []
        for path in unit[1]:
            for item in read_raw(path, settings.kind, predictor.cleaning, settings.outlet):
                if isinstance(item, Rejected):
                    items.append(({"path": str(path), "error": item.reason}, None, None))
                else:
                    items.append(({"id": item.id, "path": str(path), "title": item.title,
                                   "cleaning": item.meta.get("cleaning", GENERIC)}, item.text, item.tags))
        return items
    if what == "lines":
        _, source, first, lines = unit
    else:   # a byte range of a JSONL file
        _, source, start, end, first = unit
        with open(source, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
        lines, offset = [], start
        for raw in data.splitlines(keepends=True):
            lines.append(_decode(raw, source, offset))
            offset += len(raw)
    items = []
    for number, line in enumerate(lines, start=first):
        parsed = jsonl_record(line, source, number)
        if parsed is not None:
            items.append(({"id": parsed[0]}, parsed[1], None))
    return items


def score_items(predictor, items: list[tuple[dict, str | None, object]], settings: Settings) -> list[dict]:
    """The wire rows of `items`, their texts scored in batches of settings.batch_size."""
    scored = [k for k, (_, text, _) in enumerate(items) if text is not None]
    rows = [dict(record) for record, _, _ in items]
    for i in range(0, len(scored), settings.batch_size):
        batch = scored[i:i + settings.batch_size]
        tags = [items[k][2] for k in batch]
        results = predictor.predict([items[k][1] for k in batch], settings.top_k, settings.threshold,
                                    tags=tags if any(tags) else None)
        for k, result in zip(batch, results):
            rows[k].update(result)
    return [predictor.wire(row) for row in rows]


def score_unit(predictor, unit: tuple, settings: Settings) -> list[dict]:
    return score_items(predictor, unit_items(unit, predictor, settings), settings)


def row_line(row: dict) -> str:
    """One row as a line of the output (what atomic_write_jsonl wrote)."""
    return json.dumps(row, ensure_ascii=False, default=str) + "\n"


def skip_rows(unit_stream: Iterator[tuple], predictor, settings: Settings, done: int) -> tuple[int, Iterator[tuple]]:
    """Pass over the units whose rows are all among the first `done` (read, not scored). Returns (rows of the
    next unit already written, the units from that one on)."""
    unit_stream = iter(unit_stream)
    for unit in unit_stream:
        count = len(unit_items(unit, predictor, settings))
        if count > done:
            return done, _chain(unit, unit_stream)
        done -= count
    if done:
        raise DataError(f"the output already holds {done} rows more than these inputs give")
    return 0, iter(())


def _chain(first, rest):
    yield first
    yield from rest


def local_rows(predictor, unit_stream: Iterable[tuple], settings: Settings, drop: int = 0) -> Iterator[list[dict]]:
    """Per unit, its wire rows (the first `drop` rows of the first unit left out: they were written before)."""
    for unit in unit_stream:
        rows = score_unit(predictor, unit, settings)
        if drop:
            rows, drop = rows[drop:], 0
        yield rows


def predict_inputs(predictor, files: Sequence[str] = (), jsonl: str | None = None,
                   kind: str | None = None, top_k: int | None = None, threshold: float | None = None,
                   stdin=None, texts: Sequence[str] = (), outlet: str | None = None) -> list[dict]:
    """What `trainer predict` prints, as one list: records for texts given as such (ids text-1, text-2, ...), raw
    article files and/or a JSONL file of texts, in the wire format (Predictor.wire); `trainer predict` itself
    streams the same rows.

    "-" as a file reads one article's plain text from `stdin`; `jsonl="-"` reads JSONL from `stdin`.
    """
    settings = Settings(kind=kind, outlet=outlet, top_k=top_k, threshold=threshold,
                        batch_size=32)
    return [row for rows in local_rows(predictor, units(files, jsonl, texts, stdin, size=settings.batch_size),
                                       settings) for row in rows]
