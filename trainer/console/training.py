"""`trainer train` at a terminal: one progress bar (steps, ETA, loss) and a table row per evaluation, in the
manner of `spacy train`, drawn from the run's training events (trainer.events); the full record stays in
train_log.jsonl. `TrainingOutput` is the one listener `train` and `sweep` give a run: stage lines, notices
and the table."""
from __future__ import annotations

import time

from trainer import metric_names
from trainer.console.stages import StageLog, clock, fmt, number, stderr_console


class TrainingOutput:
    """The listener of a run's events (trainer.events): the stages of a first-use dataset build and of the
    evaluation (StageLog), notices as lines, and the training table of a kind that trains in steps (it
    appears with the first training event; a one-fit kind has none)."""

    def __init__(self, cfg=None, verbose: bool = False, console=None):
        self.console = console or stderr_console()
        self.stages = StageLog(self.console)
        self.verbose = verbose
        self.table: TrainingConsole | None = None
        self.for_run(cfg)

    def for_run(self, cfg) -> "TrainingOutput":
        """The next run's config (a sweep trains several): the table's column names and data.limit note."""
        self.close()
        # task auto: the dataset says (the labels stage event, before training starts)
        self.task_auto = cfg is not None and "auto" in (cfg.task.target, cfg.task.problem)
        self.problems = {cfg.task.target: cfg.task.problem} if cfg is not None and not self.task_auto else {}
        self.limit = cfg.data.limit if cfg is not None else None
        self.table = None
        return self

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind is not None and kind != "notice":
            if self.table is None:
                self.table = TrainingConsole(self.console, self.problems, self.limit,
                                             replace_library_output=not self.verbose)
            self.table(event)
        else:   # stages and notices
            if self.task_auto and event.get("stage") == "labels" and event.get("problem"):
                self.problems[event["target"]] = event["problem"]
            self.stages(event)

    def close(self) -> None:
        if getattr(self, "table", None) is not None:
            self.table.close()
        self.stages.close()


# ---- training -------------------------------------------------------------------------------------------
class TrainingConsole:
    """One progress bar (steps, ETA, loss) and, at each evaluation, one table row: epoch, step, training loss,
    validation loss and scores, time, and a mark on the best checkpoint (the one kept at the end). A callable
    for the training events of trainer.events.

    Validation scores during training are the Trainer's: multi-label at a plain 0.5 threshold. The header
    says so; thresholds are tuned (and the at-least-one rule applied) only after training, by evaluate.
    `problems` maps each target to multi_label / single_label, to name the columns."""

    def __init__(self, console=None, problems: dict[str, str] | None = None, limit: int | None = None,
                 replace_library_output: bool = True):
        self.console = console or stderr_console()
        self.problems = problems or {}
        self.limit = limit
        # True: the training loop's own bar and log-dict printing are off (train(loop_output=False)), and this
        # bar shows (at a terminal)
        self.show_bar = replace_library_output and self.console.is_terminal
        self.progress = None
        self.task = None
        self.started = time.perf_counter()
        self.losses: list[tuple[float, int]] = []   # (logged loss, steps it averages) since the previous row
        self.logged_step = 0
        self.last_loss: float | None = None
        self.best: float | None = None
        self.best_row: dict | None = None
        self.metric: str | None = None
        self.greater_is_better = True
        self.columns: list[tuple[str, str]] | None = None   # (metrics key, header)
        self.rows: list[dict] = []                           # what was shown, for tests and the end line

    def __call__(self, event: dict) -> None:
        handler = getattr(self, f"on_{event.get('event')}", None)
        if handler is not None:   # stages, notices, checkpoints: not the table's
            handler(event)

    # -- the bar
    def on_train_begin(self, event: dict) -> None:
        self.started = time.perf_counter()
        self.logged_step = event["step"]
        self.best = event.get("best_metric")
        self.metric = event.get("metric")
        self.greater_is_better = event.get("greater_is_better", True)
        if self.show_bar:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            self.progress = Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("steps"), TimeElapsedColumn(), TextColumn("ETA"),
                                     TimeRemainingColumn(), TextColumn("loss {task.fields[loss]}"),
                                     console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("training", total=event["max_steps"], completed=event["step"],
                                               loss="-")

    def on_step(self, event: dict) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=event["step"], description="training")

    def on_validating(self, event: dict) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description="validating")

    def on_log(self, event: dict) -> None:
        if number(event.get("loss")):
            # the Trainer logs the mean loss of the steps since its previous log
            self.losses.append((float(event["loss"]), max(1, event["step"] - self.logged_step)))
            self.logged_step = event["step"]
            self.last_loss = float(event["loss"])
            if self.progress is not None:
                self.progress.update(self.task, loss=f"{self.last_loss:.4f}")

    def on_train_end(self, event: dict) -> None:
        self.close()
        if self.best_row is not None:
            name = self._header(self.metric) if self.metric else "score"
            self.console.print(f"kept the best checkpoint: step {self.best_row['step']} "
                               f"(validation {name} {self.best_row[self.metric]:.4f})", highlight=False, soft_wrap=True)

    def on_early_stop(self, record: dict) -> None:
        """Training ended before max_steps: say when and why."""
        self.console.print(f"early stopping at step {record['step']} of {record['max_steps']}: {record['reason']}",
                           style="yellow", highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    # -- the table
    def on_eval(self, event: dict) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description="training")
        metrics = event["metrics"]
        if self.columns is None:
            self.columns = self._score_columns(metrics)
            self._print_header(metrics)
        row = {"epoch": event["epoch"], "step": event["step"],
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
        keys = [k for k in metrics if k.startswith("eval_") and k.endswith(metric_names.HEADLINE)]
        # per problem, the headline metrics the vocabulary says the console shows (multi-label: micro/macro-F1;
        # single-label: accuracy and macro-F1)
        keys = [k for k in keys if k.endswith(metric_names.console_headline(self._problem(k)))] or keys
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
        label = metric_names.name(base)
        if self._problem(key) == "multi_label" and base in metric_names.HEADLINE:
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
