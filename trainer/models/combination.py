"""Combining a target's scorers into the model's answer, in one place for every kind.

A model's answer per target = the kind's own head scores (`Model.score_targets`), then, for a target the run
config combines with the gazetteer (`task.targets[].gazetteer`), this layer: the head's scores widened to the
answer's labels (the M49 set at the dataset's granularity), the gazetteer's scores over the same labels, and
the two fused under the rule evaluation picked on validation (model/fusion.json; `DEFAULT_FUSION` before).
Labels the head cannot score (gazetteer-only) keep the gazetteer's score.

What is combined is recorded once, by the generic fit path (trainer.training.fit), in the spec's
settings["gazetteer"]; a kind knows nothing of it. Runs trained before this module kept the same key, so they
load and answer as before.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from trainer.contracts import ModelSpec, answer_spec, gazetteer_only
from trainer.data.regions import RegionScorer, m49_labels
from trainer.decisions import DEFAULT_FUSION, fuse

SETTINGS_KEY = "gazetteer"   # spec.settings[SETTINGS_KEY]: the targets combined with the gazetteer, and how


def gazetteer_settings(data, cfg) -> dict | None:
    """spec.settings["gazetteer"] for the targets `cfg` combines with the gazetteer, from the fit data `data`
    (trainer.models.base.FitData); None if none."""
    targets = [t.name for t in cfg.task.resolved() if t.gazetteer]
    if not targets:
        return None
    settings = data.region_settings()
    # the label space of a combined target is the M49 set at its granularity: the labels its head cannot
    # score (no training page, or fewer than task.targets[].min_label_count) are the gazetteer's alone
    every = m49_labels(settings["granularity"])
    heads = {s.target: set(s.labels) for s in data.spaces}
    only = {name: [label for label in every if label not in heads.get(name, set())] for name in targets}
    return {"targets": targets, **settings, "gazetteer_only": only}


def record_combination(spec: ModelSpec, data, cfg) -> None:
    """Write what `cfg` combines into a freshly fitted model's spec (the generic fit path calls this once)."""
    settings = gazetteer_settings(data, cfg)
    if settings:
        spec.settings[SETTINGS_KEY] = settings


class Combination:
    """How a model's head scores become its answer, per target (see the module docstring).

    `spec`: the model's own spec (its heads' labels); `fusion`: per combined target the rule
    (contracts.read_fusion), the default for a target without one."""

    def __init__(self, spec: ModelSpec, fusion: dict[str, dict] | None = None):
        self.spec = spec
        self.fusion = dict(fusion or {})
        self.answer_spec = answer_spec(spec)   # the heads' spec with gazetteer-only labels added
        self._settings = spec.settings.get(SETTINGS_KEY) or None
        self._only = gazetteer_only(spec)
        self._scorers: dict[str, RegionScorer] | None = None

    @property
    def combined_targets(self) -> list[str]:
        return list(self._settings["targets"]) if self._settings else []

    def answer(self, texts: Sequence[str], scores: dict[str, np.ndarray],
               tags: Sequence | None = None) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """(the answer per target, the parts of each combined target) from the heads' `scores`.
        `tags`: per text the tags of the page it was read from (or None), for the gazetteer."""
        parts = self.parts(texts, scores, tags)
        out = dict(scores)
        for name, p in parts.items():
            out[name] = self.fuse(name, p, self.fusion.get(name, DEFAULT_FUSION))
        return out, parts

    def parts(self, texts: Sequence[str], scores: dict[str, np.ndarray],
              tags: Sequence | None = None) -> dict[str, dict[str, np.ndarray]]:
        """For each combined target, the two scores its answer combines, over the answer's labels:
        {"head": scores[target] (0 for the labels the head cannot score), "gazetteer": ...}; {} for a model
        without combined targets."""
        if not self._settings:
            return {}
        if self._scorers is None:
            self._scorers = {
                name: RegionScorer(self.answer_spec.target(name).labels, self._settings["granularity"],
                                   self._settings["min_mentions"])
                for name in self._settings["targets"]}
        return {name: {"head": self.widened(name, scores[name]), "gazetteer": scorer.score(texts, tags)}
                for name, scorer in self._scorers.items()}

    def fuse(self, name: str, parts: dict[str, np.ndarray], rule: dict) -> np.ndarray:
        """The answer of combined target `name` from its parts under `rule`; gazetteer-only labels keep the
        gazetteer's score."""
        return fuse(parts["head"], parts["gazetteer"], rule, self.gazetteer_only_mask(name))

    def gazetteer_only_mask(self, name: str) -> np.ndarray | None:
        """Per label of target `name`'s answer, whether the gazetteer alone answers it; None if no label is."""
        only = set(self._only.get(name, ()))
        if not only:
            return None
        return np.array([label in only for label in self.answer_spec.target(name).labels], dtype=bool)

    def widened(self, name: str, head: np.ndarray) -> np.ndarray:
        """The head's scores of target `name` placed in the answer's label columns; 0 where it has no label."""
        mine, answer = self.spec.target(name).labels, self.answer_spec.target(name).labels
        if mine == answer:
            return head
        out = np.zeros((len(head), len(answer)), dtype=np.float32)
        column = {label: j for j, label in enumerate(answer)}
        out[:, [column[label] for label in mine]] = head
        return out
