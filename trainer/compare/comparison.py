"""`compare()`: the rows of a comparison (one per run, best first), the config keys that differ, and the
columns they fill."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from trainer import metric_names
from trainer.compare.checks import check_scored_on_training_data
from trainer.compare.columns import COST_COLUMNS, METRIC_COLUMNS
from trainer.compare.intervals import bucket_columns, run_intervals
from trainer.compare.runs import CompareError, Run, load_run

IGNORED_KEYS = ("output.name",)          # the run column already names each run


@dataclass
class Comparison:
    metric: str
    runs: list[Run]                         # sorted by `metric`, best first
    config_keys: list[str]                  # dotted keys whose values differ between the runs
    rows: list[dict[str, Any]]              # raw values per run, keyed by column
    baseline: str | None = None             # name of the baseline run
    n_resamples: int = 0
    notes: list[str] = field(default_factory=list)
    target: str | None = None               # the target compared
    buckets: list[str] = field(default_factory=list)   # label-frequency buckets with a macro-F1 column

    @property
    def columns(self) -> list[str]:
        cols = ["run", *self.config_keys, *METRIC_COLUMNS]
        if self.n_resamples:
            cols += [f"{self.metric}_low", f"{self.metric}_high"]
        if self.baseline:
            cols += [f"delta_{self.metric}", "delta_low", "delta_high", "significant"]
        for b in self.buckets:
            cols.append(f"macro_f1[{b}]")
            if self.baseline and self.n_resamples:
                cols += [f"delta_macro_f1[{b}]", f"delta_macro_f1[{b}]_low", f"delta_macro_f1[{b}]_high"]
        return cols + list(COST_COLUMNS)


def differing_keys(configs: Sequence[dict[str, Any]]) -> list[str]:
    """Keys (in first-seen order) whose values are not the same in every config; missing = None."""
    keys: dict[str, None] = {}
    for cfg in configs:
        keys.update(dict.fromkeys(cfg))
    return [k for k in keys if k not in IGNORED_KEYS
            and any(cfg.get(k) != configs[0].get(k) for cfg in configs[1:])]


def compare(run_dirs: Sequence[str | Path], baseline: str | Path | None = None, metric: str = "micro_f1",
            n_resamples: int = 1000, seed: int = 0, target: str | None = None) -> Comparison:
    """Compare run directories on one target; with `baseline`, add each run's delta and its paired-bootstrap 95% CI."""
    if metric not in metric_names.SELECTABLE:
        raise CompareError(f"--metric {metric!r}: choose one of {', '.join(metric_names.SELECTABLE)}")
    if n_resamples < 0:
        raise CompareError(f"--resamples {n_resamples}: give 0 (no intervals) or more")
    paths = _unique_paths(list(run_dirs) + ([baseline] if baseline is not None else []))
    if not paths:
        raise CompareError("no run directories given")
    runs = [load_run(p) for p in paths]
    check_scored_on_training_data(runs)
    target = _pick_target(runs, target)
    _name_uniquely(runs)
    base = next(r for r in runs if r.path.resolve() == Path(baseline).resolve()) if baseline is not None else None
    intervals, deltas, notes = run_intervals(runs, base, metric, n_resamples, seed)
    rows = [_row(r, metric, intervals.get(r.name), deltas.get(r.name), base) for r in runs]
    bucket_names = bucket_columns(runs, rows, base, n_resamples, seed, notes)
    keys = _settings_shown(differing_keys([r.config for r in runs]), runs, notes)
    for row, run in zip(rows, runs):
        row.update({k: run.config.get(k) for k in keys})
    order = sorted(range(len(runs)), key=lambda i: _sort_key(rows[i].get(metric)))
    return Comparison(metric=metric, runs=[runs[i] for i in order], config_keys=keys,
                      rows=[rows[i] for i in order], baseline=base.name if base else None,
                      n_resamples=n_resamples if intervals else 0, notes=notes, target=target,
                      buckets=bucket_names)


def _pick_target(runs: list[Run], target: str | None) -> str:
    name = target or (runs[0].spec.primary.name if runs[0].spec else runs[0].config.get("task.target"))
    for run in runs:
        names = run.spec.target_names if run.spec else [run.config.get("task.target")]
        if name not in names:
            raise CompareError(f"{run.name} has no target {name!r} (it predicts {', '.join(map(str, names))}); "
                               "choose one every run has with --target")
        run.target = name
    return name


def _settings_shown(keys: list[str], runs: list[Run], notes: list[str]) -> list[str]:
    """The differing settings to show. Runs of different kinds each have model settings the others lack (a
    transformer's max_length, an ensemble's members): those are left out, counted in a note, so the columns
    stay the settings that mean something for every run (model.type names the difference)."""
    if len({r.config.get("model.type") for r in runs}) < 2:
        return keys
    kind_only = [k for k in keys if k.startswith("model.") and k != "model.type"
                 and any(r.config.get(k) is None for r in runs)]
    if kind_only:
        notes.append(f"{len(kind_only)} model settings that only some of these kinds have are not shown (model.type "
                     "differs); each run's config.yaml holds them")
    return [k for k in keys if k not in kind_only]


def _unique_paths(items: list) -> list[Path]:
    seen, out = set(), []
    for item in items:
        p = Path(item)
        if p.resolve() not in seen:
            seen.add(p.resolve())
            out.append(p)
    return out


def _name_uniquely(runs: list[Run]) -> None:
    names = [r.name for r in runs]
    for r in runs:
        if names.count(r.name) > 1:
            r.name = str(r.path)


def _sort_key(value) -> tuple:
    return (0, -value) if isinstance(value, (int, float)) else (1, 0)


def _row(run: Run, metric: str, cis: dict | None, deltas: dict | None, base) -> dict[str, Any]:
    row: dict[str, Any] = {"run": run.name}
    row.update({m: run.test_metrics.get(m) for m in METRIC_COLUMNS})
    ci, delta = (cis or {}).get(metric), (deltas or {}).get(metric)
    if ci is not None:
        row[f"{metric}_low"], row[f"{metric}_high"] = ci.low, ci.high
    if cis:   # all metrics, for plots: {metric: (low, high)}
        row["intervals"] = {m: (i.low, i.high) for m, i in cis.items()}
    if base is not None:
        if run is base:
            row.update({f"delta_{metric}": 0.0, "delta_low": 0.0, "delta_high": 0.0, "significant": "baseline"})
            row["deltas"] = {m: (0.0, 0.0, 0.0) for m in METRIC_COLUMNS}
        elif delta is not None:
            row.update({f"delta_{metric}": delta.value, "delta_low": delta.low, "delta_high": delta.high,
                        "significant": "yes" if delta.significant else "no"})
            row["deltas"] = {m: (d.value, d.low, d.high) for m, d in deltas.items()}
    row.update({"train_seconds": run.meta.get("train_seconds"),
                "train_examples_per_s": run.meta.get("train_examples_per_s"),
                "parameters": run.meta.get("model_parameters"), "model_bytes": run.model_bytes,
                "predict_docs_per_s": run.predict_docs_per_s})
    return row
