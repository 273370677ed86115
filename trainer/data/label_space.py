"""A target's label space, read from the training split: which labels, how often, and weights for them."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from trainer.contracts import Target
from trainer.errors import ConfigError, DataError

MAX_POS_WEIGHT = 100.0     # "balanced" multi-label weights: a label seen twice must not dominate the loss
NAMED_DROPS = 20           # labels named per rule in a console line; the rest are counted (all in the records)


@dataclass
class LabelSpace:
    target: str              # dataset column
    labels: list[str]
    counts: list[int]        # training examples per label
    n_train: int             # training examples that count for this target
    problem: str
    skip_unlabelled: bool = False   # examples without a label for this target are left out (multi-task)
    dropped: list[dict] = field(default_factory=list)   # labels of the training split below min_count, why

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


TOPIC_COLUMNS = ("topics", "topic")   # what a build writes for labels.topic: label lists, or one label


def resolve_task(task, columns: dict[str, bool], where: str):
    """`task` with target/problem `auto` replaced by what the dataset holds (`columns`: label column -> holds
    label lists; `where`: the dataset, for the message). target auto: its topic column (topics or topic);
    problem auto: multi_label for a column of label lists, else single_label. ConfigError when it cannot say."""
    if not task.auto:
        return task
    target = task.target
    if target == "auto":
        found = [c for c in TOPIC_COLUMNS if c in columns]
        if len(found) != 1:
            has = ", ".join(columns) or "no label column"
            what = "both a topics and a topic column" if found else f"no topic column (topics or topic; it has {has})"
            say = " or ".join(f"task.target={c}" for c in (found or columns or TOPIC_COLUMNS))
            raise ConfigError(f"task.target auto: {where} has {what}; say which column to learn: {say}")
        target = found[0]
    problem = task.problem
    if problem == "auto":
        if target not in columns:
            raise ConfigError(f"task.problem auto: {where} has no column {target!r} (label columns: "
                              f"{', '.join(columns) or 'none'}); fix task.target or set task.problem")
        problem = "multi_label" if columns[target] else "single_label"
    return task.model_copy(update={"target": target, "problem": problem})


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


def label_space(train_split, target: str, problem: str, min_count: int, skip_unlabelled: bool = False,
                key: str = "task.min_label_count") -> LabelSpace:
    """Labels of `target` with at least `min_count` training examples; the others are in `dropped`, each with
    its count, the rule `key` (the config key of `min_count`) and the reason. `skip_unlabelled`: examples
    without a label for it do not count (their share would make every prior smaller than the labelled
    documents show)."""
    counter, n_values = label_counts(train_split, target, problem, skip_unlabelled)
    labels = sorted(label for label, c in counter.items() if c >= min_count)
    if len(labels) < 2 and problem == "single_label" or not labels:
        raise DataError(f"task.target {target!r}: only {len(labels)} label(s) with >= {min_count} training "
                        f"examples ({key}); a classifier needs more")
    dropped = [{"label": label, "train": counter[label], "rule": key, "threshold": min_count,
                "reason": f"{counter[label]} training example(s), fewer than {key} {min_count}"}
               for label in sorted(counter) if counter[label] < min_count]
    return LabelSpace(target, labels, [counter[label] for label in labels], n_values, problem, skip_unlabelled,
                      dropped)


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


def dropped_lines(column: str, records: list[dict]) -> list[str]:
    """One line per rule that dropped labels of `column`: the rule (config key) and its threshold, then each
    label with its training documents, e.g. "topic: labels.topic.min_count 5 dropped 2 labels: sport (3
    training documents), weather (1)". `records` as the build's labels_dropped or LabelSpace.dropped hold them."""
    by_rule: dict[tuple[str, object], list[dict]] = {}
    for record in records:
        by_rule.setdefault((record["rule"], record.get("threshold")), []).append(record)
    lines = []
    for (rule, threshold), group in by_rule.items():
        shown = [f"{r['label']} ({r['train']} training document{'s' if r['train'] != 1 else ''})"
                 for r in group[:NAMED_DROPS]]
        more = f", and {len(group) - NAMED_DROPS} more" if len(group) > NAMED_DROPS else ""
        setting = f"{rule} {threshold}" if rule.startswith(("labels.", "task.")) and \
            not rule.endswith("require_in_test") else rule
        lines.append(f"{column}: {setting} dropped {len(group)} label{'s' if len(group) != 1 else ''}: "
                     + ", ".join(shown) + more)
    return lines
