"""From a dataset directory to model-ready splits: labels, token ids (cached once), lengths."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from trainer.errors import ConfigError, DataError
from trainer.training.text import encode

CACHE_DIR = ".cache"
CACHE_VERSION = 1          # bump when the tokenized layout changes, so old caches are not reused
MAX_POS_WEIGHT = 100.0     # "balanced" multi-label weights: a label seen twice must not dominate the loss


@dataclass
class LabelSpace:
    labels: list[str]
    counts: list[int]        # training examples per label
    n_train: int
    problem: str

    def priors(self) -> list[float]:
        return [c / max(1, self.n_train) for c in self.counts]

    def balanced_weights(self) -> list[float]:
        """BCE pos_weight (negatives/positives, capped) or CE class weights n / (k * count)."""
        n, k = self.n_train, len(self.labels)
        if self.problem == "multi_label":
            return [min(MAX_POS_WEIGHT, (n - c) / c) if c else 1.0 for c in self.counts]
        return [n / (k * c) if c else 1.0 for c in self.counts]


def dataset_path(data_ref) -> Path:
    """Where the run's dataset lives: data.dataset, else the `output` of the data config in data.build."""
    if data_ref.dataset:
        return Path(data_ref.dataset)
    return Path(_data_config(data_ref).output)


def resolve_dataset_dir(data_ref, *, is_main: bool = True) -> Path:
    """The dataset directory of a run config; built from `data.build` when it does not exist yet."""
    out = dataset_path(data_ref)
    if (out / "manifest.json").is_file():
        return out
    if not data_ref.build:
        raise DataError(f"data.dataset {str(out)!r}: no dataset there; build it with "
                        "`trainer data build DATA_CONFIG`, or set data.build to a data config")
    if is_main:
        from trainer.data.build import build_dataset
        data_cfg = _data_config(data_ref)
        data_cfg.output = str(out)
        build_dataset(data_cfg, config_path=data_ref.build)
    return out


def _data_config(data_ref):
    from trainer.config import load_config
    from trainer.data.config import DataConfig
    return load_config(data_ref.build, DataConfig)


def limit_splits(dsd, limit: int):
    """The first `limit` rows of each split: a deterministic subset, so its tokenization cache is reused too."""
    import datasets
    return datasets.DatasetDict({name: ds.select(range(min(limit, len(ds)))) for name, ds in dsd.items()})


def check_target(dsd, target: str, problem: str, dataset_dir: Path) -> None:
    columns = dsd["train"].column_names
    if target not in columns:
        raise ConfigError(f"task.target {target!r}: {dataset_dir} has no such column (columns: {', '.join(columns)})")
    is_list = getattr(dsd["train"].features[target], "feature", None) is not None or \
        type(dsd["train"].features[target]).__name__ in ("List", "Sequence", "LargeList")
    if problem == "single_label" and is_list:
        raise ConfigError(f"task.problem single_label: column {target!r} holds label lists; "
                          "use task.problem: multi_label, or a single-label column such as 'topic'")
    if problem == "multi_label" and not is_list:
        raise ConfigError(f"task.problem multi_label: column {target!r} holds one label per example; "
                          "use task.problem: single_label")


def label_space(train_split, target: str, problem: str, min_count: int) -> LabelSpace:
    values = train_split[target]
    counter: Counter = Counter()
    for v in values:
        counter.update(v if problem == "multi_label" else [v])
    counter.pop(None, None)
    labels = sorted(label for label, c in counter.items() if c >= min_count)
    if len(labels) < 2 and problem == "single_label" or not labels:
        raise DataError(f"task.target {target!r}: only {len(labels)} label(s) with >= {min_count} training "
                        "examples (task.min_label_count); a classifier needs more")
    return LabelSpace(labels, [counter[label] for label in labels], len(values), problem)


def tokenizer_id(tokenizer) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        state = json.loads(backend.to_str())
        # truncation/padding are call settings the tokenizer keeps from its last call, not its identity
        state.pop("truncation", None)
        state.pop("padding", None)
        return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]
    return f"{type(tokenizer).__name__}:{tokenizer.name_or_path}:{len(tokenizer)}"


def cache_fingerprint(split_fingerprint: str, tokenizer, space: LabelSpace, target: str,
                      max_length: int, truncation: str) -> str:
    key = json.dumps([CACHE_VERSION, split_fingerprint, tokenizer_id(tokenizer), space.labels, space.problem,
                      target, max_length, truncation])
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def tokenize_splits(dsd, dataset_dir: Path, tokenizer, space: LabelSpace, target: str,
                    max_length: int, truncation: str, splits: Sequence[str] = ("train", "validation", "test")):
    """Token ids, labels and lengths per split; cached under `<dataset_dir>/.cache/` so the next run reuses them."""
    import datasets

    cache_dir = _cache_dir(dataset_dir)
    index = {label: i for i, label in enumerate(space.labels)}
    out = {}
    for split in splits:
        if split not in dsd or len(dsd[split]) == 0:
            continue
        ds = _known_labels_only(dsd[split], target, index) if space.problem == "single_label" else dsd[split]
        fp = cache_fingerprint(ds._fingerprint, tokenizer, space, target, max_length, truncation)
        fn = _encoder(tokenizer, target, index, space.problem, max_length, truncation)
        cache_file = str(cache_dir / f"tok-{split}-{fp}.arrow") if cache_dir else None
        drop = [c for c in ds.column_names if c != "id"]   # ids stay for predictions.jsonl
        out[split] = ds.map(fn, batched=True, batch_size=1000, remove_columns=drop,
                            cache_file_name=cache_file, load_from_cache_file=True, new_fingerprint=fp,
                            desc=f"tokenizing {split}")
    return datasets.DatasetDict(out)


def _cache_dir(dataset_dir: Path) -> Path | None:
    path = Path(dataset_dir) / CACHE_DIR
    try:
        path.mkdir(exist_ok=True)
    except OSError:   # read-only dataset: tokenize in memory, every run
        return None
    return path


def _known_labels_only(ds, target: str, index: dict):
    keep = [i for i, v in enumerate(ds[target]) if v in index]
    return ds if len(keep) == len(ds) else ds.select(keep)


def _encoder(tokenizer, target: str, index: dict, problem: str, max_length: int, truncation: str):
    def fn(batch):
        enc = encode(tokenizer, batch["text"], max_length, truncation)
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        if problem == "multi_label":
            enc["labels"] = [_multi_hot(row or [], index) for row in batch[target]]
        else:
            enc["labels"] = [index[v] for v in batch[target]]
        return enc
    return fn


def _multi_hot(row, index: dict) -> list[float]:
    vec = [0.0] * len(index)
    for label in row:
        if label in index:
            vec[index[label]] = 1.0
    return vec
