"""The audited documents: the training and validation splits of a dataset directory, read split by split so
that the test split is never opened (its labels must stay unseen by anything that picks what to fix)."""
from __future__ import annotations

from pathlib import Path

from trainer.contracts import read_manifest
from trainer.errors import DataError

AUDITED = ("train", "validation")


def load_audited_splits(dataset_dir: str | Path) -> tuple[dict, dict]:
    """({split: datasets.Dataset} for train and validation (when present), manifest)."""
    import datasets

    path = Path(dataset_dir)
    manifest = read_manifest(path)
    splits = {}
    for name in AUDITED:
        if not (path / name).is_dir():
            if name == "train":
                raise DataError(f"{path}: no training split ({path / name} missing); rebuild it with "
                                "`trainer data build CONFIG`")
            continue
        try:
            splits[name] = datasets.load_from_disk(str(path / name))
        except (FileNotFoundError, ValueError) as exc:
            raise DataError(f"{path / name}: cannot load the split ({exc}); rebuild it with `trainer data build`") from None
    return splits, manifest


def default_targets(manifest: dict, train) -> list[str]:
    """The dataset's topic column, else its first label column present in the training split."""
    columns = [manifest.get("topic_column")] + list((manifest.get("labels") or {}))
    for column in columns:
        if column and column in train.column_names:
            return [column]
    raise DataError("the dataset has no label column in its training split (manifest.json `labels` names none "
                    f"of {', '.join(train.column_names)}); an audit needs training labels")


def problem_of(train, column: str) -> str:
    feature = train.features[column]
    is_list = getattr(feature, "feature", None) is not None or \
        type(feature).__name__ in ("List", "Sequence", "LargeList")
    return "multi_label" if is_list else "single_label"
