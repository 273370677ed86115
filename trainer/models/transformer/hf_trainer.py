"""The `transformers.Trainer` pieces we change: a faster-learning head, length-grouped sampling that resumes
exactly, checkpoints marked complete before older ones are deleted, a JSONL log."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import rotate_checkpoints

from trainer import metric_names
from trainer.atomic import atomic_write_text
from trainer.contracts import append_train_log
from trainer.decisions import DEFAULT_THRESHOLD, decide, to_probabilities
from trainer.errors import TrainerError
from trainer.metrics import compute_metrics

HEAD_PREFIX = "classifier."
COMPLETE_MARKER = ".complete"   # written last into a checkpoint folder: a folder without it was cut short


class NonFiniteLoss(TrainerError):
    """The training loss became inf or NaN: continuing would only write NaN scores."""


class ClassifierTrainer(Trainer):
    """Trainer whose optimizer gives the new head `head_lr_multiplier` x the encoder's learning rate,
    and which stops at the first step whose loss is not finite."""

    def __init__(self, *args, head_lr_multiplier: float = 1.0, **kwargs):
        self.head_lr_multiplier = head_lr_multiplier
        self.length_sampler: EpochLengthGroupedSampler | None = None
        super().__init__(*args, **kwargs)

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        if not torch.isfinite(loss.detach()).all():
            raise NonFiniteLoss(f"the training loss became {loss.item()} at step {self.state.global_step + 1}; "
                                f"lower train.learning_rate (now {self.args.learning_rate:g}) or check the data")
        return loss

    def create_optimizer(self, model=None):
        if self.optimizer is not None:
            return self.optimizer
        model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(model))
        lr, wd = self.args.learning_rate, self.args.weight_decay
        groups: dict[tuple[bool, bool], list] = {}
        for name, param in model.named_parameters():
            if param.requires_grad:
                groups.setdefault((name.startswith(HEAD_PREFIX), name in decay), []).append(param)
        param_groups = [{"params": params, "weight_decay": wd if decays else 0.0,
                         "lr": lr * (self.head_lr_multiplier if head else 1.0)}
                        for (head, decays), params in groups.items()]
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        self.optimizer = optimizer_cls(param_groups, **optimizer_kwargs)
        return self.optimizer

    def _save_checkpoint(self, model, trial):
        # Trainer deletes the checkpoints past save_total_limit before we mark this one complete; killed in
        # between, resume would fall back to the previous checkpoint, whose best checkpoint may be deleted
        # by then (and a resumed run then ends on another model). So: write, mark complete, then delete.
        limit, self.args.save_total_limit = self.args.save_total_limit, None
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self.args.save_total_limit = limit
        if self.args.should_save:
            folder = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
            atomic_write_text(folder / COMPLETE_MARKER, json.dumps(self.batching()) + "\n")
            rotate_checkpoints(output_dir=self._get_output_dir(trial), save_total_limit=limit,
                               best_model_checkpoint=self.state.best_model_checkpoint, use_mtime=True)

    def _get_train_sampler(self, train_dataset=None):
        # Trainer drops the unused `length` column before building the sampler (and would then re-measure
        # every example): the undropped dataset has the same rows and the column.
        dataset, args = self.train_dataset, self.args
        if args.train_sampling_strategy != "group_by_length":
            return super()._get_train_sampler(dataset)
        # grouped by the global batch, so that N processes take the examples one process of N x the batch takes
        self.length_sampler = EpochLengthGroupedSampler(
            args.train_batch_size * args.gradient_accumulation_steps * args.world_size,
            lengths=list(dataset[args.length_column_name]),
            seed=args.seed if args.data_seed is None else args.data_seed)
        return self.length_sampler

    def batching(self) -> dict:
        """How this run draws its batches; written into each checkpoint's marker, so that resuming can tell
        whether it continues the interrupted run exactly (resume_message)."""
        args = self.args
        return {"step": self.state.global_step, "world_size": args.world_size,
                "batch_size": args.per_device_train_batch_size,
                "gradient_accumulation": args.gradient_accumulation_steps}

    def _run_epoch(self, *args, epoch, **kwargs):
        # Tell the sampler its epoch ourselves: accelerate passes set_epoch on through its own wrappers, but not
        # through the SkipBatchSampler around a BatchSamplerShard that a run resumed under torchrun iterates.
        if self.length_sampler is not None:
            self.length_sampler.set_epoch(epoch)
        if (kwargs.get("resume_from_checkpoint") and epoch == kwargs.get("epochs_trained")
                and _early_stopping_decided(self.callback_handler.callbacks)):
            # the interrupted run had decided to stop at its last checkpoint and was killed before it finished:
            # stop here as well (Trainer would train on to the next evaluation)
            self.control.should_training_stop = True
            return
        return super()._run_epoch(*args, epoch=epoch, **kwargs)


def _early_stopping_decided(callbacks) -> bool:
    return any(isinstance(cb, EarlyStoppingCallback) and cb.early_stopping_patience_counter >= cb.early_stopping_patience
               for cb in callbacks)


def resume_message(checkpoint: Path, trainer: ClassifierTrainer) -> str:
    """What resuming from `checkpoint` continues: exactly the interrupted run, unless it drew its batches
    otherwise (another number of processes, batch size or accumulation)."""
    try:
        saved = json.loads((checkpoint / COMPLETE_MARKER).read_text())
    except (OSError, ValueError):
        saved = None
    now = trainer.batching()
    shown = f"{checkpoint.parent.name}/{checkpoint.name}"
    if isinstance(saved, dict) and {k: v for k, v in saved.items() if k != "step"} == \
            {k: v for k, v in now.items() if k != "step"}:
        return (f"resuming from {shown}: the same batches, random state, early-stopping count and best "
                "checkpoint as the interrupted run, which it continues exactly")
    before = (f"{saved['world_size']} process(es) x batch {saved['batch_size']} x accumulation "
              f"{saved['gradient_accumulation']}") if isinstance(saved, dict) else "settings this checkpoint does not record"
    return (f"resuming from {shown}, NOT exactly: the interrupted run trained with {before}, this one with "
            f"{now['world_size']} process(es) x batch {now['batch_size']} x accumulation "
            f"{now['gradient_accumulation']}, so it draws other batches and random numbers from here on; "
            "resume with the settings of the interrupted run to continue it exactly")


class EpochLengthGroupedSampler(LengthGroupedSampler):
    """transformers' LengthGroupedSampler with the order a function of (seed, epoch) alone.

    The library's sampler draws its permutation from torch's global generator when an epoch begins; by then
    the epochs before have advanced it (dropout), and a run resumed inside epoch k > 0 starts from another
    state: it drew other batches than the run it continues (and under torchrun each rank's generator is its
    own, so the ranks could disagree on the order). A generator of its own, seeded per epoch, fixes both."""

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()


class JsonlLogCallback(TrainerCallback):
    """Append every log/eval record (loss, lr, metrics) to the run's train_log.jsonl, on the main process only."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            append_train_log(self.run_dir, {"step": state.global_step, "epoch": state.epoch, "time": time.time(),
                                            **logs})


class LogAtEvaluation(TrainerCallback):
    """Log the training loss at every evaluation too (not only every train.logging_steps): the loss beside each
    validation row is then the mean over the steps since the previous row, never a loss of long before."""

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_evaluate:   # DefaultFlowCallback, which runs first, has decided this step's evaluation
            control.should_log = True

    def on_epoch_end(self, args, state, control, **kwargs):
        if control.should_evaluate:
            control.should_log = True


class AnnouncedEarlyStopping(EarlyStoppingCallback):
    """transformers' early stopping, saying when and why it stopped: a train_log.jsonl row {"event":
    "early_stopping", "early_stopping": record} and `record` for meta.json and for the progress listener
    (ProgressEvents). Reaching max_steps is no early stop and is not announced."""

    def __init__(self, early_stopping_patience: int = 1, early_stopping_threshold: float | None = 0.0,
                 run_dir: str | Path = "."):
        super().__init__(early_stopping_patience, early_stopping_threshold)
        self.run_dir = Path(run_dir)
        self.record: dict | None = None

    def state(self) -> dict:
        # a checkpoint's callback state rebuilds the callback with these arguments (restore_callback_states_...)
        out = super().state()
        out["args"]["run_dir"] = str(self.run_dir)
        return out

    def on_evaluate(self, args, state, control, metrics, **kwargs):
        super().on_evaluate(args, state, control, metrics, **kwargs)
        if self.record is not None or self.early_stopping_patience_counter < self.early_stopping_patience \
                or state.global_step >= state.max_steps:
            return
        # on_evaluate runs before the Trainer records this evaluation as a new best: state holds the best so far
        metric, best = args.metric_for_best_model, state.best_metric
        best_step = _checkpoint_step(state.best_model_checkpoint)
        n = self.early_stopping_patience
        self.record = {
            "step": state.global_step, "max_steps": state.max_steps, "metric": metric, "best": best,
            "best_step": best_step, "patience": n, "value": metrics.get(metric),
            "reason": f"validation {metric.removeprefix('eval_')} did not improve on {best:.4f}"
                      + (f" (step {best_step})" if best_step is not None else "")
                      + f" for {n} evaluation{'s' if n != 1 else ''} in a row (train.early_stopping_patience {n})"}
        if state.is_world_process_zero:
            append_train_log(self.run_dir, {"step": state.global_step, "epoch": state.epoch, "time": time.time(),
                                            "event": "early_stopping", "early_stopping": self.record})


class ProgressEvents(TrainerCallback):
    """The Trainer's moments as the kind-neutral training events of trainer.events, to `progress`, on the main
    process only: train_begin, step, validating, log (a training loss), eval (the validation metrics),
    checkpoint, early_stop (AnnouncedEarlyStopping's record) and train_end. No listener sees a TrainerCallback."""

    def __init__(self, progress, early_stopping=lambda: None):
        self.progress = progress
        # the early-stopping record so far: looked up when needed, since resuming from a checkpoint replaces
        # the early-stopping callback (and moves it after this one)
        self.early_stopping = early_stopping
        self.announced = False

    def _emit(self, state, event: str, **fields) -> None:
        if state.is_world_process_zero:
            self.progress({"event": event, "step": state.global_step, **fields})

    def on_train_begin(self, args, state, control, **kwargs):
        self._emit(state, "train_begin", max_steps=state.max_steps, best_metric=state.best_metric,
                   metric=args.metric_for_best_model, greater_is_better=args.greater_is_better is not False)

    def on_step_end(self, args, state, control, **kwargs):
        self._emit(state, "step", max_steps=state.max_steps)

    def on_prediction_step(self, args, state, control, **kwargs):
        self._emit(state, "validating")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:   # the mean loss of the steps since the previous log
            self._emit(state, "log", loss=logs["loss"])

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if metrics:
            self._emit(state, "eval", epoch=state.epoch, metrics=dict(metrics))
        self._announce(state)

    def on_save(self, args, state, control, **kwargs):
        self._emit(state, "checkpoint")

    def on_train_end(self, args, state, control, **kwargs):
        self._announce(state)
        self._emit(state, "train_end")

    def _announce(self, state) -> None:
        record = self.early_stopping()
        if record is not None and not self.announced and state.is_world_process_zero:
            self.announced = True
            self.progress({"event": "early_stop", **record})


def _checkpoint_step(path: str | None) -> int | None:
    tail = Path(path).name.rpartition("-")[2] if path else ""
    return int(tail) if tail.isdigit() else None


class ThroughputCallback(TrainerCallback):
    """Examples and non-padding tokens per second over the optimizer steps of this session."""

    def __init__(self):
        self.start = None
        self.start_step = 0
        self.start_tokens = 0
        self.seconds = 0.0
        self.steps = 0
        self.tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.start, self.start_step = time.perf_counter(), state.global_step
        self.start_tokens = state.num_input_tokens_seen or 0

    def on_step_end(self, args, state, control, **kwargs):
        self.seconds = time.perf_counter() - self.start
        self.steps = state.global_step - self.start_step
        self.tokens = (state.num_input_tokens_seen or 0) - self.start_tokens

    def summary(self, examples_per_step: int) -> dict:
        secs = max(self.seconds, 1e-9)
        return {"train_steps": self.steps, "train_seconds": round(self.seconds, 2),
                "train_examples_per_s": round(self.steps * examples_per_step / secs, 2),
                "train_tokens_per_s": round(self.tokens / secs, 1)}


def metrics_fn(spaces):
    """compute_metrics for Trainer evaluation: scalar metrics only (per-label tables go to metrics.json).

    One target: its metrics under their plain names. Several: `<target>_<metric>` each, plus the plain
    names averaged over the targets (the stated combination model selection uses), on the documents
    that have a label for each target.
    """
    spaces = list(spaces)
    several = len(spaces) > 1 or spaces[0].skip_unlabelled

    def fn(eval_pred):
        logits, gold = np.asarray(eval_pred.predictions), np.asarray(eval_pred.label_ids)
        if not several:
            return _scalars(spaces[0], logits, gold)
        out, start, width = {}, 0, logits.shape[1]
        for k, space in enumerate(spaces):
            cols = slice(start, start + len(space.labels))
            start = cols.stop
            rows = gold[:, width + k] > 0
            target_gold = gold[rows, cols] if space.problem == "multi_label" else gold[rows, cols].argmax(-1)
            for key, value in _scalars(space, logits[rows, cols], target_gold).items():
                out[f"{space.target}_{key}"] = value
        for key in metric_names.HEADLINE:
            out[key] = float(np.mean([out[f"{s.target}_{key}"] for s in spaces]))
        return out
    return fn


def _scalars(space, logits: np.ndarray, gold: np.ndarray) -> dict:
    scores = to_probabilities(logits, space.problem)
    pred = decide(scores, space.problem, DEFAULT_THRESHOLD).astype(np.int8)
    if space.problem == "single_label":
        pred, gold = pred.argmax(-1), gold.astype(int)
    m = compute_metrics(gold, pred, space.labels, space.problem)
    return {k: v for k, v in m.items() if not isinstance(v, dict)}
