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
    "student": "trainer.models.student:StudentClassifier",
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
        raise ConfigError(cls.export_refusal(fmt))
    return cls.load(model_dir, spec, ScoreOptions(precision="fp32")).export(model_dir, fmt, quantize)


# ---- what trainer.tuning fits on a cut of the training split, and how it combines their scores ------------
def tuning_parts(cfg) -> dict[str, object]:
    """The run configs the tuner fits on its cut: an ensemble's members (by name), or the run's own model
    (under "model"). A member taken from a trained run cannot be fitted on a cut: ConfigError."""
    from trainer.config import member_run_config
    from trainer.errors import ConfigError
    if cfg.model.type != "ensemble":
        return {"model": cfg}
    taken = [name for name, m in cfg.model.members.items() if m.run is not None]
    if taken:
        raise ConfigError(f"model.members.{taken[0]}.run: a trained run cannot be fitted again on part of the training "
                          "split, so `auto` settings cannot be picked with it; give the member a model section, or "
                          "set numbers for the weights and a kind for eval.thresholds")
    return {name: member_run_config(cfg, name) for name in cfg.model.members}


def tuning_weights_auto(cfg) -> bool:
    """Whether the run's member weights are to be picked (`weight: auto`)."""
    return cfg.model.type == "ensemble" and any(m.weight == "auto" for m in cfg.model.members.values())


def combine_part_scores(cfg, per_part: dict[str, dict], weights: dict[str, float] | None) -> dict:
    """Per target, the run's answer from its parts' scores (tuning_parts) under `weights` (an ensemble's)."""
    if cfg.model.type != "ensemble":
        return per_part["model"]
    problems = {t.name: t.problem for t in cfg.task.resolved()}
    return model_class("ensemble").combine_parts(per_part, weights, cfg.model.combine, problems)


def with_weights(cfg, weights: dict[str, float]):
    """A copy of an ensemble run config with these member weights (the tuner's pick) in place of auto."""
    out = cfg.model_copy(deep=True)
    for name, w in weights.items():
        out.model.members[name].weight = float(w)
    return out


def fixed_part_weights(cfg) -> dict[str, float] | None:
    """An ensemble's member weights as the config sets them (None: not an ensemble, or `weight: auto`)."""
    if cfg.model.type != "ensemble" or tuning_weights_auto(cfg):
        return None
    return {name: float(m.weight) for name, m in cfg.model.members.items()}


READING_POOLS = ("max", "mean", "attention")


def reading_candidates(part_cfg) -> dict[str, dict] | None:
    """For a part whose `model.reading.mode` is auto (a transformer): the readings the tuner scores its fitted
    stand-in with, by name, as the model.reading changes that make each the model's own; None: nothing to pick.
    One fit serves them all: training reads each text's head whatever the reading (reading.train: head)."""
    reading = getattr(part_cfg.model, "reading", None)
    if reading is None or reading.mode != "auto":
        return None
    return {"truncate": {"mode": "truncate"},
            **{f"windows-{pool}": {"mode": "windows", "pool": pool} for pool in READING_POOLS}}


def reading_scorer(part_cfg, changes: dict):
    """What a fitted part's score_targets(texts, chunking=...) takes to read texts as `changes` says."""
    return model_class(part_cfg.model.type).reading_for(part_cfg.model.reading, changes)


def with_readings(cfg, changes: dict[str, dict]):
    """A copy of `cfg` whose parts (tuning_parts names) read as `changes` says, in place of reading.mode auto."""
    out = cfg.model_copy(deep=True)
    for name, change in changes.items():
        model = out.model.members[name].model if out.model.type == "ensemble" else out.model
        for key, value in change.items():
            setattr(model.reading, key, value)
    return out


def reading_auto(cfg) -> bool:
    """Whether the run's model (or an ensemble member fitted with it) has model.reading.mode auto."""
    models = ([m.model for m in cfg.model.members.values() if m.model is not None] if cfg.model.type == "ensemble"
              else [cfg.model])
    return any(getattr(getattr(m, "reading", None), "mode", None) == "auto" for m in models)
