"""What the commands show in a terminal while they work (rich): a line per stage of a dataset build or an
evaluation, with its counts, and the notices (trainer.events); the small formatting helpers the console
shares. Library noise: trainer.console.quiet; training's bar and table: trainer.console.training.

Training's full record stays in train_log.jsonl whatever is shown here.
"""
from __future__ import annotations

import math


def stderr_console():
    """The console progress goes to (stderr: stdout keeps the results, e.g. for a pipe)."""
    from rich.console import Console
    return Console(stderr=True, highlight=False)


def number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value, spec: str) -> str:
    return format(value, spec) if number(value) else "-"


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# ---- stages of a dataset build or an evaluation -----------------------------------------------------------
STAGE_NAMES = {"read": "read", "non_empty": "non-empty", "in_predefined_split": "in its split",
               "labelled": "labelled", "deduplicated": "deduplicated", "split": "split",
               "label_filtered": "labels kept", "written": "written", "labels": "label space",
               "load": "load", "score": "score", "tune": "tune", "metrics": "metrics", "report": "report"}


class StageLog:
    """A callable for the `progress` events of build_dataset and evaluate: a spinner with the running count
    while a stage works (at a terminal), then one line per finished stage with its counts and seconds; and
    a line per notice (trainer.events)."""

    # printed when a dataset build or an evaluation starts
    TITLES = {"read": "building the dataset", "load": "evaluating"}

    def __init__(self, console=None):
        self.console = console or stderr_console()
        self.status = None
        self.previous: int | None = None   # documents after the previous build stage

    def __call__(self, event: dict) -> None:
        if event.get("event") == "notice":   # a line for the user (trainer.events), between the stage lines
            self._stop()
            self.console.print(event["message"], highlight=False, soft_wrap=True, markup=False)
            return
        if not event.get("done") and event["stage"] in self.TITLES and not event.get("documents"):
            self._stop()
            self.console.print(self.TITLES[event["stage"]], style="bold", highlight=False, soft_wrap=True)
            self.previous = None
        if event.get("done"):
            self._stop()
            self.console.print(self.line(event), highlight=False, soft_wrap=True)
        elif self.console.is_terminal:
            text = self.running(event)
            if self.status is None:
                self.status = self.console.status(text)
                self.status.start()
            else:
                self.status.update(text)

    def close(self) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    @staticmethod
    def running(event: dict) -> str:
        name = STAGE_NAMES.get(event["stage"], event["stage"])
        what = f"{name} {event['split']}" if event.get("split") else name
        if number(event.get("total")):
            return f"{what}: {event.get('documents', 0):,} of {event['total']:,} documents"
        if number(event.get("documents")) and event["stage"] == "read":
            return f"reading: {event['documents']:,} documents"
        return f"{what} ..."

    def line(self, event: dict) -> str:
        stage = event["stage"]
        name = STAGE_NAMES.get(stage, stage)
        seconds = f"{event['seconds']:.1f} s" if number(event.get("seconds")) else ""
        detail = ""
        if stage == "score":
            name = f"score {event.get('split', '')}".strip()
            detail = f"{event.get('documents', 0):,} documents"
        elif stage == "load":
            splits = event.get("by_split") or {}
            detail = " + ".join(f"{n:,} {s}" for s, n in splits.items()) + " documents"
            if event.get("model_type"):
                detail += f", {event['model_type']} model"
        elif event.get("skipped"):
            detail = f"skipped: {event['skipped']}"
        elif stage == "metrics":
            detail = ", ".join(event.get("targets") or [])
        elif stage == "tune":
            kinds, notes = event.get("thresholds") or {}, event.get("notes") or {}
            tuned = {t: k for t, k in kinds.items() if t not in notes}
            detail = ("thresholds " + ", ".join(f"{t}: {k.replace('_', '-')}" for t, k in tuned.items())
                      + (f" (on {event['on']})" if event.get("on") else " (no validation split: 0.5)")) if tuned \
                else "" if notes else "fusion rule (on validation)"
            # a validation split too small to tune on: 0.5 kept, and why
            detail = "; ".join([detail] * bool(detail) + [f"{t}: {note}" for t, note in notes.items()])
        elif stage == "labels":
            n = event.get("labels", 0)
            detail = f"{event.get('target')}: {n:,} label{'s' if n != 1 else ''}"
            if not (event.get("labels_dropped") or {}).get(event.get("target")):
                detail += " (none dropped)"
        elif stage == "report":
            detail = "metrics.json, predictions.jsonl, report.md, report.html"
        elif number(event.get("documents")):
            documents = event["documents"]
            detail = f"{documents:,} documents"
            if stage == "read" and event.get("rejected"):   # the summary's `read` counts every input
                detail = f"{documents + event['rejected']:,} documents, {event['rejected']:,} rejected"
            if self.previous is not None and stage not in ("read", "written") and documents < self.previous:
                detail += f" (-{self.previous - documents:,})"
            splits = event.get("by_split") or {}
            if splits and stage in ("in_predefined_split", "split", "label_filtered", "written") and \
                    set(splits) != {"None"}:
                detail += "  " + ", ".join(f"{s} {n:,}" for s, n in splits.items())
            if stage == "written" and event.get("output"):
                detail += f"  -> {event['output']}"
            self.previous = documents
        line = f"  {name:<18} {seconds:>8}   {detail}".rstrip()
        return "\n".join([line, *self.dropped(event)])

    @staticmethod
    def dropped(event: dict) -> list[str]:
        """The labels a build stage (label_filtered) or a run's label space (labels) dropped, a line per rule."""
        from trainer.data.label_space import dropped_lines
        pad = " " * 31
        return [pad + line for column, records in (event.get("labels_dropped") or {}).items()
                for line in dropped_lines(column, records)]
