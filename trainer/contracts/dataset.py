"""The dataset directory's manifest (docs/contracts.md); the splits themselves are a datasets.DatasetDict."""
from __future__ import annotations

from pathlib import Path

from trainer.contracts.files import MANIFEST, REBUILD_DATASET, read_json
from trainer.errors import DataError


def is_dataset_dir(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_manifest(path: str | Path) -> dict:
    if not is_dataset_dir(path):
        raise DataError(f"{path}: not a dataset directory (no {MANIFEST}); build one with `trainer data build CONFIG`")
    return read_json(Path(path) / MANIFEST, REBUILD_DATASET)
