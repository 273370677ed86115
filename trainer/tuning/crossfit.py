"""Cross-fitting on the run's own training split: cut it (trainer.tuning.cut), fit every part of the model
(an ensemble's members, or the model itself; transformer parts with the `tune.stand_in` changes) on the rest,
score the held-out documents, then pick the `auto` settings on those out-of-fold scores
(trainer.tuning.search) and say what was tried and picked (model/tuning.json).

Only the training split is cut and scored. The parts are fitted on a DatasetDict holding the cut's training
part and validation (what early stopping reads), never test: a part cannot read a test document.
"""
from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from trainer.config import RunConfig, apply_overrides
from trainer.config.tune_section import TuneSection
from trainer.data.label_space import label_counts
from trainer.errors import ConfigError
from trainer.evaluation.buckets import bucket_name
from trainer.evaluation.run import _at_least_one
from trainer.evaluation.split_metrics import Scored
from trainer.models import FitContext, FitData, model_class
from trainer.models.registry import (combine_part_scores, fixed_part_weights, tuning_parts, tuning_weights_auto,
                                     with_weights)
from trainer.tuning.cut import make_cut, stratification_labels
from trainer.tuning.search import decide_and_score, weight_grid


def wanted(cfg: RunConfig) -> bool:
    """Whether the config has settings to pick on its training split."""
    return cfg.eval.thresholds == "auto" or tuning_weights_auto(cfg)


def check(cfg: RunConfig) -> None:
    """Refuse, before the run starts, what tuning cannot do with this config (ConfigError naming the key)."""
    if not wanted(cfg):
        return
    for name, part in tuning_parts(cfg).items():
        stand_in_config(part, cfg.tune, name)


def stand_in_config(part: RunConfig, tune: TuneSection, name: str = "model") -> RunConfig:
    """A part's config for the cut: the stand-in changes for a kind that trains in steps (a transformer)."""
    if not tune.stand_in or not model_class(part.model.type).fits_in_steps(part):
        return part
    tree = part.model_dump(mode="json")
    try:
        return RunConfig.model_validate(apply_overrides(tree, [f"{k}={_yaml(v)}" for k, v in tune.stand_in.items()]))
    except (ValueError, KeyError) as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"tune.stand_in: cannot apply {tune.stand_in} to {name} ({first}); fix the keys or "
                          "set tune.stand_in: {}") from None


def _yaml(value) -> str:
    import json
    return json.dumps(value)


@dataclass
class Tuned:
    """What tuning picked, and the record model/tuning.json holds."""
    weights: dict[str, float] | None
    thresholds: dict[str, dict[str, float]]      # per multi-label target: bucket -> value (eval.thresholds auto)
    record: dict = field(default_factory=dict)

    def fit_config(self, cfg: RunConfig) -> RunConfig:
        """The config the final model is fitted with: the picks in place of auto."""
        return with_weights(cfg, self.weights) if self.weights is not None else cfg


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def tune(cfg: RunConfig, data: FitData, work_dir: Path, say: Callable[[str], None] = _say) -> Tuned:
    """Cross-fit on data.splits["train"], pick the auto settings on the out-of-fold scores. `work_dir` (created,
    then removed) holds the parts' checkpoints while they are fitted."""
    started = time.perf_counter()
    settings = cfg.tune
    seed = cfg.train.seed if settings.seed is None else settings.seed
    metric = settings.metric or cfg.eval.metric
    train = data.splits["train"]
    cuts = make_cut(stratification_labels(train, data.spaces), settings.folds, settings.holdout, seed)
    parts = {name: stand_in_config(part, settings, name) for name, part in tuning_parts(cfg).items()}
    say(cost_line(cfg, parts, cuts, len(train)))
    n = len(train)
    oof: dict[str, dict[str, np.ndarray]] = {name: {} for name in parts}
    part_stats: dict[str, list[dict]] = {name: [] for name in parts}
    texts = train["text"]
    splits = {"validation": data.splits["validation"]} if "validation" in data.splits else {}
    work_dir = Path(work_dir)
    try:
        for k, (fit_rows, held_rows) in enumerate(cuts):
            import datasets
            sub = FitData(data.dataset_dir, datasets.DatasetDict({"train": train.select(fit_rows), **splits}),
                          data.spaces, data.manifest)
            held_texts = [texts[i] for i in held_rows]
            for name, part in parts.items():
                fitted = model_class(part.model.type).fit(FitContext(part, sub, work_dir / f"{name}-{k}"))
                scores = fitted.model.score_targets(held_texts)
                for target, p in scores.items():
                    oof[name].setdefault(target, np.zeros((n, p.shape[1]), dtype=np.float32))[held_rows] = p
                part_stats[name].append({"fold": k, "fitted_on": len(fit_rows), "held_out": len(held_rows),
                                         "train_seconds": fitted.stats.get("train_seconds")})
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)   # the cut's checkpoints: written here, by this function
    fit_seconds = time.perf_counter() - started
    held = sorted({i for _, rows in cuts for i in rows})
    tuned = pick(cfg, data, oof, held, metric)
    tuned.record.update({
        "settings": {"folds": settings.folds, "holdout": settings.holdout if settings.folds == 1 else None,
                     "seed": seed, "stand_in": dict(settings.stand_in), "metric": metric},
        "cut": {"train_documents": n, "held_out_documents": len(held), "folds": [
            {"fitted_on": len(a), "held_out": len(b)} for a, b in cuts]},
        "parts": {name: {"stand_in": _changed(_plain(cfg, name), parts[name].model_dump(mode="json")),
                         "fits": part_stats[name]} for name in parts},
        "seconds": {"fit": round(fit_seconds, 1), "search": round(time.perf_counter() - started - fit_seconds, 1)},
    })
    return tuned


def _plain(cfg: RunConfig, name: str) -> dict:
    return tuning_parts(cfg)[name].model_dump(mode="json")


def _changed(before: dict, after: dict) -> dict:
    """The model./train. keys the stand-in changed for a part ({}: fitted on the cut as configured)."""
    return {f"{section}.{k}": v for section in ("model", "train") for k, v in after[section].items()
            if before[section].get(k) != v}


def cost_line(cfg: RunConfig, parts: dict[str, RunConfig], cuts: list, n_train: int) -> str:
    """The extra training tuning costs, said before it starts: in documents fitted and, per part that trains in
    steps, its stand-in's share of the final fit (tokens x epochs x documents)."""
    plain = tuning_parts(cfg)
    fitted_on = sum(len(a) for a, _ in cuts)
    shares = []
    for name, part in parts.items():
        final = plain[name]
        if model_class(part.model.type).fits_in_steps(part):
            ratio = (fitted_on / max(n_train, 1)) * _per_document_cost(part) / max(_per_document_cost(final), 1e-9)
            shares.append(f"{name} about {ratio:.2f}x its final fit")
        else:
            shares.append(f"{name} {fitted_on / max(n_train, 1):.2f}x")
    how = (f"1 cut, {len(cuts[0][1])} of {n_train} training documents held out" if len(cuts) == 1 else
           f"{len(cuts)} folds of the {n_train} training documents")
    stand_in = f" (stand-in {cfg.tune.stand_in})" if cfg.tune.stand_in and any(
        model_class(p.model.type).fits_in_steps(p) for p in parts.values()) else ""
    return f"tuning: {how}; parts fitted on {fitted_on} documents in all{stand_in}: {', '.join(shares)}"


def _per_document_cost(part: RunConfig) -> float:
    return float(getattr(part.model, "max_length", 1)) * float(part.train.epochs)


def pick(cfg: RunConfig, data: FitData, oof: dict[str, dict[str, np.ndarray]], held: list[int], metric: str) -> Tuned:
    """The auto settings picked on the out-of-fold scores of the `held` training documents."""
    train = data.splits["train"]
    ids = [str(i) for i in train["id"]]
    targets = [s.as_target() for s in data.spaces]
    rows, groups, at_least_one = {}, {}, {}
    for space, target in zip(data.spaces, targets):
        gold = train[target.name]
        rows[target.name] = [i for i in held if target.has_label(gold[i])]
        counts = label_counts(train, target.name, target.problem)[0]
        groups[target.name] = [bucket_name(counts.get(label, 0)) for label in target.labels]
        at_least_one[target.name] = _at_least_one(cfg.eval.at_least_one, train, target)
    names = list(oof)
    auto_weights = tuning_weights_auto(cfg)
    candidates = weight_grid(names) if auto_weights else [fixed_part_weights(cfg)]
    tried, best = [], None
    for weights in candidates:
        answer = combine_part_scores(cfg, oof, weights)
        per_target, total = {}, []
        for target in targets:
            r = rows[target.name]
            gold = train[target.name]
            scored = Scored([ids[i] for i in r], [gold[i] for i in r], answer[target.name][r])
            th, m, s = decide_and_score(scored, target, cfg.eval.thresholds, groups[target.name],
                                        cfg.eval.bucket_thresholds, cfg.eval.threshold_min_positives,
                                        at_least_one[target.name], metric)
            per_target[target.name] = {"score": round(s, 5), "micro_f1": round(float(m["micro_f1"]), 5),
                                       "macro_f1": round(float(m["macro_f1"]), 5),
                                       **({"thresholds": th.groups, "fallback": th.fallback}
                                          if target.multi_label and th.groups else {})}
            total.append(s)
        score = float(np.mean(total))
        tried.append({"weights": weights, "score": round(score, 5), "targets": per_target})
        if best is None or round(score, 6) > round(best["score_exact"], 6):   # ties: the earlier (nearer equal)
            best = {"weights": weights, "score_exact": score, "targets": per_target}
    thresholds = {}
    if cfg.eval.thresholds == "auto":
        thresholds = {t: v["thresholds"] for t, v in best["targets"].items() if "thresholds" in v}
    record = {
        "metric": metric,
        "weights": ({"tried": [{"weights": t["weights"], "score": t["score"]} for t in tried],
                     "picked": best["weights"], "score": round(best["score_exact"], 5)} if auto_weights else None),
        "thresholds": ({t: {"picked": v["thresholds"], "fallback": v.get("fallback", []),
                            "tuned_for": "each bucket's micro-F1 (as eval.thresholds per_bucket)",
                            "fixed": dict(cfg.eval.bucket_thresholds)}
                        for t, v in best["targets"].items() if "thresholds" in v}
                       if cfg.eval.thresholds == "auto" else None),
        "out_of_fold": best["targets"],
    }
    return Tuned(best["weights"] if auto_weights else None, thresholds, record)
