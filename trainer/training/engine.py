"""`trainer train CONFIG`: fine-tune a classifier and write the run directory (docs/contracts.md)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from trainer import rundir
from trainer.errors import ConfigError
from trainer.training.config import RunConfig


def train(cfg: RunConfig, config_path: str | Path | None = None, callbacks: list | None = None) -> Path:
    """Train as `cfg` says; return the run directory. Under torchrun every rank calls this; rank 0 writes files."""
    from trainer import tracking
    tracking.check_available(cfg)   # a missing tracker fails now, not after training
    if cfg.model.type == "tfidf-linear":
        # the TF-IDF baseline has its own engine; it writes the same run-directory layout
        try:
            from trainer.linear import train_linear
        except ImportError:
            raise ConfigError("model.type tfidf-linear: this installation has no trainer.linear module") from None
        run_dir = train_linear(cfg, config_path)
    else:
        run_dir = TransformerRun(cfg, config_path, callbacks or []).run()
    if int(os.environ.get("RANK", "0")) == 0:
        tracking.log_run(run_dir)   # params, train_log metrics, metrics.json, artifacts (tracking.backend)
    return run_dir


class TransformerRun:
    def __init__(self, cfg: RunConfig, config_path, callbacks: list):
        self.config_path, self.extra_callbacks = config_path, callbacks
        self.run_dir = rundir.run_dir_for(cfg, config_path)
        self.cfg = cfg.model_copy(deep=True)
        self.cfg.output.name = rundir.run_name(cfg, config_path)   # the resolved config names its run
        from trainer.training.data import dataset_path
        self.cfg.data.dataset = str(dataset_path(cfg.data))       # ... and its dataset, for evaluate/compare

    def run(self) -> Path:
        args = self.setup()
        try:
            with args.main_process_first(desc="dataset and tokenization"):
                self.prepare_data()
            self.fit(args)
        except BaseException as exc:
            if self.is_main:
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                rundir.update_meta(self.run_dir, status=status, error=f"{type(exc).__name__}: {exc}",
                                   end_time=rundir.now_iso())
            raise
        return self.run_dir

    def setup(self):
        """Threads, seed and precision for this process; the TrainingArguments; the run directory (rank 0)."""
        import torch
        import transformers

        from trainer.training import hardware
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        torch.set_num_threads(hardware.thread_count(self.cfg.train.threads, local_world))
        transformers.set_seed(self.cfg.train.seed)
        self.precision = hardware.resolve_precision(self.cfg.train.precision)
        if self.precision == "bf16" and not hardware.bf16_available():
            print("warning: train.precision bf16 on hardware without native bf16; this is slower than fp32",
                  file=sys.stderr)
        args = self.training_arguments()
        self.is_main = args.process_index == 0
        if self.is_main:
            self.start_run_dir()
        return args

    # ---- run directory -------------------------------------------------------------------------
    def start_run_dir(self) -> None:
        from trainer.training import hardware
        ckpt = self.run_dir / rundir.CHECKPOINTS
        resuming = self.cfg.train.resume and ckpt.is_dir()
        if not resuming:
            rundir.replace_previous(self.run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_config(self.run_dir, self.cfg)
        rundir.update_meta(self.run_dir, status="running", start_time=rundir.now_iso(), end_time=None,
                           config_path=config_path_or_none(self.config_path), git_sha=rundir.git_sha(),
                           versions=rundir.versions(), seed=self.cfg.train.seed, precision=self.precision,
                           torch_threads=torch_threads(), hardware=hardware.describe(),
                           world_size=int(os.environ.get("WORLD_SIZE", "1")))

    # ---- data ----------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        from transformers import AutoTokenizer

        from trainer.data.dataset_io import load_dataset_dir
        from trainer.training import data
        from trainer.training.models import resolve_model_path

        task, model = self.cfg.task, self.cfg.model
        self.dataset_dir = data.resolve_dataset_dir(self.cfg.data, is_main=self.is_main)
        self.dsd, self.manifest = load_dataset_dir(self.dataset_dir)
        if self.cfg.data.limit:
            self.dsd = data.limit_splits(self.dsd, self.cfg.data.limit)
        data.check_target(self.dsd, task.target, task.problem, self.dataset_dir)
        self.space = data.label_space(self.dsd["train"], task.target, task.problem, task.min_label_count)
        self.model_path = resolve_model_path(model.name)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        self.tokenized = data.tokenize_splits(self.dsd, self.dataset_dir, self.tokenizer, self.space,
                                              task.target, model.max_length, model.truncation)
        if self.is_main:
            rundir.update_meta(self.run_dir, dataset=rundir.dataset_meta(
                self.dataset_dir, self.dsd, {s: len(self.tokenized[s]) for s in self.tokenized},
                len(self.space.labels)))

    # ---- training ------------------------------------------------------------------------------
    def training_arguments(self):
        import torch
        from transformers import TrainingArguments

        t, every = self.cfg.train, self.cfg.train.eval_every
        strategy = "epoch" if every == "epoch" else "steps"
        return TrainingArguments(
            output_dir=str(self.run_dir / rundir.CHECKPOINTS),
            num_train_epochs=t.epochs, max_steps=t.max_steps or -1,
            per_device_train_batch_size=t.batch_size, per_device_eval_batch_size=self.cfg.eval.batch_size,
            gradient_accumulation_steps=t.gradient_accumulation,
            learning_rate=t.learning_rate, weight_decay=t.weight_decay, warmup_steps=t.warmup_ratio,
            lr_scheduler_type="linear", seed=t.seed, bf16=self.precision == "bf16",
            eval_strategy=strategy, save_strategy=strategy,
            eval_steps=None if every == "epoch" else every, save_steps=None if every == "epoch" else every,
            save_total_limit=2, load_best_model_at_end=True,   # fit() turns evaluation off without validation
            metric_for_best_model=f"eval_{self.cfg.eval.metric}", greater_is_better=True,
            logging_strategy="steps", logging_steps=t.logging_steps, logging_first_step=True,
            train_sampling_strategy="group_by_length" if t.group_by_length else "random",
            length_column_name="length", include_num_input_tokens_seen="non_padding",
            # MLflow logging is trainer.tracking.log_run's job (one MLflow run per run dir), not the HF callback's
            report_to="none", run_name=self.cfg.output.name,
            use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
            dataloader_pin_memory=torch.cuda.is_available(),
            ddp_find_unused_parameters=False,   # every parameter gets a gradient (the encoder pooler is dropped)
            disable_tqdm=not sys.stderr.isatty(),
        )

    def fit(self, args) -> None:
        from transformers.trainer_utils import get_last_checkpoint

        trainer, throughput = self.make_trainer(args)
        resume = self.cfg.train.resume and Path(args.output_dir).is_dir()
        checkpoint = get_last_checkpoint(args.output_dir) if resume else None
        started = time.perf_counter()
        trainer.train(resume_from_checkpoint=checkpoint)
        wall = time.perf_counter() - started
        per_step = args.train_batch_size * args.gradient_accumulation_steps * args.world_size
        stats = {**throughput.summary(per_step), "train_wall_seconds": round(wall, 2),
                 "resumed_from": str(checkpoint) if checkpoint else None,
                 "best_checkpoint": trainer.state.best_model_checkpoint, "global_step": trainer.state.global_step,
                 "model_parameters": sum(p.numel() for p in trainer.model.parameters())}
        self.finish(trainer, stats)

    def make_trainer(self, args):
        """The configured ClassifierTrainer and its throughput meter (also used by scripts/bench_train.py)."""
        from transformers import DataCollatorWithPadding, EarlyStoppingCallback

        from trainer.training.hf_trainer import ClassifierTrainer, JsonlLogCallback, ThroughputCallback, metrics_fn

        has_eval = "validation" in self.tokenized
        if not has_eval:
            args.eval_strategy, args.load_best_model_at_end = "no", False
        throughput = ThroughputCallback()
        callbacks = [JsonlLogCallback(self.run_dir / rundir.TRAIN_LOG), throughput, *self.extra_callbacks]
        if has_eval and self.cfg.train.early_stopping_patience:
            callbacks.append(EarlyStoppingCallback(self.cfg.train.early_stopping_patience))
        trainer = ClassifierTrainer(
            model=self.build_model(), args=args, train_dataset=self.tokenized["train"],
            eval_dataset=self.tokenized["validation"] if has_eval else None,
            data_collator=DataCollatorWithPadding(self.tokenizer), processing_class=self.tokenizer,
            compute_metrics=metrics_fn(self.space.labels, self.cfg.task.problem), callbacks=callbacks,
            head_lr_multiplier=self.cfg.train.head_lr_multiplier)
        return trainer, throughput

    def build_model(self):
        from trainer.training import hardware
        from trainer.training.modeling import build_classifier
        m, space = self.cfg.model, self.space
        return build_classifier(
            self.model_path, space.labels, self.cfg.task.problem, pooling=m.pooling, dropout=m.dropout,
            attention=hardware.resolve_attention(m.attention), attention_dropout=m.attention_dropout,
            encoder_overrides=m.config_overrides, random_init=m.init == "random",
            priors=space.priors() if m.prior_bias else None,
            loss_weights=space.balanced_weights() if self.cfg.train.class_weights == "balanced" else None)

    # ---- outputs -------------------------------------------------------------------------------
    def finish(self, trainer, stats: dict) -> None:
        from trainer.evaluation import evaluate
        from trainer.training.modeling import save_model_dir

        if not self.is_main:
            return
        spec = {"labels": self.space.labels, "problem": self.cfg.task.problem, "target": self.cfg.task.target,
                "max_length": self.cfg.model.max_length, "truncation": self.cfg.model.truncation,
                "pooling": self.cfg.model.pooling}
        save_model_dir(trainer.model, self.tokenizer, spec, self.run_dir / rundir.MODEL)
        rundir.update_meta(self.run_dir, **stats)
        evaluate(self.run_dir)   # thresholds tuned on validation, metrics.json, predictions.jsonl, report.md
        rundir.update_meta(self.run_dir, status="completed", end_time=rundir.now_iso())


def config_path_or_none(path) -> str | None:
    return str(Path(path).resolve()) if path else None


def torch_threads() -> int:
    import torch
    return torch.get_num_threads()
