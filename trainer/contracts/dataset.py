"""The dataset directory's manifest (docs/contracts.md); the splits themselves are a datasets.DatasetDict."""
from __future__ import annotations

import json
from pathlib import Path

from trainer.contracts.files import MANIFEST, REBUILD_DATASET, read_json
from trainer.errors import DataError


FORMAT = "trainer-dataset/1"     # manifest.json["format"] of every dataset `trainer data build` writes


def is_dataset_dir(path: str | Path) -> bool:
    """Whether `path` holds a dataset this program wrote: a manifest.json with our format tag."""
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and str(manifest.get("format", "")).startswith("trainer-dataset/")


def read_manifest(path: str | Path) -> dict:
    if not (Path(path) / MANIFEST).is_file():
        raise DataError(f"{path}: not a dataset directory (no {MANIFEST}); build one with `trainer data build CONFIG`")
    return read_json(Path(path) / MANIFEST, REBUILD_DATASET)
