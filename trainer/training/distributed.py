"""Which process writes files when several train together (torchrun, accelerate launch)."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """The main process runs the block first (e.g. builds the dataset), the others after it."""
    if world_size() == 1:
        yield
        return
    from accelerate import PartialState   # sets up torch.distributed as transformers.Trainer does
    with PartialState().main_process_first():
        yield
