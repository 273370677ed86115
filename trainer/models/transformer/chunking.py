"""Chunk-and-pool for long articles: overlapping token windows over the whole text, logits pooled per article.

Head truncation sees only the first `max_length` tokens; a long article's topic may be stated later.
Windows start every `stride` body tokens (default: half a window, so every token is read at least once
and window edges overlap); the last window ends at the text's end rather than being a short leftover.
A text needing more than `max_chunks` windows gets `max_chunks` of them spread evenly from its start to
its end, so its tail is read too. Each window gets the special tokens the model was trained with, and the
window logits are pooled by mean or max in one pass (a text's windows are contiguous).
"""
from __future__ import annotations

from typing import Literal, Sequence

import numpy as np

from trainer.errors import ConfigError
from trainer.models.transformer.text import special_tokens


def resolve_stride(stride: int | None, window: int) -> int:
    """The stride to use: half a window by default; one longer than the window would skip tokens."""
    if stride is None:
        return max(1, window // 2)
    if stride > window:
        raise ConfigError(f"eval.chunking.stride {stride} is longer than the window ({window} text tokens of "
                          f"model.max_length): tokens between windows would never be read; use at most {window} "
                          "or leave it unset (half a window)")
    return stride


def window_starts(n_tokens: int, window: int, stride: int, max_chunks: int) -> list[int]:
    """Start offsets of windows of `window` tokens over a body of `n_tokens` (see the module docstring)."""
    if stride > window:
        raise ConfigError(f"stride {stride} longer than the window {window} would skip tokens")
    last = max(0, n_tokens - window)
    if last == 0:
        return [0]
    needed = -(-last // stride) + 1          # windows at 0, stride, ..., then one ending at the end
    if needed <= max_chunks:
        return [i * stride for i in range(needed - 1)] + [last]
    if max_chunks == 1:
        return [0]
    return [int(round(i * last / (max_chunks - 1))) for i in range(max_chunks)]


def chunk_encode(tokenizer, texts: Sequence[str], max_length: int, stride: int | None,
                 max_chunks: int) -> tuple[dict[str, list], np.ndarray]:
    """Encoded windows for all texts (a text's windows contiguous, texts in order), and for each window
    the index of the text it came from."""
    prefix, suffix = special_tokens(tokenizer)
    window = max(1, max_length - len(prefix) - len(suffix))
    step = resolve_stride(stride, window)
    bodies = tokenizer([t or "" for t in texts], add_special_tokens=False, truncation=False,
                       padding=False, verbose=False)["input_ids"]
    ids, owner = [], []
    for i, body in enumerate(bodies):
        for start in window_starts(len(body), window, step, max_chunks):
            ids.append(prefix + body[start:start + window] + suffix)
            owner.append(i)
    enc: dict[str, list] = {"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]}
    if "token_type_ids" in tokenizer.model_input_names:
        enc["token_type_ids"] = [[0] * len(x) for x in ids]
    return enc, np.asarray(owner, dtype=np.int64)


def pool_logits(logits: np.ndarray, owner: Sequence[int], n_texts: int,
                how: Literal["mean", "max"]) -> np.ndarray:
    """(n_windows, L) window logits -> (n_texts, L) article logits, linear in the number of windows.

    `owner` must be non-decreasing and name every text from 0 to n_texts - 1, as chunk_encode gives it."""
    owner = np.asarray(owner, dtype=np.int64)
    if len(owner) != len(logits):
        raise ValueError(f"{len(owner)} owners for {len(logits)} windows")
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else np.zeros(0, np.int64)
    if len(starts) != n_texts or (len(owner) and (np.any(np.diff(owner) < 0) or owner[0] != 0)):
        raise ValueError("windows must be grouped by text, in text order, every text with at least one window")
    if how == "max":
        return np.maximum.reduceat(logits, starts, axis=0)
    if how == "mean":
        sums = np.add.reduceat(logits.astype(np.float64), starts, axis=0)
        return (sums / np.diff(np.r_[starts, len(owner)])[:, None]).astype(logits.dtype)
    raise ValueError(f"pool must be mean or max, got {how!r}")
