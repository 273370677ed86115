"""The cut of a run's training split that tuning fits on and scores: one label-stratified held-out part, or k
folds (every document held out once). Seeded; test and validation documents are never part of it."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from trainer.data.split import label_matrix, stratified_holdout


def stratification_labels(train, spaces) -> list[list[str]]:
    """Per training document, its labels of every target (prefixed by the target: regions and topics may share
    a name), so the cut keeps each label's share on both sides."""
    rows: list[list[str]] = [[] for _ in range(len(train))]
    for space in spaces:
        for i, value in enumerate(train[space.target]):
            values = value if space.problem == "multi_label" else [value]
            rows[i] += [f"{space.target}:{v}" for v in values or () if v not in (None, "")]
    return rows


def make_cut(labels: Sequence[Sequence[str]], folds: int, holdout: float, seed: int) -> list[tuple[list[int], list[int]]]:
    """[(fitted on, held out)] index lists into the training split: one pair (folds 1), else one per fold."""
    n = len(labels)
    if folds == 1:
        kept, held = stratified_holdout(list(range(n)), labels, holdout, seed)
        return [(kept, held)]
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
    splitter = MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [(sorted(map(int, a)), sorted(map(int, b))) for a, b in splitter.split(np.zeros(n), label_matrix(labels))]
