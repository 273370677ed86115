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


def cache_fingerprint(split_fingerprint: str, tokenizer, spaces: Sequence[LabelSpace], max_length: int,
                      truncation: str) -> str:
    heads = [[space.labels, space.problem, space.target] + ([True] if space.skip_unlabelled else [])
             for space in spaces]
    # one target keeps the key it always had, so caches written before multi-task training are reused
    flat = heads[0] if len(heads) == 1 else heads
    key = json.dumps([CACHE_VERSION, split_fingerprint, tokenizer_id(tokenizer), *flat, max_length, truncation])
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def label_layout(spaces: Sequence[LabelSpace]) -> str:
    """How a row's `labels` are laid out. "plain": one target that counts every document: a multi-hot row
    (multi-label) or a class index (single-label), as Trainer expects. "blocks": one block per target
    (multi-hot, or one-hot for single-label), then one 0/1 column per target saying whether the document
    has a label for it (multi-task; unlabelled documents add no loss to that head)."""
    return "plain" if len(spaces) == 1 and not spaces[0].skip_unlabelled else "blocks"


def tokenize_splits(dsd, dataset_dir: Path, tokenizer, spaces: Sequence[LabelSpace], max_length: int,
                    truncation: str, splits: Sequence[str] = ("train", "validation", "test"),
                    reading: Reading | None = None):
    """Token ids, labels and lengths per split; cached under `<dataset_dir>/.cache/` so the next run reuses them.
    With `reading.train: windows` the train split holds one row per window of each text (the others: heads,
    which is what Trainer's in-training evaluation reads)."""
    import datasets

    cache_dir = _cache_dir(dataset_dir)
    spaces = list(spaces)
    out = {}
    for split in splits:
        if split not in dsd or len(dsd[split]) == 0:
            continue
        ds = dsd[split]
        if label_layout(spaces) == "plain" and spaces[0].problem == "single_label":
            ds = _known_labels_only(ds, spaces[0])
        rows = reading if split == "train" and reading is not None and reading.train == "windows" else Reading()
        fp = cache_fingerprint(ds._fingerprint, tokenizer, spaces, max_length, truncation)
        if rows.train == "windows":
            fp = hashlib.sha256(json.dumps([fp, rows.to_settings()]).encode()).hexdigest()[:20]
        fn = _encoder(tokenizer, spaces, max_length, truncation, rows)
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


def _known_labels_only(ds, space: LabelSpace):
    known = set(space.labels)
    keep = [i for i, v in enumerate(ds[space.target]) if v in known]
    return ds if len(keep) == len(ds) else ds.select(keep)


def _encoder(tokenizer, spaces: list[LabelSpace], max_length: int, truncation: str, reading: Reading):
    indexes = [{label: i for i, label in enumerate(space.labels)} for space in spaces]
    plain = label_layout(spaces) == "plain"

    def fn(batch):
        enc, owner = encode_for_training(tokenizer, batch["text"], max_length, truncation, reading)
        enc["length"] = [len(ids) for ids in enc["input_ids"]]
        labels = _labels(batch, spaces, indexes, plain)
        enc["labels"] = [labels[i] for i in owner]
        if "id" in batch:
            enc["id"] = [batch["id"][i] for i in owner]
        return enc
    return fn


def _labels(batch, spaces: list[LabelSpace], indexes: list[dict], plain: bool) -> list:
    """Each document's `labels` row, laid out as `label_layout` says."""
    if plain:
        space, index = spaces[0], indexes[0]
        if space.problem == "multi_label":
            return [_multi_hot(row or [], index) for row in batch[space.target]]
        return [index[v] for v in batch[space.target]]
    rows = [[] for _ in batch["text"]]
    masks = [[] for _ in batch["text"]]
    for space, index in zip(spaces, indexes):
        for r, value in enumerate(batch[space.target]):
            values = (value or []) if space.problem == "multi_label" else ([value] if value in index else [])
            block = _multi_hot(values, index)
            rows[r] += block
            masks[r].append(1.0 if any(block) or not space.skip_unlabelled else 0.0)
    return [row + mask for row, mask in zip(rows, masks)]


def _multi_hot(row, index: dict) -> list[float]:
    vec = [0.0] * len(index)
    for label in row:
        if label in index:
            vec[index[label]] = 1.0
    return vec
