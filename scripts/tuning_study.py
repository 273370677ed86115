"""For a trained run with `auto` settings: each setting's cross-fitted pick (model/tuning.json) beside what
validation alone would have picked over the same candidates, and the test scores of both.

    python scripts/tuning_study.py runs/reuters-topics-ensemble [--split test] \
        [--hand configs/reuters-topics-ensemble-hand.yaml]

Validation's pick: every (member weights, reading) candidate tuning tried, scored on validation with bucket
thresholds tuned on validation (as eval.thresholds per_bucket does), the best by tune.metric; the cross-fitted
pick: tuning.json's weights, reading and bucket thresholds. Both are then scored on the split (test by default,
which neither pick has read). Targets combined with the gazetteer: their two rules are in report.md and
metrics.json ("fusion": the rule, its "validation_pick"). A thin caller of trainer.evaluation.validation_pick (the
search report.md shows); what it adds is both picks scored on the split, which reads each part there once per
reading of the two picks (minutes for a transformer on Reuters' 3,019 test documents); writes nothing.

--hand CONFIG adds a third column: the hand-set member weights and bucket thresholds of CONFIG (a config with the
same members, e.g. the hand-set Reuters recipe) applied to this run's members. The members of a run are fitted by
their own recipes and seed whatever the weights, so this is what training CONFIG with the same seed would score,
without training it again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainer import contracts
from trainer.data.dataset_io import load_dataset_dir
from trainer.evaluation.validation_pick import (candidate_metrics, candidates, parts_and_targets, score_parts,
                                                validation_pick)
from trainer.models import ScoreOptions, load_model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--split", default="test")
    ap.add_argument("--hand", type=Path, help="a config with the same members and hand-set weights/thresholds")
    args = ap.parse_args(argv)
    run = args.run_dir
    record = contracts.read_tuning(run / contracts.MODEL)
    if record is None:
        print(f"{run}: no model/{contracts.TUNING}: the run has no `auto` settings", file=sys.stderr)
        return 2
    cfg = contracts.read_run_config(run)
    model = load_model(run, ScoreOptions(precision="fp32"))
    dsd, _ = load_dataset_dir(cfg.data.dataset)
    train, validation, split = dsd["train"], dsd["validation"], dsd[args.split]
    eval_cfg = cfg.eval
    parts, targets = parts_and_targets(cfg, model)   # fused targets: their rules, below
    _, (picked_weights, picked_readings) = candidates(record, parts)
    # validation's pick, as report.md shows it (the package's own search over the same candidates)
    alone = validation_pick(cfg, model, record, validation, train, eval_cfg) or {}
    best = (alone.get("weights") or picked_weights, {**picked_readings, **(alone.get("readings") or {})})
    needed = {n: list(dict.fromkeys([picked_readings[n], best[1][n]])) for n in parts}
    val_scores = score_parts(cfg, parts, list(validation["text"]), needed)
    split_scores = score_parts(cfg, parts, list(split["text"]), needed)

    def evaluate(weights, chosen, fixed=None):
        return candidate_metrics(cfg, targets, eval_cfg, train, validation, val_scores, split, split_scores,
                                 weights, chosen, fixed)

    picked_thresholds = {t: v["picked"] for t, v in (record.get("thresholds") or {}).items()}
    crossfit = evaluate(picked_weights, picked_readings, picked_thresholds)
    by_validation = evaluate(*best)
    hand = _hand(args.hand, targets, picked_weights) if args.hand else None
    by_hand = evaluate(hand[0], picked_readings, hand[1]) if hand else None
    extra = (" | hand-set" if hand else "", "|---" if hand else "")
    print(f"# {run.name}: cross-fitted picks (model/tuning.json) vs validation alone, scored on {args.split}\n")
    print(f"| setting | cross-fitted pick | validation alone{extra[0]} |\n|---|---|---{extra[1]}|")
    if record.get("weights"):
        print(f"| member weights | {_w(picked_weights)} | {_w(best[0])}" + (f" | {_w(hand[0])}" if hand else "") + " |")
    for n in record.get("readings") or {}:
        print(f"| reading of {n} | {picked_readings[n]} | {best[1][n]}" + (f" | {picked_readings[n]}" if hand else "") + " |")
    for t in targets:
        if t.multi_label:
            print(f"| {t.name} bucket thresholds | {_g(crossfit[t.name][1].groups)} | {_g(by_validation[t.name][1].groups)}"
                  + (f" | {_g(by_hand[t.name][1].groups)}" if hand else "") + " |")
    for t in targets:
        for key in ("micro_f1", "macro_f1"):
            print(f"| {t.name} {args.split} {key} | {crossfit[t.name][0][key]:.4f} | {by_validation[t.name][0][key]:.4f}"
                  + (f" | {by_hand[t.name][0][key]:.4f}" if hand else "") + " |")
    for name in contracts.fused_targets(model.spec):
        rule = contracts.read_fusion(run / contracts.MODEL, model.spec).get(name, {})
        print(f"| {name} head + gazetteer | {_rule(rule)} | {_rule(rule.get('validation_pick') or {})} |")
    return 0


def _hand(path: Path, targets, picked_weights) -> tuple[dict | None, dict]:
    """(member weights, {target: bucket thresholds}) set by hand in the config at `path`."""
    from trainer.config import RunConfig, load_config
    hand = load_config(path, RunConfig)
    members = getattr(hand.model, "members", None) or {}
    weights = {n: float(m.weight) for n, m in members.items()} if picked_weights else None
    if weights and set(weights) != set(picked_weights):
        raise SystemExit(f"{path}: members {sorted(weights)} are not the run's {sorted(picked_weights)}")
    fixed = {t.name: dict(hand.eval.bucket_thresholds) for t in targets if t.multi_label}
    return weights, fixed


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
