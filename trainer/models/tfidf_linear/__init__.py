"""`model.type: tfidf-linear`: TF-IDF features and a linear classifier (SVM or logistic regression) per target."""
from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer import hardware
from trainer.contracts import ModelSpec
from trainer.errors import ConfigError
from trainer.models.base import FitContext, Fitted, Model, ScoreOptions
from trainer.models.tfidf_linear.model import TfidfModel, fit_head, fit_vectorizer, load_tfidf, _info


class TfidfLinearClassifier(Model):
    type = "tfidf-linear"

    def __init__(self, model: TfidfModel, spec: ModelSpec):
        self.model, self.spec = model, spec

    @classmethod
    def fit(cls, ctx: FitContext) -> Fitted:
        cfg, data = ctx.cfg, ctx.data
        train = data.splits["train"]
        _import_sklearn()   # so train_seconds measures fitting, not imports
        started = time.perf_counter()
        rows = _rows_per_target(train, data.spaces)
        # one vocabulary over the training texts any target learns from, one head per target on its rows
        used = sorted(set().union(*rows.values()))
        texts = train["text"]
        params, vec, X_used = fit_vectorizer([texts[i] for i in used], cfg.model.tfidf)
        position = {row: k for k, row in enumerate(used)}
        heads = {}
        for space in data.spaces:
            keep = [position[i] for i in rows[space.target]]
            labels_of = train[space.target]
            heads[space.target] = fit_head(
                X_used[keep], [labels_of[i] for i in rows[space.target]], space.labels, space.problem, cfg.model.tfidf,
                seed=cfg.train.seed, n_jobs=hardware.thread_count(cfg.train.threads),
                class_weight="balanced" if cfg.train.class_weights == "balanced" else None)
        seconds = time.perf_counter() - started
        model = TfidfModel(params, vec, heads, cfg.model.tfidf.classifier, _info(cfg.model.tfidf, X_used))
        settings = {"classifier": cfg.model.tfidf.classifier}
        spec = ModelSpec(cls.type, [s.as_target() for s in data.spaces], settings)
        n = len(used)
        stats = {"train_seconds": round(seconds, 3), "train_wall_seconds": round(seconds, 3),
                 "train_examples_per_s": round(n / max(seconds, 1e-9), 1), "train_steps": 1, "global_step": 1,
                 "tfidf_features": int(X_used.shape[1])}
        log = {"step": 1, "epoch": 1.0, "train_seconds": round(seconds, 3), "train_examples": n,
               "features": int(X_used.shape[1])}
        return Fitted(cls(model, spec), stats, log_rows=[log])

    @classmethod
    def load(cls, model_dir: Path, spec: ModelSpec, options: ScoreOptions) -> "TfidfLinearClassifier":
        if options.quantize != "none":
            raise ConfigError(f"quantize {options.quantize}: tfidf-linear models are sparse linear models "
                              "and have nothing to quantize; leave quantize at none")
        if options.runtime != "torch":
            raise ConfigError(f"runtime {options.runtime}: tfidf-linear models score with numpy and scikit-learn "
                              "and have no export; leave the runtime at its default")
        return cls(load_tfidf(model_dir, primary=spec.primary.name), spec)

    def save_weights(self, model_dir: Path) -> None:
        self.model.save(model_dir)

    def score_targets(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        return self.model.score(texts)

    @property
    def num_parameters(self) -> int:
        return self.model.num_parameters


def _rows_per_target(train, spaces) -> dict[str, list[int]]:
    """Training rows per target: single-label rows whose label was dropped (min_label_count) cannot be fitted,
    and a multi-task target learns from the documents that have a label for it."""
    out = {}
    for space in spaces:
        values = train[space.target]
        if space.problem == "single_label":
            known = set(space.labels)
            out[space.target] = [i for i, y in enumerate(values) if y in known]
        elif space.skip_unlabelled:
            out[space.target] = [i for i, y in enumerate(values) if y]
        else:
            out[space.target] = list(range(len(values)))
    return out


def _import_sklearn() -> None:
    for module in ("sklearn.feature_extraction.text", "sklearn.linear_model", "sklearn.multiclass", "sklearn.svm"):
        importlib.import_module(module)
