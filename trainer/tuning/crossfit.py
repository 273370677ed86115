"""Cross-fitting on the run's own training split: cut it (trainer.tuning.cut), fit every part of the model
(an ensemble's members, or the model itself; transformer parts with the `tune.stand_in` changes) on the rest,
score the held-out documents, then pick the `auto` settings on those out-of-fold scores
(trainer.tuning.search) and say what was tried and picked (model/tuning.json).

Only the training split is cut and scored. The parts are fitted on a DatasetDict holding the cut's training
part and validation (what early stopping reads), never test: a part cannot read a test document.
"""
from __future__ import annotations

import itertools
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
import numpy as np

from trainer.config import RunConfig, apply_overrides
from trainer.config.tune_section import TuneSection
from trainer.data.label_space import label_counts
from trainer.decisions import fuse, fusion_candidates
from trainer.errors import ConfigError
from trainer.events import Progress, notice
from trainer.evaluation.buckets import bucket_name, in_bucket_order
from trainer.evaluation.run import _at_least_one
from trainer.evaluation.split_metrics import Scored
from trainer.models import FitContext, FitData, model_class
from trainer.models.registry import (combine_part_scores, fixed_part_weights, reading_auto, reading_candidates,
                                     reading_scorer, tuning_parts, tuning_weights_auto, with_readings, with_weights)
from trainer.training.distributed import world_size
from trainer.training.fit import fit_model
from trainer.tuning.cut import make_cut, stratification_labels
from trainer.tuning.search import decide_and_score, weight_grid


def wanted(cfg: RunConfig) -> bool:
    """Whether the config has settings to pick on its training split."""
    return (cfg.eval.thresholds == "auto" or cfg.eval.fusion == "auto" or tuning_weights_auto(cfg)
            or reading_auto(cfg))


def check(cfg: RunConfig) -> None:
    """Refuse, before the run starts, what tuning cannot do with this config (ConfigError naming the key)."""
    if not wanted(cfg):
        return
    if world_size() > 1:   # every rank would fit the cut's parts into the same folders
        raise ConfigError("`auto` settings are tuned in one process: train with `trainer train` (not torchrun), or "
                          "give the picks of model/tuning.json of an earlier run as numbers")
    for name, part in tuning_parts(cfg).items():
        stand_in_config(part, cfg.tune, name)


def stand_in_config(part: RunConfig, tune: TuneSection, name: str = "model") -> RunConfig:
    """A part's config for the cut: the stand-in changes for a kind that trains in steps (a transformer), and
    reading.mode auto fitted as truncate (the readings are compared on the one fit)."""
    if reading_candidates(part) is not None:
        part = with_readings(part, {"model": {"mode": "truncate"}})
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
    readings: dict[str, dict] = field(default_factory=dict)   # per part with reading.mode auto: its reading
    fusion: dict[str, dict] = field(default_factory=dict)     # per target combined with the gazetteer: its rule

    def fit_config(self, cfg: RunConfig) -> RunConfig:
        """The config the final model is fitted with: the picks in place of auto."""
        if self.weights is not None:
            cfg = with_weights(cfg, self.weights)
        if self.readings:
            cfg = with_readings(cfg, self.readings)
        return cfg


@dataclass
class OutOfFold:
    """Scores of the held-out training documents: per part, per reading ("own" unless reading.mode auto), per
    target; for a target combined with the gazetteer, the head's scores widened to the answer's labels, with
    the gazetteer's scores and the labels only it answers kept apart."""
    scores: dict[str, dict[str, dict[str, np.ndarray]]]
    targets: dict[str, object]                    # the answer's Target per target name
    gazetteer: dict[str, np.ndarray] = field(default_factory=dict)
    gazetteer_only: dict[str, np.ndarray | None] = field(default_factory=dict)


def tune(cfg: RunConfig, data: FitData, work_dir: Path, progress: Progress = None,
         loop_output: bool = True) -> Tuned:
    """Cross-fit on data.splits["train"], pick the auto settings on the out-of-fold scores. `work_dir` (created,
    then removed) holds the parts' checkpoints while they are fitted; `progress` is told the extra cost (a
    notice) before anything is fitted. The parts' own training events are not passed on (the run's training
    table is the final fit's); `loop_output` as for the final fit (False: the training loop prints nothing)."""
    import datasets

    started = time.perf_counter()
    settings = cfg.tune
    seed = cfg.train.seed if settings.seed is None else settings.seed
    metric = settings.metric or cfg.eval.metric
    train = data.splits["train"]
    cuts = make_cut(stratification_labels(train, data.spaces), settings.folds, settings.holdout, seed)
    plain = tuning_parts(cfg)
    parts = {name: stand_in_config(part, settings, name) for name, part in plain.items()}
    notice(progress, cost_line(cfg, parts, cuts, len(train)))
    n = len(train)
    oof = OutOfFold({name: {} for name in parts}, {})
    part_stats: dict[str, list[dict]] = {name: [] for name in parts}
    texts = train["text"]
    splits = {"validation": data.splits["validation"]} if "validation" in data.splits else {}
    try:
        for k, (fit_rows, held_rows) in enumerate(cuts):
            sub = FitData(data.dataset_dir, datasets.DatasetDict({"train": train.select(fit_rows), **splits}),
                          data.spaces, data.manifest)
            held_texts = [texts[i] for i in held_rows]
            for name, part in parts.items():
                fitted = fit_model(model_class(part.model.type), FitContext(part, sub, Path(work_dir) / f"{name}-{k}",
                                                                            loop_output=loop_output))
                readings = reading_candidates(plain[name]) or {"own": None}
                for reading, change in readings.items():
                    how = reading_scorer(part, change) if change else None
                    _keep(oof, name, reading, fitted.model, held_texts, held_rows, n, how)
                part_stats[name].append({"fold": k, "fitted_on": len(fit_rows), "held_out": len(held_rows),
                                         "train_seconds": fitted.stats.get("train_seconds")})
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)   # the cut's checkpoints: written there by this function
    fit_seconds = time.perf_counter() - started
    held = sorted({i for _, rows in cuts for i in rows})
    tuned = pick(cfg, data, oof, held, metric)
    tuned.record.update({
        "settings": {"folds": settings.folds, "holdout": settings.holdout if settings.folds == 1 else None,
                     "seed": seed, "stand_in": dict(settings.stand_in), "metric": metric},
        "cut": {"train_documents": n, "held_out_documents": len(held), "folds": [
            {"fitted_on": len(a), "held_out": len(b)} for a, b in cuts]},
        "parts": {name: {"stand_in": _changed(plain[name].model_dump(mode="json"), parts[name].model_dump(mode="json")),
                         "fits": part_stats[name]} for name in parts},
        "seconds": {"fit": round(fit_seconds, 1), "search": round(time.perf_counter() - started - fit_seconds, 1)},
    })
    notice(progress, picked_line(tuned.record))   # the final fit takes long: say the picks now, not only in tuning.json
    return tuned


def picked_line(record: dict) -> str:
    """One line saying what tuning picked, how many candidates it tried, on what score and in how long."""
    said = []
    if record.get("weights"):
        said.append("weights " + ", ".join(f"{n} {w:g}" for n, w in record["weights"]["picked"].items()))
    for name, reading in (record.get("readings") or {}).items():
        said.append(f"reading of {name} {reading['picked']}")
    for target, th in (record.get("thresholds") or {}).items():
        said.append(f"{target} thresholds " + ", ".join(f"{b} {v:.2f}" for b, v in th["picked"].items()))
    for target, rule in (record.get("fusion") or {}).items():
        r = rule["picked"]
        said.append(f"{target} rule " + (f"mean, gazetteer weight {r['weight']:g}" if r["rule"] == "mean" else r["rule"]))
    seconds = record.get("seconds", {})
    took = sum(float(v) for v in seconds.values())
    return (f"tuning: picked {'; '.join(said) or 'the defaults'} (out-of-fold {record['metric']} "
            f"{record['score']:.4f}, {len(record.get('tried', []))} candidates, {took:.0f} s)")


def _keep(oof: OutOfFold, name: str, reading: str, model, texts: list[str], rows: list[int], n: int, how) -> None:
    """The fitted part's scores of the held-out texts into `oof` (read as `how` says; None: its own reading)."""
    scores = model.score_targets(texts, how)
    parts = model.combination.parts(texts, scores)
    for target, p in scores.items():
        if target in parts:   # combined with the gazetteer: the head over the answer's labels
            p = parts[target]["head"]
            oof.gazetteer.setdefault(target, np.zeros((n, p.shape[1]), dtype=np.float32))[rows] = \
                parts[target]["gazetteer"]
            oof.gazetteer_only[target] = model.combination.gazetteer_only_mask(target)
        oof.targets.setdefault(target, model.answer_spec.target(target))
        by_reading = oof.scores[name].setdefault(reading, {})
        by_reading.setdefault(target, np.zeros((n, p.shape[1]), dtype=np.float32))[rows] = p


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


def candidates(cfg: RunConfig, oof: OutOfFold) -> list[tuple[dict | None, dict[str, str]]]:
    """Every (weights, reading per part) to try; the first of each is the default (equal weights, the first
    reading: truncate), so ties keep it."""
    names = list(oof.scores)
    weights = weight_grid(names) if tuning_weights_auto(cfg) else [fixed_part_weights(cfg)]
    choices = [[(name, r) for r in oof.scores[name]] for name in names]
    return [(w, dict(combo)) for w in weights for combo in itertools.product(*choices)]


def pick(cfg: RunConfig, data: FitData, oof: OutOfFold, held: list[int], metric: str) -> Tuned:
    """The auto settings picked on the out-of-fold scores of the `held` training documents."""
    train = data.splits["train"]
    ids = [str(i) for i in train["id"]]
    rows, groups, at_least_one, gold = {}, {}, {}, {}
    for name, target in oof.targets.items():
        column = train[name]
        rows[name] = [i for i in held if target.has_label(column[i])]
        gold[name] = [column[i] for i in rows[name]]
        counts = label_counts(train, name, target.problem)[0]
        groups[name] = [bucket_name(counts.get(label, 0)) for label in target.labels]
        at_least_one[name] = _at_least_one(cfg.eval.at_least_one, train, target)
    rules = {name: fusion_candidates() for name in oof.gazetteer}

    def judge(target, probs):
        scored = Scored([ids[i] for i in rows[target.name]], gold[target.name], probs[rows[target.name]])
        return decide_and_score(scored, target, cfg.eval.thresholds, groups[target.name],
                                cfg.eval.bucket_thresholds, cfg.eval.threshold_min_positives,
                                at_least_one[target.name], metric)

    tried, best = [], None
    for weights, readings in candidates(cfg, oof):
        answer = combine_part_scores(cfg, {n: oof.scores[n][r] for n, r in readings.items()}, weights)
        per_target, total = {}, []
        for name, target in oof.targets.items():
            options = [(None, answer[name])] if name not in rules else [
                (rule, fuse(answer[name], oof.gazetteer[name], rule, oof.gazetteer_only[name])) for rule in rules[name]]
            chosen = None
            for rule, probs in options:    # ties keep the earlier rule: less of the gazetteer
                th, m, s = judge(target, probs)
                if chosen is None or round(s, 6) > round(chosen["score"], 6):
                    chosen = {"score": s, "micro_f1": round(float(m["micro_f1"]), 5),
                              "macro_f1": round(float(m["macro_f1"]), 5),
                              **({"thresholds": th.groups, "fallback": th.fallback}
                                 if target.multi_label and th.groups else {}),
                              **({"fusion": rule} if rule is not None else {})}
            if "thresholds" in chosen:
                chosen["thresholds"] = in_bucket_order(chosen["thresholds"])
            per_target[name] = chosen
            total.append(chosen["score"])
        score = float(np.mean(total))
        tried.append({"weights": weights, "readings": readings, "score": round(score, 5)})
        if best is None or round(score, 6) > round(best["score"], 6):   # ties: the earlier (the default) stays
            best = {"weights": weights, "readings": readings, "score": score, "targets": per_target}
    auto_weights = tuning_weights_auto(cfg)
    auto_readings = {n: r for n, r in best["readings"].items() if r != "own"}
    thresholds = ({t: v["thresholds"] for t, v in best["targets"].items() if "thresholds" in v}
                  if cfg.eval.thresholds == "auto" else {})
    fusion = {t: v["fusion"] for t, v in best["targets"].items() if "fusion" in v}
    record = {
        "metric": metric,
        "score": round(best["score"], 5),
        "tried": tried,
        "weights": {"picked": best["weights"]} if auto_weights else None,
        "readings": ({n: {"picked": r, "candidates": list(oof.scores[n])} for n, r in auto_readings.items()}
                     or None),
        "thresholds": ({t: {"picked": v, "fallback": best["targets"][t].get("fallback", []),
                            "tuned_for": "each bucket's micro-F1 (as eval.thresholds per_bucket)",
                            "fixed": dict(cfg.eval.bucket_thresholds)} for t, v in thresholds.items()}
                       if cfg.eval.thresholds == "auto" else None),
        "fusion": {t: {"picked": r} for t, r in fusion.items()} or None,
        "out_of_fold": {t: {k: (round(v, 5) if k == "score" else v) for k, v in m.items()}
                        for t, m in best["targets"].items()},
    }
    picked_readings = {n: reading_candidates(tuning_parts(cfg)[n])[r] for n, r in auto_readings.items()}
    return Tuned(best["weights"] if auto_weights else None, thresholds, record, picked_readings, fusion)
