"""`trainer evaluate RUN_DIR` and `trainer.evaluate(...)`: evaluate a run, then log it to the run's tracker,
the same from Python as from the command line."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from trainer import contracts, tracking
from trainer.evaluation import evaluate_on_split


def evaluate_run(run_dir: str | Path, data: str | Path | None = None, split: str = "test",
             overrides: Sequence[str] = (), progress: Callable[[dict], None] | None = None) -> dict:
    """Metrics per target (see trainer.evaluation.evaluate_on_split); tracking.backend mlflow gets the new metrics."""
    metrics = evaluate_on_split(run_dir, data=data, split=split, overrides=overrides, progress=progress)
    if (Path(run_dir) / contracts.CONFIG).is_file():
        tracking.log_run(run_dir)
    return metrics
