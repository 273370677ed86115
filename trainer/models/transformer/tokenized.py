"""Model-ready splits for a transformer: token ids, labels and lengths, cached in the dataset directory
so the next run with the same tokenizer, labels and length reuses them."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

from trainer.contracts import TOKEN_CACHE
from trainer.data.label_space import LabelSpace
from trainer.models.transformer.text import encode

CACHE_VERSION = 1          # bump when the tokenized layout changes, so old caches are not reused


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
    path = Path(dataset_dir) / TOKEN_CACHE
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
