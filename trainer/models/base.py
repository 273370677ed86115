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
from trainer.events import Progress
from trainer.models.combination import Combination


@dataclass
class FitData:
    """What a kind fits on: the dataset's splits and the label space of each target (from train)."""
    dataset_dir: Path
    splits: Any                      # datasets.DatasetDict: train, validation (maybe), test
    spaces: list[LabelSpace]
    manifest: dict = field(default_factory=dict)   # the dataset's manifest.json

    def region_settings(self) -> dict:
        """How the dataset labelled regions (granularity, min_mentions): the gazetteer answers the same way."""
        region = ((self.manifest.get("config") or {}).get("labels") or {}).get("region") or {}
        return {"granularity": region.get("granularity", "subregion"), "min_mentions": region.get("min_mentions", 3)}


@dataclass
class FitContext:
    cfg: Any                         # trainer.config.RunConfig
    data: FitData
    run_dir: Path                    # checkpoints and train_log.jsonl go here
    is_main: bool = True             # the process that writes files (rank 0 under torchrun)
    # the listener of the fit's events (trainer.events): notices, and training events from the main process
    progress: Progress = None
    # False: the training loop's own progress bar and log printing are off (the listener shows progress)
    loop_output: bool = True


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


HEAD_ONLY = "head"   # score(texts, chunking=HEAD_ONLY): read only each text's head, whatever the model's reading


class Model(ABC):
    """A fitted model of one kind: its spec (targets and settings) and a scorer for texts."""

    type: ClassVar[str]                       # the registry key, = `model.type` in run configs
    supports_chunking: ClassVar[bool] = False  # can score strided windows of long texts (eval.chunking)
    problems: ClassVar[tuple[str, ...]] = ("multi_label", "single_label")   # the target problems it can learn
    export_formats: ClassVar[tuple[str, ...]] = ()   # portable formats `export` writes (e.g. "onnx")
    trains_in_steps: ClassVar[bool] = False   # fits by optimizer steps with evaluations (a training table, steps/s)
    libraries: ClassVar[tuple[str, ...]] = ("datasets",)   # what it loads whose console noise commands silence

    @property
    def reads_windows(self) -> bool:
        """The model reads long texts as pooled windows (model.reading.mode: windows), not only their head."""
        return False

    def long_text_mask(self, texts: Sequence[str]) -> np.ndarray | None:
        """Per text, whether it is longer than one window of the model (None: the kind has no window)."""
        return None

    spec: ModelSpec
    _combination: Combination | None = None

    @property
    def combination(self) -> Combination:
        """How the heads' scores become the answer per target (trainer.models.combination): set by load_model
        with the saved fusion rules; a model fitted in this process combines under the default rule."""
        if self._combination is None:
            self._combination = Combination(self.spec)
        return self._combination

    @combination.setter
    def combination(self, combination: Combination | None) -> None:
        self._combination = combination

    @classmethod
    def check_config(cls, cfg) -> None:
        """Refuse, before any run starts, settings that cannot work (ConfigError naming the key)."""

    @classmethod
    def fits_in_steps(cls, cfg) -> bool:
        """Whether fitting this config goes by optimizer steps with evaluations (the console's training table)."""
        return cls.trains_in_steps

    def reading_description(self) -> str | None:
        """How the model reads a long text, in words (None: the kind has no window)."""
        return None

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
    def score_targets(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        """Per target, (len(texts), len(labels)) probabilities of the kind's own heads: sigmoid per label
        (multi-label) or softmax rows (single-label), each text read as the model's own reading says.
        `chunking` (only where supports_chunking): an eval ChunkingConfig (what-if windows) or HEAD_ONLY."""

    def score(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        """The model's answer per target: its heads' probabilities, combined per target as `combination` says
        (for a target combined with the gazetteer, `task.targets[].gazetteer`, the fused answer)."""
        return self.score_with_parts(texts, chunking)[0]

    def score_with_parts(self, texts: Sequence[str], chunking=None, tags: Sequence | None = None):
        """(the answer per target as `score` gives it, the parts of each combined target: Combination.parts).
        `tags`: per text the tags of the page it was read from (or None), for the gazetteer."""
        return self.combination.answer(texts, self.score_targets(texts, chunking), tags)

    @property
    def answer_spec(self) -> ModelSpec:
        """The spec of what `score` answers (Combination.answer_spec): predict, serve and evaluate use it;
        the kind's own heads keep `spec`."""
        return self.combination.answer_spec

    @property
    @abstractmethod
    def num_parameters(self) -> int:
        """Trainable numbers of the model (for meta.json and compare)."""

    def export(self, model_dir: Path, fmt: str = "onnx", quantize: str = "none") -> Path:
        """Write a portable copy of the model beside its own files (model/<fmt>/); return the written file.
        Kinds listing `fmt` in `export_formats` override this."""
        from trainer.errors import ConfigError
        raise ConfigError(self.export_refusal(fmt))

    @classmethod
    def export_refusal(cls, fmt: str) -> str:
        """The one-line answer to an export to `fmt` the kind does not write (a kind may say why it has none)."""
        return (f"{cls.type} models cannot be exported to {fmt}"
                + (f"; formats: {', '.join(cls.export_formats)}" if cls.export_formats else
                   ": they already score without torch (numpy and scikit-learn)"))

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
            if default_thresholds(self.answer_spec):   # multi-label targets only, over the answer's labels
                write_thresholds(tmp, default_thresholds(self.answer_spec))
        return Path(model_dir)
