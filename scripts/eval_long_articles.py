"""Long-article evaluation from what we have: the test documents longer than one transformer window.

    python scripts/eval_long_articles.py runs/a runs/b --baseline runs/b [--max-length 256] [--min-windows 2]

A document is "long" when its body (MiniLM tokenizer, no special tokens) has more tokens than one window
of `--max-length` (special tokens included), i.e. head truncation at that length drops part of it;
`--min-windows 3` keeps only documents needing at least 3 windows at the default stride (half a window).
Every run is scored from its predictions.jsonl (the decisions `trainer evaluate` wrote) on those documents:
micro-F1, macro-F1 over the labels with a gold document among them, accuracy, and against --baseline the
paired-bootstrap 95% interval of the delta (same resamples as `trainer compare`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--baseline", default=None)
    parser.add_argument("--dataset", default=None, help="default: the first run's data.dataset")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--min-windows", type=int, default=2)
    parser.add_argument("--target", default=None)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from trainer import contracts
    from trainer.compare import bootstrap, load_run
    from trainer.data.dataset_io import load_dataset_dir
    from trainer.models.transformer.pretrained import resolve_model_path
    from trainer.models.transformer.reading import resolve_stride, window_size

    paths = list(dict.fromkeys(args.runs + ([args.baseline] if args.baseline else [])))
    runs = [load_run(p) for p in paths]
    target = args.target or (runs[0].spec.primary.name if runs[0].spec else "topics")
    for r in runs:
        r.target = target
    dataset = args.dataset or contracts.read_run_config(paths[0]).data.dataset
    dsd, _ = load_dataset_dir(dataset)
    tok = AutoTokenizer.from_pretrained(resolve_model_path("minilm-l6"))
    window = window_size(tok, args.max_length)
    stride = resolve_stride(None, window)
    lengths = [len(x) for x in tok(list(dsd["test"]["text"]), add_special_tokens=False, truncation=False,
                                   verbose=False)["input_ids"]]
    need = window + (args.min_windows - 2) * stride      # more tokens than this: at least min_windows windows
    long_ids = {str(i) for i, n in zip(dsd["test"]["id"], lengths) if n > need}
    print(f"{len(long_ids)} of {len(lengths)} test documents longer than {need} body tokens "
          f"(window {window} at max_length {args.max_length}; >= {args.min_windows} windows)\n")

    counts, names, labels_of = [], [], []
    for r in runs:
        rows = [p for p in r.target_rows() if str(p.get("id")) in long_ids]
        labels = list(r.labels) if r.labels else sorted({x for p in rows for x in p["gold"] + p["predicted"]})
        gold = [list(p["gold"]) for p in rows]
        counts.append(bootstrap.doc_counts(gold, [list(p["predicted"]) for p in rows], labels))
        names.append(r.name)
        labels_of.append(labels)
    # macro over the labels present among the long documents (most rare labels are absent from them)
    present = [c.tp.sum(0) + c.fn.sum(0) > 0 for c in counts]
    sub = [bootstrap.DocCounts(c.tp[:, m], c.fp[:, m], c.fn[:, m], c.exact) for c, m in zip(counts, present)]
    points = [bootstrap.point_metrics(c) for c in sub]
    samples = bootstrap.bootstrap_metrics(sub, n_resamples=args.resamples, seed=0) if args.resamples else None
    base = paths.index(args.baseline) if args.baseline else None
    print("| run | documents | micro_f1 | macro_f1 | accuracy | Δ micro_f1 vs baseline (95% CI) | Δ macro_f1 | Δ accuracy |")
    print("|---|---:|---:|---:|---:|---|---|---|")
    for i, (name, p) in enumerate(zip(names, points)):
        cells = []
        for key in ("micro_f1", "macro_f1", "accuracy"):
            if base is None or i == base or samples is None:
                cells.append("baseline" if i == base else "")
                continue
            iv = bootstrap.interval(p[key] - points[base][key], samples[i][key] - samples[base][key])
            mark = "" if iv.significant else " n.s."
            cells.append(f"{iv.value:+.4f} [{iv.low:+.4f}, {iv.high:+.4f}]{mark}")
        print(f"| {name} | {len(sub[i].exact)} | {p['micro_f1']:.4f} | {p['macro_f1']:.4f} | {p['accuracy']:.4f} | "
              + " | ".join(cells) + " |")
    print(f"\nmacro_f1 over the {int(present[0].sum())} labels with a gold document among them")


if __name__ == "__main__":
    main()
