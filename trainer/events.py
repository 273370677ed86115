"""The progress-event channel: what the library says while it works, as plain dicts to one listener (a
callable; the CLI's console, a test, a script). The library never prints; the listener decides what to show.

    stage events     {"stage": "read" | "split" | ... | "load" | "score" | ..., "done": bool, counts}
                     (build_dataset, evaluate: see trainer.console.stages.StageLog)
    training events  {"event": "train_begin" | "step" | "validating" | "log" | "eval" | "checkpoint"
                     | "early_stop" | "train_end", ...}: a model kind that trains in optimizer steps, on the
                     main process only (trainer.models.base.FitContext.progress)
    notices          {"event": "notice", "message": str}: one line for the user (a resumed run, a replaced
                     output folder, dropped config keys)

Without a listener a notice goes to the `trainer` logger as a warning, which Python shows on stderr when
the application configured no logging (library use keeps seeing the line)."""
from __future__ import annotations

import logging
from typing import Callable, Optional

Progress = Optional[Callable[[dict], None]]

NOTICE = "notice"


def notice(progress: Progress, message: str) -> None:
    """Tell the listener one line for the user (see the module docstring for no listener)."""
    if progress is not None:
        progress({"event": NOTICE, "message": message})
    else:
        logging.getLogger("trainer").warning(message)
