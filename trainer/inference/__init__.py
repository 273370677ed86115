"""Scoring a saved model directory, whatever its type, plus decision thresholds and chunk-and-pool.

Every scorer has the same surface (the `Scorer` protocol), so evaluate, predict and serve never
look at the model type after `load_scorer`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from trainer.errors import DataError

SPEC_FILE = "trainer.json"


@runtime_checkable
class Scorer(Protocol):
    """What evaluate / predict / serve use; `trainer.linear.TfidfScorer` has the same surface."""
    labels: list[str]        # column order of every score matrix
    problem: str             # "multi_label" | "single_label"

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), len(labels)) probabilities: per-label sigmoid (multi) or softmax rows (single)."""
        ...


def read_model_spec(model_dir: str | Path) -> dict:
    path = Path(model_dir) / SPEC_FILE
    if not path.is_file():
        raise DataError(f"{model_dir}: not a model directory (no {SPEC_FILE}); "
                        "give a run directory from `trainer train` (it holds model/)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def load_scorer(model_dir: str | Path, **options) -> Scorer:
    """The scorer for `model_dir`, chosen by trainer.json's model_type.

    `options` (batch_size, precision, quantize, device) tune the transformer scorer; the linear
    scorer is cheap and takes none.
    """
    spec = read_model_spec(model_dir)
    kind = spec.get("model_type")
    if kind == "transformer":
        from trainer.inference.transformer import TransformerScorer
        return TransformerScorer.load(model_dir, **options)
    if kind == "tfidf-linear":
        from trainer.linear import load_tfidf_scorer
        return load_tfidf_scorer(model_dir)
    raise DataError(f"{Path(model_dir) / SPEC_FILE}: unknown model_type {kind!r} "
                    "(expected 'transformer' or 'tfidf-linear')")


def model_dir_of(run_or_model_dir: str | Path) -> Path:
    """Accept a run directory (holding model/) or the model directory itself."""
    path = Path(run_or_model_dir)
    if (path / "model" / SPEC_FILE).is_file():
        return path / "model"
    if (path / SPEC_FILE).is_file():
        return path
    if not path.exists():
        raise DataError(f"{path}: no such directory; give a run directory written by `trainer train`")
    raise DataError(f"{path}: neither a run directory (no model/{SPEC_FILE}) nor a model directory; "
                    "give a run directory written by `trainer train`")
