"""Evaluate a trained run: metrics, tuned thresholds, predictions, a readable report, a confusion plot."""
from __future__ import annotations

from trainer.evaluation.run import evaluate_on_split

__all__ = ["evaluate_on_split"]
