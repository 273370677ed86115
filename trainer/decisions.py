"""From scores to labels: probabilities from logits, multi-label decision thresholds (tuned on validation
scores, saved with the model), the at-least-one rule, and single-label argmax.

A `Thresholds` is `{"kind": "none"|"global"|"per_label"|"per_bucket", "values": [one per label], "fallback":
[labels], "at_least_one": bool, "groups": {group: value}}`; "none" means 0.5 for every label; "per_bucket"
gives every label of a group (its training-frequency bucket) one value, fixed or tuned for the group. With `at_least_one`, a text whose
scores cross no threshold gets its top-scoring label: set where every training document has a label,
so an empty answer is always wrong. How thresholds are stored is trainer.contracts' business.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal, Sequence, get_args

import numpy as np

ThresholdKind = Literal["none", "global", "per_label", "per_bucket"]
THRESHOLD_KINDS: tuple[str, ...] = get_args(ThresholdKind)
DEFAULT_THRESHOLD = 0.5
# Candidate thresholds. A coarse grid on purpose: validation sets are small, and a finer grid
# mostly fits noise in the handful of positives a rare label has.
GRID = tuple(round(float(t), 2) for t in np.arange(0.05, 0.951, 0.05))


@dataclass
class Thresholds:
    kind: ThresholdKind
    values: list[float]
    fallback: list[str] = field(default_factory=list)   # labels that took the global value (too few positives)
    at_least_one: bool = False                           # no label over its threshold -> the top-scoring one
    groups: dict[str, float] = field(default_factory=dict)   # per_bucket: the value of each group
    note: str = ""                                       # why they were not tuned as configured (else empty)

    @classmethod
    def default(cls, n_labels: int, at_least_one: bool = False, note: str = "") -> "Thresholds":
        return cls("none", [DEFAULT_THRESHOLD] * n_labels, at_least_one=at_least_one, note=note)

    def to_dict(self) -> dict:
        return asdict(self)

    def array(self) -> np.ndarray:
        return np.asarray(self.values, dtype=np.float64)


def to_probabilities(logits: np.ndarray, problem: str) -> np.ndarray:
    """Sigmoid per label (multi-label) or softmax over labels (single-label), float32."""
    logits = np.asarray(logits, dtype=np.float64)
    if problem == "multi_label":
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


def f1_counts(tp, fp, fn) -> np.ndarray:
    """F1 from counts, elementwise; 0 where there is nothing to score (no positives, no predictions)."""
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)


def _counts(probs: np.ndarray, gold: np.ndarray, threshold) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pred = probs >= threshold
    tp = (pred & gold).sum(axis=0)
    fp = (pred & ~gold).sum(axis=0)
    fn = (~pred & gold).sum(axis=0)
    return tp, fp, fn


def best_global(probs: np.ndarray, gold: np.ndarray, grid: Sequence[float] = GRID) -> float:
    """The grid value maximising micro-F1 over all labels; ties go to the value nearest 0.5."""
    scores = [float(f1_counts(*(c.sum() for c in _counts(probs, gold, t)))) for t in grid]
    return _argbest(scores, grid)


def best_per_label(probs: np.ndarray, gold: np.ndarray, grid: Sequence[float] = GRID) -> np.ndarray:
    """Per label, the grid value maximising that label's F1 (ties: nearest 0.5)."""
    table = np.stack([f1_counts(*_counts(probs, gold, t)) for t in grid])   # (grid, labels)
    return np.array([_argbest(table[:, j], grid) for j in range(table.shape[1])])


def _argbest(scores: Sequence[float], grid: Sequence[float]) -> float:
    scores = np.asarray(scores, dtype=np.float64)
    best = np.flatnonzero(np.isclose(scores, scores.max()))
    return float(grid[min(best, key=lambda i: abs(grid[i] - DEFAULT_THRESHOLD))])


def tune_per_group(probs: np.ndarray, gold: np.ndarray, groups: Sequence[str], labels: Sequence[str],
                   min_positives: int, fixed: dict[str, float] | None = None, grid: Sequence[float] = GRID,
                   at_least_one: bool = False) -> Thresholds:
    """One threshold per group of labels (e.g. training-frequency buckets): the value `fixed` gives the
    group, else the grid value maximising the group's micro-F1 on `probs`; a group with fewer than
    `min_positives` positives takes the value maximising micro-F1 over all labels (its labels are listed
    in `fallback`). Far fewer values than per_label: a group pools the positives of its labels."""
    probs, gold = np.asarray(probs, dtype=np.float64), np.asarray(gold, dtype=bool)
    groups = list(groups)
    fixed = dict(fixed or {})
    global_t = best_global(probs, gold, grid) if probs.shape[0] else DEFAULT_THRESHOLD
    values, fallback, chosen = np.full(len(groups), DEFAULT_THRESHOLD), [], {}
    for group in dict.fromkeys(groups):
        cols = np.array([g == group for g in groups])
        if group in fixed:
            chosen[group] = float(fixed[group])
        elif probs.shape[0] and gold[:, cols].sum() >= min_positives:
            chosen[group] = best_global(probs[:, cols], gold[:, cols], grid)
        else:
            chosen[group] = global_t
            fallback += [labels[j] for j in np.flatnonzero(cols)]
        values[cols] = chosen[group]
    return Thresholds("per_bucket", [float(v) for v in values], fallback=fallback, at_least_one=at_least_one,
                      groups=chosen)


def tune_thresholds(probs: np.ndarray, gold: np.ndarray, kind: ThresholdKind, labels: Sequence[str],
                    min_positives: int, grid: Sequence[float] = GRID, at_least_one: bool = False) -> Thresholds:
    """Tune thresholds on validation `probs` (n, L) against binary `gold` (n, L).

    per_label: labels with fewer than `min_positives` validation positives keep the global value,
    since a threshold fitted to one or two examples does not generalise. `at_least_one` is carried
    into the result (the thresholds themselves are tuned without it).
    """
    probs, gold = np.asarray(probs, dtype=np.float64), np.asarray(gold, dtype=bool)
    n_labels = probs.shape[1]
    if kind == "none" or probs.shape[0] == 0:
        return Thresholds.default(n_labels, at_least_one)
    global_t = best_global(probs, gold, grid)
    if kind == "global":
        return Thresholds("global", [global_t] * n_labels, at_least_one=at_least_one)
    values = best_per_label(probs, gold, grid)
    too_few = gold.sum(axis=0) < min_positives
    values[too_few] = global_t
    return Thresholds("per_label", [float(v) for v in values],
                      fallback=[labels[j] for j in np.flatnonzero(too_few)], at_least_one=at_least_one)


def too_little_to_tune(n_documents: int, n_positives: int, min_documents: int, min_positives: int) -> str:
    """Why a validation split is too small to tune thresholds on ("" when it is not): a threshold picked on a
    handful of documents fits their noise (5 validation pages tuned a regions model to test micro-F1 0.905,
    against 0.919 at a plain 0.5). Then 0.5 stays, and the reason is recorded with the thresholds."""
    if n_documents < min_documents:
        return (f"not tuned: validation has {n_documents} document(s), fewer than eval.threshold_min_documents "
                f"{min_documents}; 0.5 kept")
    if n_positives < min_positives:
        return (f"not tuned: validation has {n_positives} gold label(s), fewer than eval.threshold_min_positives "
                f"{min_positives}; 0.5 kept")
    return ""


def apply_thresholds(probs: np.ndarray, thresholds: Thresholds | float | np.ndarray) -> np.ndarray:
    """Binary decisions (n, L): probability >= the label's threshold (and Thresholds.at_least_one)."""
    values = thresholds.array() if isinstance(thresholds, Thresholds) else np.asarray(thresholds, dtype=np.float64)
    probs = np.asarray(probs)
    pred = probs >= values
    if isinstance(thresholds, Thresholds) and thresholds.at_least_one and pred.size:
        empty = np.flatnonzero(~pred.any(axis=1))
        pred[empty, probs[empty].argmax(axis=1)] = True
    return pred


def one_hot(ids: np.ndarray, n_labels: int) -> np.ndarray:
    out = np.zeros((len(ids), n_labels), dtype=bool)
    known = ids >= 0
    out[np.flatnonzero(known), ids[known]] = True
    return out


def decide(probs: np.ndarray, problem: str, thresholds: Thresholds | float) -> np.ndarray:
    """Binary decisions (n, L): thresholds for multi-label, the argmax for single-label."""
    probs = np.asarray(probs)
    if problem == "single_label":
        return one_hot(np.argmax(probs, axis=1), probs.shape[1]) if len(probs) else np.zeros(probs.shape, bool)
    return apply_thresholds(probs, thresholds)


# ---- combining two scorers of one target (a learned head and the gazetteer) --------------------------------
FUSION_WEIGHTS = tuple(round(float(w), 1) for w in np.arange(0.0, 1.01, 0.1))
DEFAULT_FUSION = {"rule": "mean", "weight": 0.5}


def fusion_candidates() -> list[dict]:
    """The rules evaluation chooses from: a weighted mean of the two scores (weight = the second scorer's
    share; 0 is the head alone, 1 the gazetteer alone) or their maximum (a union of their labels)."""
    return [{"rule": "mean", "weight": w} for w in FUSION_WEIGHTS] + [{"rule": "max"}]


def fuse(head: np.ndarray, other: np.ndarray, rule: dict, other_only: np.ndarray | None = None) -> np.ndarray:
    """The combined scores; `other_only` (one bool per label): labels the head cannot score, which take the
    second scorer's score as it is (a mean would halve it for want of a head score)."""
    head, other = np.asarray(head, dtype=np.float32), np.asarray(other, dtype=np.float32)
    if rule["rule"] == "max":
        out = np.maximum(head, other)
    else:
        w = float(rule["weight"])
        out = ((1.0 - w) * head + w * other).astype(np.float32)
    if other_only is not None and np.any(other_only):
        out[..., np.asarray(other_only, dtype=bool)] = other[..., np.asarray(other_only, dtype=bool)]
    return out
