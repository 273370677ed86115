"""The grid searches over out-of-fold scores: member weights (a simplex grid), bucket thresholds (as
eval.thresholds per_bucket tunes them, on training-split scores instead of validation), and the run's decision
rule scored with the figure `tune.metric` names. Pure functions of scores and gold labels."""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np

from trainer.evaluation.split_metrics import Scored, score_of, split_metrics, tune

WEIGHT_STEP = 0.1


def weight_grid(names: Sequence[str], step: float = WEIGHT_STEP) -> list[dict[str, float]]:
    """Every weight vector on the simplex with this step (weights sum to 1), the equal split first-most: ties
    go to the candidate nearest equal weights (the default, the one that assumes least)."""
    k, units = len(names), round(1 / step)
    out = [dict(zip(names, (round(c * step, 10) for c in combo)))
           for combo in itertools.product(range(units + 1), repeat=k) if sum(combo) == units]
    equal = 1.0 / k
    return sorted(out, key=lambda w: sum((v - equal) ** 2 for v in w.values()))


def decide_and_score(scored: Scored, target, kind: str, groups: list[str] | None, fixed: dict[str, float],
                     min_positives: int, at_least_one: bool, metric: str):
    """(thresholds, metrics, score) of one target's out-of-fold scores under the run's decision rule: `kind`
    ("auto": per bucket) tuned on these same scores, as evaluation tunes it on validation."""
    labels = list(target.labels)
    kind = "per_bucket" if kind == "auto" else kind
    th = tune(scored, labels, target.problem, kind, min_positives, at_least_one, groups, fixed)
    metrics = split_metrics(scored, labels, target.problem, th)
    return th, metrics, score_of(metrics, metric)
