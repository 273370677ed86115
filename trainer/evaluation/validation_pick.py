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


def validation_pick(cfg: RunConfig | None, model, record: dict | None, validation, train,
                    eval_cfg: EvalSection) -> dict | None:
    """{"metric", "weights", "readings", "score", "crossfit_score", "documents"}: validation's pick over the
    candidates tuning tried, its validation score and that of the cross-fitted pick; None when the run picked
    neither weights nor a reading on its training split, or has no validation split."""
    if cfg is None or not record or validation is None or not (record.get("weights") or record.get("readings")):
        return None
    members = getattr(model, "members", None) or {"model": model}   # an ensemble's parts, or the model itself
    plain = tuning_parts(cfg)
    fused = set(contracts.fused_targets(model.spec))
    targets = [t for t in model.spec.targets if t.name not in fused]
    if not targets:
        return None
    tried = [(c["weights"], c.get("readings") or {n: "own" for n in members}) for c in record.get("tried") or []]
    picked = ((record.get("weights") or {}).get("picked") or (tried[0][0] if tried else None),
              {n: (record.get("readings") or {}).get(n, {}).get("picked", "own") for n in members})
    texts = list(validation["text"])
    needed = {n: list(dict.fromkeys(chosen[n] for _, chosen in tried + [picked])) for n in members}
    scores = {n: {r: members[n].score_targets(texts, None if r == "own" else
                                             reading_scorer(plain[n], reading_candidates(plain[n])[r]))
                  for r in readings} for n, readings in needed.items()}
    kind = "per_bucket" if eval_cfg.thresholds == "auto" else eval_cfg.thresholds
    metric = (record.get("settings") or {}).get("metric") or record.get("metric") or cfg.eval.metric
    prepared = []
    for t in targets:
        gold = list(validation[t.name])
        rows = [i for i, g in enumerate(gold) if t.has_label(g)]
        counts = label_counts(train, t.name, t.problem)[0] if train is not None else {}
        prepared.append((t, rows, [gold[i] for i in rows], [bucket_name(counts.get(label, 0)) for label in t.labels]))
    ids = [str(i) for i in validation["id"]]

    def score(weights, chosen) -> float:
        answer = combine_part_scores(cfg, {n: scores[n][r] for n, r in chosen.items()}, weights)
        out = []
        for t, rows, gold, groups in prepared:
            scored = Scored([ids[i] for i in rows], gold, np.asarray(answer[t.name])[rows])
            labels = list(t.labels)
            th = tune(scored, labels, t.problem, kind, eval_cfg.threshold_min_positives,
                      _at_least_one(eval_cfg.at_least_one, train, t), groups, dict(eval_cfg.bucket_thresholds),
                      eval_cfg.threshold_min_documents)
            out.append(score_of(split_metrics(scored, labels, t.problem, th), metric))
        return float(np.mean(out))

    best, best_score = picked, None
    for weights, chosen in tried:
        s = score(weights, chosen)
        if best_score is None or round(s, 6) > round(best_score, 6):
            best, best_score = (weights, chosen), s
    return {"metric": metric, "weights": best[0] if record.get("weights") else None,
            "readings": {n: best[1][n] for n in record.get("readings") or {}},
            "score": round(best_score if best_score is not None else score(*picked), 5),
            "crossfit_score": round(score(*picked), 5), "documents": len(texts)}
