"""Read a dataset directory written by `trainer data build` (docs/contracts.md), and find or build the
dataset a run config names."""
from __future__ import annotations

from pathlib import Path

from trainer.contracts import SPLITS, is_dataset_dir, read_manifest
from trainer.errors import ConfigError, DataError


def load_dataset_dir(path: str | Path):
    """Return (DatasetDict, manifest). Raises DataError with the fix when the directory is not a dataset."""
    import datasets

    path = Path(path)
    manifest = read_manifest(path)
    try:
        dsd = datasets.load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise DataError(f"{path}: cannot load the dataset ({exc}); rebuild it with `trainer data build`") from None
    if not isinstance(dsd, datasets.DatasetDict):
        raise DataError(f"{path}: holds a single Dataset, expected a DatasetDict with splits {SPLITS}")
    return dsd, manifest


def dataset_path(data_ref) -> Path:
    """Where a run's dataset lives: data.dataset, else the `output` of the data config in data.build."""
    if data_ref.dataset:
        return Path(data_ref.dataset)
    return Path(_data_config(data_ref).output)


LABEL_COLUMNS = {"topics": True, "topic": False, "regions": True}   # label column -> holds label lists (the build's)


def dataset_label_columns(data_ref) -> dict[str, bool]:
    """The label columns of a run's dataset (column -> holds label lists): its manifest's columns when it is
    built, else the columns its data.build config will write (a first-use build has not run yet)."""
    out = dataset_path(data_ref)
    if is_dataset_dir(out):
        columns = read_manifest(out).get("columns")
        if columns is None:   # a manifest without its columns: the train split's own features
            import datasets
            feats = datasets.load_from_disk(str(out / "train")).features
            columns = [c for c in feats if c in LABEL_COLUMNS]
        return {c: LABEL_COLUMNS[c] for c in columns if c in LABEL_COLUMNS}
    if not data_ref.build:
        raise DataError(f"data.dataset {str(out)!r}: no dataset there; build it with "
                        "`trainer data build DATA_CONFIG`, or set data.build to a data config")
    from trainer.data.stream import label_columns
    return {c: LABEL_COLUMNS[c] for c in label_columns(_data_config(data_ref))}


def resolve_dataset_dir(data_ref, *, is_main: bool = True, progress=None) -> Path:
    """The dataset directory of a run config; built from `data.build` when it does not exist yet
    (`progress`: build_dataset's stage events). Under several processes only the main one builds (the
    others wait for it outside this function)."""
    out = dataset_path(data_ref)
    if is_dataset_dir(out):
        return out
    if not data_ref.build:
        raise DataError(f"data.dataset {str(out)!r}: no dataset there; build it with "
                        "`trainer data build DATA_CONFIG`, or set data.build to a data config")
    if is_main:
        from trainer.data.build import build_dataset
        data_cfg = _data_config(data_ref)
        data_cfg.output = str(out)
        build_dataset(data_cfg, config_path=data_ref.build, progress=progress)
    return out


def _data_config(data_ref):
    from trainer.config import load_config
    from trainer.data.config import DataConfig
    if not Path(data_ref.build).is_file():
        raise ConfigError(f"data.build {data_ref.build!r}: no such data config (a relative path in a config file is "
                          "taken from the config's base folder: the folder holding its configs/ folder, else its own "
                          "folder; on the command line, from the current directory); fix data.build or set "
                          "data.dataset to a built dataset")
    return load_config(data_ref.build, DataConfig)


def limit_splits(dsd, limit: int):
    """The first `limit` rows of each split: a deterministic subset, so its tokenization cache is reused too."""
    import datasets
    return datasets.DatasetDict({name: ds.select(range(min(limit, len(ds)))) for name, ds in dsd.items()})
