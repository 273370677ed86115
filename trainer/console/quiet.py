"""The ML libraries' own noise switched off while a command works (their progress bars, info/warning logs and
warnings); --verbose leaves it on. Nothing here runs at import, and every setting `quiet_libraries` changes is
restored when its block ends."""
from __future__ import annotations

import importlib
import logging
import warnings
from contextlib import ExitStack, contextmanager
from typing import Iterable, Iterator

# library loggers whose info/warning lines are noise in a command's output (their errors still show)
NOISY_LOGGERS = ("transformers", "datasets", "accelerate", "huggingface_hub", "torch", "sklearn", "trafilatura",
                 "htmldate", "urllib3", "filelock", "fsspec", "mlflow", "alembic", "httpx", "ray")
NOISY_MODULES = r"(transformers|datasets|accelerate|huggingface_hub|torch|sklearn|trafilatura|htmldate|courlan|" \
                r"justext|mlflow|pydantic|pyarrow|multiprocess|dill)(\..*)?$"


@contextmanager
def quiet_libraries(libraries: Iterable[str] = ("datasets", "transformers"), enabled: bool = True) -> Iterator[None]:
    """Within the block: no progress bars ("Writing model shards", "Loading weights", "tokenizing ...") and no
    info/warning logs or warnings from the ML libraries; everything is put back afterwards. `libraries` are the
    ones the command uses (each is imported here so its switches can be set); `enabled=False` (--verbose) leaves
    everything as the libraries have it."""
    if not enabled:
        yield
        return
    with ExitStack() as stack:
        for name in libraries:
            stack.enter_context(_QUIETERS[name]())
        for name in NOISY_LOGGERS:
            stack.enter_context(_logger_level(name, logging.ERROR))
        stack.enter_context(warnings.catch_warnings())
        warnings.filterwarnings("ignore", module=NOISY_MODULES)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


@contextmanager
def _logger_level(name: str, level: int) -> Iterator[None]:
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(max(level, before))
    try:
        yield
    finally:
        logger.setLevel(before)


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    hf_logging = importlib.import_module("transformers.utils.logging")
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


@contextmanager
def _quiet_datasets() -> Iterator[None]:
    datasets = importlib.import_module("datasets")
    verbosity, bars = datasets.logging.get_verbosity(), datasets.is_progress_bar_enabled()
    datasets.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        datasets.logging.set_verbosity(verbosity)
        if bars:
            datasets.enable_progress_bars()


_QUIETERS = {"transformers": _quiet_transformers, "datasets": _quiet_datasets}
