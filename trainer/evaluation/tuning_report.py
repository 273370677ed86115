"""report.md's "Tuned on the training split" section: for a run whose `auto` settings were picked on out-of-fold
scores of its training split (model/tuning.json), what was picked, and beside each pick what validation alone
would have picked over the same candidates, with both picks' scores on the evaluated split."""
from __future__ import annotations

from trainer.evaluation.buckets import in_bucket_order


def tuning_lines(record: dict | None, target: str, metrics: dict[str, dict], split: str,
                 fusion_rule: dict | None, by_validation: dict | None = None) -> list[str]:
    """The section's lines for one target (empty without a tuning record). `by_validation`: validation's pick
    of the weights and readings (trainer.evaluation.validation_pick), None without one."""
    if not record:
        return []
    cut, settings = record.get("cut") or {}, record.get("settings") or {}
    folds = settings.get("folds", 1)
    how = (f"{folds} folds" if folds and folds > 1 else f"one held-out cut of {settings.get('holdout')}")
    stand_in = settings.get("stand_in") if any(p.get("stand_in") for p in (record.get("parts") or {}).values()) else {}
    lines = [f"Settings written `auto` were picked on out-of-fold scores of {cut.get('held_out_documents')} of the "
             f"{cut.get('train_documents')} training documents ({how}, seed {settings.get('seed')}"
             + (f", transformer parts fitted with the stand-in {stand_in}" if stand_in else "")
             + f"; {settings.get('metric')}), never on validation or test documents; model/tuning.json lists every "
             f"candidate tried ({len(record.get('tried') or [])}). Tuning took {_seconds(record)}."]
    weights = (record.get("weights") or {}).get("picked")
    alone = by_validation or {}
    if weights:
        lines.append("- member weights: " + _weights(weights)
                     + (f"; validation alone would pick {_weights(alone['weights'])}" if alone.get("weights") else
                        " (what validation alone would pick: `python scripts/tuning_study.py RUN_DIR`)"))
    for part, reading in (record.get("readings") or {}).items():
        lines.append(f"- reading of {part}: {reading.get('picked')} (of {', '.join(reading.get('candidates', []))})"
                     + (f"; validation alone would pick {alone['readings'][part]}" if part in alone.get("readings", {})
                        else ""))
    if alone:
        lines.append(f"  - on validation ({alone['documents']} documents, {alone['metric']}, thresholds tuned there): "
                     f"the cross-fitted picks {alone['crossfit_score']:.4f}, validation's own {alone['score']:.4f}; "
                     f"both scored on {split}: `python scripts/tuning_study.py RUN_DIR`")
    picked = ((record.get("thresholds") or {}).get(target) or {}).get("picked")
    here, val = metrics.get(split, {}), metrics.get(split, {}).get("validation_pick")
    if picked:
        lines.append("- bucket thresholds: " + _groups(picked) + f" ({split}: micro-F1 {here.get('micro_f1', 0):.4f}, "
                     f"macro-F1 {here.get('macro_f1', 0):.4f})")
        if val:
            lines.append("  - validation alone would pick: " + (_groups(val["thresholds"]) or "0.5")
                         + (f" ({val['note']})" if val.get("note") else "")
                         + f" ({split}: micro-F1 {val['micro_f1']:.4f}, macro-F1 {val['macro_f1']:.4f})")
    if fusion_rule and fusion_rule.get("validation_pick"):
        lines.append(f"- head + gazetteer: {_rule(fusion_rule)}; validation alone would pick "
                     f"{_rule(fusion_rule['validation_pick'])}")
    return lines


def _weights(weights: dict) -> str:
    return ", ".join(f"{n} {float(w):.1f}" for n, w in weights.items())


def _groups(groups: dict) -> str:
    return ", ".join(f"{g} {float(v):.2f}" for g, v in in_bucket_order(groups).items())


def _rule(rule: dict) -> str:
    return "max" if rule.get("rule") == "max" else f"mean, gazetteer weight {float(rule.get('weight', 0.5)):.1f}"


def _seconds(record: dict) -> str:
    s = record.get("seconds") or {}
    return f"{float(s.get('fit', 0)) + float(s.get('search', 0)):.0f} s"
