"""How a transformer reads a text longer than its window (`model.reading`), the same everywhere it
scores one: training, `trainer evaluate`, `Predictor`, `trainer predict` and `trainer serve`.

- `truncate`: one window, cut as `model.truncation` says (head, or head + tail).
- `windows`: overlapping windows of `max_length` tokens (special tokens included) every `stride`
  body tokens over the whole text; each window is scored and the window logits are pooled per text
  (max: a label any window is sure of; mean: what the windows agree on; attention: per label, the
  windows weighted by the softmax of their logits for it, between the two). A text needing more than
  `max_windows` windows gets `max_windows` of them spread evenly from its start to its end, so its
  tail is read too. The last window ends at the text's end (it is not a short leftover).

Training reads the head of each training text (`reading.train: head`), or every window of it, each
labelled with the text's labels (`reading.train: windows`).

The pooling pass is linear in the number of windows: a text's windows are contiguous, so pooling
is one `np.maximum.reduceat` / `np.add.reduceat` over the window logits.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np

from trainer.errors import ConfigError
from trainer.models.base import HEAD_ONLY
from trainer.models.transformer.text import encode, special_tokens

Pool = Literal["max", "mean", "attention"]
POOLS = ("max", "mean", "attention")
MODES = ("truncate", "windows")


@dataclass(frozen=True)
class Reading:
    """A model's reading of long texts, as trainer.json's settings["reading"] stores it."""
    mode: str = "truncate"              # "truncate" | "windows"
    stride: int | None = None           # body tokens between window starts; None: half a window
    max_windows: int = 8
    pool: str = "max"
    train: str = "head"                 # "head" | "windows": what a training text contributes

    def __post_init__(self):
        if self.mode not in MODES:
            raise ConfigError(f"reading mode {self.mode!r}: use {' or '.join(MODES)}")
        if self.pool not in POOLS:
            raise ConfigError(f"reading pool {self.pool!r}: use {' or '.join(POOLS)}")
        if self.max_windows < 1 or (self.stride is not None and self.stride < 1):
            raise ConfigError(f"reading: stride and max_windows must be at least 1 ({self})")

    @classmethod
    def from_settings(cls, settings: dict | None) -> "Reading":
        """From trainer.json's "reading" (absent in models saved before it: truncate)."""
        raw = dict(settings or {})
        return cls(**{k: raw[k] for k in ("mode", "stride", "max_windows", "pool", "train") if k in raw})

    @classmethod
    def from_config(cls, cfg) -> "Reading":
        """From a `model.reading` (or `eval.chunking`) config section."""
        return cls(**{k: getattr(cfg, k) for k in ("mode", "stride", "max_windows", "pool", "train")
                      if hasattr(cfg, k)})

    def to_settings(self) -> dict:
        return asdict(self)

    def overridden(self, chunking) -> "Reading":
        """The reading to score with: this one, or what a caller asks instead (a `Reading`, HEAD_ONLY, or an
        enabled eval.chunking section for a what-if report)."""
        if isinstance(chunking, Reading):
            return chunking
        if chunking == HEAD_ONLY:
            return Reading()
        if chunking is not None and chunking.enabled:
            return Reading("windows", chunking.stride, chunking.max_chunks, chunking.pool)
        return self

    @property
    def windows(self) -> bool:
        return self.mode == "windows"

    def describe(self, max_length: int) -> str:
        if not self.windows:
            return f"the first {max_length} tokens"
        stride = f"every {self.stride} tokens" if self.stride else "every half window"
        return (f"windows of {max_length} tokens {stride}, at most {self.max_windows} per text, "
                f"logits pooled by {self.pool}")


def window_size(tokenizer, max_length: int) -> int:
    prefix, suffix = special_tokens(tokenizer)
    return max(1, max_length - len(prefix) - len(suffix))


def resolve_stride(stride: int | None, window: int) -> int:
    """The stride to use: half a window by default; one longer than the window would skip tokens."""
    if stride is None:
        return max(1, window // 2)
    if stride > window:
        raise ConfigError(f"reading stride {stride} is longer than the window ({window} text tokens of "
                          "model.max_length): tokens between windows would never be read; use a stride of at most "
                          f"{window} (default: half a window)")
    return stride


def window_starts(n_tokens: int, window: int, stride: int, max_windows: int) -> list[int]:
    """Start offsets of the windows over a body of `n_tokens` tokens (see the module docstring)."""
    if stride > window:
        raise ConfigError(f"stride {stride} longer than the window {window} would skip tokens")
    last = max(0, n_tokens - window)
    if last == 0:
        return [0]
    needed = -(-last // stride) + 1                     # windows at 0, stride, ..., then one ending at the end
    if needed <= max_windows:
        return [min(i * stride, last) for i in range(needed - 1)] + [last]
    if max_windows == 1:
        return [0]
    return [int(round(i * last / (max_windows - 1))) for i in range(max_windows)]


def encode_windows(tokenizer, texts: Sequence[str], max_length: int, stride: int | None,
                   max_windows: int) -> tuple[dict[str, list], np.ndarray]:
    """Encoded windows for all texts (a text's windows contiguous, texts in order), and per window the
    index of its text."""
    prefix, suffix = special_tokens(tokenizer)
    window = window_size(tokenizer, max_length)
    step = resolve_stride(stride, window)
    bodies = tokenizer([t or "" for t in texts], add_special_tokens=False, truncation=False,
                       padding=False, verbose=False)["input_ids"]
    ids, owner = [], []
    for i, body in enumerate(bodies):
        for start in window_starts(len(body), window, step, max_windows):
            ids.append(prefix + body[start:start + window] + suffix)
            owner.append(i)
    enc: dict[str, list] = {"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]}
    if "token_type_ids" in tokenizer.model_input_names:
        enc["token_type_ids"] = [[0] * len(x) for x in ids]
    return enc, np.asarray(owner, dtype=np.int64)


def pool_logits(logits: np.ndarray, owner: Sequence[int], n_texts: int, how: str) -> np.ndarray:
    """(n_windows, L) window logits -> (n_texts, L) text logits, in one pass over the windows.

    `owner` must be non-decreasing and name every text from 0 to n_texts - 1 (as encode_windows gives it)."""
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
    if how == "attention":   # per label: sum_w softmax_w(z) * z over the text's windows
        z = logits.astype(np.float64)
        weights = np.exp(z - np.maximum.reduceat(z, starts, axis=0)[owner])
        pooled = np.add.reduceat(weights * z, starts, axis=0) / np.add.reduceat(weights, starts, axis=0)
        return pooled.astype(logits.dtype)
    raise ValueError(f"pool must be one of {POOLS}, got {how!r}")


def encode_for_training(tokenizer, texts: Sequence[str], max_length: int, truncation: str,
                        reading: Reading) -> tuple[dict[str, list], np.ndarray]:
    """Training rows for `texts`: one per text (its head, as `truncation` cuts it), or with
    `reading.train: windows` one per window; and per row the index of its text."""
    if reading.windows and reading.train == "windows":
        return encode_windows(tokenizer, texts, max_length, reading.stride, reading.max_windows)
    return encode(tokenizer, texts, max_length, truncation), np.arange(len(texts), dtype=np.int64)
