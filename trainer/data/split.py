"""Assign documents to train / validation / test: predefined, random (stratified) or by time.

Every split is seeded and deterministic. Stratification uses iterative stratification
(`iterative-stratification`), which handles multi-label rows and rare labels; a single-label
problem is the one-hot special case. Dedup runs before splitting and keeps one document per
duplicate group, so random and time splits never put a group on both sides; where duplicates stay
(a predefined split keeps them), the validation carve-out moves each group as a whole.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from trainer.contracts import SPLITS
from trainer.data.config import SplitConfig
from trainer.data.dates import parse_iso_utc

NO_DATE = "no publication date (time split needs `published`)"


@dataclass
class SplitResult:
    assignment: list[str | None]                       # per document; None when rejected
    rejects: dict[int, str] = field(default_factory=dict)  # document index -> reason

    def indices(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.assignment) if s == split]


def assign_splits(labels: Sequence[Sequence[str]], cfg: SplitConfig,
                  predefined: Sequence[str | None] | None = None,
                  published: Sequence[str | None] | None = None,
                  groups: Sequence[int] | None = None) -> SplitResult:
    """Split documents whose stratification labels are `labels` (one list per document).

    predefined: each document's split from the data (needed for kind=predefined; a document
    without one must have been rejected before). published: ISO dates (needed for kind=time).
    groups: a group id per document (duplicates); a random split or a validation carve-out moves
    a group as a whole (a predefined split can still place a group on both sides: it is reported).
    """
    n = len(labels)
    if cfg.kind == "predefined":
        if predefined is None:
            raise ValueError("predefined split needs each document's split")
        assignment = [s if s in SPLITS else None for s in predefined]
        rejects = {i: f"unknown predefined split {s!r}" for i, s in enumerate(predefined) if s not in SPLITS}
        has_validation = "validation" in assignment
    elif cfg.kind == "random":
        train, test = stratified_holdout(list(range(n)), labels, cfg.test_size, cfg.seed, groups)
        assignment, rejects, has_validation = _label(n, train, test), {}, False
    else:
        assignment, rejects = _time_split(published, n, cfg.test_size)
        has_validation = False
    result = SplitResult(assignment, rejects)
    if not has_validation and cfg.validation_size > 0:
        _carve_validation(result, labels, cfg, chronological=cfg.kind == "time", published=published,
                          groups=groups)
    return result


def _label(n: int, train: list[int], test: list[int]) -> list[str | None]:
    out: list[str | None] = [None] * n
    for i in train:
        out[i] = "train"
    for i in test:
        out[i] = "test"
    return out


def stratified_holdout(indices: list[int], labels: Sequence[Sequence[str]], size: float, seed: int,
                       groups: Sequence[int] | None = None) -> tuple[list[int], list[int]]:
    """Split `indices` into (kept, held out) with about `size` of them held out, label-stratified.

    With `groups`, each group is one unit (labelled with the union of its members' labels), so
    members of a group always land on the same side.
    """
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    units: dict[int, list[int]] = {}
    for i in indices:
        units.setdefault(groups[i] if groups is not None else i, []).append(i)
    members = list(units.values())
    if len(members) < 2:
        return list(indices), []
    n_out = min(len(members) - 1, max(1, round(len(members) * size)))
    matrix = label_matrix([sorted({l for i in m for l in labels[i]}) for m in members])
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=n_out, random_state=seed)
    kept, held = next(splitter.split(np.zeros(len(members)), matrix))
    return sorted(i for k in kept for i in members[k]), sorted(i for h in held for i in members[h])


def label_matrix(rows: Sequence[Sequence[str]]) -> np.ndarray:
    vocab = {label: j for j, label in enumerate(sorted({l for row in rows for l in row}))}
    # at least two columns: iterstrat refuses a one-column ("binary") target; a zero column is inert
    matrix = np.zeros((len(rows), max(2, len(vocab))), dtype=np.int8)
    for i, row in enumerate(rows):
        for label in row:
            matrix[i, vocab[label]] = 1
    return matrix


def _time_split(published: Sequence[str | None] | None, n: int, test_size: float):
    """Oldest documents to train, newest to test. Undated documents are rejected, not guessed."""
    if published is None:
        raise ValueError("time split needs each document's publication date")
    dates = [parse_iso_utc(p) for p in published]
    rejects = {i: NO_DATE for i, d in enumerate(dates) if d is None}
    dated = sorted((i for i, d in enumerate(dates) if d is not None), key=lambda i: (dates[i], i))
    n_test = min(len(dated) - 1, max(1, round(len(dated) * test_size))) if len(dated) > 1 else 0
    cut = len(dated) - n_test
    return _label(n, dated[:cut], dated[cut:]), rejects


def _carve_validation(result: SplitResult, labels, cfg: SplitConfig, chronological: bool,
                      published, groups) -> None:
    """Move a share of train to validation: stratified and seeded, or the newest part for time splits."""
    train = result.indices("train")
    if chronological:
        dates = {i: parse_iso_utc(published[i]) for i in train}
        train.sort(key=lambda i: (dates[i], i))
        n_val = min(len(train) - 1, max(1, round(len(train) * cfg.validation_size))) if len(train) > 1 else 0
        held = train[len(train) - n_val:]
    else:
        _, held = stratified_holdout(train, labels, cfg.validation_size, cfg.seed + 1, groups)
    for i in held:
        result.assignment[i] = "validation"
