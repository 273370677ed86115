"""Training throughput: our engine against the naive and the STRONGEST stock `transformers.Trainer` recipes,
each of our own changes ablated one at a time, and the raw encoder's limit on this CPU.

    flock /tmp/trainer-cpu.lock python scripts/bench_train.py configs/reuters-topics-minilm.yaml \
        model.max_length=128 --steps 120 --json bench-train-128.json

Recipes (same data, max length, batch size, threads, seed and number of optimizer steps):
  naive   the transformers text-classification example: AutoModelForSequenceClassification (CLS pooler head),
          every text padded to max_length in a `.map`, fp32, random batches, lr 5e-5
  stock   the strongest stock recipe a user switches on: the same stock model, `bf16=True`, dynamic padding
          by the Trainer's collator (DataCollatorWithPadding), `train_sampling_strategy="group_by_length"`,
          lr 5e-5; the library's default attention kernel (SDPA) and the checkpoint's attention dropout (0.1)
  ours    the engine as the config sets it up (scripts use trainer's own make_trainer): mean pooling,
          prior bias, head lr x10, bf16, dynamic padding, length-grouped batches, eager attention,
          no attention-probability dropout
  ours-X  ours with one change reverted (the ablation): X = eager (-> sdpa), no-attn-dropout (-> 0.1),
          bf16 (-> fp32), length-grouping (-> random batches)
  ours@stock-speed  ours with every speed change of ours reverted to the stock setting (sdpa, attention
          dropout 0.1; bf16, dynamic padding and length grouping as stock has them): the same objective and
          head as ours, so its validation F1 is the equal-quality anchor for ours

Every recipe is scored on validation (micro-F1 at 0.5). Tokens/s counts real (non-padding) tokens.
The limit: the bare encoder (no Trainer, no head, no data loader), bf16 autocast, one fixed batch of
`batch` x max_length real tokens, forward and forward+backward, tokens/s.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ABLATIONS = {   # name -> run-config overrides that revert one of our changes to the stock setting
    "ours-eager": ["model.attention=sdpa"],
    "ours-no-attn-dropout": ["model.attention_dropout=0.1"],
    "ours-bf16": ["train.precision=fp32"],
    "ours-length-grouping": ["train.group_by_length=false"],
    "ours@stock-speed": ["model.attention=sdpa", "model.attention_dropout=0.1"],
}
ALL = ["naive", "stock", "ours", *ABLATIONS]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", nargs="?", default="configs/reuters-topics-minilm.yaml")
    p.add_argument("overrides", nargs="*", help="dotted run-config overrides, e.g. model.max_length=128")
    p.add_argument("--steps", type=int, default=120, help="optimizer steps for each recipe")
    p.add_argument("--eval-limit", type=int, default=None, help="score only the first N validation texts")
    p.add_argument("--stock-lr", type=float, default=5e-5, help="learning rate of the stock recipes")
    p.add_argument("--recipes", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)}")
    p.add_argument("--no-limit", action="store_true", help="skip the raw-encoder limit")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = p.parse_args(argv)
    recipes = [r for r in a.recipes.split(",") if r]
    unknown = set(recipes) - set(ALL)
    if unknown:
        p.error(f"unknown recipes {sorted(unknown)}; known: {ALL}")

    from trainer import hardware
    results, started = {}, time.time()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        base = [*a.overrides, f"train.max_steps={a.steps}", "train.early_stopping_patience=null", "train.resume=false"]
        cfg = load(a.config, base, tmp)
        print(f"{a.steps} steps, batch {cfg.train.batch_size}, max_length {cfg.model.max_length}, "
              f"model {cfg.model.name}; {hardware.cpu_model()}, {hardware.cores_available()} cores; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
        if not a.no_limit:
            results["limit"] = raw_limit(cfg)
            print(f"limit (bare encoder, bf16 autocast, [{cfg.train.batch_size}, {cfg.model.max_length}]): "
                  f"forward {results['limit']['forward_tokens_per_s']:.0f} tokens/s, forward+backward "
                  f"{results['limit']['train_tokens_per_s']:.0f} tokens/s", flush=True)
        for name in recipes:
            if name == "naive":
                r = bench_stock(cfg, a.eval_limit, a.stock_lr, Path(tmp), strongest=False)
            elif name == "stock":
                r = bench_stock(cfg, a.eval_limit, a.stock_lr, Path(tmp), strongest=True)
            else:
                r = bench_ours(load(a.config, base + ABLATIONS.get(name, []), tmp), a.eval_limit)
            results[name] = r
            print(f"  {name:22} {r['train_examples_per_s']:7.2f} ex/s  {r['train_tokens_per_s']:7.0f} tok/s  "
                  f"val micro-F1 {r.get('validation_micro_f1', float('nan')):.4f}", flush=True)
    results["meta"] = {"steps": a.steps, "batch_size": cfg.train.batch_size, "max_length": cfg.model.max_length,
                       "cpu": hardware.cpu_model(), "cores": hardware.cores_available(),
                       "seconds": round(time.time() - started, 1), "load_average_end": os.getloadavg()[0]}
    report(results)
    if a.json:
        a.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


def load(config, overrides, out_dir):
    from trainer.config import RunConfig, load_config
    cfg = load_config(config, RunConfig, list(overrides))
    cfg.output.dir, cfg.output.name = str(out_dir), "bench"
    return cfg


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


def bench_stock(cfg, eval_limit, lr, tmp: Path, strongest: bool):
    """naive (strongest=False) or the strongest stock recipe: stock model class, stock Trainer."""
    import torch
    from transformers import (AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer,
                              TrainingArguments)

    from trainer.models.transformer.hf_trainer import ThroughputCallback, metrics_fn

    precision, run = prepared(cfg)     # threads and seed as for ours; same label space and truncated token ids
    tok, n_labels, max_len = run.tokenizer, len(run.space.labels), cfg.model.max_length
    multi = cfg.task.problem == "multi_label"
    if strongest:   # the collator pads each batch to its longest text
        data = {s: ds.remove_columns([c for c in ("id",) if c in ds.column_names]) for s, ds in run.tokenized.items()}
        collator = DataCollatorWithPadding(tok)
    else:           # every text padded to max_length up front
        data = {s: ds.map(lambda b: tok.pad({"input_ids": b["input_ids"], "attention_mask": b["attention_mask"]},
                                            padding="max_length", max_length=max_len),
                          batched=True, remove_columns=["input_ids", "attention_mask"] +
                          [c for c in ("token_type_ids", "length", "id") if c in ds.column_names],
                          keep_in_memory=True, desc=f"padding {s}")
                for s, ds in run.tokenized.items()}
        collator = None
    model = AutoModelForSequenceClassification.from_pretrained(
        run.model_path, num_labels=n_labels, dtype=torch.float32,
        problem_type="multi_label_classification" if multi else "single_label_classification")
    bf16 = strongest and precision == "bf16"
    args = TrainingArguments(
        output_dir=str(tmp / ("stock" if strongest else "naive")), max_steps=cfg.train.max_steps,
        per_device_train_batch_size=cfg.train.batch_size, per_device_eval_batch_size=cfg.eval.batch_size,
        learning_rate=lr, seed=cfg.train.seed, bf16=bf16,
        train_sampling_strategy="group_by_length" if strongest else "random", length_column_name="length",
        use_cpu=not torch.cuda.is_available(), report_to="none", save_strategy="no", eval_strategy="no",
        logging_steps=max(1, cfg.train.max_steps // 5), include_num_input_tokens_seen="non_padding",
        dataloader_pin_memory=torch.cuda.is_available(), disable_tqdm=True)
    meter = ThroughputCallback()
    trainer = Trainer(model=model, args=args, train_dataset=data["train"], eval_dataset=data.get("validation"),
                      data_collator=collator, compute_metrics=metrics_fn(run.spaces),
                      callbacks=[meter])
    return measure(trainer, meter, data, eval_limit, precision="bf16" if bf16 else "fp32")


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


def raw_limit(cfg, repeats: int = 6) -> dict:
    """Bare encoder tokens/s at the training precision: forward only, and forward + backward (with the
    eager kernel and no dropout, the fastest settings measured); no padding, no framework around it."""
    import torch
    from transformers import AutoModel

    from trainer.models.transformer.fitting import setup_process
    from trainer.models.transformer.network import set_attention_dropout
    from trainer.models.transformer.pretrained import resolve_model_path
    from transformers import AutoConfig

    precision = setup_process(cfg)
    path = resolve_model_path(cfg.model.name)
    enc_cfg = AutoConfig.from_pretrained(path)
    set_attention_dropout(enc_cfg, 0.0)
    enc_cfg.hidden_dropout_prob = 0.0
    model = AutoModel.from_pretrained(path, config=enc_cfg, attn_implementation="eager")
    batch, length = cfg.train.batch_size, cfg.model.max_length
    ids = torch.randint(1000, enc_cfg.vocab_size - 1, (batch, length))
    mask = torch.ones_like(ids)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    out = {"precision": precision, "batch": batch, "length": length}

    def step(train: bool):
        with torch.autocast("cpu", dtype=dtype, enabled=dtype == torch.bfloat16):
            hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        if train:
            hidden.float().mean().backward()

    for key, train in (("forward_tokens_per_s", False), ("train_tokens_per_s", True)):
        model.train(train)
        with torch.set_grad_enabled(train):
            step(train)   # warm-up: kernels for this shape
            best = float("inf")
            for _ in range(repeats):
                t = time.perf_counter()
                step(train)
                best = min(best, time.perf_counter() - t)
        model.zero_grad(set_to_none=True)
        out[key] = batch * length / best
    return out


def report(results: dict) -> None:
    meta = results["meta"]
    limit = results.get("limit", {}).get("train_tokens_per_s")
    print(f"\n{meta['steps']} steps, batch {meta['batch_size']}, max_length {meta['max_length']}, "
          f"{meta['cpu']} ({meta['cores']} cores), {meta['seconds']:.0f} s in all")
    print(f"{'recipe':22} {'examples/s':>11} {'tokens/s':>9} {'of limit':>9} {'train s':>8} {'val micro-F1':>13} "
          f"{'macro-F1':>9}  precision")
    for name, r in results.items():
        if name in ("meta", "limit"):
            continue
        share = f"{r['train_tokens_per_s'] / limit:.0%}" if limit else ""
        print(f"{name:22} {r['train_examples_per_s']:>11.2f} {r['train_tokens_per_s']:>9.0f} {share:>9} "
              f"{r['train_seconds']:>8.1f} {r.get('validation_micro_f1', float('nan')):>13.4f} "
              f"{r.get('validation_macro_f1', float('nan')):>9.4f}  {r['precision']}")
    if limit:
        print(f"{'limit (bare encoder)':22} {'':>11} {limit:>9.0f} {'100%':>9}   forward only: "
              f"{results['limit']['forward_tokens_per_s']:.0f} tokens/s")
    ours = results.get("ours")
    if ours:
        for anchor in ("stock", "naive", "ours@stock-speed"):
            if anchor in results and results[anchor]["train_examples_per_s"]:
                ratio = ours["train_examples_per_s"] / results[anchor]["train_examples_per_s"]
                df1 = ours.get("validation_micro_f1", float("nan")) - results[anchor].get("validation_micro_f1",
                                                                                         float("nan"))
                print(f"ours / {anchor}: {ratio:.2f}x examples/s (val micro-F1 {df1:+.4f})")
        for name in ABLATIONS:
            if name in results and name != "ours@stock-speed":
                print(f"contribution of {name[5:]:18}: {ours['train_examples_per_s'] / results[name]['train_examples_per_s']:.2f}x "
                      f"(val micro-F1 {ours.get('validation_micro_f1', float('nan')) - results[name].get('validation_micro_f1', float('nan')):+.4f})")


if __name__ == "__main__":
    sys.exit(main())
