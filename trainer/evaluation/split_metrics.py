"""One target on one split: gold labels and model decisions as matrices, and the metrics of each decision rule."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from trainer.decisions import (DEFAULT_THRESHOLD, Thresholds, decide, one_hot, too_little_to_tune, tune_per_group,
                               tune_thresholds)
from trainer.metrics import class_ids, compute_metrics, multi_hot


@dataclass
class Scored:
    """One split scored by one model for one target: ids, gold labels (as given) and probabilities (n, L)."""
    ids: list[str]
    gold: list                 # label lists (multi-label) or label names (single-label)
    probs: np.ndarray

    def gold_matrix(self, labels: Sequence[str], problem: str) -> np.ndarray:
        """Binary (n, L); a single-label gold outside `labels` gives an all-zero row."""
        if problem == "multi_label":
            return multi_hot(self.gold, labels).astype(bool)
        return one_hot(class_ids(self.gold, labels), len(labels))


def metrics_for(scored: Scored, pred: np.ndarray, labels: Sequence[str], problem: str) -> dict:
    """compute_metrics for one decision matrix (single-label: gold names vs predicted ids)."""
    if problem == "single_label":
        return compute_metrics(list(scored.gold), np.argmax(pred, axis=1).tolist(), labels, problem)
    return compute_metrics(scored.gold_matrix(labels, problem), pred.astype(np.int8), labels, problem)


def tune(validation: Scored | None, labels: Sequence[str], problem: str, kind: str,
         min_positives: int, at_least_one: bool = False, groups: Sequence[str] | None = None,
         fixed: dict[str, float] | None = None, min_documents: int = 1) -> Thresholds:
    """Thresholds tuned on validation (multi-label); 0.5 everywhere without a validation split, or with one of
    fewer than `min_documents` documents or `min_positives` gold labels (the reason in Thresholds.note;
    per_bucket: the fixed bucket values still apply). per_bucket needs `groups`, each label's bucket."""
    if problem != "multi_label":
        return Thresholds.default(len(labels), at_least_one)
    empty = validation is None or len(validation.ids) == 0
    note = "" if empty or kind == "none" else too_little_to_tune(
        len(validation.ids), int(validation.gold_matrix(labels, problem).sum()), min_documents, min_positives)
    if note:
        if kind != "per_bucket":
            return Thresholds.default(len(labels), at_least_one, note)
        validation, empty = None, True
    if kind == "per_bucket":
        if groups is None:
            raise ValueError("per_bucket thresholds need each label's bucket (the training split's label counts)")
        probs = np.zeros((0, len(labels))) if empty else validation.probs
        gold = np.zeros((0, len(labels)), bool) if empty else validation.gold_matrix(labels, problem)
        th = tune_per_group(probs, gold, groups, labels, min_positives, fixed, at_least_one=at_least_one)
        th.note = note
        return th
    if empty:
        return Thresholds.default(len(labels), at_least_one)
    return tune_thresholds(validation.probs, validation.gold_matrix(labels, problem), kind, labels, min_positives,
                           at_least_one=at_least_one)


def split_metrics(scored: Scored, labels: Sequence[str], problem: str, thresholds: Thresholds) -> dict:
    """Metrics under the decision rule predict uses, plus (multi-label) at a flat 0.5 for reference."""
    out = metrics_for(scored, decide(scored.probs, problem, thresholds), labels, problem)
    if problem == "multi_label":
        out["thresholds"] = thresholds.kind
        if thresholds.note:
            out["thresholds_note"] = thresholds.note
        out["at_least_one"] = thresholds.at_least_one
        out["at_0.5"] = metrics_for(scored, decide(scored.probs, problem, DEFAULT_THRESHOLD), labels, problem)
    return out


def at_least_one_rule(setting, train, target) -> bool:
    """eval.at_least_one resolved: "auto" is on when every `train` document that counts for the target has a
    label (multi-label): then an empty answer is always wrong."""
    if not target.multi_label or setting is False:
        return False
    if setting is True:
        return True
    if train is None or target.name not in train.column_names or len(train) == 0:
        return False
    return all(len(row) > 0 for row in train[target.name] if row or not target.skip_unlabelled)


def score_of(metrics: dict, metric: str) -> float:
    """The figure a pick is ranked by (tune.metric): a metric of split_metrics, or mean_f1 (micro and macro)."""
    if metric == "mean_f1":
        return (float(metrics["micro_f1"]) + float(metrics["macro_f1"])) / 2
    return float(metrics[metric])
