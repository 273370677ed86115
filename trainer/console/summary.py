"""What `trainer train` prints when it is done: where the run is, its metrics (under the decision rule that
predict uses and at the plain 0.5 the training table showed), demo predictions, and the commands to go on with."""
from __future__ import annotations

import os
import shlex
from pathlib import Path

from trainer import contracts, metric_names
from trainer.evaluation.buckets import in_bucket_order

TOP_SCORES = 3


def summary_lines(run_dir: Path, cfg) -> list[str]:
    if int(os.environ.get("RANK", "0")) != 0:   # under torchrun only rank 0 reports
        return []
    lines = [f"run: {shown_path(run_dir)}"]
    meta = contracts.read_meta(run_dir)
    if meta.get("train_seconds") is not None:
        lines.append(training_line(meta))
    metrics = contracts.read_metrics(run_dir)
    lines += evaluation_lines(run_dir, _trains_in_steps(meta), metrics)
    limit = getattr(cfg.data, "limit", None)
    if limit and any("validation" in s for s in metrics.values()):
        lines.append(f"  (the table during training scored the first {limit} validation documents, data.limit; "
                     "these lines score the whole split)")
    lines += prediction_lines(run_dir, cfg.output.predict, cfg.output.predict_examples)
    lines += next_steps(run_dir, cfg)
    return lines


def evaluation_lines(run_dir: Path, training_table: bool = False, metrics: dict | None = None) -> list[str]:
    """Per target and split (validation first), the metrics under the saved rule and at a plain 0.5."""
    metrics = contracts.read_metrics(run_dir) if metrics is None else metrics
    thresholds = _threshold_values(run_dir)
    lines = []
    for target, splits in metrics.items():
        for split in ["validation", *(s for s in splits if s != "validation")]:
            if split in splits:
                name = f"{target} {split}" if len(metrics) > 1 else split
                lines += metric_lines(name, splits[split], thresholds.get(target), training_table)
    return lines


def training_line(meta: dict) -> str:
    steps, seconds, speed = meta.get("global_step"), meta["train_seconds"], meta.get("train_examples_per_s")
    rate = f" ({speed:,} examples/s)" if isinstance(speed, (int, float)) else ""
    if _trains_in_steps(meta) and isinstance(steps, int):
        stopped = meta.get("early_stopping")
        if stopped:   # fewer steps than train.max_steps / epochs asked for: say why
            return (f"trained {steps:,} of {stopped['max_steps']:,} steps in {seconds:.0f} s{rate}; "
                    f"early stopping: {stopped['reason']}")
        return f"trained {steps:,} step{'s' if steps != 1 else ''} in {seconds:.0f} s{rate}"
    return f"fitted in {seconds:.1f} s{rate}"   # one fit, no optimizer steps (tfidf-linear)


def _trains_in_steps(meta: dict) -> bool:
    """Whether the run's kind trains by optimizer steps (a training table, "trained N steps"); meta.json
    files written before model_type was recorded come from transformer runs."""
    from trainer.models.registry import model_class
    return model_class(meta.get("model_type", "transformer")).trains_in_steps


def metric_line(split: str, m: dict) -> str:
    return f"{split} ({_count(m)}): {_scores(m)}"


def metric_lines(split: str, m: dict, thresholds=None, training_table: bool = True) -> list[str]:
    """The split's metrics under the saved decision rule, named; for multi-label also at a plain 0.5 (the
    rule the validation scores in the training table use), so a jump between the two is explained."""
    line = metric_line(split, m)
    if "at_0.5" not in m:
        return [line]
    line += f"   {decision_rule(m, thresholds)}"
    if m.get("thresholds") == "none" and not m.get("at_least_one"):
        return [line]   # the rule is the plain 0.5: one line says it all
    pad = " " * (len(split) + len(_count(m)) + 5)
    plain = "plain 0.5 threshold" + (", as in the training table" if training_table else "")
    return [line, f"{pad}{_scores(m['at_0.5'])}   {plain}"]


def _count(m: dict) -> str:
    n = m.get("n_examples")
    return f"{n:,} documents" if isinstance(n, int) else "? documents"


def _scores(m: dict) -> str:
    return "  ".join(f"{metric_names.name(key)} {m.get(key, float('nan')):.3f}" for key in metric_names.HEADLINE)


def decision_rule(m: dict, thresholds=None) -> str:
    kind = m.get("thresholds")
    if kind == "global":
        value = thresholds.values[0] if thresholds is not None and len(thresholds.values) else None
        rule = f"global threshold{f' {value:.2f}' if value is not None else ''} (tuned on validation)"
    elif kind == "per_label":
        rule = "per-label thresholds (tuned on validation)"
    elif kind == "per_bucket":
        groups = in_bucket_order(getattr(thresholds, "groups", None) or {})   # saved files may hold any order
        values = ", ".join(f"{name} {value:.2f}" for name, value in groups.items())
        rule = "per-bucket thresholds" + (f" ({values})" if values else "")
    else:
        rule = "0.5 threshold"
    rule += " + at-least-one rule" if m.get("at_least_one") else ""
    return rule + (f" ({m['thresholds_note']})" if m.get("thresholds_note") else "")


def _threshold_values(run_dir: Path) -> dict:
    try:
        model_dir = contracts.model_dir_of(run_dir)
        return contracts.read_thresholds(model_dir, contracts.answer_spec(contracts.read_spec(model_dir)))
    except Exception:  # noqa: BLE001 - naming the value is a nicety; the metrics lines stand without it
        return {}


def prediction_lines(run_dir: Path, paths: list[str], examples: int = 0) -> list[str]:
    from trainer.serving.predictor import Predictor
    from trainer.console.train_examples import example_items, example_lines
    items, notes = example_items(paths, run_dir, examples)
    if not items:
        return notes
    return notes + ["", "predictions:"] + example_lines(Predictor.load(run_dir), items)


def next_steps(run_dir: Path, cfg) -> list[str]:
    """The commands that use the run, with its path as typed from the current directory."""
    run = shlex.quote(shown_path(run_dir))
    lines = ["next:",
             f"  trainer evaluate {run}                  # re-score; metrics.json, report.md, report.html",
             f"  trainer predict {run} --text \"...\"      # or article files; a table here, JSON lines in a pipe",
             f"  trainer serve {run}                     # a page and an API on http://127.0.0.1:8000/",
             f"  trainer compare {run} OTHER_RUN --baseline OTHER_RUN",
             f"  report: {shlex.quote(shown_path(Path(run_dir) / contracts.REPORT_HTML))}"]
    if getattr(cfg.tracking, "backend", "none") == "mlflow":
        from trainer.tracking import ui_command
        lines.append(f"  tracked in MLflow: {ui_command(cfg)}")
    return lines


def shown_path(path: str | Path) -> str:
    """`path` relative to the current directory when it lies below it, else as given (absolute)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
