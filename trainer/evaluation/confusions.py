"""Where a classifier goes wrong: confusion counts, frequent confusions, per-label false negatives/positives.

All functions take binary decision matrices (n_examples, n_labels); single-label tasks are one-hot.
"""
from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np


def confusion_matrix(gold_idx: Sequence[int], pred_idx: Sequence[int], n_labels: int) -> np.ndarray:
    """Single-label confusion counts: rows gold, columns predicted."""
    matrix = np.zeros((n_labels, n_labels), dtype=np.int64)
    np.add.at(matrix, (np.asarray(gold_idx, dtype=np.int64), np.asarray(pred_idx, dtype=np.int64)), 1)
    return matrix


def confusion_pairs(gold: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> Counter:
    """(gold label, wrongly predicted label) pair counts.

    Single-label: each error is one pair. Multi-label: every gold label of an example is paired with
    every label predicted for it that is not gold, i.e. "documents about X also got Y".
    """
    gold, pred = np.asarray(gold, dtype=bool), np.asarray(pred, dtype=bool)
    pairs: Counter = Counter()
    for g_row, p_row in zip(gold, pred):
        wrong = np.flatnonzero(p_row & ~g_row)
        if wrong.size == 0:
            continue
        for g in np.flatnonzero(g_row):
            for p in wrong:
                pairs[(labels[g], labels[p])] += 1
    return pairs


def unknown_gold_pairs(gold: Sequence[str], pred: np.ndarray, labels: Sequence[str]) -> Counter:
    """Single-label: (gold label the model does not know, label predicted) counts. These documents are errors
    (accuracy counts them) that have no row in the confusion matrix, e.g. a label task.min_label_count dropped."""
    known = set(labels)
    pairs: Counter = Counter()
    for g, p_row in zip(gold, np.asarray(pred, dtype=bool)):
        if g not in known:
            for p in np.flatnonzero(p_row):
                pairs[(str(g), labels[p])] += 1
    return pairs


def error_counts(gold: np.ndarray, pred: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per label: false negatives (gold, not predicted) and false positives (predicted, not gold)."""
    gold, pred = np.asarray(gold, dtype=bool), np.asarray(pred, dtype=bool)
    fn = (gold & ~pred).sum(axis=0)
    fp = (pred & ~gold).sum(axis=0)
    return {label: {"fn": int(fn[j]), "fp": int(fp[j])} for j, label in enumerate(labels)}


def worst_labels(per_label: dict[str, dict], n: int) -> list[str]:
    """The `n` labels with the lowest F1 among those present in the gold data (ties: more support first)."""
    present = [(label, m) for label, m in per_label.items() if m["support"] > 0]
    present.sort(key=lambda item: (item[1]["f1"], -item[1]["support"], item[0]))
    return [label for label, _ in present[:n]]
