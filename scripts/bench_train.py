"""Training throughput of our engine against a plain `transformers.Trainer` recipe, same model and data.

    flock /tmp/trainer-cpu.lock python scripts/bench_train.py configs/reuters-topics-minilm.yaml --steps 60

Ours: the engine's ClassifierTrainer as the config sets it up (mean pooling, prior bias, head lr x10,
bf16 where native, dynamic padding, length-grouped batches). Plain: AutoModelForSequenceClassification,
every text padded to max_length, fp32, random batches, lr 5e-5 (the transformers text-classification
example). Both run --steps optimizer steps with the same batch size, max length and threads, then are
scored on validation (micro-F1 at 0.5). Tokens/s counts real (non-padding) tokens.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", nargs="?", default="configs/reuters-topics-minilm.yaml")
    p.add_argument("overrides", nargs="*", help="dotted run-config overrides, e.g. model.max_length=128")
    p.add_argument("--steps", type=int, default=60, help="optimizer steps for each recipe")
    p.add_argument("--eval-limit", type=int, default=None, help="score only the first N validation texts")
    p.add_argument("--baseline-lr", type=float, default=5e-5)
    p.add_argument("--only", choices=["ours", "plain"], default=None, help="run one recipe only")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = p.parse_args(argv)

    from trainer.config import RunConfig, load_config
    cfg = load_config(a.config, RunConfig, [*a.overrides, f"train.max_steps={a.steps}",
                                            "train.early_stopping_patience=null", "train.resume=false"])
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        cfg.output.dir, cfg.output.name = tmp, "bench"
        results = {}
        if a.only in (None, "ours"):
            results["ours"] = bench_ours(cfg, a.eval_limit)
        if a.only in (None, "plain"):
            results["plain"] = bench_plain(cfg, a.eval_limit, a.baseline_lr, Path(tmp))
    report(results, cfg, a.steps)
    if a.json:
        a.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def prepared(cfg):
    """Threads, seed and precision as a run sets them; the run's label space and token ids."""
    from trainer.models import FitContext
    from trainer.models.transformer.fitting import prepare, setup_process
    from trainer.training.data import load_fit_data
    precision = setup_process(cfg)
    return precision, prepare(FitContext(cfg, load_fit_data(cfg), Path(cfg.output.dir)))


def bench_ours(cfg, eval_limit):
    from trainer.models.transformer.fitting import make_trainer, training_arguments
    precision, prep = prepared(cfg)
    args = training_arguments(cfg, Path(cfg.output.dir), precision)
    args.eval_strategy, args.save_strategy, args.load_best_model_at_end = "no", "no", False
    trainer, meter = make_trainer(cfg, args, prep, Path(cfg.output.dir))
    return measure(trainer, meter, prep.tokenized, eval_limit, precision=precision)


def bench_plain(cfg, eval_limit, lr, tmp: Path):
    import torch
    from transformers import AutoModelForSequenceClassification, Trainer, TrainingArguments

    from trainer.models.transformer.hf_trainer import ThroughputCallback, metrics_fn

    _, run = prepared(cfg)           # threads and seed as for ours; same label space and truncated token ids ...
    tok, n_labels, max_len = run.tokenizer, len(run.space.labels), cfg.model.max_length
    multi = cfg.task.problem == "multi_label"
    data = {s: ds.map(lambda b: tok.pad({"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]},
                                        padding="max_length", max_length=max_len),
                      batched=True, remove_columns=["input_ids", "attention_mask"] +
                      [c for c in ("token_type_ids", "length", "id") if c in ds.column_names],
                      keep_in_memory=True, desc=f"padding {s}")   # ... padded to max_length
            for s, ds in run.tokenized.items()}
    model = AutoModelForSequenceClassification.from_pretrained(
        run.model_path, num_labels=n_labels, dtype=torch.float32,
        problem_type="multi_label_classification" if multi else "single_label_classification")
    args = TrainingArguments(
        output_dir=str(tmp / "plain"), max_steps=cfg.train.max_steps, per_device_train_batch_size=cfg.train.batch_size,
        per_device_eval_batch_size=cfg.eval.batch_size, learning_rate=lr, seed=cfg.train.seed,
        use_cpu=not torch.cuda.is_available(), report_to="none", save_strategy="no", eval_strategy="no",
        logging_steps=max(1, cfg.train.max_steps // 5), include_num_input_tokens_seen="non_padding",
        dataloader_pin_memory=torch.cuda.is_available(), disable_tqdm=True)
    meter = ThroughputCallback()
    trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data.get("validation"),
                      compute_metrics=metrics_fn(run.spaces), callbacks=[meter])
    return measure(trainer, meter, data, eval_limit, precision="fp32")


def measure(trainer, meter, data, eval_limit, precision):
    started = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - started
    args = trainer.args
    out = {**meter.summary(args.train_batch_size * args.gradient_accumulation_steps * args.world_size),
           "wall_seconds": round(wall, 2), "precision": precision}
    if "validation" in data:
        val = data["validation"]
        val = val.select(range(min(eval_limit, len(val)))) if eval_limit else val
        metrics = trainer.evaluate(val)
        out.update(validation_micro_f1=round(metrics["eval_micro_f1"], 4),
                   validation_macro_f1=round(metrics["eval_macro_f1"], 4), validation_examples=len(val))
    return out


def report(results: dict, cfg, steps: int) -> None:
    print(f"\n{steps} steps, batch {cfg.train.batch_size}, max_length {cfg.model.max_length}, model {cfg.model.name}")
    print(f"{'recipe':8} {'examples/s':>11} {'tokens/s':>10} {'train s':>8} {'val micro-F1':>13} {'macro-F1':>9}  precision")
    for name, r in results.items():
        print(f"{name:8} {r['train_examples_per_s']:>11.2f} {r['train_tokens_per_s']:>10.0f} {r['train_seconds']:>8.1f} "
              f"{r.get('validation_micro_f1', float('nan')):>13.4f} {r.get('validation_macro_f1', float('nan')):>9.4f}  "
              f"{r['precision']}")
    if {"ours", "plain"} <= set(results) and results["plain"]["train_examples_per_s"]:
        ratio = results["ours"]["train_examples_per_s"] / results["plain"]["train_examples_per_s"]
        print(f"speed-up (examples/s, ours / plain): {ratio:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
