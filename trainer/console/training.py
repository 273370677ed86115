"""`trainer train` at a terminal: one progress bar (steps, ETA, loss) and a table row per evaluation, in the
manner of `spacy train`. A transformers TrainerCallback, passed through `trainer.workflows.train.train(callbacks=...)`;
the full record stays in train_log.jsonl."""
from __future__ import annotations

import time

from transformers import TrainerCallback

from trainer.console.stages import clock, fmt, number, stderr_console


# ---- training -------------------------------------------------------------------------------------------
class TrainingConsole(TrainerCallback):
    """One progress bar (steps, ETA, loss) and, at each evaluation, one table row: epoch, step, training loss,
    validation loss and scores, time, and a mark on the best checkpoint (the one kept at the end).

    Validation scores during training are the Trainer's: multi-label at a plain 0.5 threshold. The header
    says so; thresholds are tuned (and the at-least-one rule applied) only after training, by evaluate.
    `problems` maps each target to multi_label / single_label, to name the columns."""

    def __init__(self, console=None, problems: dict[str, str] | None = None, limit: int | None = None,
                 replace_library_output: bool = True):
        self.console = console or stderr_console()
        self.problems = problems or {}
        self.limit = limit
        # True: make_trainer drops the Trainer's own bar and log-dict printing, and this bar shows (at a terminal)
        self.replaces_progress = replace_library_output
        self.show_bar = replace_library_output and self.console.is_terminal
        self.progress = None
        self.task = None
        self.started = time.perf_counter()
        self.losses: list[tuple[float, int]] = []   # (logged loss, steps it averages) since the previous row
        self.logged_step = 0
        self.last_loss: float | None = None
        self.best: float | None = None
        self.best_row: dict | None = None
        self.columns: list[tuple[str, str]] | None = None   # (metrics key, header)
        self.rows: list[dict] = []                           # what was shown, for tests and the end line

    # -- the bar
    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.started = time.perf_counter()
        self.logged_step = state.global_step
        self.best = state.best_metric
        self.metric = args.metric_for_best_model
        self.greater_is_better = args.greater_is_better is not False
        if self.show_bar:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            self.progress = Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("steps"), TimeElapsedColumn(), TextColumn("ETA"),
                                     TimeRemainingColumn(), TextColumn("loss {task.fields[loss]}"),
                                     console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("training", total=state.max_steps, completed=state.global_step,
                                               loss="-")

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step, description="training")

    def on_prediction_step(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, description="validating")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs and number(logs.get("loss")):
            # the Trainer logs the mean loss of the steps since its previous log
            self.losses.append((float(logs["loss"]), max(1, state.global_step - self.logged_step)))
            self.logged_step = state.global_step
            self.last_loss = float(logs["loss"])
            if self.progress is not None:
                self.progress.update(self.task, loss=f"{self.last_loss:.4f}")

    def on_train_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.close()
        if self.best_row is not None:
            name = self._header(self.metric) if self.metric else "score"
            self.console.print(f"kept the best checkpoint: step {self.best_row['step']} "
                               f"(validation {name} {self.best_row[self.metric]:.4f})", highlight=False, soft_wrap=True)

    def early_stopped(self, record: dict) -> None:
        """Called by the early-stopping callback when it ends training before max_steps: say when and why."""
        self.console.print(f"early stopping at step {record['step']} of {record['max_steps']}: {record['reason']}",
                           style="yellow", highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    # -- the table
    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, description="training")
        if not state.is_world_process_zero or not metrics:
            return
        if self.columns is None:
            self.columns = self._score_columns(metrics)
            self._print_header(metrics)
        row = {"epoch": state.epoch, "step": state.global_step,
               "loss": (sum(loss * n for loss, n in self.losses) / sum(n for _, n in self.losses)
                        if self.losses else None),
               "eval_loss": metrics.get("eval_loss"), "time": time.perf_counter() - self.started,
               **{key: metrics.get(key) for key, _ in self.columns}}
        value = metrics.get(self.metric) if self.metric else None
        row["best"] = number(value) and (self.best is None or (value > self.best if self.greater_is_better
                                                                 else value < self.best))
        if row["best"]:
            self.best, self.best_row = value, row
        self.losses = []
        self.rows.append(row)
        self.console.print(self._format(row), highlight=False, soft_wrap=True)

    def _score_columns(self, metrics: dict) -> list[tuple[str, str]]:
        wanted = ("micro_f1", "macro_f1", "accuracy")
        keys = [k for k in metrics if k.startswith("eval_") and k.endswith(wanted)]
        multi = [k for k in keys if self._problem(k) == "multi_label"]
        # multi-label: micro/macro-F1 (subset accuracy adds little); single-label: accuracy and macro-F1
        keys = [k for k in keys if not (k in multi and k.endswith("accuracy")) and
                not (k not in multi and k.endswith("micro_f1"))] or keys
        if self.metric in metrics and self.metric not in keys:
            keys.append(self.metric)
        return [(k, self._header(k)) for k in keys]

    def _problem(self, key: str) -> str:
        name = key[len("eval_"):]
        for target, problem in self.problems.items():
            if name.startswith(f"{target}_"):
                return problem
        return next(iter(self.problems.values()), "multi_label") if self.problems else "multi_label"

    def _header(self, key: str) -> str:
        name = key[len("eval_"):] if key.startswith("eval_") else key
        target = next((t for t in self.problems if name.startswith(f"{t}_")), None) if len(self.problems) > 1 else None
        base = name[len(target) + 1:] if target else name
        label = {"micro_f1": "micro-F1", "macro_f1": "macro-F1", "accuracy": "accuracy"}.get(base, base)
        if self._problem(key) == "multi_label" and base in ("micro_f1", "macro_f1", "accuracy"):
            label += "@0.5"
        return f"{target} {label}" if target else label

    def _print_header(self, metrics: dict) -> None:
        n = metrics.get("eval_n_examples")
        docs = f"{int(n):,} documents" if number(n) else "validation split"
        if self.limit:
            docs += ", data.limit"
        multi = any(p == "multi_label" for p in self.problems.values()) or not self.problems
        # evaluate keeps 0.5 on a validation split under eval.threshold_min_documents, and says so
        rule = (": scores at a plain 0.5 threshold; thresholds are tuned after training if validation is large "
                "enough" if multi else "")
        self.console.print(f"validation during training ({docs}){rule}", style="dim", highlight=False,
                           soft_wrap=True)
        heads = ["epoch", "step", "loss", "val loss", *(h for _, h in self.columns), "time"]
        widths = self._widths()
        self.console.print("  ".join(h.rjust(w) for h, w in zip(heads, widths)), style="bold", highlight=False,
                           soft_wrap=True)
        self.console.print("  ".join("-" * w for w in widths), highlight=False, soft_wrap=True)

    def _widths(self) -> list[int]:
        return [5, 6, 7, 8, *(max(8, len(h)) for _, h in self.columns), 7]

    def _format(self, row: dict):
        from rich.text import Text
        cells = [fmt(row["epoch"], ".2f"), str(row["step"]), fmt(row["loss"], ".4f"), fmt(row["eval_loss"], ".4f"),
                 *(fmt(row[key], ".3f") for key, _ in self.columns), clock(row["time"])]
        text = Text("  ".join(c.rjust(w) for c, w in zip(cells, self._widths())))
        if row["best"]:
            text.append("  ✔ best", style="green")
        return text
