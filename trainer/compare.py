"""`trainer compare`: one row per run directory, the config keys that differ, metrics, costs,
and against a baseline the metric delta with a paired-bootstrap 95% interval.

Rendering (terminal, Markdown, CSV, HTML, PNG) lives in `trainer.compare_render`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from trainer import bootstrap
from trainer.errors import TrainerError

METRIC_COLUMNS = ("micro_f1", "macro_f1", "accuracy")
COST_COLUMNS = ("train_seconds", "train_examples_per_s", "parameters", "model_bytes", "predict_docs_per_s")
IGNORED_KEYS = ("output.name",)          # the run column already names each run
# where a prediction speed may be recorded (evaluation writes it into metrics.json test or meta.json)
_SPEED_KEYS = ("predict_docs_per_s", "docs_per_s", "predict_examples_per_s", "eval_samples_per_second")


class CompareError(TrainerError):
    """Runs that cannot be compared (missing files, different test sets)."""


@dataclass
class Run:
    path: Path
    name: str
    config: dict[str, Any]                 # flattened resolved config (schema defaults filled in)
    test_metrics: dict[str, Any]
    meta: dict[str, Any]
    labels: list[str] | None               # model/trainer.json labels
    predictions: list[dict] | None         # predictions.jsonl rows, None when absent

    @property
    def model_bytes(self) -> int | None:
        model = self.path / "model"
        if not model.is_dir():
            return None
        return sum(p.stat().st_size for p in model.rglob("*") if p.is_file())

    @property
    def predict_docs_per_s(self) -> float | None:
        for source in (self.test_metrics, self.meta):
            for key in _SPEED_KEYS:
                if isinstance(source.get(key), (int, float)):
                    return float(source[key])
        return None


@dataclass
class Comparison:
    metric: str
    runs: list[Run]                         # sorted by `metric`, best first
    config_keys: list[str]                  # dotted keys whose values differ between the runs
    rows: list[dict[str, Any]]              # raw values per run, keyed by column
    baseline: str | None = None             # name of the baseline run
    n_resamples: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        cols = ["run", *self.config_keys, *METRIC_COLUMNS]
        if self.n_resamples:
            cols += [f"{self.metric}_low", f"{self.metric}_high"]
        if self.baseline:
            cols += [f"delta_{self.metric}", "delta_low", "delta_high", "significant"]
        return cols + list(COST_COLUMNS)


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> dotted keys; lists stay values (compared as a whole)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def differing_keys(configs: Sequence[dict[str, Any]]) -> list[str]:
    """Keys (in first-seen order) whose values are not the same in every config; missing = None."""
    keys: dict[str, None] = {}
    for cfg in configs:
        keys.update(dict.fromkeys(cfg))
    return [k for k in keys if k not in IGNORED_KEYS
            and any(cfg.get(k) != configs[0].get(k) for cfg in configs[1:])]


def load_run(run_dir: str | Path) -> Run:
    from trainer.config import load_config
    from trainer.training.config import RunConfig
    path = Path(run_dir)
    cfg_path = path / "config.yaml"
    if not cfg_path.is_file():
        raise CompareError(f"{path}: not a run directory (no config.yaml); give directories written by `trainer train`")
    # validating fills keys an older or shorter config.yaml lacks with today's schema defaults
    cfg = load_config(cfg_path, RunConfig).model_dump(mode="json")
    metrics = _read_json(path / "metrics.json") or {}
    trainer_json = _read_json(path / "model" / "trainer.json") or {}
    return Run(path=path, name=path.name, config=flatten(cfg), test_metrics=metrics.get("test") or {},
               meta=_read_json(path / "meta.json") or {}, labels=trainer_json.get("labels"),
               predictions=_read_jsonl(path / "predictions.jsonl"))


def _read_json(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CompareError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def _read_jsonl(path: Path) -> list[dict] | None:
    if not path.is_file():
        return None
    rows = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise CompareError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
    return rows


def compare(run_dirs: Sequence[str | Path], baseline: str | Path | None = None, metric: str = "micro_f1",
            n_resamples: int = 1000, seed: int = 0) -> Comparison:
    """Compare run directories; with `baseline`, add each run's delta and its paired-bootstrap 95% CI."""
    if metric not in METRIC_COLUMNS:
        raise CompareError(f"--metric {metric!r}: choose one of {', '.join(METRIC_COLUMNS)}")
    paths = _unique_paths(list(run_dirs) + ([baseline] if baseline is not None else []))
    if not paths:
        raise CompareError("no run directories given")
    runs = [load_run(p) for p in paths]
    _name_uniquely(runs)
    base = next(r for r in runs if r.path.resolve() == Path(baseline).resolve()) if baseline is not None else None
    intervals, deltas, notes = _bootstrap(runs, base, metric, n_resamples, seed)
    rows = [_row(r, metric, intervals.get(r.name), deltas.get(r.name), base) for r in runs]
    keys = differing_keys([r.config for r in runs])
    for row, run in zip(rows, runs):
        row.update({k: run.config.get(k) for k in keys})
    order = sorted(range(len(runs)), key=lambda i: _sort_key(rows[i].get(metric)))
    return Comparison(metric=metric, runs=[runs[i] for i in order], config_keys=keys,
                      rows=[rows[i] for i in order], baseline=base.name if base else None,
                      n_resamples=n_resamples if intervals else 0, notes=notes)


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


def _row(run: Run, metric: str, ci, delta, base) -> dict[str, Any]:
    row: dict[str, Any] = {"run": run.name}
    row.update({m: run.test_metrics.get(m) for m in METRIC_COLUMNS})
    if ci is not None:
        row[f"{metric}_low"], row[f"{metric}_high"] = ci.low, ci.high
    if base is not None:
        if run is base:
            row.update({f"delta_{metric}": 0.0, "delta_low": 0.0, "delta_high": 0.0, "significant": "baseline"})
        elif delta is not None:
            row.update({f"delta_{metric}": delta.value, "delta_low": delta.low, "delta_high": delta.high,
                        "significant": "yes" if delta.significant else "no"})
    row.update({"train_seconds": run.meta.get("train_seconds"),
                "train_examples_per_s": run.meta.get("train_examples_per_s"),
                "parameters": run.meta.get("model_parameters"), "model_bytes": run.model_bytes,
                "predict_docs_per_s": run.predict_docs_per_s})
    return row


def check_same_test_set(runs: Sequence[Run]) -> None:
    """Refuse runs whose predictions.jsonl cover different documents or list them in another order."""
    ref = runs[0]
    ref_ids = [p.get("id") for p in ref.predictions]
    for run in runs[1:]:
        ids = [p.get("id") for p in run.predictions]
        if ids == ref_ids:
            continue
        if set(map(str, ids)) == set(map(str, ref_ids)) and len(ids) == len(ref_ids):
            why = "the same documents in a different order"
        else:
            only_a, only_b = set(map(str, ref_ids)) - set(map(str, ids)), set(map(str, ids)) - set(map(str, ref_ids))
            why = (f"different documents ({len(ref_ids)} vs {len(ids)}; {len(only_a)} only in {ref.name}, "
                   f"{len(only_b)} only in {run.name})")
        raise CompareError(f"runs {ref.name} and {run.name} were evaluated on different test sets: {why}. "
                           "Compare runs trained on the same dataset directory, or re-evaluate them on one "
                           "(`trainer evaluate RUN_DIR --data DATASET`)")


def _bootstrap(runs: list[Run], base: Run | None, metric: str, n_resamples: int, seed: int):
    """Per-run metric intervals and per-run deltas against `base` on shared resamples."""
    notes: list[str] = []
    scored = [r for r in runs if r.predictions is not None]
    missing = [r.name for r in runs if r.predictions is None]
    if base is not None and missing:
        raise CompareError(f"no predictions.jsonl in {', '.join(missing)}: the paired bootstrap needs "
                           "per-document predictions; run `trainer evaluate RUN_DIR` first")
    if missing:
        notes.append(f"no predictions.jsonl (no interval): {', '.join(missing)}")
    if not scored or n_resamples <= 0:
        return {}, {}, notes
    check_same_test_set(scored)
    counts = [bootstrap.doc_counts([_as_list(p.get("gold")) for p in r.predictions],
                                   [_as_list(p.get("predicted")) for p in r.predictions], _labels_of(r))
              for r in scored]
    samples = bootstrap.bootstrap_metrics(counts, n_resamples=n_resamples, seed=seed)
    points = [bootstrap.point_metrics(c) for c in counts]
    intervals = {r.name: bootstrap.interval(p[metric], s[metric]) for r, p, s in zip(scored, points, samples)}
    deltas = {}
    if base is not None:
        b = scored.index(base)
        for r, p, s in zip(scored, points, samples):
            if r is not base:
                deltas[r.name] = bootstrap.interval(p[metric] - points[b][metric], s[metric] - samples[b][metric])
    notes.append(f"intervals: 95% percentile bootstrap over {len(scored[0].predictions)} test documents, "
                 f"{n_resamples} paired resamples (seed {seed})")
    return intervals, deltas, notes


def _as_list(value) -> list[str]:
    """Label lists as predictions.jsonl holds them; a bare string (single-label) becomes one label."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _labels_of(run: Run) -> list[str]:
    """The run's label space: model/trainer.json, else every label its predictions mention."""
    if run.labels:
        return list(run.labels)
    seen = {label for p in run.predictions for key in ("gold", "predicted") for label in _as_list(p.get(key))}
    return sorted(seen)
