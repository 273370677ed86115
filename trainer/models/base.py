"""What every model kind provides: fit from a run config, save into model/, load, score texts.

A kind is a subclass of `Model` registered in `trainer.models.registry`; training, evaluation,
prediction, serving and compare only ever talk to this interface.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Sequence

import numpy as np

from trainer.atomic import atomic_dir
from trainer.contracts import ModelSpec, Target, default_thresholds, write_spec, write_thresholds
from trainer.data.label_space import LabelSpace


@dataclass
class FitData:
    """What a kind fits on: the dataset's splits and the label space of each target (from train)."""
    dataset_dir: Path
    splits: Any                      # datasets.DatasetDict: train, validation (maybe), test
    spaces: list[LabelSpace]


@dataclass
class FitContext:
    cfg: Any                         # trainer.config.RunConfig
    data: FitData
    run_dir: Path                    # checkpoints and train_log.jsonl go here
    is_main: bool = True             # the process that writes files (rank 0 under torchrun)
    callbacks: list = field(default_factory=list)   # the kind's training-loop callbacks (transformers: TrainerCallback)


@dataclass
class Fitted:
    model: "Model"
    stats: dict[str, Any]            # train_seconds, train_examples_per_s, global_step, ... (go to meta.json)
    log_rows: list[dict] = field(default_factory=list)   # train_log.jsonl rows the kind did not log itself


@dataclass
class ScoreOptions:
    """How a loaded model scores. Kinds without a choice (e.g. tfidf-linear) accept the defaults only."""
    batch_size: int = 32
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    quantize: Literal["none", "int8"] = "none"
    device: str = "cpu"              # "auto": a GPU when there is one
    runtime: Literal["torch", "onnx"] = "torch"   # onnx: the model's ONNX export (`trainer export`), no torch


class Model(ABC):
    """A fitted model of one kind: its spec (targets and settings) and a scorer for texts."""

    type: ClassVar[str]                       # the registry key, = `model.type` in run configs
    supports_chunking: ClassVar[bool] = False  # can score strided windows of long texts (eval.chunking)
    export_formats: ClassVar[tuple[str, ...]] = ()   # portable formats `export` writes (e.g. "onnx")

    spec: ModelSpec

    @classmethod
    @abstractmethod
    def fit(cls, ctx: FitContext) -> Fitted:
        """Fit on ctx.data as ctx.cfg says. Under several processes every rank calls this."""

    @classmethod
    @abstractmethod
    def load(cls, model_dir: Path, spec: ModelSpec, options: ScoreOptions) -> "Model":
        """Rebuild a model saved by `save` (never unpickles, never runs remote code)."""

    @abstractmethod
    def save_weights(self, model_dir: Path) -> None:
        """Write the kind's own files (weights, vocabulary, tokenizer) into `model_dir`."""

    @abstractmethod
    def score(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        """Per target, (len(texts), len(labels)) probabilities: sigmoid per label (multi-label) or
        softmax rows (single-label). `chunking` (a ChunkingConfig) only where supports_chunking."""

    @property
    @abstractmethod
    def num_parameters(self) -> int:
        """Trainable numbers of the model (for meta.json and compare)."""

    def export(self, model_dir: Path, fmt: str = "onnx", quantize: str = "none") -> Path:
        """Write a portable copy of the model beside its own files (model/<fmt>/); return the written file.
        Kinds listing `fmt` in `export_formats` override this."""
        from trainer.errors import ConfigError
        raise ConfigError(f"{self.type} models cannot be exported to {fmt}"
                          + (f" (formats: {', '.join(self.export_formats)})" if self.export_formats else
                             "; they already score without torch"))

    def set_options(self, options: ScoreOptions) -> None:
        """Score from now on as `options` says (a fitted model scores with the defaults until told)."""
        self.options = options

    @property
    def targets(self) -> list[Target]:
        return self.spec.targets

    def save(self, model_dir: str | Path) -> Path:
        """model/ written atomically: the kind's files, trainer.json, and 0.5 thresholds until evaluation tunes them."""
        with atomic_dir(model_dir) as tmp:
            self.save_weights(tmp)
            write_spec(tmp, self.spec)
            if default_thresholds(self.spec):   # multi-label targets only
                write_thresholds(tmp, default_thresholds(self.spec))
        return Path(model_dir)
