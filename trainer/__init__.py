"""trainer: news articles in, topic and region classifiers out.

Importing this package changes no global state; heavy modules load on first use.
"""
from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "Predictor": ("trainer.serving.predictor", "Predictor"),
    "build_dataset": ("trainer.data.build", "build_dataset"),
    "inspect_dataset": ("trainer.data.inspect", "inspect_dataset"),
    "train": ("trainer.workflows.train", "train"),
    "evaluate": ("trainer.workflows.evaluate", "evaluate_run"),   # trainer.evaluate(...), as `trainer evaluate`
    "load_model": ("trainer.models", "load_model"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'trainer' has no attribute {name!r}")
