"""What `trainer train` prints when it is done: where the run is, its test metrics, demo predictions."""
from __future__ import annotations

import os
from pathlib import Path

from trainer import contracts

TOP_SCORES = 3


def summary_lines(run_dir: Path, cfg) -> list[str]:
    if int(os.environ.get("RANK", "0")) != 0:   # under torchrun only rank 0 reports
        return []
    lines = [f"run: {run_dir}"]
    meta = contracts.read_meta(run_dir)
    if meta.get("train_seconds") is not None:
        lines.append(f"trained {meta.get('global_step')} steps in {meta['train_seconds']:.0f} s "
                     f"({meta.get('train_examples_per_s')} examples/s)")
    metrics = contracts.read_metrics(run_dir)
    for target, splits in metrics.items():
        for split in ("validation", "test"):
            if split in splits:
                name = f"{target} {split}" if len(metrics) > 1 else split
                lines.append(metric_line(name, splits[split]))
    lines += prediction_lines(run_dir, cfg.output.predict, cfg.output.predict_examples)
    return lines


def metric_line(split: str, m: dict) -> str:
    return (f"{split}: micro-F1 {m.get('micro_f1', float('nan')):.3f}  macro-F1 {m.get('macro_f1', float('nan')):.3f}  "
            f"accuracy {m.get('accuracy', float('nan')):.3f}  (n={m.get('n_examples', '?')})")


def prediction_lines(run_dir: Path, paths: list[str], examples: int = 0) -> list[str]:
    from trainer.serving.predictor import Predictor
    from trainer.workflows.prediction_table import items_from, render
    items, notes = items_from(paths, run_dir, examples)
    if not items:
        return notes
    return notes + ["", "predictions:"] + render(Predictor.load(run_dir), items)
