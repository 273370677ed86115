"""The run directory (docs/contracts.md): where it is, and the files every run writes besides the model."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from trainer.atomic import atomic_write_json, atomic_write_text

CONFIG = "config.yaml"
META = "meta.json"
MODEL = "model"
METRICS = "metrics.json"
PREDICTIONS = "predictions.jsonl"
TRAIN_LOG = "train_log.jsonl"
CHECKPOINTS = "checkpoints"
PACKAGES = ("trainer", "torch", "transformers", "datasets", "evaluate", "accelerate", "scikit-learn", "numpy")


def run_name(cfg, config_path: str | Path | None) -> str:
    if cfg.output.name:
        return cfg.output.name
    return Path(config_path).stem if config_path else "run"


def run_dir_for(cfg, config_path: str | Path | None = None) -> Path:
    return Path(cfg.output.dir) / run_name(cfg, config_path)


def is_run_dir(path: Path) -> bool:
    return (Path(path) / CONFIG).is_file() or (Path(path) / META).is_file()


def replace_previous(run_dir: Path) -> None:
    """A fresh run under an existing name removes the old run first, so no file mixes two runs."""
    if not (run_dir.is_dir() and any(run_dir.iterdir())):
        return
    if not is_run_dir(run_dir):
        from trainer.errors import ConfigError
        raise ConfigError(f"output: {run_dir} exists and is not a run directory; "
                          "set output.name (or output.dir) to a new or run directory")
    print(f"replacing the previous run in {run_dir}", file=sys.stderr)
    shutil.rmtree(run_dir)


def dataset_meta(dataset_dir: Path, dsd, examples: dict[str, int], n_labels: int) -> dict[str, Any]:
    """meta.json's `dataset`: where it is, its split fingerprints, what the run used of it."""
    fingerprints = {s: dsd[s]._fingerprint for s in dsd}
    return {"path": str(Path(dataset_dir).resolve()), "fingerprints": fingerprints,
            "fingerprint": hashlib.sha256(repr(sorted(fingerprints.items())).encode()).hexdigest()[:16],
            "examples": examples, "labels": n_labels}


def write_config(run_dir: Path, cfg) -> Path:
    """The resolved config (defaults filled in, overrides applied): `trainer train run/config.yaml` repeats the run."""
    from trainer.config import to_yaml
    return atomic_write_text(run_dir / CONFIG, to_yaml(cfg))


def read_meta(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / META
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def update_meta(run_dir: Path, **fields: Any) -> dict[str, Any]:
    meta = {**read_meta(run_dir), **fields}
    atomic_write_json(Path(run_dir) / META, meta)
    return meta


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def git_sha(where: Path | None = None) -> str | None:
    """Commit of the source tree `trainer` runs from (None outside a git checkout); '+dirty' when modified."""
    where = where or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}+dirty" if dirty else sha


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def append_jsonl(path: Path, row: dict) -> None:
    # one short line per append: readers see whole lines, a crash loses at most the last one
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
