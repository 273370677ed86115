"""Chunk-and-pool for long articles: strided token windows over the whole text, logits pooled per article.

Head truncation sees only the first `max_length` tokens; a long article's topic may be stated later.
Windows start every `stride` tokens (at most `max_chunks` of them), each gets the special tokens the
model was trained with, and the window logits are pooled by mean or max.
"""
from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from trainer.models.transformer.text import special_tokens


def window_starts(n_tokens: int, window: int, stride: int, max_chunks: int) -> list[int]:
    """Start offsets of windows of `window` tokens, every `stride` tokens, until the text is covered."""
    starts = [0]
    while starts[-1] + window < n_tokens and len(starts) < max_chunks:
        starts.append(starts[-1] + stride)
    return starts


def chunk_encode(tokenizer, texts: Sequence[str], max_length: int, stride: int,
                 max_chunks: int) -> tuple[dict[str, list], list[int]]:
    """Encoded windows for all texts, and for each window the index of the text it came from."""
    prefix, suffix = special_tokens(tokenizer)
    window = max(1, max_length - len(prefix) - len(suffix))
    bodies = tokenizer([t or "" for t in texts], add_special_tokens=False, truncation=False,
                       padding=False, verbose=False)["input_ids"]
    ids, owner = [], []
    for i, body in enumerate(bodies):
        for start in window_starts(len(body), window, stride, max_chunks):
            ids.append(prefix + body[start:start + window] + suffix)
            owner.append(i)
    enc: dict[str, list] = {"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]}
    if "token_type_ids" in tokenizer.model_input_names:
        enc["token_type_ids"] = [[0] * len(x) for x in ids]
    return enc, owner


def pool_logits(logits: np.ndarray, owner: Sequence[int], n_texts: int,
                how: Literal["mean", "max"]) -> np.ndarray:
    """(n_windows, L) window logits -> (n_texts, L) article logits."""
    owner = np.asarray(owner)
    out = np.empty((n_texts, logits.shape[1]), dtype=logits.dtype)
    for i in range(n_texts):
        rows = logits[owner == i]
        out[i] = rows.max(axis=0) if how == "max" else rows.mean(axis=0)
    return out
