"""`trainer compare`: one row per run directory, the config keys that differ, metrics, costs,
and against a baseline the metric delta with a paired-bootstrap 95% interval. Runs are compared on
one target (`--target`, default: the first run's first target), on the same test documents with the
same gold labels and label space.

Rendering (terminal, Markdown, CSV, HTML, PNG) lives in `trainer.compare.render`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from trainer import contracts
from trainer.compare import bootstrap
from trainer.config import flatten
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
    spec: contracts.ModelSpec | None       # model/trainer.json
    metrics: dict[str, dict]               # metrics.json: target -> split -> metrics
    meta: dict[str, Any]
    predictions: list[dict] | None         # predictions.jsonl rows (format 2), None when absent
    target: str | None = None              # the target this comparison looks at

    @property
    def test_metrics(self) -> dict[str, Any]:
        return (self.metrics.get(self.target) or {}).get("test") or {}

    @property
    def labels(self) -> list[str] | None:
        if self.spec is None or self.target not in self.spec.target_names:
            return None
        return list(self.spec.target(self.target).labels)

    def target_rows(self) -> list[dict] | None:
        """Per document with a gold label for the target: {"id", "gold", "predicted"}."""
        if self.predictions is None:
            return None
        return [{"id": p.get("id"), **p["targets"][self.target]} for p in self.predictions
                if self.target in p["targets"]]

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


def load_run(run_dir: str | Path) -> Run:
    path = Path(run_dir)
    if not (path / contracts.CONFIG).is_file():
        raise CompareError(f"{path}: not a run directory (no {contracts.CONFIG}); give directories written by "
                           "`trainer train`")
    # validating fills keys an older or shorter config.yaml lacks with today's schema defaults
    cfg = contracts.read_run_config(path).model_dump(mode="json")
    model_dir = path / contracts.MODEL
    # the answer's labels (a target combined with the gazetteer: its gazetteer-only labels too), as predictions hold
    spec = contracts.answer_spec(contracts.read_spec(model_dir)) if (model_dir / contracts.SPEC).is_file() else None
    primary = spec.primary.name if spec else cfg["task"]["target"]
    return Run(path=path, name=path.name, config=flatten(cfg), spec=spec,
               metrics=contracts.read_metrics(path, primary), meta=contracts.read_meta(path),
               predictions=contracts.read_predictions(path, primary))


def _pick_target(runs: list[Run], target: str | None) -> str:
    name = target or (runs[0].spec.primary.name if runs[0].spec else runs[0].config.get("task.target"))
    for run in runs:
        names = run.spec.target_names if run.spec else [run.config.get("task.target")]
        if name not in names:
            raise CompareError(f"{run.name} has no target {name!r} (it predicts {', '.join(map(str, names))}); "
                               "choose one every run has with --target")
        run.target = name
    return name


def compare(run_dirs: Sequence[str | Path], baseline: str | Path | None = None, metric: str = "micro_f1",
            n_resamples: int = 1000, seed: int = 0, target: str | None = None) -> Comparison:
    """Compare run directories on one target; with `baseline`, add each run's delta and its paired-bootstrap 95% CI."""
    if metric not in METRIC_COLUMNS:
        raise CompareError(f"--metric {metric!r}: choose one of {', '.join(METRIC_COLUMNS)}")
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
    intervals, deltas, notes = _bootstrap(runs, base, metric, n_resamples, seed)
    rows = [_row(r, metric, intervals.get(r.name), deltas.get(r.name), base) for r in runs]
    bucket_names = _add_buckets(runs, rows, base, n_resamples, seed, notes)
    keys = _settings_shown(differing_keys([r.config for r in runs]), runs, notes)
    for row, run in zip(rows, runs):
        row.update({k: run.config.get(k) for k in keys})
    order = sorted(range(len(runs)), key=lambda i: _sort_key(rows[i].get(metric)))
    return Comparison(metric=metric, runs=[runs[i] for i in order], config_keys=keys,
                      rows=[rows[i] for i in order], baseline=base.name if base else None,
                      n_resamples=n_resamples if intervals else 0, notes=notes, target=target,
                      buckets=bucket_names)


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


def check_scored_on_training_data(runs: Sequence[Run]) -> None:
    """Refuse a run whose metrics.json says it was scored on a dataset other than the one it was trained on
    (`trainer evaluate --data` on a rebuilt dataset): its test documents may be ones it trained on, and two
    such runs agree on their test set while both leak."""
    for run in runs:
        scored = contracts.read_scored_dataset(run.path)
        if scored and scored.get("same_as_training") is False:
            raise CompareError(f"{run.name} was scored on {scored.get('path')} (given with --data), not the dataset "
                               f"it was trained on ({'; '.join(scored.get('changes') or [])}); its test metrics may "
                               f"count documents it trained on. Re-evaluate it on its own dataset (`trainer evaluate "
                               f"{run.path}`) or leave it out")


def check_same_test_set(runs: Sequence[Run]) -> None:
    """Refuse runs whose predictions for the target cover different documents (or list them in another
    order), carry different gold labels, or use different label spaces: their metrics are not comparable."""
    ref = runs[0]
    ref_rows = ref.target_rows()
    ref_ids = [r.get("id") for r in ref_rows]
    for run in runs[1:]:
        rows = run.target_rows()
        ids = [r.get("id") for r in rows]
        if ids != ref_ids:
            if set(map(str, ids)) == set(map(str, ref_ids)) and len(ids) == len(ref_ids):
                why = "the same documents in a different order"
            else:
                only_a, only_b = set(map(str, ref_ids)) - set(map(str, ids)), set(map(str, ids)) - set(map(str, ref_ids))
                why = (f"different documents ({len(ref_ids)} vs {len(ids)}; {len(only_a)} only in {ref.name}, "
                       f"{len(only_b)} only in {run.name})")
            raise CompareError(f"runs {ref.name} and {run.name} were evaluated on different test sets (target "
                               f"{run.target}): {why}. Compare runs trained on the same dataset directory, or re-evaluate them on "
                               "one (`trainer evaluate RUN_DIR --data DATASET`)")
        differ = sum(sorted(_as_list(a.get("gold"))) != sorted(_as_list(b.get("gold"))) for a, b in zip(ref_rows, rows))
        if differ:
            raise CompareError(f"runs {ref.name} and {run.name} have the same {run.target} test documents but "
                               f"different gold labels on {differ} of them (a different dataset build or label "
                               "mapping); compare runs evaluated on one dataset")
        if ref.labels is not None and run.labels is not None and sorted(ref.labels) != sorted(run.labels):
            a, b = set(ref.labels), set(run.labels)
            raise CompareError(f"runs {ref.name} and {run.name} predict different {run.target} label spaces "
                               f"({len(a - b)} labels only in {ref.name}, {len(b - a)} only in {run.name}, e.g. "
                               "another task.min_label_count); macro scores over different labels are not comparable")


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
    if not scored:
        return {}, {}, notes
    check_same_test_set(scored)   # also without intervals: the rows must be comparable at all
    if n_resamples == 0:
        return {}, {}, notes
    counts = [bootstrap.doc_counts([_as_list(p.get("gold")) for p in r.target_rows()],
                                   [_as_list(p.get("predicted")) for p in r.target_rows()], _labels_of(r))
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


def _add_buckets(runs: list[Run], rows: list[dict], base: Run | None, n_resamples: int, seed: int,
                 notes: list[str]) -> list[str]:
    """Macro-F1 per label-frequency bucket into `rows` (and deltas against `base`); the buckets shown."""
    from trainer.compare import by_bucket
    scored = [i for i, r in enumerate(runs) if r.predictions is not None]
    buckets, source = by_bucket.membership(runs)
    if not scored or buckets is None:
        if scored:
            notes.append("no label-frequency buckets: no run's metrics.json has them (rerun `trainer evaluate`)")
        return []
    labels = [_labels_of(runs[i]) for i in scored]
    counts = [bootstrap.doc_counts([_as_list(p.get("gold")) for p in runs[i].target_rows()],
                                   [_as_list(p.get("predicted")) for p in runs[i].target_rows()], labs)
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


def _as_list(value) -> list[str]:
    """Label lists as predictions.jsonl holds them; a bare string (single-label) becomes one label."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _labels_of(run: Run) -> list[str]:
    """The run's label space: model/trainer.json, else every label its predictions mention."""
    if run.labels:
        return list(run.labels)
    seen = {label for p in run.target_rows() for key in ("gold", "predicted") for label in _as_list(p.get(key))}
    return sorted(seen)
