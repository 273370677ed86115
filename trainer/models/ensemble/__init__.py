"""`model.type: ensemble`: several models of the other kinds, fitted together on the run's data and scored
as one: per target and label, the weighted mean of the members' probabilities (or log-odds).

model/ holds trainer.json (the members, their weights, the combination) and one complete model
directory per member under members/NAME/ (each with its own trainer.json), so a member is also
loadable on its own: `trainer.models.load_model("runs/x/model/members/tfidf")`.

Why: a fine-tuned encoder and a TF-IDF linear model err differently on rare labels (the linear
model, with balanced class weights, finds more of them; the encoder is more precise on frequent
ones); their combination is saved, evaluated, served and compared like any run.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer.contracts import RETRAIN, ModelSpec
from trainer.errors import ConfigError, DataError
from trainer.models.base import FitContext, Fitted, Model, ScoreOptions

MEMBERS = "members"
COMBINES = ("mean_probability", "mean_logit")
_EPS = 1e-6


class EnsembleClassifier(Model):
    type = "ensemble"
    supports_chunking = True        # passed on to the members that read windows
    trains_in_steps = True          # when a member does (fits_in_steps)
    libraries = ("datasets", "transformers")

    @classmethod
    def check_config(cls, cfg) -> None:
        from trainer.config import member_run_config
        from trainer.models.registry import model_class
        stepped = _stepped_members(cfg)
        if len(stepped) > 1:   # they would share the run's checkpoints/ and train_log.jsonl
            raise ConfigError(f"model.members: {', '.join(stepped)} both train in steps; fit one within the ensemble "
                              "and train the others as runs of their own, then give them as model.members.NAME.run")
        for name, member in cfg.model.members.items():
            if member.model is not None:
                model_class(member.model.type).check_config(member_run_config(cfg, name))
            elif not Path(member.run).is_dir():
                raise ConfigError(f"model.members.{name}.run: {member.run} is not a run directory; train it first "
                                  "or give the member a model section")

    @classmethod
    def fits_in_steps(cls, cfg) -> bool:
        return bool(_stepped_members(cfg))

    def __init__(self, members: dict[str, Model], weights: dict[str, float], combine: str, spec: ModelSpec):
        if combine not in COMBINES:
            raise DataError(f"ensemble combine {combine!r}: use {' or '.join(COMBINES)}; {RETRAIN}")
        self.members, self.weights, self.combine, self.spec = members, weights, combine, spec
        self.options = ScoreOptions()

    @classmethod
    def fit(cls, ctx: FitContext) -> Fitted:
        from trainer.config import member_run_config
        from trainer.models.registry import model_class

        cfg = ctx.cfg
        members, stats, rows = {}, {}, []
        started = time.perf_counter()
        for name, member in cfg.model.members.items():
            if member.run is not None:
                members[name], stats[name] = _from_run(member.run, ctx.data.spaces)
                continue
            kind = model_class(member.model.type)
            fitted = kind.fit(replace(ctx, cfg=member_run_config(cfg, name)))   # its events to the same listener
            members[name] = fitted.model
            stats[name] = fitted.stats
            rows += [{"member": name, **row} for row in fitted.log_rows]
        wall = time.perf_counter() - started
        weights = {name: float(m.weight) for name, m in cfg.model.members.items()}
        model = cls(members, weights, cfg.model.combine, _spec(cls.type, ctx.data.spaces, members, weights,
                                                              cfg.model.combine))
        total = {"train_seconds": round(sum(float(s.get("train_seconds", 0.0)) for s in stats.values()), 3),
                 "train_wall_seconds": round(wall, 3),
                 "global_step": max(int(s.get("global_step", 0) or 0) for s in stats.values()),
                 "members": stats, "model_parameters": model.num_parameters}
        # examples/s of the whole fit: every training example each member processed (epochs included), over
        # the summed seconds
        seen = sum(float(s.get("train_examples_per_s", 0.0)) * float(s.get("train_seconds", 0.0)) for s in stats.values())
        total["train_examples_per_s"] = round(seen / max(total["train_seconds"], 1e-9), 2)
        return Fitted(model, total, log_rows=rows)

    @classmethod
    def load(cls, model_dir: Path, spec: ModelSpec, options: ScoreOptions) -> "EnsembleClassifier":
        from trainer.models.registry import load_model

        entries = spec.settings.get("members")
        if not isinstance(entries, list) or not entries:
            raise DataError(f"{model_dir}: trainer.json lists no ensemble members; {RETRAIN}")
        members, weights = {}, {}
        for entry in entries:
            name = str(entry.get("name"))
            folder = Path(model_dir) / MEMBERS / name
            if not folder.is_dir():
                raise DataError(f"{folder}: member {name!r} of the ensemble is missing; {RETRAIN}")
            members[name] = load_model(folder, options)
            weights[name] = float(entry.get("weight", 1.0))
            if not set(spec.target_names) <= set(members[name].spec.target_names):
                raise DataError(f"{folder}: member {name!r} predicts {members[name].spec.target_names}, the ensemble "
                                f"{spec.target_names}; {RETRAIN}")
        model = cls(members, weights, str(spec.settings.get("combine", "mean_probability")), spec)
        model.options = options
        return model

    def set_options(self, options: ScoreOptions) -> None:
        self.options = options
        for member in self.members.values():
            member.set_options(options)

    def save_weights(self, model_dir: Path) -> None:
        (Path(model_dir) / MEMBERS).mkdir(parents=True, exist_ok=True)
        for name, member in self.members.items():
            member.save(Path(model_dir) / MEMBERS / name)

    def member_scores(self, texts: Sequence[str], chunking=None) -> dict[str, dict[str, np.ndarray]]:
        """Per member, its scores per target."""
        return {name: m.score(texts, chunking if m.supports_chunking else None) for name, m in self.members.items()}

    def reading_description(self) -> str | None:
        said = [f"{name}: {d}" for name, m in self.members.items() if (d := m.reading_description())]
        return "; ".join(said) or None

    def score_targets(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        return self.combine_scores(self.member_scores(texts, chunking))

    def combine_scores(self, per_member: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {t.name: combine([per_member[n][t.name] for n in self.members], [self.weights[n] for n in self.members],
                                self.combine, t.problem) for t in self.targets}

    @staticmethod
    def combine_parts(per_member: dict[str, dict[str, np.ndarray]], weights: dict[str, float], how: str,
                      problems: dict[str, str]) -> dict[str, np.ndarray]:
        """Per target, the combination of members' scores as a fitted ensemble makes it (trainer.tuning scores
        weight candidates with it)."""
        names = list(per_member)
        return {target: combine([per_member[n][target] for n in names], [weights[n] for n in names], how,
                                problems[target]) for target in per_member[names[0]]}

    @property
    def reads_windows(self) -> bool:
        return any(m.reads_windows for m in self.members.values())

    def long_text_mask(self, texts: Sequence[str]) -> np.ndarray | None:
        masks = [m.long_text_mask(texts) for m in self.members.values() if m.supports_chunking]
        masks = [m for m in masks if m is not None]
        return np.logical_or.reduce(masks) if masks else None

    @property
    def num_parameters(self) -> int:
        return sum(m.num_parameters for m in self.members.values())


def combine(scores: Sequence[np.ndarray], weights: Sequence[float], how: str, problem: str) -> np.ndarray:
    """The weighted mean of members' probability matrices, or of their log-odds (log-probabilities for
    single-label), mapped back to probabilities."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    stack = np.stack([np.asarray(s, dtype=np.float64) for s in scores])          # (members, n, L)
    if how == "mean_probability":
        out = np.tensordot(w, stack, axes=1)
    elif problem == "multi_label":
        p = np.clip(stack, _EPS, 1 - _EPS)
        out = 1.0 / (1.0 + np.exp(-np.tensordot(w, np.log(p / (1 - p)), axes=1)))
    else:
        z = np.tensordot(w, np.log(np.clip(stack, _EPS, 1.0)), axes=1)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        out = z / z.sum(axis=1, keepdims=True)
    return out.astype(np.float32)


def _stepped_members(cfg) -> list[str]:
    """The members fitted within the ensemble whose kind trains by optimizer steps."""
    from trainer.config import member_run_config
    from trainer.models.registry import model_class
    return [name for name, m in cfg.model.members.items()
            if m.model is not None and model_class(m.model.type).fits_in_steps(member_run_config(cfg, name))]


def _from_run(run_dir: str, spaces) -> tuple[Model, dict]:
    """A trained run's model as a member, and its costs from its meta.json; its label spaces must be the run's."""
    from trainer.contracts import read_meta
    from trainer.models.registry import load_model

    model = load_model(run_dir)
    want = [s.as_target() for s in spaces]
    got = {t.name: t for t in model.targets}    # a member may answer more targets (a multi-task run): those are unused
    if any(t.name not in got or (got[t.name].problem, tuple(got[t.name].labels)) != (t.problem, tuple(t.labels))
           for t in want):
        raise DataError(f"ensemble member run {run_dir}: it predicts {list(got)} with "
                        f"{[len(t.labels) for t in got.values()]} labels, this run's data {[t.name for t in want]} with "
                        f"{[len(t.labels) for t in want]}; take a run trained on the same dataset and task")
    meta = read_meta(run_dir)
    keys = ("train_seconds", "train_wall_seconds", "train_examples_per_s", "global_step", "precision", "seed")
    return model, {"from_run": str(Path(run_dir).resolve()), **{k: meta[k] for k in keys if k in meta}}


def _spec(kind: str, spaces, members: dict[str, Model], weights: dict[str, float], how: str) -> ModelSpec:
    return ModelSpec(kind, [s.as_target() for s in spaces],
                     {"combine": how, "members": [{"name": n, "model_type": m.type, "weight": weights[n]}
                                                  for n, m in members.items()]})
