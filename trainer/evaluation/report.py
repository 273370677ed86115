"""Render `report.md`: headline metrics, per-label table, worst labels, frequent confusions."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from trainer import metric_names
from trainer.evaluation.confusions import worst_labels

HEADLINE = metric_names.REPORTED      # every overall metric of the vocabulary, in its order
N_WORST = 10
N_CONFUSIONS = 15


@dataclass
class ReportInput:
    run_name: str
    model_type: str
    problem: str
    dataset: str
    split: str
    # metrics[split][variant] with variant in "at_0.5", "tuned", "chunked"; values in compute_metrics' shape
    metrics: dict[str, dict[str, dict]]
    thresholds_kind: str
    threshold_fallback: list[str]
    errors: dict[str, dict[str, int]]          # per label fn/fp on the evaluated split (decision used)
    confusions: Counter
    chunking: str | None = None                # description of the chunking setup, when enabled
    reading: str | None = None                 # description of the model's windows reading, when it has one
    at_least_one: bool = False                 # multi-label: no label over threshold -> the top-scoring one
    notes: list[str] = field(default_factory=list)
    target: str | None = None                  # named when the model has several targets
    threshold_groups: dict = field(default_factory=dict)   # per_bucket: bucket -> (value, fixed in the config)
    label_decisions: list[str] = field(default_factory=list)   # labels dropped before training, a line per rule
    threshold_note: str = ""                   # why thresholds were not tuned as configured
    tuning: list[str] = field(default_factory=list)   # settings picked on the training split (tuning_report)


def render_report(r: ReportInput) -> str:
    parts = [p for p in (_header(r), _headline(r), _label_decisions(r), _buckets(r), _per_label(r), _worst(r),
                         _confusions(r)) if p]
    if "parts" in r.metrics[r.split]["tuned"]:
        parts.append(_combined(r))
    if r.chunking:
        parts.append(_chunking(r))
    if r.reading:
        parts.append(_reading(r))
    if r.tuning:
        parts.append("## Tuned on the training split\n\n" + "\n".join(r.tuning) + "\n")
    if r.notes:
        parts.append("## Notes\n\n" + "\n".join(f"- {n}" for n in r.notes) + "\n")
    return "\n".join(parts)


def _header(r: ReportInput) -> str:
    title = f"# Evaluation: {r.run_name}" + (f", target {r.target}" if r.target else "")
    lines = [title, "",
             f"- model: {r.model_type}, {r.problem.replace('_', '-')}",
             f"- dataset: `{r.dataset}`, evaluated split: `{r.split}`",
             "- examples: " + ", ".join(f"{s} {m['tuned']['n_examples']}" for s, m in r.metrics.items())]
    if r.problem == "multi_label":
        how = ("0.5 for every label" if r.thresholds_kind == "none"
               else f"{r.thresholds_kind.replace('_', '-')}, tuned on validation")
        if r.threshold_groups:
            how = "per label-frequency bucket: " + ", ".join(
                f"{g} {v:.2f} ({fixed if isinstance(fixed, str) else 'fixed by the config' if fixed else 'tuned on validation'})"
                for g, (v, fixed) in r.threshold_groups.items())
        th = f"- decision thresholds: {how} (saved in model/thresholds.json)"
        if r.threshold_note:
            th += f"; {r.threshold_note}"
        if r.threshold_fallback and not r.threshold_note:
            th += f"; {len(r.threshold_fallback)} label(s) with too few validation positives use the global value"
        if r.at_least_one:
            th += "; +top1: a text with no label over its threshold gets its top-scoring label"
        lines.append(th)
    return "\n".join(lines) + "\n"


def _headline(r: ReportInput) -> str:
    columns = [(split, variant) for split, variants in r.metrics.items()
               for variant in ("at_0.5", "tuned", "chunked") if variant in variants]
    if r.problem == "single_label":   # thresholds do not apply: one column per split
        columns = [(s, v) for s, v in columns if v != "at_0.5"]
    rule = "+top1" if r.at_least_one else ""
    names = {"at_0.5": "@0.5", "tuned": f"@{r.thresholds_kind}{rule}" if r.problem == "multi_label" else "",
             "chunked": " chunked"}
    head = "| metric | " + " | ".join(f"{s}{names[v]}" for s, v in columns) + " |"
    rows = [head, "|---" * (len(columns) + 1) + "|"]
    for key in HEADLINE:
        rows.append(f"| {key} | " + " | ".join(_fmt(r.metrics[s][v].get(key)) for s, v in columns) + " |")
    what = ("Single-label: one answer per document, so micro precision, recall and F1 equal accuracy (a document "
            "whose gold label the model does not know counts as an error in each); macro averages weigh every label "
            "of the model alike." if r.problem == "single_label" else
            "Multi-label: accuracy is subset accuracy (every label of a document right); micro averages pool the "
            "label decisions of all documents, macro averages weigh every label alike.")
    return "## Summary\n\n" + "\n".join(rows) + "\n\n" + what + "\n"


def _label_decisions(r: ReportInput) -> str:
    body = ("\n".join(f"- {line}" for line in r.label_decisions) if r.label_decisions else
            "None: no rule of the dataset build or of training dropped a label of this target.")
    return "## Labels left out\n\n" + body + "\n"


def _buckets(r: ReportInput) -> str:
    """Macro-F1 per training-frequency bucket, one column per split (and variant) that has them."""
    columns = [(split, variant) for split, variants in r.metrics.items() for variant in ("tuned", "chunked")
               if "buckets" in variants.get(variant, {})]
    if not columns:
        return ""
    ref = r.metrics[columns[0][0]][columns[0][1]]["buckets"]
    names = {"tuned": "", "chunked": " chunked"}
    head = "| training documents per label | labels | " + " | ".join(
        f"{s}{names[v]} macro-F1 (support)" for s, v in columns) + " |"
    rows = [head, "|---|---:|" + "---:|" * len(columns)]
    for bucket, info in ref.items():
        cells = []
        for s, v in columns:
            b = r.metrics[s][v]["buckets"].get(bucket, {})
            cells.append(f"{_fmt(b.get('macro_f1'))} ({b.get('support', 0)})")
        rows.append(f"| {bucket} | {info['n_labels']} | " + " | ".join(cells) + " |")
    return ("## Macro-F1 by label frequency\n\nLabels grouped by their number of training documents; "
            "macro-F1 over the labels of each group that occur in the split (support: their gold labels there).\n\n"
            + "\n".join(rows) + "\n")


def _per_label(r: ReportInput) -> str:
    per_label = r.metrics[r.split]["tuned"]["per_label"]
    order = sorted(per_label, key=lambda label: (-per_label[label]["support"], label))
    rows = ["| label | support | precision | recall | f1 | false neg | false pos |", "|---|---:|---:|---:|---:|---:|---:|"]
    for label in order:
        m, e = per_label[label], r.errors.get(label, {"fn": 0, "fp": 0})
        rows.append(f"| {label} | {m['support']} | {_fmt(m['precision'])} | {_fmt(m['recall'])} | "
                    f"{_fmt(m['f1'])} | {e['fn']} | {e['fp']} |")
    return f"## Per label ({r.split}, sorted by support)\n\n" + "\n".join(rows) + "\n"


def _worst(r: ReportInput) -> str:
    per_label = r.metrics[r.split]["tuned"]["per_label"]
    worst = worst_labels(per_label, N_WORST)
    if not worst:
        return "## Worst labels\n\nNo label has gold examples in this split.\n"
    lines = [f"- {label}: f1 {_fmt(per_label[label]['f1'])} (support {per_label[label]['support']}, "
             f"{r.errors.get(label, {}).get('fn', 0)} missed, {r.errors.get(label, {}).get('fp', 0)} false alarms)"
             for label in worst]
    return f"## Worst labels ({r.split}, lowest F1 among labels present)\n\n" + "\n".join(lines) + "\n"


def _confusions(r: ReportInput) -> str:
    what = ("gold label → predicted label" if r.problem == "single_label"
            else "gold label → label wrongly predicted for the same document")
    if not r.confusions:
        missed = sum(e["fn"] for e in r.errors.values())
        extra = sum(e["fp"] for e in r.errors.values())
        if not missed and not extra:
            return f"## Most frequent confusions\n\nNone: no wrong predictions on {r.split}.\n"
        # errors without a pair: labels missed with nothing wrong predicted beside them, labels predicted on
        # documents with no gold label the model knows
        return (f"## Most frequent confusions\n\nNo {what} pair on {r.split}; its errors are {missed} missed "
                f"gold label(s) and {extra} label(s) predicted for documents with no known gold label "
                "(per label: the false neg / false pos columns above).\n")
    known = r.metrics[r.split]["tuned"].get("per_label", {})
    rows = ["| gold | predicted | count |", "|---|---|---:|"]
    rows += [f"| {g if g in known else f'{g} (not a label of the model)'} | {p} | {n} |"
             for (g, p), n in r.confusions.most_common(N_CONFUSIONS)]
    return f"## Most frequent confusions ({what})\n\n" + "\n".join(rows) + "\n"


def _combined(r: ReportInput) -> str:
    rule = r.metrics[r.split]["tuned"]["fusion"]
    how = (f"the maximum of the two scores (a union of their labels)" if rule["rule"] == "max"
           else f"(1 - {rule['weight']}) x head + {rule['weight']} x gazetteer")
    lines = ["## The combined answer: the learned head and the gazetteer\n",
             f"Combination picked on {rule.get('picked_on', 'validation')}: {how}.\n"]
    only = r.metrics[r.split]["tuned"].get("gazetteer_only")
    if only:
        lines.append(f"Answered by the gazetteer alone ({len(only)} label(s) the head never learned: no training "
                     f"document, or too few to keep; scored here like every other label): {', '.join(only)}.\n")
    lines += ["| split | metric | head | gazetteer | combined |", "|---|---|---:|---:|---:|"]
    for split, variants in r.metrics.items():
        m = variants["tuned"]
        for key in metric_names.HEADLINE:
            lines.append(f"| {split} | {key} | {_fmt(m['parts']['head'].get(key))} | "
                         f"{_fmt(m['parts']['gazetteer'].get(key))} | {_fmt(m.get(key))} |")
    return "\n".join(lines) + "\n"


def _chunking(r: ReportInput) -> str:
    lines = ["## Long articles: head truncation vs chunk-and-pool\n", f"Chunking: {r.chunking}.\n",
             "| split | metric | head | chunked | change |", "|---|---|---:|---:|---:|"]
    for split, variants in r.metrics.items():
        if "chunked" not in variants:
            continue
        for key in metric_names.HEADLINE:
            head, chunked = variants["tuned"].get(key), variants["chunked"].get(key)
            change = f"{chunked - head:+.4f}" if head is not None and chunked is not None else "-"
            lines.append(f"| {split} | {key} | {_fmt(head)} | {_fmt(chunked)} | {change} |")
    return "\n".join(lines) + "\n"


def _reading(r: ReportInput) -> str:
    lines = ["## Long articles: the model's reading vs its head only\n",
             f"The model reads {r.reading}; the head column scores the same model on each text's first window, "
             "with the same thresholds. Long: documents longer than one window.\n",
             "| split | documents | n | metric | reading | head only | change |", "|---|---|---:|---|---:|---:|---:|"]
    for split, variants in r.metrics.items():
        comparison = variants.get("tuned", {}).get("reading") or {}
        for group in ("all", "long"):
            pair = comparison.get(group)
            if not pair:
                continue
            for key in metric_names.HEADLINE:
                own, head = pair["reading"].get(key), pair["head"].get(key)
                change = f"{own - head:+.4f}" if own is not None and head is not None else "-"
                lines.append(f"| {split} | {group} | {pair['reading'].get('n_examples', 0)} | {key} | {_fmt(own)} | "
                             f"{_fmt(head)} | {change} |")
    return "\n".join(lines) + "\n"


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def decision_rule_text(kind: str, at_least_one: bool, values=()) -> str:
    """A multi-label decision rule in words, e.g. "a global threshold of 0.30 tuned on validation, plus the
    at-least-one rule"."""
    if kind == "global" and len(values):
        text = f"a global threshold of {values[0]:.2f} tuned on validation"
    elif kind == "per_label":
        text = "one threshold per label tuned on validation"
    else:
        text = "0.5 for every label"
    if at_least_one:
        text += ", plus the at-least-one rule (a text with no label over its threshold gets its top-scoring label)"
    return text
