"""Paired bootstrap over test documents: metric intervals and run-vs-baseline deltas.

Each run is reduced to per-document, per-label counts (true positives, false positives, false
negatives) and a per-document exact-match flag. A resample is a vector of document multiplicities
(how often each document was drawn), so every metric of every resample is a matrix product:
all runs share the same resamples (paired), and nothing loops over documents in Python.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from trainer import metric_names

METRICS = metric_names.HEADLINE   # point_metrics computes each
_CHUNK = 200     # resamples per matrix product: bounds memory to _CHUNK x n_documents


@dataclass
class DocCounts:
    """Per-document counts of one run on one test set."""
    tp: np.ndarray      # (n, L)
    fp: np.ndarray      # (n, L)
    fn: np.ndarray      # (n, L)
    exact: np.ndarray   # (n,) 1.0 when the predicted label set equals the gold set


@dataclass
class Interval:
    value: float        # on the full test set
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """For a delta: the interval excludes 0."""
        return self.low > 0 or self.high < 0


def doc_counts(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], labels: Sequence[str]) -> DocCounts:
    """Counts over `labels` (labels outside the list are ignored, as the run's metrics ignore them)."""
    index = {label: j for j, label in enumerate(labels)}
    G = _indicator(gold, index)
    P = _indicator(predicted, index)
    exact = np.fromiter((set(g) == set(p) for g, p in zip(gold, predicted)), dtype=np.float64, count=len(gold))
    return DocCounts(tp=G * P, fp=(1 - G) * P, fn=G * (1 - P), exact=exact)


def _indicator(rows: Sequence[Sequence[str]], index: dict[str, int]) -> np.ndarray:
    out = np.zeros((len(rows), len(index)), dtype=np.float64)
    for i, row in enumerate(rows):
        for label in row:
            j = index.get(label)
            if j is not None:
                out[i, j] = 1.0
    return out


def metrics_from_totals(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, exact: np.ndarray, n: np.ndarray,
                        seen: np.ndarray | None = None) -> dict:
    """Metrics from summed counts; leading axes are resamples.

    Zero division counts as 0, as sklearn's `zero_division=0` does on the full test set. `seen` marks
    the labels with a gold or predicted document in the full test set. A seen label that a resample
    happens to leave without any document is left out of that resample's macro average instead of
    counting as F1 = 0 (which would drag every resample below the full-sample value): macro-F1 is the
    mean over the labels present, times the share of labels seen (never-seen labels stay at 0, as in
    the full-sample value).
    """
    micro_den = 2 * tp.sum(-1) + fp.sum(-1) + fn.sum(-1)
    label_den = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        micro = np.where(micro_den > 0, 2 * tp.sum(-1) / micro_den, 0.0)
        per_label = np.where(label_den > 0, 2 * tp / label_den, 0.0)
    if seen is None:
        macro = per_label.mean(-1)
    else:
        present = (label_den > 0).sum(-1)
        macro = per_label.sum(-1) / np.maximum(present, 1) * (seen.sum() / max(len(seen), 1))
    return {"micro_f1": micro, "macro_f1": macro, "accuracy": exact / n}


def point_metrics(c: DocCounts) -> dict[str, float]:
    m = metrics_from_totals(c.tp.sum(0), c.fp.sum(0), c.fn.sum(0), c.exact.sum(), np.float64(len(c.exact)))
    return {k: float(v) for k, v in m.items()}


def resample_weights(n: int, n_resamples: int, seed: int):
    """Yield (chunk, n) matrices of document multiplicities; same seed -> same resamples."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, _CHUNK):
        size = min(_CHUNK, n_resamples - start)
        idx = rng.integers(0, n, size=(size, n))
        flat = (idx + np.arange(size)[:, None] * n).ravel()   # row-offset ids: one bincount for all rows
        yield np.bincount(flat, minlength=size * n).reshape(size, n).astype(np.float64)


def bootstrap_metrics(runs: Sequence[DocCounts], n_resamples: int = 1000, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Per run, each metric on each of the same `n_resamples` resamples: {metric: (n_resamples,)}."""
    n = len(runs[0].exact)
    if any(len(r.exact) != n for r in runs):
        raise ValueError("paired bootstrap needs runs scored on the same documents")
    out = [{k: [] for k in METRICS} for _ in runs]
    seen = [(r.tp + r.fp + r.fn).sum(0) > 0 for r in runs]
    for W in resample_weights(n, n_resamples, seed):
        for run, acc, run_seen in zip(runs, out, seen):
            m = metrics_from_totals(W @ run.tp, W @ run.fp, W @ run.fn, W @ run.exact, np.float64(n), run_seen)
            for k in METRICS:
                acc[k].append(m[k])
    return [{k: np.concatenate(v) for k, v in acc.items()} for acc in out]


def interval(full_value: float, samples: np.ndarray, confidence: float = 0.95) -> Interval:
    """Percentile interval of bootstrap samples around the full-sample value."""
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail])
    return Interval(float(full_value), float(low), float(high))
