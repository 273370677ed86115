"""Predict labels for new texts or raw article files with a trained run.

    from trainer import Predictor
    p = Predictor.load("runs/x")
    p.predict(["text", ...])        # [{"topics": {"labels": [...], "scores": {label: prob}}}, ...]
    p.predict_articles(["page.txt", "page.html"])

One shape whatever the number of targets: per text a dict with one key per target the model predicts, each
{"labels": [...], "scores": {label: prob}} (plus "gazetteer_only" and, with explain, "parts" where they apply):
[{"topics": {...}}, ...] for a topics model, [{"topics": {...}, "regions": {...}}, ...] for a multi-task one.
The wire formats (`trainer predict` JSON lines, `trainer serve` responses) keep a one-target model's answer at the
top level, as they always have: `wire_record` is that one compatibility path (docs/predictor.md).

Decisions, per target:
- multi-label: a label is predicted when its probability reaches its threshold (model/thresholds.json,
  tuned by `trainer evaluate`; 0.5 before that); where the file says `at_least_one`, a text with no
  label over its threshold gets its top-scoring label. `threshold=` replaces that rule for one call:
  one cut for every label, nothing forced.
- single-label: the most probable label; with `threshold=`, only if its probability reaches it.
- `top_k`: keep at most k predicted labels, and only the k best scores; None: every label's score.
- an empty (or whitespace-only) text gets no labels and no scores; the model is not asked.
- a target combined with the gazetteer answers over the M49 set at its granularity: the labels its head never
  learned are answered by the gazetteer alone, and the answer lists those of its labels under "gazetteer_only".
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from trainer import contracts
from trainer.contracts import Target
from trainer.data.article import Rejected
from trainer.data.cleaning import GENERIC, Cleaning
from trainer.decisions import Thresholds, apply_thresholds
from trainer.errors import DataError
from trainer.models import Model, ScoreOptions, load_model
from trainer.serving.inputs import read_raw

SCORE_DIGITS = 6


class Predictor:
    def __init__(self, model: Model, thresholds: dict[str, Thresholds], model_dir: Path | None = None,
                 cleaning: Cleaning | None = None):
        self.model = model
        self.thresholds = thresholds
        self.model_dir = model_dir
        self.cleaning = cleaning      # how the model's dataset read its pages (model/cleaning.json)

    @classmethod
    def load(cls, run_dir: str | Path, **options) -> "Predictor":
        """Load from a run directory (or its model/). `options` (trainer.models.ScoreOptions): batch_size,
        precision ("auto" | "fp32" | "bf16"), quantize ("none" | "int8"), device, runtime ("torch" | "onnx":
        the export written by `trainer export`, scored by ONNX Runtime without torch)."""
        model_dir = contracts.model_dir_of(run_dir)
        options = {k: v for k, v in options.items() if v is not None}
        model = load_model(model_dir, ScoreOptions(**options))
        return cls(model, contracts.read_thresholds(model_dir, model.answer_spec), model_dir, Cleaning.load(model_dir))

    @property
    def spec(self) -> contracts.ModelSpec:
        """What the model answers (a combined target's gazetteer-only labels included)."""
        return self.model.answer_spec

    @property
    def targets(self) -> list[Target]:
        return self.spec.targets

    @property
    def gazetteer_only(self) -> dict[str, tuple[str, ...]]:
        """Per combined target, the labels the gazetteer alone answers (the head never learned them)."""
        return contracts.gazetteer_only(self.model.spec)

    @property
    def labels(self) -> list[str]:
        """The primary (first) target's labels."""
        return list(self.spec.primary.labels)

    @property
    def problem(self) -> str:
        return self.spec.primary.problem

    def predict(self, texts: Sequence[str], top_k: int | None = None,
                threshold: float | None = None, explain: bool = False,
                tags: Sequence[Sequence[str] | None] | None = None) -> list[dict]:
        """Per text, {target name: {"labels", "scores"}} for every target of the model, one or several (see the
        module docstring). `explain`: a target
        answered by the head and the gazetteer together also shows each part's own answer at 0.5, under
        "parts": {"head": {...}, "gazetteer": {...}}. `tags`: per text the tags of the page it was read from
        (Article.tags), whose place names the gazetteer counts as the title's."""
        return self.predict_many([(texts, top_k, threshold, explain, tags)])[0]

    def predict_many(self, requests: Sequence[tuple]) -> list[list[dict]]:
        """Several requests (texts, top_k, threshold[, explain[, tags]]) scored in one call to the model, each
        answered with its own options: what the batching server does with concurrent requests. Same answers as
        `predict`."""
        defaults = (None, None, None, False, None)   # texts, top_k, threshold, explain, tags
        requests = [tuple(r) + defaults[len(r):] for r in requests]
        for _, top_k, threshold, _, _ in requests:
            _check_options(top_k, threshold)
        texts, owner, text_tags = [], [], []
        for r, (request_texts, _, _, _, request_tags) in enumerate(requests):
            for i, text in enumerate(request_texts):
                if isinstance(text, str) and text.strip():
                    texts.append(text)
                    owner.append((r, i))
                    text_tags.append(request_tags[i] if request_tags else None)
        scores, parts = (self.model.score_with_parts(texts, tags=text_tags if any(text_tags) else None)
                         if texts else ({}, {}))
        out = [[{t.name: {"labels": [], "scores": {}} for t in self.targets} for _ in request_texts]
               for request_texts, _, _, _, _ in requests]
        only = self.gazetteer_only
        for target in self.targets:
            for k, (row, (r, i)) in enumerate(zip(scores.get(target.name, []), owner)):
                _, top_k, threshold, explain, _ = requests[r]
                out[r][i][target.name] = self.decide(row, target, top_k, threshold)
                if target.name in only:   # which of the answer's labels come from the gazetteer alone
                    out[r][i][target.name]["gazetteer_only"] = [
                        label for label in out[r][i][target.name]["labels"] if label in only[target.name]]
                if explain and target.name in parts:
                    out[r][i][target.name]["parts"] = {
                        part: self.decide(p[k], target, top_k, 0.5) for part, p in parts[target.name].items()}
        return out

    def wire(self, record: dict) -> dict:
        """`record` (a `predict` answer or a `predict_articles` record) as `trainer predict` and `trainer serve`
        write it (wire_record)."""
        return wire_record(record, self.spec.target_names)

    def decide(self, probs: np.ndarray, target: Target | None = None, top_k: int | None = None,
               threshold: float | None = None) -> dict:
        """Labels and scores for one text's probability row of `target` (see the module docstring)."""
        target = target or self.spec.primary
        labels = target.labels
        order = np.argsort(-probs, kind="stable")
        if not target.multi_label:
            best = order[0]
            chosen = [best] if threshold is None or probs[best] >= threshold else []
        else:
            # the saved rule (thresholds + at_least_one), as evaluate applies it; or one plain cut
            rule = self.thresholds[target.name] if threshold is None else threshold
            picked = apply_thresholds(probs[None, :], rule)[0]
            chosen = [j for j in order if picked[j]]
        shown = order if top_k is None else order[:top_k]
        # Python floats once for the row (.tolist()), not a numpy scalar per label: the same numbers; this dict
        # is a fast model's main cost per text (TF-IDF over 20k texts: 3.2 s -> 2.6 s of 19 s)
        values = probs[shown].tolist()
        return {"labels": [labels[j] for j in chosen[:top_k]],
                "scores": {labels[j]: round(v, SCORE_DIGITS) for j, v in zip(shown.tolist(), values)}}

    def predict_articles(self, paths: Iterable[str | Path], kind: str | None = None,
                         top_k: int | None = None, threshold: float | None = None,
                         outlet: str | None = None) -> list[dict]:
        """Raw article files (scraped page text, HTML, ...) through the dataset build's readers, cleaned as
        the model's dataset was (model/cleaning.json: a known outlet's learned boilerplate lines; `outlet`
        names the outlet, else it is found from the page: trainer/data/cleaning.py).

        One record per article read: {"id", "path", "title", "cleaning", ...prediction} (prediction: one key
        per target, as `predict` answers), where "cleaning" is
        "outlet:NAME" or "generic"; an input the reader rejects gives {"path", "error"} instead.
        """
        articles, records = [], []
        for path in paths:
            for item in read_raw(path, kind, self.cleaning, outlet):
                if isinstance(item, Rejected):
                    records.append({"path": str(path), "error": item.reason})
                else:
                    records.append({"id": item.id, "path": str(path), "title": item.title,
                                    "cleaning": item.meta.get("cleaning", GENERIC)})
                    articles.append((len(records) - 1, item))
        results = self.predict([a.text for _, a in articles], top_k, threshold, tags=[a.tags for _, a in articles])
        for (index, _), result in zip(articles, results):
            records[index].update(result)
        return records


def wire_record(record: dict, target_names: Sequence[str]) -> dict:
    """The record as the wire formats carry it: for a model with one target, that target's answer at the top level
    ({"labels", "scores", ...} beside the record's own keys such as "id"), the format one-target clients of
    `trainer predict` and `trainer serve` have always read; for several targets, the record as it is."""
    if len(target_names) != 1 or not isinstance(record.get(target_names[0]), dict):
        return record
    name = target_names[0]
    return {**{k: v for k, v in record.items() if k != name}, **record[name]}


def _check_options(top_k: int | None, threshold: float | None) -> None:
    if top_k is not None and top_k < 1:
        raise DataError(f"top_k must be at least 1, got {top_k}")
    if threshold is not None and not (math.isfinite(threshold) and 0.0 <= threshold <= 1.0):
        raise DataError(f"threshold must lie in [0, 1], got {threshold}")
