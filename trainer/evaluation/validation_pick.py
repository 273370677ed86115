"""What validation alone would have picked for the member weights and the reading of a run that picked them on
its training split (model/tuning.json), for report.md and report.html beside the cross-fitted picks.

Every (weights, reading per part) candidate tuning tried is scored on validation, thresholds tuned on
validation as evaluate tunes them, and the best by tuning's metric is validation's pick (ties keep the earlier
candidate: the default, as tuning does). Each part is scored on validation once per reading it had to pick
from (a transformer part's four readings, without reloading it), and every weight candidate reuses those
scores. Targets combined with the gazetteer are left out: their rule's validation pick is reported on its own.
Both picks' scores on the evaluated split need each part scored there per reading too: scripts/tuning_study.py.
"""
from __future__ import annotations

import numpy as np

from trainer import contracts
from trainer.config import EvalSection, RunConfig
from trainer.data.label_space import label_counts
from trainer.evaluation.buckets import bucket_name
from trainer.evaluation.split_metrics import Scored, score_of, split_metrics, tune
from trainer.evaluation.split_metrics import at_least_one_rule as _at_least_one
from trainer.models.registry import combine_part_scores, reading_candidates, reading_scorer, tuning_parts


def parts_and_targets(cfg: RunConfig, model) -> tuple[dict, list]:
    """The model's parts as tuning fitted them (an ensemble's members, or the model itself, by tuning_parts
    name) and the targets a weights/reading candidate is judged on (all but those fused with the gazetteer)."""
    fused = set(contracts.fused_targets(model.spec))
    return (getattr(model, "members", None) or {"model": model}), [t for t in model.spec.targets if t.name not in fused]


def candidates(record: dict, parts) -> tuple[list[tuple], tuple]:
    """The (weights, reading per part) candidates tuning tried, in its order, and the one it picked."""
    tried = [(c["weights"], c.get("readings") or {n: "own" for n in parts}) for c in record.get("tried") or []]
    picked = ((record.get("weights") or {}).get("picked") or (tried[0][0] if tried else None),
              {n: (record.get("readings") or {}).get(n, {}).get("picked", "own") for n in parts})
    return tried, picked


def score_parts(cfg: RunConfig, parts: dict, texts: list[str], readings: dict[str, list[str]]) -> dict:
    """{part: {reading: scores per target}}: each part read once per reading ("own": as it was saved)."""
    plain = tuning_parts(cfg)
    return {n: {r: parts[n].score_targets(texts, None if r == "own" else
                                          reading_scorer(plain[n], reading_candidates(plain[n])[r]))
                for r in rs} for n, rs in readings.items()}


def candidate_metrics(cfg: RunConfig, targets: list, eval_cfg: EvalSection, train, validation, val_scores: dict,
                      split, split_scores: dict, weights, chosen: dict[str, str],
                      fixed: dict[str, dict[str, float]] | None = None) -> dict:
    """{target: (metrics on `split`, thresholds)} of one candidate: its answer from the parts' scores
    (score_parts), thresholds tuned on validation as evaluate tunes them (`fixed`: bucket values per target
    that are not tuned, e.g. the cross-fitted ones)."""
    def answer(scores):
        return combine_part_scores(cfg, {n: scores[n][r] for n, r in chosen.items()}, weights)
    on_val, on_split = answer(val_scores), (answer(split_scores) if split is not validation else None)
    kind = "per_bucket" if eval_cfg.thresholds == "auto" else eval_cfg.thresholds
    out = {}
    for t in targets:
        labels = list(t.labels)
        counts = label_counts(train, t.name, t.problem)[0] if train is not None else {}
        groups = [bucket_name(counts.get(label, 0)) for label in labels]
        th = tune(_scored(validation, t, on_val[t.name]), labels, t.problem, kind, eval_cfg.threshold_min_positives,
                  _at_least_one(eval_cfg.at_least_one, train, t), groups,
                  {**eval_cfg.bucket_thresholds, **(fixed or {}).get(t.name, {})}, eval_cfg.threshold_min_documents)
        scored = _scored(validation, t, on_val[t.name]) if on_split is None else _scored(split, t, on_split[t.name])
        out[t.name] = (split_metrics(scored, labels, t.problem, th), th)
    return out


def validation_pick(cfg: RunConfig | None, model, record: dict | None, validation, train,
                    eval_cfg: EvalSection) -> dict | None:
    """{"metric", "weights", "readings", "score", "crossfit_score", "documents"}: validation's pick over the
    candidates tuning tried, its validation score and that of the cross-fitted pick; None when the run picked
    neither weights nor a reading on its training split, or has no validation split."""
    if cfg is None or not record or validation is None or not (record.get("weights") or record.get("readings")):
        return None
    parts, targets = parts_and_targets(cfg, model)
    if not targets:
        return None
    tried, picked = candidates(record, parts)
    needed = {n: list(dict.fromkeys(chosen[n] for _, chosen in tried + [picked])) for n in parts}
    scores = score_parts(cfg, parts, list(validation["text"]), needed)
    metric = (record.get("settings") or {}).get("metric") or record.get("metric") or cfg.eval.metric

    def score(weights, chosen) -> float:
        found = candidate_metrics(cfg, targets, eval_cfg, train, validation, scores, validation, scores,
                                  weights, chosen)
        return float(np.mean([score_of(m, metric) for m, _ in found.values()]))

    best, best_score = picked, None
    for weights, chosen in tried:   # ties keep the earlier candidate (the default first), as tuning does
        s = score(weights, chosen)
        if best_score is None or round(s, 6) > round(best_score, 6):
            best, best_score = (weights, chosen), s
    crossfit = score(*picked)
    return {"metric": metric, "weights": best[0] if record.get("weights") else None,
            "readings": {n: best[1][n] for n in record.get("readings") or {}},
            "score": round(crossfit if best_score is None else best_score, 5),
            "crossfit_score": round(crossfit, 5), "documents": len(validation)}


def _scored(ds, target, probs) -> Scored:
    gold, ids = list(ds[target.name]), [str(i) for i in ds["id"]]
    rows = [i for i, g in enumerate(gold) if target.has_label(g)]
    return Scored([ids[i] for i in rows], [gold[i] for i in rows], np.asarray(probs)[rows])
