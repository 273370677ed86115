"""Throughput of `Predictor` against `transformers.pipeline("text-classification")` on the same model.

    python scripts/bench_predict.py --run runs/x --n 500              # a trained run
    python scripts/bench_predict.py --model minilm-l6 --n 500         # MiniLM + an untrained head
    flock /tmp/trainer-cpu.lock python scripts/bench_predict.py ...   # on a shared machine

Texts: the Reuters-21578 ModApte test documents (archive found via --reuters, TRAINER_DATA_MIRROR,
or the dataset of --dataset). Prints documents/s for the pipeline and each Predictor variant
(fp32, bf16 where the CPU has it, dynamic int8), the ratios fp32-vs-fp32 and best-vs-pipeline,
and how often the predictions agree with the pipeline's (top label; label set at 0.5).

Long texts (--long-n, default 200): the test documents longer than one window, scored by the
auto-precision Predictor reading only their head and reading them as pooled windows
(model.reading.mode: windows; the run's own stride and pool when it has them): documents/s and
windows/s of each, so the cost of chunk-and-pool is visible (it grows with text length, linearly).
"""
from __future__ import annotations

import argparse
import os
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


def dataset_docs(dataset_dir: str, split: str, n: int) -> tuple[list[str], list[list[str]] | None]:
    from trainer.data.dataset_io import load_dataset_dir
    dsd, _ = load_dataset_dir(dataset_dir)
    ds = dsd[split].select(range(min(n, len(dsd[split]))))
    return list(ds["text"]), list(ds["topics"]) if "topics" in ds.column_names else None


def untrained_run(model_name: str, max_length: int, labels: list[str], root: Path) -> tuple[Path, object]:
    """A run directory under `root` holding `model_name`'s pretrained encoder with a random head."""
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
    return run, model


def fit_probe(run: Path, texts: list[str], topics: list[list[str]], steps: int = 300) -> None:
    """Train only the head (a linear probe on frozen mean-pooled embeddings), so that agreement and
    accuracy figures mean something; the encoder, and so the throughput, is unchanged."""
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
    scorer.forward_encoded(enc)   # batches in `order`; the hook sees the pooled inputs batch by batch
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


def timed(fn, texts):
    """Seconds for one pass after a warm-up pass: steady state, as a server sees it (bf16 kernels are
    compiled per input shape on first use, which would otherwise be timed too)."""
    fn(texts)
    start = time.perf_counter()
    out = fn(texts)
    return out, time.perf_counter() - start


def pipeline_scores(predictor, texts, batch_size: int | None) -> tuple[np.ndarray, float]:
    from transformers import pipeline
    scorer = predictor.model.scorer
    pipe = pipeline("text-classification", model=scorer.model, tokenizer=scorer.tokenizer, top_k=None,
                    function_to_apply="sigmoid" if predictor.problem == "multi_label" else "softmax",
                    truncation=True, max_length=scorer.max_length, device="cpu")
    index = {label: j for j, label in enumerate(predictor.labels)}

    def run(batch):
        out = np.zeros((len(batch), len(index)), dtype=np.float32)
        results = pipe(list(batch), batch_size=batch_size) if batch_size else pipe(list(batch))
        for i, row in enumerate(results):
            for item in row:
                out[i, index[item["label"]]] = item["score"]
        return out
    return timed(run, texts)


def agreement(a: np.ndarray, b: np.ndarray, problem: str) -> str:
    top = float(np.mean(a.argmax(1) == b.argmax(1)))
    text = f"top label {top:.1%}"
    if problem == "multi_label":
        sets = float(np.mean(((a >= 0.5) == (b >= 0.5)).all(axis=1)))
        text += f", label set@0.5 {sets:.1%}"
    return text + f", max |score diff| {float(np.abs(a - b).max()):.4f}"


def micro_f1(scores: np.ndarray, gold: list[list[str]] | None, labels: list[str]) -> str:
    if gold is None:
        return ""
    from trainer.metrics import compute_metrics
    m = compute_metrics(gold, (scores >= 0.5).astype(np.int8), labels, "multi_label")
    return f"   micro-F1@0.5 vs gold {m['micro_f1']:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="run directory (default: --model with a new head)")
    parser.add_argument("--model", default="minilm-l6", help="encoder for the new head when --run is absent")
    parser.add_argument("--probe", type=int, default=1000,
                        help="without --run: fit the new head as a linear probe on this many Reuters training "
                             "documents (0: leave it untrained)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--n", type=int, default=300, help="number of test texts")
    parser.add_argument("--batch-size", type=int, default=32, help="Predictor batch size")
    parser.add_argument("--pipeline-batch-size", type=int, default=None, help="default: the pipeline's own (1)")
    parser.add_argument("--reuters", default=None, help="reuters21578.tar.gz (default: the data mirror)")
    parser.add_argument("--dataset", default=None, help="take texts from this dataset's test split instead")
    parser.add_argument("--long-n", type=int, default=200,
                        help="long test texts (over one window) for the chunk-and-pool measurement; 0: skip it")
    args = parser.parse_args()

    import torch
    import transformers

    from trainer.serving.predictor import Predictor
    # the pipeline logs every model class it knows, since PooledClassifier is not one of them
    transformers.logging.set_verbosity(transformers.logging.CRITICAL)
    texts, gold = (dataset_docs(args.dataset, "test", args.n) if args.dataset
                   else reuters_docs(args.reuters, "test", args.n))
    scratch = tempfile.TemporaryDirectory(prefix="bench-run-")   # the new run, removed at exit
    if args.run:
        run = Path(args.run)
    else:
        train_texts, train_topics = reuters_docs(args.reuters, "train", max(args.probe, 1))
        labels = sorted({t for ts in train_topics for t in ts} | {t for ts in gold or [] for t in ts})
        run, _ = untrained_run(args.model, args.max_length, labels, Path(scratch.name))
        if args.probe:
            fit_probe(run, train_texts, train_topics)
    print(f"{len(texts)} texts, torch {torch.__version__}, {torch.get_num_threads()} threads, run {run}")

    base = Predictor.load(run, precision="fp32", batch_size=args.batch_size)
    if base.model.scorer.truncation != "head":
        print(f"note: the run truncates {base.model.scorer.truncation}; the pipeline truncates the head, inputs differ")
    gold = gold if base.problem == "multi_label" else None
    ref, pipe_s = pipeline_scores(base, texts, args.pipeline_batch_size)
    rates = {"pipeline fp32": len(texts) / pipe_s}
    print(f"{'pipeline fp32':<22} {rates['pipeline fp32']:8.1f} docs/s{micro_f1(ref, gold, base.labels)}")
    variants = {"predictor fp32": base,
                "predictor auto": Predictor.load(run, precision="auto", batch_size=args.batch_size),
                "predictor int8": Predictor.load(run, quantize="int8", batch_size=args.batch_size)}
    for name, predictor in variants.items():
        scorer = predictor.model.scorer
        scores, seconds = timed(lambda batch: scorer.score(batch)[predictor.spec.primary.name], texts)
        rates[name] = len(texts) / seconds
        label = f"{name} ({scorer.precision})" if name.endswith("auto") else name
        print(f"{label:<22} {rates[name]:8.1f} docs/s{micro_f1(scores, gold, base.labels)}\n"
              f"{'':<22} agreement with pipeline: {agreement(scores, ref, base.problem)}")
    best = max((k for k in rates if k.startswith("predictor")), key=rates.get)
    print(f"fp32 vs fp32: {rates['predictor fp32'] / rates['pipeline fp32']:.2f}x   "
          f"best ({best}) vs pipeline: {rates[best] / rates['pipeline fp32']:.2f}x")
    if args.long_n:
        long_texts(variants["predictor auto"], args)


def long_texts(predictor, args) -> None:
    """docs/s on texts longer than one window: head only vs chunk-and-pool (the run's reading, or the default)."""
    from trainer.models import HEAD_ONLY
    from trainer.models.transformer.reading import Reading, encode_windows, window_size
    scorer = predictor.model.scorer
    pool = (dataset_docs(args.dataset, "test", 10**6) if args.dataset else reuters_docs(args.reuters, "test", 10**6))[0]
    mask = predictor.model.long_text_mask(pool)
    texts = [t for t, long in zip(pool, mask) if long][:args.long_n]
    reading = scorer.reading if scorer.reading.windows else Reading("windows")
    _, owner = encode_windows(scorer.tokenizer, texts, scorer.max_length, reading.stride, reading.max_windows)
    window = window_size(scorer.tokenizer, scorer.max_length)
    print(f"long texts: {len(texts)} test documents over one window ({window} text tokens), "
          f"{len(owner) / max(len(texts), 1):.2f} windows per document ({reading.describe(scorer.max_length)})")
    for name, how in (("head only", HEAD_ONLY), ("windows", reading)):
        _, seconds = timed(lambda batch: scorer.score(batch, how), texts)
        windows = len(texts) if how == HEAD_ONLY else len(owner)
        print(f"  {name:<12} {len(texts) / seconds:8.1f} docs/s  {windows / seconds:8.1f} windows/s")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")   # a script, not the library: set for this process
    main()
