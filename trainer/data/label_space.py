"""A target's label space, read from the training split: which labels, how often, and weights for them."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from trainer.contracts import Target
from trainer.errors import ConfigError, DataError

MAX_POS_WEIGHT = 100.0     # "balanced" multi-label weights: a label seen twice must not dominate the loss


@dataclass
class LabelSpace:
    target: str              # dataset column
    labels: list[str]
    counts: list[int]        # training examples per label
    n_train: int             # training examples that count for this target
    problem: str
    skip_unlabelled: bool = False   # examples without a label for this target are left out (multi-task)

    def priors(self) -> list[float]:
        return [c / max(1, self.n_train) for c in self.counts]

    def balanced_weights(self) -> list[float]:
        """BCE pos_weight (negatives/positives, capped) or CE class weights n / (k * count)."""
        n, k = self.n_train, len(self.labels)
        if self.problem == "multi_label":
            return [min(MAX_POS_WEIGHT, (n - c) / c) if c else 1.0 for c in self.counts]
        return [n / (k * c) if c else 1.0 for c in self.counts]

    def as_target(self) -> Target:
        return Target(self.target, self.problem, tuple(self.labels), self.skip_unlabelled)


def check_target(dsd, target: str, problem: str, dataset_dir: Path, key: str = "task.target") -> None:
    """The dataset has the target column, holding label lists (multi-label) or single labels."""
    columns = dsd["train"].column_names
    if target not in columns:
        raise ConfigError(f"{key} {target!r}: {dataset_dir} has no column {target!r} (columns: {', '.join(columns)}); "
                          "build a dataset with that label, or drop the target")
    feature = dsd["train"].features[target]
    is_list = getattr(feature, "feature", None) is not None or \
        type(feature).__name__ in ("List", "Sequence", "LargeList")
    if problem == "single_label" and is_list:
        raise ConfigError(f"task.problem single_label: column {target!r} holds label lists; "
                          "use task.problem: multi_label, or a single-label column such as 'topic'")
    if problem == "multi_label" and not is_list:
        raise ConfigError(f"task.problem multi_label: column {target!r} holds one label per example; "
                          "use task.problem: single_label")


def label_space(train_split, target: str, problem: str, min_count: int, skip_unlabelled: bool = False) -> LabelSpace:
    """Labels of `target` with at least `min_count` training examples. `skip_unlabelled`: examples without a
    label for it do not count (their share would make every prior smaller than the labelled documents show)."""
    counter, n_values = label_counts(train_split, target, problem, skip_unlabelled)
    labels = sorted(label for label, c in counter.items() if c >= min_count)
    if len(labels) < 2 and problem == "single_label" or not labels:
        raise DataError(f"task.target {target!r}: only {len(labels)} label(s) with >= {min_count} training "
                        "examples (task.min_label_count); a classifier needs more")
    return LabelSpace(target, labels, [counter[label] for label in labels], n_values, problem, skip_unlabelled)


def label_counts(train_split, target: str, problem: str, skip_unlabelled: bool = False) -> tuple[Counter, int]:
    """(training examples per label of `target`, examples counted); `skip_unlabelled` as in label_space."""
    values = train_split[target]
    if skip_unlabelled:
        values = [v for v in values if (v if problem == "multi_label" else v not in (None, ""))]
    counter: Counter = Counter()
    for v in values:
        counter.update(v if problem == "multi_label" else [v])
    counter.pop(None, None)
    return counter, len(values)
