"""Model-ready splits for a transformer: token ids, labels and lengths, cached in the dataset directory
so the next run with the same tokenizer, labels and length reuses them."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Sequence

from trainer.contracts import TOKEN_CACHE
from trainer.data.label_space import LabelSpace
from trainer.models.transformer.reading import Reading, encode_for_training

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
                    max_length: int, truncation: str, splits: Sequence[str] = ("train", "validation", "test"),
                    reading: Reading | None = None):
    """Token ids, labels and lengths per split; cached under `<dataset_dir>/.cache/` so the next run reuses them.
    With `reading.train: windows` the train split holds one row per window of each text (the others: heads,
    which is what Trainer's in-training evaluation reads)."""
    import datasets

    cache_dir = _cache_dir(dataset_dir)
    index = {label: i for i, label in enumerate(space.labels)}
    out = {}
    for split in splits:
        if split not in dsd or len(dsd[split]) == 0:
            continue
        ds = _known_labels_only(dsd[split], target, index) if space.problem == "single_label" else dsd[split]
        rows = reading if split == "train" and reading is not None and reading.train == "windows" else Reading()
        fp = cache_fingerprint(ds._fingerprint, tokenizer, space, target, max_length, truncation)
        if rows.train == "windows":
            fp = hashlib.sha256(json.dumps([fp, rows.to_settings()]).encode()).hexdigest()[:20]
        fn = _encoder(tokenizer, target, index, space.problem, max_length, truncation, rows)
        cache_file = str(cache_dir / f"tok-{split}-{fp}.arrow") if cache_dir else None
        drop = list(ds.column_names)   # ids come back from the encoder (one per row) for predictions.jsonl
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


def _encoder(tokenizer, target: str, index: dict, problem: str, max_length: int, truncation: str, reading: Reading):
    def fn(batch):
        enc, owner = encode_for_training(tokenizer, batch["text"], max_length, truncation, reading)
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        if problem == "multi_label":
            labels = [_multi_hot(row or [], index) for row in batch[target]]
        else:
            labels = [index[v] for v in batch[target]]
        enc["labels"] = [labels[i] for i in owner]
        if "id" in batch:
            enc["id"] = [batch["id"][i] for i in owner]
        return enc
    return fn


def _multi_hot(row, index: dict) -> list[float]:
    vec = [0.0] * len(index)
    for label in row:
        if label in index:
            vec[index[label]] = 1.0
    return vec
