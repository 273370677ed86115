"""Read a dataset directory written by `trainer data build` (see docs/contracts.md)."""
from __future__ import annotations

import json
from pathlib import Path

from trainer.errors import DataError

SPLITS = ("train", "validation", "test")
FORMAT = "trainer-dataset/1"     # manifest.json["format"] of every dataset `trainer data build` writes


def is_dataset_dir(path: str | Path) -> bool:
    """Whether `path` holds a dataset this program wrote: a manifest.json with our format tag."""
    try:
        manifest = json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and str(manifest.get("format", "")).startswith("trainer-dataset/")


def load_manifest(path: str | Path) -> dict:
    manifest = Path(path) / "manifest.json"
    if not manifest.is_file():
        raise DataError(f"{path}: not a dataset directory (no manifest.json); build one with `trainer data build CONFIG`")
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{manifest}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def load_dataset_dir(path: str | Path):
    """Return (DatasetDict, manifest). Raises DataError with the fix when the directory is not a dataset."""
    import datasets

    path = Path(path)
    manifest = load_manifest(path)
    try:
        dsd = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise DataError(f"{path}: cannot load the dataset ({exc}); rebuild it with `trainer data build`") from None
    if not isinstance(dsd, datasets.DatasetDict):
        raise DataError(f"{path}: holds a single Dataset, expected a DatasetDict with splits {SPLITS}")
    return dsd, manifest
