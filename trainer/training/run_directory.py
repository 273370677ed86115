"""A run's directory over its life: checked before anything starts, written in a staging folder while the
run trains and evaluates, swapped in for the previous run only once it is complete.

    runs/NAME            the last completed run (what evaluate, predict, serve and compare read)
    runs/.NAME.partial   the run in progress, or an interrupted or failed one (kept for `train.resume`
                         and for its logs); replaced when the next run of NAME starts

Nothing is deleted that this program did not write: a folder that is not a run directory is refused.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from trainer import contracts, hardware, provenance
from trainer.config import to_yaml
from trainer.atomic import atomic_write_text
from trainer.errors import ConfigError
from trainer.events import Progress, notice

STAGING_SUFFIX = ".partial"


def run_name(cfg, config_path: str | Path | None) -> str:
    if cfg.output.name:
        return cfg.output.name
    return Path(config_path).stem if config_path else "run"


class RunDirectory:
    def __init__(self, final: Path):
        self.final = Path(final)
        self.staging = self.final.with_name(f".{self.final.name}{STAGING_SUFFIX}")

    @classmethod
    def for_config(cls, cfg) -> "RunDirectory":
        return cls(Path(cfg.output.dir) / cfg.output.name)

    def check(self) -> None:
        """Refuse, before any work, an output folder this program did not write."""
        for folder, what in ((self.final, "output"), (self.staging, "the staging folder of output")):
            if folder.exists() and not folder.is_dir():
                raise ConfigError(f"{what}: {folder} exists and is a file; set output.name (or output.dir) to a new "
                                  "or run directory")
            if folder.is_dir() and any(folder.iterdir()) and not contracts.is_run_dir(folder):
                raise ConfigError(f"{what}: {folder} exists and is not a run directory; set output.name "
                                  "(or output.dir) to a new or run directory")

    def start(self, cfg, config_path, resume: bool, progress: Progress = None) -> Path:
        """The staging folder, with config.yaml and meta.json written before training starts; what it finds
        there (nothing to resume, an unfinished run removed, a run it will replace) goes to `progress` as
        notices (trainer.events)."""
        self.check()
        resuming = resume and (self.staging / contracts.CHECKPOINTS).is_dir()
        if resume and not resuming:
            notice(progress, f"train.resume: no interrupted run in {_shown(self.staging)} to resume; "
                             "starting from scratch")
        if self.staging.exists() and not resuming:
            notice(progress, f"removing the earlier unfinished run {_shown(self.staging)}")
            shutil.rmtree(self.staging)
        self.staging.mkdir(parents=True, exist_ok=True)
        if self.final.exists():
            notice(progress, f"training into {_shown(self.staging)}; it replaces {_shown(self.final)} once complete")
        atomic_write_text(self.staging / contracts.CONFIG, to_yaml(cfg))
        contracts.update_meta(
            self.staging, status="running", start_time=provenance.now_iso(), end_time=None, error=None,
            resumed=resuming, config_path=str(Path(config_path).resolve()) if config_path else None,
            git_sha=provenance.git_sha(), versions=provenance.versions(), seed=cfg.train.seed,
            model_type=cfg.model.type, hardware=hardware.describe(),
            world_size=int(os.environ.get("WORLD_SIZE", "1")), **provenance.process())
        return self.staging

    def fail(self, exc: BaseException) -> None:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        if self.staging.is_dir():
            contracts.update_meta(self.staging, status=status, error=f"{type(exc).__name__}: {exc}",
                                  end_time=provenance.now_iso())

    def complete(self) -> Path:
        """Mark the staged run completed and put it in the final place; the previous run goes only now."""
        contracts.update_meta(self.staging, status="completed", end_time=provenance.now_iso())
        old = None
        if self.final.exists():
            self.check()
            old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
            os.replace(self.final, old)
        os.replace(self.staging, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final


def _shown(path: Path) -> str:
    """A path as the user would type it here: relative to the current directory when below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
