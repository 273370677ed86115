"""Turn texts into token ids the same way at training and at prediction time.

No padding here: batches are padded dynamically (DataCollatorWithPadding), so short
news items do not pay for the longest one.
"""
from __future__ import annotations

from typing import Literal, Sequence

Truncation = Literal["head", "head_tail"]
HEAD_SHARE = 0.25   # head_tail keeps ~1/4 head + ~3/4 tail (Sun et al. 2019: 128 + 382 of 512)


def encode(tokenizer, texts: Sequence[str], max_length: int, truncation: Truncation = "head") -> dict[str, list]:
    """Token ids (and attention masks) for `texts`, at most `max_length` tokens each, special tokens included."""
    texts = [t or "" for t in texts]
    if truncation == "head":
        return dict(tokenizer(texts, truncation=True, max_length=max_length, padding=False))
    if truncation != "head_tail":
        raise ValueError(f"truncation must be 'head' or 'head_tail', got {truncation!r}")
    prefix, suffix = special_tokens(tokenizer)
    budget = max(1, max_length - len(prefix) - len(suffix))
    head = int(round(budget * HEAD_SHARE))
    bodies = tokenizer(texts, add_special_tokens=False, truncation=False, padding=False, verbose=False)["input_ids"]
    ids = [prefix + _head_tail(body, budget, head) + suffix for body in bodies]
    out: dict[str, list] = {"input_ids": ids, "attention_mask": [[1] * len(x) for x in ids]}
    if "token_type_ids" in tokenizer.model_input_names:
        out["token_type_ids"] = [[0] * len(x) for x in ids]
    return out


def _head_tail(body: list[int], budget: int, head: int) -> list[int]:
    if len(body) <= budget:
        return body
    tail = budget - head
    return body[:head] + (body[-tail:] if tail > 0 else [])


def special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after one sequence (e.g. [CLS] ... [SEP]), found by probing."""
    plain = tokenizer("hello", add_special_tokens=False)["input_ids"]
    full = tokenizer("hello", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start:start + len(plain)] == plain:
            return list(full[:start]), list(full[start + len(plain):])
    raise ValueError(f"cannot locate the special tokens of {type(tokenizer).__name__}")
