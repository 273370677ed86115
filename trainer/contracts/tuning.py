"""model/tuning.json: what a run with `auto` settings tried on out-of-fold scores of its own training split,
and what it picked (trainer.tuning writes it at training; evaluate applies the picks and reads it back).

    {"format": 1, "settings": {folds, holdout, seed, stand_in, metric}, "cut": {...}, "seconds": {...},
     "members": {NAME: {...}}, "weights": {"tried": [...], "picked": {...}} | null,
     "thresholds": {TARGET: {"picked": {bucket: value}, ...}} | null, ...}
"""
from __future__ import annotations

from pathlib import Path

from trainer.atomic import atomic_write_json
from trainer.contracts.files import MODEL, RETRAIN, TUNING, read_json
from trainer.errors import DataError

TUNING_FORMAT = 1


def write_tuning(model_dir: str | Path, record: dict) -> Path:
    return atomic_write_json(Path(model_dir) / TUNING, {"format": TUNING_FORMAT, **record})


def read_tuning(model_dir: str | Path) -> dict | None:
    """The tuning record of a model, or None when it was trained without `auto` settings."""
    path = Path(model_dir) / TUNING
    if not path.is_file():
        return None
    raw = read_json(path, RETRAIN)
    if raw.get("format") != TUNING_FORMAT:
        raise DataError(f"{path}: tuning format {raw.get('format')!r}, this version reads {TUNING_FORMAT}; {RETRAIN}")
    return raw


def picked_bucket_thresholds(model_dir: str | Path, target: str) -> dict[str, float]:
    """The bucket thresholds tuning picked for `target`; DataError naming the file when there are none."""
    path = Path(model_dir) / TUNING
    record = read_tuning(model_dir)
    picked = ((record or {}).get("thresholds") or {}).get(target, {}).get("picked")
    if not isinstance(picked, dict):
        where = f"{path} has no thresholds picked for target {target!r}" if record else f"{path}: missing"
        raise DataError(f"eval.thresholds auto: {where} (in {Path(model_dir).parent.name or MODEL}); {RETRAIN}")
    try:
        return {str(k): float(v) for k, v in picked.items()}
    except (TypeError, ValueError):
        raise DataError(f"{path}: malformed thresholds of target {target!r}; {RETRAIN}") from None
