"""Picking a run's `auto` settings on its own training split (cross-fitting), as part of `trainer train`:
ensemble member weights, bucket thresholds (eval.thresholds auto). See docs/tuning.md.

This package sits above training and evaluation (pyproject.toml's layers): it fits model parts as training
does and scores them as evaluation does; the train workflow calls it before the final fit."""
from trainer.tuning.crossfit import Tuned, check, tune, wanted

__all__ = ["Tuned", "check", "tune", "wanted"]
