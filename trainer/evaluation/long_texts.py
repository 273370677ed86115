"""Long articles in the report: a model that reads windows (model.reading.mode: windows) is also scored on
each text's head only, and both readings are compared on all documents and on the documents longer than
one window (the ones where the reading matters).

The decision rule is the run's (thresholds tuned on validation with the model's own reading), so the
only difference between the columns is how the text was read.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from trainer import metric_names
from trainer.decisions import Thresholds, decide
from trainer.evaluation.split_metrics import Scored, metrics_for

KEYS = metric_names.HEADLINE


def subset(scored: Scored, mask: np.ndarray) -> Scored:
    rows = np.flatnonzero(mask)
    return Scored(ids=[scored.ids[i] for i in rows], gold=[scored.gold[i] for i in rows], probs=scored.probs[rows])


def headline(scored: Scored, labels: Sequence[str], problem: str, thresholds: Thresholds) -> dict:
    """micro/macro-F1 and accuracy; macro over the labels with a gold document in `scored` (a subset of
    documents lacks most rare labels, and an absent label has no F1)."""
    if not scored.ids:
        return {"n_examples": 0}
    m = metrics_for(scored, decide(scored.probs, problem, thresholds), labels, problem)
    present = [label for label, v in m["per_label"].items() if v["support"] > 0]
    out = {k: m[k] for k in ("micro_f1", "accuracy")}
    out["macro_f1"] = float(np.mean([m["per_label"][label]["f1"] for label in present])) if present else None
    out["n_examples"] = len(scored.ids)
    return out


def reading_comparison(own: Scored, head: Scored, long_mask: np.ndarray | None, labels: Sequence[str], problem: str,
                       thresholds: Thresholds) -> dict:
    """{"all": {"reading": ..., "head": ...}, "long": {...}}: the model's reading vs the head only."""
    out = {"all": {"reading": headline(own, labels, problem, thresholds),
                   "head": headline(head, labels, problem, thresholds)}}
    if long_mask is not None:
        out["long"] = {"reading": headline(subset(own, long_mask), labels, problem, thresholds),
                       "head": headline(subset(head, long_mask), labels, problem, thresholds)}
    return out
