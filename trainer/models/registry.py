"""The model kinds, by the name run configs and trainer.json use. Adding a kind: a sub-package with a
`Model` subclass, its config section in trainer/config/run_config.py, and one entry here.

Entries are "module:Class" so that importing the registry imports no framework (torch, sklearn)."""
from __future__ import annotations

import importlib
from pathlib import Path

from trainer.contracts import model_dir_of, read_fusion, read_spec
from trainer.errors import DataError
from trainer.models.base import Model, ScoreOptions
from trainer.models.combination import Combination

KINDS = {
    "transformer": "trainer.models.transformer:TransformerClassifier",
    "tfidf-linear": "trainer.models.tfidf_linear:TfidfLinearClassifier",
    "ensemble": "trainer.models.ensemble:EnsembleClassifier",
    "gazetteer": "trainer.models.gazetteer:GazetteerClassifier",
}


def model_class(kind: str) -> type[Model]:
    """The Model subclass of `kind`; a real import failure of its module propagates as is."""
    try:
        module_name, class_name = KINDS[kind].split(":")
    except KeyError:
        raise DataError(f"unknown model kind {kind!r}; known kinds: {', '.join(KINDS)}") from None
    cls = getattr(importlib.import_module(module_name), class_name)
    assert cls.type == kind, f"{KINDS[kind]} registers as {cls.type!r}, not {kind!r}"
    return cls


def load_model(run_or_model_dir: str | Path, options: ScoreOptions | None = None) -> Model:
    """The model saved in a run directory (or its model/), loaded by the kind its trainer.json names."""
    model_dir = model_dir_of(run_or_model_dir)
    spec = read_spec(model_dir)
    model = model_class(spec.model_type).load(model_dir, spec, options or ScoreOptions())
    model.combination = Combination(model.spec, read_fusion(model_dir, spec))   # the rules evaluation picked
    return model


def export_model(run_or_model_dir: str | Path, fmt: str = "onnx", quantize: str = "none") -> Path:
    """Write the model's portable export into model/<fmt>/ (see the kind's `export`); return the file written."""
    model_dir = model_dir_of(run_or_model_dir)
    spec = read_spec(model_dir)
    cls = model_class(spec.model_type)
    if fmt not in cls.export_formats:
        from trainer.errors import ConfigError
        raise ConfigError(f"{spec.model_type} models cannot be exported to {fmt}"
                          + (f"; formats: {', '.join(cls.export_formats)}" if cls.export_formats else
                             ": they already score without torch (numpy and scikit-learn)"))
    return cls.load(model_dir, spec, ScoreOptions(precision="fp32")).export(model_dir, fmt, quantize)
