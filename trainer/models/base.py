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
from trainer.contracts import (ModelSpec, Target, answer_spec, default_thresholds, gazetteer_only, write_spec,
                               write_thresholds)
from trainer.data.label_space import LabelSpace
from trainer.data.regions import RegionScorer, m49_labels
from trainer.decisions import DEFAULT_FUSION, fuse
from trainer.events import Progress


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

    def gazetteer_settings(self, cfg) -> dict | None:
        """spec.settings["gazetteer"] for the targets the config combines with the gazetteer; None if none."""
        targets = [t.name for t in cfg.task.resolved() if t.gazetteer]
        if not targets:
            return None
        settings = self.region_settings()
        # the label space of a combined target is the M49 set at its granularity: the labels its head cannot
        # score (no training page, or fewer than task.targets[].min_label_count) are the gazetteer's alone
        every = m49_labels(settings["granularity"])
        heads = {s.target: set(s.labels) for s in self.spaces}
        only = {name: [label for label in every if label not in heads.get(name, set())] for name in targets}
        return {"targets": targets, **settings, "gazetteer_only": only}


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
    fusion: dict[str, dict] = {}               # combined targets' rules (contracts.read_fusion), set by load_model

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
        """The model's answer per target: its heads' probabilities, and for a target the config combines
        with the gazetteer (`task.targets[].gazetteer`), the combination `fusion` holds."""
        return self.score_with_parts(texts, chunking)[0]

    def score_with_parts(self, texts: Sequence[str], chunking=None, tags: Sequence | None = None):
        """(the answer per target as `score` gives it, the parts of each combined target as `score_parts`).
        `tags`: per text the tags of the page it was read from (or None), for the gazetteer."""
        scores = self.score_targets(texts, chunking)
        parts = self._gazetteer_parts(texts, scores, tags)
        answer = dict(scores)
        for name, p in parts.items():
            answer[name] = self.fuse_parts(name, p, self.fusion.get(name, DEFAULT_FUSION))
        return answer, parts

    def score_parts(self, texts: Sequence[str], scores: dict[str, np.ndarray],
                    tags: Sequence | None = None) -> dict[str, dict[str, np.ndarray]]:
        """For each combined target, the two scores its answer combines, over the answer's labels
        (`answer_spec`): {"head": scores[target] (from `score_targets`; 0 for the labels the head cannot score),
        "gazetteer": ...}; {} for a model without combined targets."""
        return self._gazetteer_parts(texts, scores, tags)

    def fuse_parts(self, name: str, parts: dict[str, np.ndarray], rule: dict) -> np.ndarray:
        """The answer of combined target `name` from its parts under `rule`; gazetteer-only labels keep the
        gazetteer's score."""
        return fuse(parts["head"], parts["gazetteer"], rule, self.gazetteer_only_mask(name))

    @property
    def answer_spec(self) -> ModelSpec:
        """The spec of what `score` answers: `spec`, with each combined target's gazetteer-only labels added
        (contracts.answer_spec). Predict, serve and evaluate use it; the kind's own heads keep `spec`."""
        if getattr(self, "_answer_spec", None) is None:
            self._answer_spec = answer_spec(self.spec)
        return self._answer_spec

    def gazetteer_only_mask(self, name: str) -> np.ndarray | None:
        """Per label of target `name`'s answer, whether the gazetteer alone answers it; None if no label is."""
        only = set(gazetteer_only(self.spec).get(name, ()))
        if not only:
            return None
        return np.array([label in only for label in self.answer_spec.target(name).labels], dtype=bool)

    def _gazetteer_parts(self, texts: Sequence[str], scores: dict[str, np.ndarray],
                         tags: Sequence | None = None) -> dict[str, dict]:
        settings = self.spec.settings.get("gazetteer")
        if not settings:
            return {}
        if getattr(self, "_region_scorers", None) is None:
            self._region_scorers = {
                name: RegionScorer(self.answer_spec.target(name).labels, settings["granularity"],
                                   settings["min_mentions"])
                for name in settings["targets"]}
        return {name: {"head": self._widened(name, scores[name]), "gazetteer": scorer.score(texts, tags)}
                for name, scorer in self._region_scorers.items()}

    def _widened(self, name: str, head: np.ndarray) -> np.ndarray:
        """The head's scores of target `name` placed in the answer's label columns; 0 where it has no label."""
        mine, answer = self.spec.target(name).labels, self.answer_spec.target(name).labels
        if mine == answer:
            return head
        out = np.zeros((len(head), len(answer)), dtype=np.float32)
        column = {label: j for j, label in enumerate(answer)}
        out[:, [column[label] for label in mine]] = head
        return out

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
            if default_thresholds(self.answer_spec):   # multi-label targets only, over the answer's labels
                write_thresholds(tmp, default_thresholds(self.answer_spec))
        return Path(model_dir)
