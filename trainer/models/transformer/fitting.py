"""Fine-tune a PooledClassifier with `transformers.Trainer`: threads, seed, precision, tokenization,
training arguments, resume from the newest complete checkpoint. Under torchrun every rank runs this."""
from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from trainer import hardware, metric_names
from trainer.atomic import atomic_write_jsonl
from trainer.contracts import CHECKPOINTS, TRAIN_LOG, read_train_log
from trainer.data.label_space import LabelSpace
from trainer.events import Progress, notice
from trainer.models.base import FitContext
from trainer.models.transformer.hf_trainer import COMPLETE_MARKER, resume_message



@dataclass
class Prepared:
    """What training needs beyond the config: tokenizer, tokenized splits, the encoder's weights."""
    tokenizer: object
    tokenized: object          # datasets.DatasetDict with input_ids, labels, length
    spaces: list[LabelSpace]
    model_path: str

    @property
    def space(self) -> LabelSpace:
        """The first target's label space (one-target runs)."""
        return self.spaces[0]


def setup_process(cfg, progress: Progress = None) -> str:
    """Threads and seed for this process; return the training precision ("bf16" or "fp32"). A slow
    precision is said as a notice to `progress` (trainer.events)."""
    import torch
    import transformers

    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    torch.set_num_threads(hardware.thread_count(cfg.train.threads, local_world))
    transformers.set_seed(cfg.train.seed)
    precision = hardware.resolve_precision(cfg.train.precision)
    if precision == "bf16" and not hardware.bf16_available():
        notice(progress, "warning: train.precision bf16 on hardware without native bf16; this is slower than fp32")
    return precision


def fit_network(ctx: FitContext):
    """Train as ctx.cfg says; return (network with the best weights, tokenizer, stats for meta.json)."""
    import torch

    cfg = ctx.cfg
    precision = setup_process(cfg, ctx.progress)
    args = training_arguments(cfg, ctx.run_dir, precision)
    with args.main_process_first(desc="tokenization"):
        prepared = prepare(ctx)
    trainer, throughput = make_trainer(cfg, args, prepared, ctx.run_dir, ctx.progress, ctx.loop_output)
    checkpoint = resume_checkpoint(Path(args.output_dir), ctx.is_main, ctx.progress) if cfg.train.resume else None
    if checkpoint is not None and ctx.is_main:
        forget_log_after(ctx.run_dir, checkpoint_step(checkpoint))
        notice(ctx.progress, resume_message(checkpoint, trainer))
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    wall = time.perf_counter() - started
    per_step = args.train_batch_size * args.gradient_accumulation_steps * args.world_size
    stats = {**throughput.summary(per_step), "train_wall_seconds": round(wall, 2), "precision": precision,
             "torch_threads": torch.get_num_threads(),
             "resumed_from": str(checkpoint.relative_to(ctx.run_dir)) if checkpoint else None,
             "best_checkpoint": _relative(trainer.state.best_model_checkpoint, ctx.run_dir),
             "global_step": trainer.state.global_step, "max_steps": trainer.state.max_steps,
             "early_stopping": _early_stopping(trainer)}
    return trainer.model, prepared.tokenizer, stats


def _early_stopping(trainer) -> dict | None:
    """meta.json's record of why training stopped before max_steps (None: it ran to max_steps)."""
    from trainer.models.transformer.hf_trainer import AnnouncedEarlyStopping
    return next((cb.record for cb in trainer.callback_handler.callbacks if isinstance(cb, AnnouncedEarlyStopping)),
                None)


def prepare(ctx: FitContext) -> Prepared:
    from transformers import AutoTokenizer

    from trainer.models.transformer.pretrained import resolve_model_path
    from trainer.models.transformer.reading import Reading
    from trainer.models.transformer.tokenized import tokenize_splits

    model = ctx.cfg.model
    model_path = resolve_model_path(model.name)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    tokenized = tokenize_splits(ctx.data.splits, ctx.data.dataset_dir, tokenizer, ctx.data.spaces,
                                model.max_length, model.truncation, reading=Reading.from_config(model.reading))
    return Prepared(tokenizer, tokenized, list(ctx.data.spaces), model_path)


def training_arguments(cfg, run_dir: Path, precision: str):
    import torch
    from transformers import TrainingArguments

    t, every = cfg.train, cfg.train.eval_every
    strategy = "epoch" if every == "epoch" else "steps"
    return TrainingArguments(
        output_dir=str(Path(run_dir) / CHECKPOINTS),
        num_train_epochs=t.epochs, max_steps=t.max_steps or -1,
        per_device_train_batch_size=t.batch_size, per_device_eval_batch_size=cfg.eval.batch_size,
        gradient_accumulation_steps=t.gradient_accumulation,
        learning_rate=t.learning_rate, weight_decay=t.weight_decay, warmup_steps=t.warmup_ratio,
        lr_scheduler_type="linear", seed=t.seed, bf16=precision == "bf16",
        eval_strategy=strategy, save_strategy=strategy,
        eval_steps=None if every == "epoch" else every, save_steps=None if every == "epoch" else every,
        save_total_limit=2, load_best_model_at_end=True,   # make_trainer turns evaluation off without validation
        # early stopping's count of evaluations without improvement is saved in each checkpoint; a resumed
        # run that started it at 0 again would train longer than the run it continues
        restore_callback_states_from_checkpoint=True,
        metric_for_best_model=f"eval_{cfg.eval.metric}",
        greater_is_better=metric_names.higher_is_better(cfg.eval.metric),
        logging_strategy="steps", logging_steps=t.logging_steps, logging_first_step=True,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        length_column_name="length", include_num_input_tokens_seen="non_padding",
        # MLflow logging is trainer.tracking.log_run's job (one MLflow run per run dir), not the HF callback's
        report_to="none", run_name=cfg.output.name,
        use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        ddp_find_unused_parameters=False,   # every parameter gets a gradient (the encoder pooler is dropped)
        disable_tqdm=not sys.stderr.isatty(),
    )


def make_trainer(cfg, args, prepared: Prepared, run_dir: Path, progress: Progress = None, loop_output: bool = True):
    """The configured ClassifierTrainer and its throughput meter (also used by scripts/bench_train.py).
    `progress` gets the training events (ProgressEvents); `loop_output=False` drops the Trainer's own
    progress bar and log printing."""
    from transformers import DataCollatorWithPadding

    from trainer.models.transformer.hf_trainer import (AnnouncedEarlyStopping, ClassifierTrainer, JsonlLogCallback,
                                                       LogAtEvaluation, ProgressEvents, ThroughputCallback,
                                                       metrics_fn)

    tokenized = prepared.tokenized
    has_eval = "validation" in tokenized
    if not has_eval:
        args.eval_strategy, args.load_best_model_at_end = "no", False
    throughput = ThroughputCallback()
    callbacks = [LogAtEvaluation(), JsonlLogCallback(run_dir), throughput]
    if progress is not None:
        callbacks.append(ProgressEvents(progress, early_stopping=lambda: _early_stopping(trainer)))
    if has_eval and cfg.train.early_stopping_patience:
        callbacks.append(AnnouncedEarlyStopping(cfg.train.early_stopping_patience, run_dir=run_dir))
    trainer = ClassifierTrainer(
        model=build_network(cfg, prepared), args=args, train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"] if has_eval else None,
        data_collator=DataCollatorWithPadding(prepared.tokenizer), processing_class=prepared.tokenizer,
        compute_metrics=metrics_fn(prepared.spaces), callbacks=callbacks,
        head_lr_multiplier=cfg.train.head_lr_multiplier)
    if not loop_output:
        drop_progress_printing(trainer)
    return trainer, throughput


def drop_progress_printing(trainer) -> None:
    """Remove the Trainer's own progress bar (ProgressCallback) and log-dict printing (PrinterCallback):
    a progress listener shows progress instead. train_log.jsonl keeps the full record either way."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)


def build_network(cfg, prepared: Prepared):
    from trainer.models.transformer.network import build_classifier
    from trainer.models.transformer.tokenized import label_layout
    m, spaces = cfg.model, prepared.spaces
    heads = None
    if label_layout(spaces) == "blocks":
        weights = {t.name: t.loss_weight for t in cfg.task.resolved()}
        heads = [{"name": s.target, "problem": s.problem, "num_labels": len(s.labels),
                  "loss_weight": weights[s.target]} for s in spaces]
    labels = [f"{s.target}/{label}" if heads else label for s in spaces for label in s.labels]
    network = build_classifier(
        prepared.model_path, labels, spaces[0].problem, pooling=m.pooling, dropout=m.dropout,
        attention=hardware.resolve_attention(m.attention), attention_dropout=m.attention_dropout,
        encoder_overrides=m.config_overrides, random_init=m.init == "random",
        priors=[p for s in spaces for p in s.priors()] if m.prior_bias else None,
        loss_weights=[w for s in spaces for w in s.balanced_weights()] if cfg.train.class_weights == "balanced"
        else None, heads=heads)
    if m.loss != "bce":   # check_config allows it for one plain multi-label target only (task.target)
        from trainer.models.transformer.losses import LongTailLoss
        space = spaces[0]
        network.long_tail_loss = LongTailLoss(m.loss, space.counts, space.n_train)
    return network


def resume_checkpoint(checkpoints: Path, is_main: bool = True, progress: Progress = None) -> Path | None:
    """The newest complete checkpoint. Folders a kill cut short (no marker) are skipped, and removed by
    the main process (a notice to `progress`), since Trainer would otherwise write the same step into them."""
    if not checkpoints.is_dir():
        return None
    complete = []
    for folder in checkpoints.glob("checkpoint-*"):
        step = folder.name.rpartition("-")[2]
        if not step.isdigit():
            continue
        if (folder / COMPLETE_MARKER).is_file():
            complete.append((int(step), folder))
        elif is_main:
            notice(progress, f"removing incomplete checkpoint {folder}")
            shutil.rmtree(folder, ignore_errors=True)
    return max(complete)[1] if complete else None


def _relative(path: str | None, run_dir: Path) -> str | None:
    """A checkpoint path as the run directory holds it: the staging folder is renamed once the run completes."""
    if not path:
        return None
    try:
        return str(Path(path).resolve().relative_to(Path(run_dir).resolve()))
    except ValueError:
        return str(path)


def checkpoint_step(folder: Path) -> int:
    return int(folder.name.rpartition("-")[2])


def forget_log_after(run_dir: Path, step: int) -> None:
    """Resuming replays the steps after `step`: drop the interrupted session's log rows of those steps,
    so train_log.jsonl reads as one run."""
    rows = read_train_log(run_dir)
    kept = [row for row in rows if int(row.get("step", 0) or 0) <= step]
    if len(kept) != len(rows):
        atomic_write_jsonl(Path(run_dir) / TRAIN_LOG, kept)
