"""What `trainer train` prints when it is done: where the run is, its test metrics, demo predictions."""
from __future__ import annotations

import json
import os
from pathlib import Path

from trainer import rundir

TOP_SCORES = 3


def summary_lines(run_dir: Path, cfg) -> list[str]:
    if int(os.environ.get("RANK", "0")) != 0:   # under torchrun only rank 0 reports
        return []
    lines = [f"run: {run_dir}"]
    meta = rundir.read_meta(run_dir)
    if meta.get("train_seconds") is not None:
        lines.append(f"trained {meta.get('global_step')} steps in {meta['train_seconds']:.0f} s "
                     f"({meta.get('train_examples_per_s')} examples/s)")
    metrics_path = Path(run_dir) / rundir.METRICS
    if metrics_path.is_file():
        metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        for split in ("validation", "test"):
            if split in metrics:
                lines.append(metric_line(split, metrics[split]))
    lines += prediction_lines(run_dir, cfg.output.predict)
    return lines


def metric_line(split: str, m: dict) -> str:
    return (f"{split}: micro-F1 {m.get('micro_f1', float('nan')):.3f}  macro-F1 {m.get('macro_f1', float('nan')):.3f}  "
            f"accuracy {m.get('accuracy', float('nan')):.3f}  (n={m.get('n_examples', '?')})")


def prediction_lines(run_dir: Path, paths: list[str]) -> list[str]:
    lines = [f"sample not found, skipped: {p}" for p in paths if not _expand(p)]
    files = [f for p in paths for f in _expand(p)]
    if not files:
        return lines
    from trainer.predict import Predictor
    predictor = Predictor.load(run_dir)
    for record in predictor.predict_articles(files, top_k=TOP_SCORES):
        if "error" in record:
            lines.append(f"sample {record['path']}: not read ({record['error']})")
            continue
        scores = ", ".join(f"{label} {score:.2f}" for label, score in record.get("scores", {}).items())
        lines.append(f"sample {record.get('path')}: {record.get('title', '')!r}\n"
                     f"  predicted: {', '.join(record['labels']) or '(none)'}   top scores: {scores}")
    return lines


def _expand(pattern: str) -> list[str]:
    path = Path(os.path.expandvars(os.path.expanduser(pattern)))
    if path.is_dir():
        return [str(f) for f in sorted(path.iterdir()) if f.is_file() and not f.name.startswith(".")]
    return [str(path)] if path.is_file() else []
