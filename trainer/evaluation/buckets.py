"""Macro-F1 per label-frequency bucket: how a model does on frequent labels and on the long tail.

A label's bucket is its number of training documents: >= 100, 20-99, 5-19, < 5. Macro-F1 over all
labels hides the tail (on Reuters-90, 48 of the 90 labels have fewer than 20 training documents);
per bucket, the effect of a change on the rare labels is visible. report.md and `trainer compare`
show these columns; metrics.json keeps them per split under "buckets", with the labels of each
bucket, so compare needs nothing but the run directory.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

# (name, fewest training documents, most); the bounds are inclusive
BUCKETS: tuple[tuple[str, int, int | None], ...] = ((">=100", 100, None), ("20-99", 20, 99), ("5-19", 5, 19),
                                                     ("<5", 0, 4))
BUCKET_NAMES = tuple(name for name, _, _ in BUCKETS)


def bucket_name(train_count: int) -> str:
    for name, low, high in BUCKETS:
        if train_count >= low and (high is None or train_count <= high):
            return name
    raise ValueError(f"negative training count {train_count}")


def label_buckets(labels: Sequence[str], train_counts: Mapping[str, int]) -> dict[str, list[str]]:
    """Bucket name -> its labels (in `labels` order), every bucket present, maybe empty."""
    out: dict[str, list[str]] = {name: [] for name in BUCKET_NAMES}
    for label in labels:
        out[bucket_name(int(train_counts.get(label, 0)))].append(label)
    return out


def in_bucket_order(groups: Mapping[str, object]) -> dict[str, object]:
    """A mapping keyed by bucket name, in bucket order (>=100 first); other keys after them."""
    order = {name: k for k, name in enumerate(BUCKET_NAMES)}
    return {name: groups[name] for name in sorted(groups, key=lambda g: order.get(g, len(order)))}


def bucket_metrics(per_label: Mapping[str, Mapping], buckets: Mapping[str, Sequence[str]]) -> dict[str, dict]:
    """Per bucket: its labels, the macro-F1 over those of them with a gold document in the split (a label
    without one has no F1 to speak of; on a test split holding every label this is the plain macro
    average), how many that is, and their gold support. No such label: macro_f1 None."""
    out = {}
    for name, members in buckets.items():
        present = [label for label in members if label in per_label and int(per_label[label]["support"]) > 0]
        f1 = [float(per_label[label]["f1"]) for label in present]
        out[name] = {"labels": list(members), "n_labels": len(members), "n_present": len(present),
                     "support": sum(int(per_label[label]["support"]) for label in present),
                     "macro_f1": float(np.mean(f1)) if f1 else None}
    return out


def buckets_of_metrics(split_metrics: Mapping | None) -> dict[str, list[str]] | None:
    """The bucket membership a metrics.json split holds ("buckets"), or None for runs evaluated before it."""
    raw = (split_metrics or {}).get("buckets")
    if not isinstance(raw, Mapping):
        return None
    return {name: list(raw[name].get("labels", [])) for name in BUCKET_NAMES if isinstance(raw.get(name), Mapping)}
