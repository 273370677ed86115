"""Paired-bootstrap intervals of a comparison: each run's metrics, deltas against the baseline, and macro-F1
per label-frequency bucket, all on the same resamples of the shared test documents."""
from __future__ import annotations

from trainer.compare import bootstrap
from trainer.compare.checks import check_same_test_set
from trainer.compare.columns import METRIC_COLUMNS
from trainer.compare.runs import CompareError, Run, as_list, labels_of


def run_intervals(runs: list[Run], base: Run | None, metric: str, n_resamples: int, seed: int):
    """Per-run metric intervals and per-run deltas against `base` on shared resamples
    ({run: {metric: Interval}}, {run: {metric: delta Interval}}, notes); also refuses runs not comparable at all."""
    notes: list[str] = []
    scored = [r for r in runs if r.predictions is not None]
    missing = [r.name for r in runs if r.predictions is None]
    if base is not None and missing:
        raise CompareError(f"no predictions.jsonl in {', '.join(missing)}: the paired bootstrap needs "
                           "per-document predictions; run `trainer evaluate RUN_DIR` first")
    if missing:
        notes.append(f"no predictions.jsonl (no interval): {', '.join(missing)}")
    if not scored:
        return {}, {}, notes
    check_same_test_set(scored)   # also without intervals: the rows must be comparable at all
    if n_resamples == 0:
        return {}, {}, notes
    counts = [bootstrap.doc_counts([as_list(p.get("gold")) for p in r.target_rows()],
                                   [as_list(p.get("predicted")) for p in r.target_rows()], labels_of(r))
              for r in scored]
    samples = bootstrap.bootstrap_metrics(counts, n_resamples=n_resamples, seed=seed)
    points = [bootstrap.point_metrics(c) for c in counts]
    # every metric's interval (the plot can show several); `metric`'s are the table's columns
    intervals = {r.name: {m: bootstrap.interval(p[m], s[m]) for m in METRIC_COLUMNS}
                 for r, p, s in zip(scored, points, samples)}
    deltas = {}
    if base is not None:
        b = scored.index(base)
        for r, p, s in zip(scored, points, samples):
            if r is not base:
                deltas[r.name] = {m: bootstrap.interval(p[m] - points[b][m], s[m] - samples[b][m])
                                  for m in METRIC_COLUMNS}
    notes.append(f"intervals: 95% percentile bootstrap over {len(scored[0].target_rows())} test documents, "
                 f"{n_resamples} paired resamples (seed {seed})")
    return intervals, deltas, notes


def bucket_columns(runs: list[Run], rows: list[dict], base: Run | None, n_resamples: int, seed: int,
                 notes: list[str]) -> list[str]:
    """Macro-F1 per label-frequency bucket into `rows` (and deltas against `base`); the buckets shown."""
    from trainer.compare import by_bucket
    scored = [i for i, r in enumerate(runs) if r.predictions is not None]
    buckets, source = by_bucket.membership(runs)
    if not scored or buckets is None:
        if scored:
            notes.append("no label-frequency buckets: no run's metrics.json has them (rerun `trainer evaluate`)")
        return []
    labels = [labels_of(runs[i]) for i in scored]
    counts = [bootstrap.doc_counts([as_list(p.get("gold")) for p in runs[i].target_rows()],
                                   [as_list(p.get("predicted")) for p in runs[i].target_rows()], labs)
              for i, labs in zip(scored, labels)]
    base_index = next((k for k, i in enumerate(scored) if runs[i] is base), None)
    per_run = by_bucket.bucket_rows([runs[i] for i in scored], counts, labels, buckets, base_index, n_resamples, seed)
    for i, extra in zip(scored, per_run):
        rows[i].update(extra)
    shown = [b for b in buckets if any(f"macro_f1[{b}]" in rows[i] for i in scored)]
    if shown:
        notes.append("macro_f1[B]: macro-F1 over the labels with B training documents that occur in the test set "
                     f"(buckets from {source}'s metrics.json)")
    return shown
