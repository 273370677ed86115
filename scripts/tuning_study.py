"""For a trained run with `auto` settings: each setting's cross-fitted pick (model/tuning.json) beside what
validation alone would have picked over the same candidates, and the test scores of both.

    python scripts/tuning_study.py runs/reuters-topics-ensemble [--split test]

Validation's pick: every (member weights, reading) candidate tuning tried, scored on validation with bucket
thresholds tuned on validation (as eval.thresholds per_bucket does), the best by tune.metric; the cross-fitted
pick: tuning.json's weights, reading and bucket thresholds. Both are then scored on the split (test by default,
which neither pick has read). Targets combined with the gazetteer: their two rules are in report.md and
metrics.json ("fusion": the rule, its "validation_pick"). Reads the model's parts once per reading (minutes for a
transformer on Reuters' 3,019 test documents); writes nothing.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from trainer import contracts
from trainer.data.dataset_io import load_dataset_dir
from trainer.data.label_space import label_counts
from trainer.evaluation.buckets import bucket_name
from trainer.evaluation.run import _at_least_one
from trainer.evaluation.split_metrics import Scored, split_metrics, tune
from trainer.models import ScoreOptions, load_model
from trainer.models.registry import combine_part_scores, reading_candidates, reading_scorer, tuning_parts
from trainer.tuning.search import score_of


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--split", default="test")
    args = ap.parse_args(argv)
    run = args.run_dir
    record = contracts.read_tuning(run / contracts.MODEL)
    if record is None:
        print(f"{run}: no model/{contracts.TUNING}: the run has no `auto` settings", file=sys.stderr)
        return 2
    cfg = contracts.read_run_config(run)
    model = load_model(run, ScoreOptions(precision="fp32"))
    dsd, _ = load_dataset_dir(cfg.data.dataset)
    train, splits = dsd["train"], {"validation": dsd["validation"], args.split: dsd[args.split]}
    metric = record["settings"]["metric"]
    members = getattr(model, "members", None) or {"model": model}   # an ensemble's parts, or the model itself
    plain = tuning_parts(cfg)
    readings = {name: reading_candidates(plain[name]) or {"own": None} for name in members}
    scores = {split: {name: {r: members[name].score_targets(list(ds["text"]),
                                                             reading_scorer(plain[name], c) if c else None)
                             for r, c in readings[name].items()} for name in members} for split, ds in splits.items()}
    fused = set(contracts.fused_targets(model.spec))
    targets = [t for t in model.spec.targets if t.name not in fused]   # fused ones: their rules, below

    def evaluate(split, weights, chosen, fixed_thresholds=None):
        """{target: (metrics on `split`, thresholds)}: validation-tuned thresholds unless fixed ones are given."""
        answer = combine_part_scores(cfg, {n: scores[split][n][r] for n, r in chosen.items()}, weights)
        out = {}
        for t in targets:
            counts = label_counts(train, t.name, t.problem)[0]
            groups = [bucket_name(counts.get(label, 0)) for label in t.labels]
            at_least_one = _at_least_one(cfg.eval.at_least_one, train, t)
            val = _scored(splits["validation"], t, combine_part_scores(
                cfg, {n: scores["validation"][n][r] for n, r in chosen.items()}, weights)[t.name])
            fixed = {**cfg.eval.bucket_thresholds, **(fixed_thresholds or {}).get(t.name, {})}
            kind = "per_bucket" if cfg.eval.thresholds == "auto" else cfg.eval.thresholds
            th = tune(val, list(t.labels), t.problem, kind, cfg.eval.threshold_min_positives, at_least_one, groups,
                      fixed, cfg.eval.threshold_min_documents)
            out[t.name] = (split_metrics(_scored(splits[split], t, answer[t.name]), list(t.labels), t.problem, th), th)
        return out

    tried = [(c["weights"], c.get("readings") or {n: "own" for n in members}) for c in record["tried"]]
    best, best_score = None, None
    for weights, chosen in tried:
        s = float(np.mean([score_of(m, metric) for m, _ in evaluate("validation", weights, chosen).values()]))
        if best_score is None or round(s, 6) > round(best_score, 6):
            best, best_score = (weights, chosen), s
    picked_weights = (record.get("weights") or {}).get("picked") or tried[0][0]
    picked_readings = {n: (record.get("readings") or {}).get(n, {}).get("picked", "own") for n in members}
    picked_thresholds = {t: v["picked"] for t, v in (record.get("thresholds") or {}).items()}
    crossfit = evaluate(args.split, picked_weights, picked_readings, picked_thresholds)
    by_validation = evaluate(args.split, *best)
    print(f"# {run.name}: cross-fitted picks (model/tuning.json) vs validation alone, scored on {args.split}\n")
    print("| setting | cross-fitted pick | validation alone |\n|---|---|---|")
    if record.get("weights"):
        print(f"| member weights | {_w(picked_weights)} | {_w(best[0])} |")
    for n in record.get("readings") or {}:
        print(f"| reading of {n} | {picked_readings[n]} | {best[1][n]} |")
    for t in targets:
        if t.multi_label:
            print(f"| {t.name} bucket thresholds | {_g(crossfit[t.name][1].groups)} | {_g(by_validation[t.name][1].groups)} |")
    for t in targets:
        for key in ("micro_f1", "macro_f1"):
            print(f"| {t.name} {args.split} {key} | {crossfit[t.name][0][key]:.4f} | {by_validation[t.name][0][key]:.4f} |")
    for name in fused:
        rule = contracts.read_fusion(run / contracts.MODEL, model.spec).get(name, {})
        print(f"| {name} head + gazetteer | {_rule(rule)} | {_rule(rule.get('validation_pick') or {})} |")
    return 0


def _scored(ds, target, probs) -> Scored:
    gold, ids = list(ds[target.name]), list(ds["id"])
    rows = [i for i, g in enumerate(gold) if target.has_label(g)]
    return Scored([str(ids[i]) for i in rows], [gold[i] for i in rows], np.asarray(probs)[rows])


def _w(weights) -> str:
    return ", ".join(f"{n} {w:.1f}" for n, w in (weights or {}).items()) or "-"


def _g(groups) -> str:
    return ", ".join(f"{g} {v:.2f}" for g, v in groups.items()) or "-"


def _rule(rule: dict) -> str:
    if not rule:
        return "-"
    return "max" if rule.get("rule") == "max" else f"mean {float(rule.get('weight', 0.5)):.1f}"


if __name__ == "__main__":
    sys.exit(main())
