"""Suspected label errors of one target from its out-of-fold scores: cleanlab's confident learning
(`cleanlab.filter.find_label_issues`; for label lists its multi-label form,
`cleanlab.multilabel_classification.filter.find_label_issues`) decides which documents are flagged;
cleanlab's label quality score (self-confidence) orders them. `score` is 1 - that quality: higher, more suspicious."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SUGGEST_AT = 0.5   # a multi-label suggestion keeps the labels scored at least this (the heads' own boundary)


@dataclass
class Ranked:
    """Per audited document of the target (index into the caller's rows): score and whether cleanlab flags it."""
    rows: list[int]
    score: np.ndarray
    flagged: np.ndarray        # bool
    suggested: list


def rank_target(given: list, probs: np.ndarray, labels: list[str], problem: str) -> Ranked:
    """`given`: per document its labels (a list, multi-label) or its label (single-label); documents whose given
    labels are outside the label space (single-label) or that have none where none counts are left out by the
    caller. `probs`: (documents, labels) out-of-fold scores."""
    import cleanlab.filter
    index = {label: k for k, label in enumerate(labels)}
    rows = list(range(len(given)))
    if problem == "multi_label":
        from cleanlab.multilabel_classification import get_label_quality_scores
        from cleanlab.multilabel_classification.filter import find_label_issues
        y = [sorted(index[v] for v in values if v in index) for values in given]
        probs = np.clip(probs.astype(np.float64), 1e-6, 1 - 1e-6)
        quality = get_label_quality_scores(y, probs)
        flagged = find_label_issues(labels=y, pred_probs=probs)
        suggested = [[labels[k] for k in np.flatnonzero(p >= SUGGEST_AT)] or [labels[int(np.argmax(p))]]
                     for p in probs]
    else:
        from cleanlab.rank import get_label_quality_scores
        y = np.array([index[v] for v in given])
        probs = probs.astype(np.float64)
        probs = probs / probs.sum(axis=1, keepdims=True)
        quality = get_label_quality_scores(y, probs)
        flagged = cleanlab.filter.find_label_issues(labels=y, pred_probs=probs)
        suggested = [labels[int(np.argmax(p))] for p in probs]
    return Ranked(rows, 1.0 - np.asarray(quality, dtype=np.float64), np.asarray(flagged, dtype=bool), suggested)
