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
    from trainer.serving.predictor import Predictor
    predictor = Predictor.load(run_dir)
    for record in predictor.predict_articles(files, top_k=TOP_SCORES):
        if "error" in record:
            lines.append(f"sample {record['path']}: not read ({record['error']})")
            continue
        lines.append(f"sample {record.get('path')}: {record.get('title', '')!r}")
        answers = {t.name: record[t.name] for t in predictor.targets} if len(predictor.targets) > 1 else {"": record}
        for target, answer in answers.items():
            scores = ", ".join(f"{label} {score:.2f}" for label, score in answer.get("scores", {}).items())
            lines.append(f"  {target + ' ' if target else ''}predicted: {', '.join(answer['labels']) or '(none)'}"
                         f"   top scores: {scores}")
    return lines


def _expand(pattern: str) -> list[str]:
    path = Path(os.path.expandvars(os.path.expanduser(pattern)))
    if path.is_dir():
        return [str(f) for f in sorted(path.iterdir()) if f.is_file() and not f.name.startswith(".")]
    return [str(path)] if path.is_file() else []
