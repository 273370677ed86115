"""Predict labels for new texts or raw article files with a trained run.

    from trainer import Predictor
    p = Predictor.load("runs/x")
    p.predict(["text", ...])        # [{"labels": [...], "scores": {label: prob}}, ...]
    p.predict_articles(["page.txt", "page.html"])

Decisions:
- multi-label: a label is predicted when its probability reaches its threshold (model/thresholds.json,
  tuned by `trainer evaluate`; 0.5 before that); where the file says `at_least_one`, a text with no
  label over its threshold gets its top-scoring label. `threshold=` replaces that rule for one call:
  one cut for every label, nothing forced.
- single-label: the most probable label; with `threshold=`, only if its probability reaches it.
- `top_k`: keep at most k predicted labels, and only the k best scores; None: every label's score.
- an empty (or whitespace-only) text gets no labels and no scores; the model is not asked.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from trainer.data.article import Rejected, join_title_body
from trainer.errors import DataError
from trainer.inference import Scorer, load_scorer, model_dir_of, read_model_spec
from trainer.inference.thresholds import Thresholds, apply_thresholds, load_thresholds

SCORE_DIGITS = 6
READER_KINDS = ("scraped", "html", "jsonl", "csv")


class Predictor:
    def __init__(self, scorer: Scorer, thresholds: Thresholds, spec: dict, model_dir: Path | None = None):
        self.scorer = scorer
        self.thresholds = thresholds
        self.spec = spec
        self.model_dir = model_dir

    @classmethod
    def load(cls, run_dir: str | Path, **options) -> "Predictor":
        """Load from a run directory (or its model/). `options`: batch_size, precision
        ("auto" | "fp32" | "bf16"), quantize ("none" | "int8"), device; transformer models only."""
        model_dir = model_dir_of(run_dir)
        spec = read_model_spec(model_dir)
        options = {k: v for k, v in options.items() if v is not None}
        scorer = load_scorer(model_dir, **options) if spec.get("model_type") == "transformer" else load_scorer(model_dir)
        return cls(scorer, load_thresholds(model_dir, len(scorer.labels)), spec, model_dir)

    @property
    def labels(self) -> list[str]:
        return list(self.scorer.labels)

    @property
    def problem(self) -> str:
        return self.scorer.problem

    def predict(self, texts: Sequence[str], top_k: int | None = None,
                threshold: float | None = None) -> list[dict]:
        _check_options(top_k, threshold)
        texts = list(texts)
        filled = [i for i, t in enumerate(texts) if isinstance(t, str) and t.strip()]
        probs = self.scorer.score([texts[i] for i in filled]) if filled else np.zeros((0, len(self.labels)))
        out = [{"labels": [], "scores": {}} for _ in texts]
        for row, i in zip(probs, filled):
            out[i] = self.decide(row, top_k, threshold)
        return out

    def decide(self, probs: np.ndarray, top_k: int | None = None, threshold: float | None = None) -> dict:
        """Labels and scores for one text's probability row (see the module docstring)."""
        order = np.argsort(-probs, kind="stable")
        if self.problem == "single_label":
            best = order[0]
            chosen = [best] if threshold is None or probs[best] >= threshold else []
        else:
            # the saved rule (thresholds + at_least_one), as evaluate applies it; or one plain cut
            picked = apply_thresholds(probs[None, :], self.thresholds if threshold is None else threshold)[0]
            chosen = [j for j in order if picked[j]]
        shown = order if top_k is None else order[:top_k]
        return {"labels": [self.labels[j] for j in chosen[:top_k]],
                "scores": {self.labels[j]: round(float(probs[j]), SCORE_DIGITS) for j in shown}}

    def predict_articles(self, paths: Iterable[str | Path], kind: str | None = None,
                         top_k: int | None = None, threshold: float | None = None) -> list[dict]:
        """Raw article files (scraped page text, HTML, ...) through the dataset build's readers.

        One record per article read: {"id", "path", "title", "labels", "scores"}; an input the
        reader rejects gives {"path", "error"} instead.
        """
        articles, records = [], []
        for path in paths:
            for item in read_raw(path, kind):
                if isinstance(item, Rejected):
                    records.append({"path": str(path), "error": item.reason})
                else:
                    records.append({"id": item.id, "path": str(path), "title": item.title})
                    articles.append((len(records) - 1, item.text))
        results = self.predict([text for _, text in articles], top_k, threshold)
        for (index, _), result in zip(articles, results):
            records[index].update(result)
        return records


def _check_options(top_k: int | None, threshold: float | None) -> None:
    if top_k is not None and top_k < 1:
        raise DataError(f"top_k must be at least 1, got {top_k}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise DataError(f"threshold must lie in [0, 1], got {threshold}")


def detect_kind(path: Path) -> str:
    """Reader kind from the extension, else from the content (markup -> html, otherwise scraped text)."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm", ".xhtml"):
        return "html"
    if suffix in (".jsonl", ".csv"):
        return suffix[1:]
    with open(path, "rb") as fh:
        head = fh.read(2048).lstrip().lower()
    return "html" if head.startswith((b"<!doctype html", b"<html")) or b"<body" in head else "scraped"


def read_raw(path: str | Path, kind: str | None = None):
    """Articles (or rejects) from one raw input file, read exactly as `trainer data build` would."""
    from trainer.data.config import SourceConfig
    from trainer.data.readers import read_articles

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; give article files (scraped page text or HTML)")
    kind = kind or detect_kind(path)
    if kind not in READER_KINDS:
        raise DataError(f"{path}: kind {kind!r} not supported here; use one of {', '.join(READER_KINDS)}")
    return list(read_articles(SourceConfig(kind=kind, path=str(path), download=False)))


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


def predict_inputs(predictor: Predictor, files: Sequence[str] = (), jsonl: str | None = None,
                   kind: str | None = None, top_k: int | None = None, threshold: float | None = None,
                   stdin=None) -> list[dict]:
    """What `trainer predict` prints: records for raw article files and/or a JSONL file of texts.

    "-" as a file reads one article's plain text from `stdin`; `jsonl="-"` reads JSONL from `stdin`.
    """
    if "-" in files and jsonl == "-":
        raise DataError("stdin can feed either a FILE argument '-' or --input -, not both")
    records = []
    raw = [f for f in files if f != "-"]
    if "-" in files:
        result = predictor.predict([stdin.read()], top_k, threshold)[0]
        records.append({"id": "-", **result})
    if raw:
        records.extend(predictor.predict_articles(raw, kind, top_k, threshold))
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
    return records
