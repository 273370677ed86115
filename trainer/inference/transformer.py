"""Score texts with a transformer model directory: length-sorted batches, dynamic padding, no autograd."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from trainer.inference.chunking import chunk_encode, pool_logits
from trainer.inference.runtime import Precision, Quantize, prepare_model, resolve_precision
from trainer.training.config import ChunkingConfig


class TransformerScorer:
    """Texts -> logits / probabilities for a `PooledClassifier` saved by `save_model_dir`."""

    model_type = "transformer"

    def __init__(self, model, tokenizer, spec: dict, *, batch_size: int = 32, precision: Precision = "auto",
                 quantize: Quantize = "none", device: str = "cpu"):
        self.device = torch.device(device)
        self.precision = resolve_precision(precision, self.device, quantize)
        self.model = prepare_model(model, self.precision, quantize, self.device)
        self.tokenizer = tokenizer
        self.spec = spec
        self.labels: list[str] = list(spec["labels"])
        self.problem: str = spec["problem"]
        self.max_length: int = int(spec["max_length"])
        self.truncation: str = spec.get("truncation", "head")
        self.batch_size = batch_size
        self.quantize = quantize
        # bf16 kernels (oneDNN) are compiled per input shape: rounding the padded length up to a
        # multiple of 16 keeps the number of distinct shapes, and so first-call compilations, small
        self.pad_multiple = 16 if self.precision == "bf16" else 1

    @classmethod
    def load(cls, model_dir: str | Path, **options) -> "TransformerScorer":
        from trainer.training.modeling import load_model_dir
        model, tokenizer, spec = load_model_dir(model_dir)
        return cls(model, tokenizer, spec, **options)

    def encode(self, texts: Sequence[str]) -> dict[str, list]:
        from trainer.training.text import encode
        return encode(self.tokenizer, list(texts), self.max_length, self.truncation)

    def logits(self, texts: Sequence[str], chunking: ChunkingConfig | None = None) -> np.ndarray:
        """(n, n_labels) float32 logits; with chunking enabled, pooled over strided windows."""
        if chunking is None or not chunking.enabled:
            return self.forward_encoded(self.encode(texts))
        enc, owner = chunk_encode(self.tokenizer, texts, self.max_length, chunking.stride, chunking.max_chunks)
        return pool_logits(self.forward_encoded(enc), owner, len(texts), chunking.pool)

    def score(self, texts: Sequence[str], chunking: ChunkingConfig | None = None) -> np.ndarray:
        """(n, n_labels) probabilities: sigmoid per label (multi-label) or softmax (single-label)."""
        return to_probabilities(self.logits(texts, chunking), self.problem)

    def forward_encoded(self, enc: dict[str, list]) -> np.ndarray:
        """Run pre-tokenized inputs in batches of similar length, so padding stays small."""
        ids = enc["input_ids"]
        out = np.zeros((len(ids), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                batch = self._pad({k: [enc[k][i] for i in rows] for k in enc})
                logits = self.model(**batch).logits
                out[rows] = logits.float().cpu().numpy()
        return out

    def _pad(self, features: dict[str, list]) -> dict[str, torch.Tensor]:
        width = max(len(x) for x in features["input_ids"])
        width = -(-width // self.pad_multiple) * self.pad_multiple
        pad_values = {"input_ids": self.tokenizer.pad_token_id or 0, "attention_mask": 0, "token_type_ids": 0}
        left = self.tokenizer.padding_side == "left"
        batch = {}
        for key, rows in features.items():
            if key not in pad_values:
                continue
            fill = pad_values[key]
            padded = [([fill] * (width - len(r)) + r) if left else (r + [fill] * (width - len(r))) for r in rows]
            batch[key] = torch.tensor(padded, dtype=torch.long, device=self.device)
        return batch


def to_probabilities(logits: np.ndarray, problem: str) -> np.ndarray:
    """Sigmoid per label (multi-label) or softmax over labels (single-label)."""
    logits = np.asarray(logits, dtype=np.float64)
    if problem == "multi_label":
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
