"""Inference throughput: `Predictor` (torch and ONNX Runtime) against the naive and the STRONGEST stock
`transformers.pipeline` recipes on the same model, each of our changes ablated, and the raw encoder's limit.

    flock /tmp/trainer-cpu.lock python scripts/bench_predict.py --run runs/reuters-topics-minilm --n 500
    python scripts/bench_predict.py --n 300            # MiniLM + a linear-probe head, no trained run needed
    python scripts/bench_predict.py --run runs/reuters-multitask-minilm --targets-vs runs/reuters-topics-minilm
                                                       # what answering topic AND region costs over topic alone
    python scripts/bench_predict.py --run runs/reuters-topics-minilm --long-n 200
                                                       # chunk-and-pool on long texts: docs/s and windows/s

Per max length (--lengths, default 128 and 256; the run's own length is the trained one, shorter ones
truncate the same model), on the Reuters-21578 ModApte test texts:
  naive     pipeline("text-classification"), fp32 model, its default batch size (1)
  stock     the strongest stock recipe: pipeline with the bf16 model and the best of --pipeline-batch-sizes
            (searched here, every size printed); it pads each batch to its longest text
  ours      Predictor, torch: bf16 weights, texts sorted by length so each batch pads little, lengths rounded
            up to a multiple of 16 (fewer distinct shapes for oneDNN), batch 32
  onnx      Predictor --runtime onnx: the run's ONNX export (fp32) through ONNX Runtime; onnx-int8 its
            dynamically quantized export
  ablations ours without length sorting, ours in fp32, ours without the multiple-of-16 rounding
  limit     the bare encoder forward (no tokenizer, no head, no padding) at bf16 on [32, length] tokens

Each figure is the fastest of two passes after a warm-up pass (which compiles bf16 kernels per input shape,
as a server's warm-up would). Label sets are compared at 0.5 with the strongest stock recipe's and with torch fp32.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def reuters_docs(archive: str | None, split: str, n: int) -> tuple[list[str], list[list[str]]]:
    """Texts and topic lists of the first `n` ModApte documents of `split` that have topics."""
    from trainer.data.config import SourceConfig
    from trainer.data.readers import read_articles
    source = SourceConfig(kind="reuters", path=archive, download=False)
    docs = [a for a in read_articles(source) if getattr(a, "split", None) == split and a.topics][:n]
    return [a.text for a in docs], [list(a.topics) for a in docs]


def untrained_run(model_name: str, max_length: int, labels: list[str], root: Path) -> Path:
    """A run directory under `root` holding `model_name`'s pretrained encoder with a new head."""
    from transformers import AutoTokenizer

    from trainer.contracts import ModelSpec, Target
    from trainer.models.transformer import TransformerClassifier
    from trainer.models.transformer.network import build_classifier
    from trainer.models.transformer.pretrained import resolve_model_path
    path = resolve_model_path(model_name)
    model = build_classifier(path, labels, "multi_label")
    run = root / "run"
    spec = ModelSpec("transformer", [Target("topics", "multi_label", tuple(labels))],
                     {"max_length": max_length, "truncation": "head", "pooling": "mean"})
    TransformerClassifier(model, AutoTokenizer.from_pretrained(path), spec).save(run / "model")
    return run


def fit_probe(run: Path, texts: list[str], topics: list[list[str]], steps: int = 300) -> None:
    """Train only the head (a linear probe on frozen mean-pooled embeddings), so that agreement figures
    mean something; the encoder, and so the throughput, is unchanged."""
    import torch

    from trainer.metrics import multi_hot
    from trainer.models import ScoreOptions, load_model
    loaded = load_model(run / "model", ScoreOptions(precision="fp32"))
    scorer = loaded.scorer
    model, labels = scorer.model, list(loaded.spec.primary.labels)
    feats = []
    model.classifier.register_forward_hook(lambda mod, inp, out: feats.append(inp[0].detach().clone()))
    enc = scorer.encode(texts)
    order = sorted(range(len(texts)), key=lambda i: len(enc["input_ids"][i]), reverse=True)
    scorer.forward_encoded(enc)
    x = torch.empty(len(texts), feats[0].shape[1])
    x[torch.tensor(order)] = torch.cat(feats)
    y = torch.tensor(multi_hot(topics, labels), dtype=torch.float32)
    head = torch.nn.Linear(x.shape[1], len(labels))
    opt = torch.optim.Adam(head.parameters(), lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(head(x), y).backward()
        opt.step()
    model.classifier.load_state_dict(head.state_dict())
    loaded.save(run / "model")


REPEATS = 2


def timed(fn, texts):
    """(output, seconds): the fastest of REPEATS passes after a warm-up pass (on a shared machine the fastest
    pass is the one least disturbed by other processes)."""
    out = fn(texts)
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn(texts)
        best = min(best, time.perf_counter() - start)
    return out, best


def make_pipeline(model, tokenizer, labels, problem, max_length):
    from transformers import pipeline
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, top_k=None,
                    function_to_apply="sigmoid" if problem == "multi_label" else "softmax",
                    truncation=True, max_length=max_length, device="cpu")
    index = {label: j for j, label in enumerate(labels)}

    def run(texts, batch_size):
        out = np.zeros((len(texts), len(index)), dtype=np.float32)
        for i, row in enumerate(pipe(list(texts), batch_size=batch_size)):
            for item in row:
                out[i, index[item["label"]]] = item["score"]
        return out
    return run


def unsorted_scores(scorer, texts):
    """Ablation: ours without length sorting (batches in input order, each padded to its longest)."""
    import torch

    from trainer.decisions import to_probabilities
    enc = scorer.encode(texts)
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), scorer.batch_size):
            rows = range(start, min(start + scorer.batch_size, len(texts)))
            batch = scorer._pad({k: [enc[k][i] for i in rows] for k in enc})
            out.append(scorer.model(**batch).logits.float().numpy())
    return to_probabilities(np.concatenate(out), scorer.spec.primary.problem)


def encoder_limit(encoder, length: int, batch: int = 32, repeats: int = 5) -> float:
    """Bare encoder forward tokens/s at its current dtype: one fixed batch of real-vocabulary ids."""
    import torch
    ids = torch.randint(1000, 20000, (batch, length))
    mask = torch.ones_like(ids)
    best = float("inf")
    with torch.inference_mode():
        encoder(input_ids=ids, attention_mask=mask)
        for _ in range(repeats):
            t = time.perf_counter()
            encoder(input_ids=ids, attention_mask=mask)
            best = min(best, time.perf_counter() - t)
    return batch * length / best


def agree(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(((a >= 0.5) == (b >= 0.5)).all(axis=1)))


def micro_f1(scores, gold, labels) -> float:
    from trainer.metrics import compute_metrics
    return float(compute_metrics(gold, (scores >= 0.5).astype(np.int8), labels, "multi_label")["micro_f1"])


def bench_length(run: Path, texts, gold, length: int, args) -> dict:
    import torch

    from trainer.serving.predictor import Predictor
    rows: dict[str, dict] = {}

    def load(**options):
        p = Predictor.load(run, batch_size=args.batch_size, **options)
        p.model.scorer.max_length = length
        return p

    fp32 = load(precision="fp32")
    labels, problem = fp32.labels, fp32.problem
    tokens = sum(len(ids) for ids in fp32.model.scorer.encode(texts)["input_ids"])   # real tokens at this length

    def record(name, scores, seconds, note=""):
        rows[name] = {"docs_per_s": len(texts) / seconds, "tokens_per_s": tokens / seconds, "scores": scores,
                      "note": note}
        print(f"  {name:26} {len(texts) / seconds:8.1f} docs/s  {note}", flush=True)

    pipe32 = make_pipeline(fp32.model.scorer.model, fp32.model.scorer.tokenizer, labels, problem, length)
    scores, s = timed(lambda t: pipe32(t, 1), texts)
    record("naive: pipeline fp32 b1", scores, s)
    bf16 = load(precision="bf16")
    pipe16 = make_pipeline(bf16.model.scorer.model, bf16.model.scorer.tokenizer, labels, problem, length)
    stock = {}
    for b in args.pipeline_batch_sizes:
        scores, s = timed(lambda t: pipe16(t, b), texts)
        record(f"pipeline bf16 b{b}", scores, s)
        stock[b] = rows[f"pipeline bf16 b{b}"]
    best_b = max(stock, key=lambda b: stock[b]["docs_per_s"])
    rows["stock"] = {**stock[best_b], "note": f"pipeline bf16, best batch size {best_b}"}
    scorer = bf16.model.scorer
    record("ours: Predictor bf16", *timed(lambda t: scorer.score(t)["topics"], texts), "sorted, pad to x16, b32")
    record("ours - length sorting", *timed(lambda t: unsorted_scores(scorer, t), texts), "input order")
    scorer.pad_multiple = 1
    record("ours - x16 rounding", *timed(lambda t: scorer.score(t)["topics"], texts), "pad to the longest only")
    scorer.pad_multiple = 16
    ref = fp32.model.scorer
    record("ours - bf16 (fp32)", *timed(lambda t: ref.score(t)["topics"], texts), "the fp32 reference")
    if args.compile:
        compiled = load(precision="bf16").model.scorer
        compiled.model.encoder = torch.compile(compiled.model.encoder, dynamic=True)
        record("ours + torch.compile", *timed(lambda t: compiled.score(t)["topics"], texts), "inductor, dynamic")
    for quantize in ("none", "int8"):
        try:
            onnx = load(runtime="onnx", quantize=quantize).model.scorer
        except Exception as exc:  # noqa: BLE001 - report and go on
            print(f"  onnx {quantize}: {exc}")
            continue
        onnx.max_length = length
        name = "ours: onnx fp32" if quantize == "none" else "ours: onnx int8"
        record(name, *timed(lambda t: onnx.score(t)["topics"], texts), "ONNX Runtime, sorted batches")
    limit = encoder_limit(bf16.model.scorer.model.encoder, length)
    fp32_ref, stock_scores = rows["ours - bf16 (fp32)"]["scores"], rows["stock"]["scores"]
    for r in rows.values():
        r["agree_stock"], r["agree_fp32"] = agree(r["scores"], stock_scores), agree(r["scores"], fp32_ref)
        r["micro_f1"] = micro_f1(r["scores"], gold, labels) if gold and problem == "multi_label" else None
        r["of_limit"] = r["tokens_per_s"] / limit
    return {"rows": rows, "limit_tokens_per_s": limit, "real_tokens_per_doc": tokens / len(texts)}


def report(length: int, result: dict, n: int) -> None:
    rows, stock = result["rows"], result["rows"]["stock"]
    print(f"\nmax_length {length}: {n} texts, {result['real_tokens_per_doc']:.0f} real tokens/doc; limit (bare encoder "
          f"forward, bf16, [32, {length}]): {result['limit_tokens_per_s']:.0f} tokens/s")
    print(f"{'recipe':26} {'docs/s':>8} {'x stock':>8} {'tokens/s':>9} {'of limit':>9} {'=stock':>7} {'=fp32':>7} "
          f"{'micro-F1':>9}")
    for name, r in rows.items():
        f1 = f"{r['micro_f1']:.4f}" if r["micro_f1"] is not None else ""
        print(f"{name:26} {r['docs_per_s']:8.1f} {r['docs_per_s'] / stock['docs_per_s']:7.2f}x "
              f"{r['tokens_per_s']:9.0f} {r['of_limit']:9.0%} {r['agree_stock']:7.1%} {r['agree_fp32']:7.1%} {f1:>9}")
    print(f"stock = {stock['note']}; =stock / =fp32: label sets at 0.5 equal to the stock recipe's / torch fp32's")
    ours = [k for k in rows if k.startswith("ours:")]
    best_equal = max((k for k in ours if rows[k]["agree_stock"] >= 0.995), key=lambda k: rows[k]["docs_per_s"],
                     default=None)
    if best_equal:
        r = rows[best_equal]
        print(f"headline: {best_equal} {r['docs_per_s'] / stock['docs_per_s']:.2f}x the strongest stock recipe "
              f"(label sets agree on {r['agree_stock']:.1%}), {r['docs_per_s'] / rows['naive: pipeline fp32 b1']['docs_per_s']:.2f}x "
              f"the naive one; at {r['of_limit']:.0%} of the bare encoder's tokens/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="run directory (default: --model with a linear-probe head)")
    parser.add_argument("--model", default="minilm-l6", help="encoder for the new head when --run is absent")
    parser.add_argument("--probe", type=int, default=1000, help="without --run: Reuters training docs for the probe")
    parser.add_argument("--lengths", default="128,256", help="max lengths to measure, comma-separated")
    parser.add_argument("--n", type=int, default=500, help="number of test texts")
    parser.add_argument("--batch-size", type=int, default=32, help="Predictor batch size")
    parser.add_argument("--pipeline-batch-sizes", default="8,16,32,64", help="the stock pipeline's batch sizes to try")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile of the encoder")
    parser.add_argument("--reuters", default=None, help="reuters21578.tar.gz (default: the data mirror)")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per recipe (the fastest counts)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--targets-vs", default=None, metavar="SINGLE_RUN",
                        help="only compare --run (several targets) with this one-target run: docs/s of Predictor "
                             "for each on the same texts, and the cost ratio")
    parser.add_argument("--long-n", type=int, default=0,
                        help="only measure chunk-and-pool: this many test texts longer than one window of --run, "
                             "read by their head and as pooled windows (the run's reading, or the default windows)")
    args = parser.parse_args()
    global REPEATS
    REPEATS = max(1, args.repeats)
    args.pipeline_batch_sizes = [int(b) for b in args.pipeline_batch_sizes.split(",")]

    if args.targets_vs:
        return bench_targets(args)
    if args.long_n:
        return bench_long(args)

    import torch
    import transformers

    from trainer import hardware
    from trainer.models import export_model
    transformers.logging.set_verbosity(transformers.logging.CRITICAL)
    texts, gold = reuters_docs(args.reuters, "test", args.n)
    scratch = tempfile.TemporaryDirectory(prefix="bench-run-")
    root = Path(scratch.name)
    if args.run:    # a copy of model/, so the ONNX export is written beside it and not into the run
        run = root / "run"
        shutil.copytree(Path(args.run) / "model", run / "model")
    else:
        train_texts, train_topics = reuters_docs(args.reuters, "train", max(args.probe, 1))
        labels = sorted({t for ts in train_topics for t in ts} | {t for ts in gold for t in ts})
        run = untrained_run(args.model, 256, labels, root)
        if args.probe:
            fit_probe(run, train_texts, train_topics)
    for quantize in ("none", "int8"):
        export_model(run, "onnx", quantize)
    print(f"{len(texts)} texts, {hardware.cpu_model()}, {hardware.cores_available()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), load average {os.getloadavg()[0]:.2f}; run {args.run or 'probe'}",
          flush=True)
    results = {}
    for length in [int(x) for x in args.lengths.split(",")]:
        print(f"max_length {length}:", flush=True)
        results[length] = bench_length(run, texts, gold, length, args)
    for length, result in results.items():
        report(length, result, len(texts))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if args.json:
        slim = {str(k): {**v, "rows": {n: {kk: vv for kk, vv in r.items() if kk != "scores"}
                                       for n, r in v["rows"].items()}} for k, v in results.items()}
        args.json.write_text(json.dumps(slim, indent=2) + "\n", encoding="utf-8")


def bench_targets(args) -> None:
    """Predictor docs/s of a several-target run and of a one-target run on the same texts (bf16 where the CPU
    has it, batch --batch-size): what the second target (its head, and the gazetteer when its answer combines
    the two) adds to one encoder pass."""
    from trainer import hardware
    from trainer.serving.predictor import Predictor
    texts, _ = reuters_docs(args.reuters, "test", args.n)
    runs = {"several targets": args.run, "one target": args.targets_vs}
    predictors = {name: Predictor.load(run, batch_size=args.batch_size) for name, run in runs.items()}
    for predictor in predictors.values():
        predictor.predict(texts)                               # warm-up (first-call kernel compilation)
    # passes alternate between the two models, so that a change of load on a shared machine hits both alike;
    # the fastest pass of each counts
    best = {name: float("inf") for name in runs}
    for _ in range(REPEATS):
        for name, predictor in predictors.items():
            start = time.perf_counter()
            predictor.predict(texts)
            best[name] = min(best[name], time.perf_counter() - start)
    rates = {name: len(texts) / seconds for name, seconds in best.items()}
    for name, predictor in predictors.items():
        heads = ", ".join(t.name for t in predictor.targets)
        combined = predictor.spec.settings.get("gazetteer", {}).get("targets", [])
        note = f" (+ gazetteer for {', '.join(combined)})" if combined else ""
        print(f"{name:<16} {rates[name]:8.1f} docs/s   {runs[name]}: {heads}{note}")
    print(f"{len(texts)} texts, {hardware.cpu_model()}, {hardware.cores_available()} cores, load average "
          f"{os.getloadavg()[0]:.2f}; cost of both targets: {rates['one target'] / rates['several targets']:.3f}x "
          "the time of the one-target model (target <= 1.10x)")


def bench_long(args) -> None:
    """docs/s and windows/s on texts longer than one window: head only vs chunk-and-pool. The windows pass
    grows linearly with text length (each window is encoded once, pooling is one pass over the windows)."""
    from trainer import hardware
    from trainer.models import HEAD_ONLY
    from trainer.models.transformer.reading import Reading, encode_windows, window_size
    from trainer.serving.predictor import Predictor
    if not args.run:
        raise SystemExit("--long-n needs --run (a transformer run)")
    model = Predictor.load(args.run, batch_size=args.batch_size).model
    scorer = model.scorer
    pool, _ = reuters_docs(args.reuters, "test", 10**6)
    texts = [t for t, long in zip(pool, model.long_text_mask(pool)) if long][:args.long_n]
    reading = scorer.reading if scorer.reading.windows else Reading("windows")
    _, owner = encode_windows(scorer.tokenizer, texts, scorer.max_length, reading.stride, reading.max_windows)
    window = window_size(scorer.tokenizer, scorer.max_length)
    print(f"{len(texts)} test documents over one window ({window} text tokens), {len(owner) / max(len(texts), 1):.2f} "
          f"windows per document ({reading.describe(scorer.max_length)}); {hardware.cpu_model()}, "
          f"{hardware.cores_available()} cores, load average {os.getloadavg()[0]:.2f}")
    for name, how in (("head only", HEAD_ONLY), ("windows", reading)):
        scorer.score(texts[:64], how)                       # warm-up (first-call kernel compilation)
        best = float("inf")
        for _ in range(REPEATS):
            start = time.perf_counter()
            scorer.score(texts, how)
            best = min(best, time.perf_counter() - start)
        windows = len(texts) if how == HEAD_ONLY else len(owner)
        print(f"  {name:<10} {len(texts) / best:8.1f} docs/s  {windows / best:8.1f} windows/s")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")   # a script, not the library: set for this process
    main()
