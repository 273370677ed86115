"""Compare runs per label-frequency bucket (>= 100, 20-99, 5-19, < 5 training documents): macro-F1 of
each bucket from the runs' test predictions and, against a baseline, its paired-bootstrap delta on the
same resamples as the headline metric.

Bucket membership comes from a run's metrics.json (`trainer evaluate` writes it, from the training
split); one membership is used for every run (they share a label space: compare checks that). Labels
without a gold test document are left out of a bucket's average, as report.md does.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from trainer.compare import bootstrap
from trainer.evaluation.buckets import BUCKET_NAMES, buckets_of_metrics


def membership(runs: Sequence) -> tuple[dict[str, list[str]] | None, str | None]:
    """(bucket -> labels, name of the run it was read from); the first run with buckets in its test metrics."""
    for run in runs:
        found = buckets_of_metrics(run.test_metrics)
        if found:
            return found, run.name
    return None, None


def bucket_counts(counts: bootstrap.DocCounts, labels: Sequence[str], members: Sequence[str]) -> bootstrap.DocCounts | None:
    """A run's counts restricted to the bucket's labels that have a gold test document; None if none has."""
    index = {label: j for j, label in enumerate(labels)}
    gold_support = (counts.tp + counts.fn).sum(axis=0)
    cols = [index[m] for m in members if m in index and gold_support[index[m]] > 0]
    if not cols:
        return None
    return bootstrap.DocCounts(tp=counts.tp[:, cols], fp=counts.fp[:, cols], fn=counts.fn[:, cols], exact=counts.exact)


def bucket_rows(scored: Sequence, counts: Sequence[bootstrap.DocCounts], labels: Sequence[Sequence[str]],
                buckets: dict[str, list[str]], base_index: int | None, n_resamples: int,
                seed: int) -> list[dict]:
    """Per scored run, {"macro_f1[B]": value, and with a baseline "delta_macro_f1[B]", "_low", "_high"}.
    Membership is by label name; each run's counts are over its own label order."""
    out = [dict() for _ in scored]
    for name in BUCKET_NAMES:
        members = buckets.get(name, [])
        per_run = [bucket_counts(c, labs, members) for c, labs in zip(counts, labels)]
        if any(c is None for c in per_run):
            continue
        points = [bootstrap.point_metrics(c)["macro_f1"] for c in per_run]
        for row, p in zip(out, points):
            row[f"macro_f1[{name}]"] = p
        if base_index is None or n_resamples == 0:
            continue
        samples = bootstrap.bootstrap_metrics(per_run, n_resamples=n_resamples, seed=seed)
        for i, (row, p, s) in enumerate(zip(out, points, samples)):
            if i == base_index:
                continue
            iv = bootstrap.interval(p - points[base_index], s["macro_f1"] - samples[base_index]["macro_f1"])
            row.update({f"delta_macro_f1[{name}]": iv.value, f"delta_macro_f1[{name}]_low": iv.low,
                        f"delta_macro_f1[{name}]_high": iv.high})
    return out


def bucket_cell(name: str):
    """Formatter for one bucket's column: the value, and against a baseline its delta with the 95% CI."""
    def cell(row: dict) -> str:
        value = row.get(f"macro_f1[{name}]")
        if not isinstance(value, (int, float)):
            return ""
        text = f"{value:.4f}"
        delta = row.get(f"delta_macro_f1[{name}]")
        if isinstance(delta, float) and not np.isnan(delta):
            low, high = row[f"delta_macro_f1[{name}]_low"], row[f"delta_macro_f1[{name}]_high"]
            mark = "" if low > 0 or high < 0 else " n.s."
            text += f" ({delta:+.3f} [{low:+.3f}, {high:+.3f}]{mark})"
        return text
    return cell
