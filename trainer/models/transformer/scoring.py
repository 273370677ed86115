"""Score texts with a loaded PooledClassifier: length-sorted batches, dynamic padding, no autograd."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from trainer import hardware
from trainer.contracts import ModelSpec
from trainer.decisions import to_probabilities
from trainer.models.base import ScoreOptions
from trainer.models.transformer.reading import Reading, encode_windows, pool_logits
from trainer.models.transformer.runtime import prepare_model, resolve_precision
from trainer.models.transformer.text import encode


ROW_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128)   # at most 1.5x the rows of a short batch


class TransformerScorer:
    """Texts -> logits / probabilities for a PooledClassifier and its tokenizer."""

    def __init__(self, model, tokenizer, spec: ModelSpec, options: ScoreOptions):
        self.device = torch.device(hardware.default_device() if options.device == "auto" else options.device)
        self.precision = resolve_precision(options.precision, self.device, options.quantize)
        self.model = prepare_model(model, self.precision, options.quantize, self.device)
        self.tokenizer = tokenizer
        self.spec = spec
        self.max_length: int = int(spec.settings["max_length"])
        self.truncation: str = spec.settings.get("truncation", "head")
        self.reading = Reading.from_settings(spec.settings.get("reading"))   # how long texts are read
        self.batch_size = options.batch_size
        self.quantize = options.quantize
        # bf16 kernels (oneDNN) are compiled per input shape: rounding the padded length up to a
        # multiple of 16, and a short batch's row count up to one of ROW_BUCKETS (with copies of its first
        # row, whose outputs are dropped), keeps the number of distinct shapes, and so of first-call
        # compilations (each ~0.1-0.5 s here), small. Batches of any size arrive from the batching server.
        self.pad_multiple = 16 if self.precision == "bf16" else 1
        self.row_buckets = ROW_BUCKETS if self.precision == "bf16" else ()

    def encode(self, texts: Sequence[str]) -> dict[str, list]:
        return encode(self.tokenizer, list(texts), self.max_length, self.truncation)

    def logits(self, texts: Sequence[str], chunking=None) -> np.ndarray:
        """(n, n_labels) float32 logits, read as the model's `reading` says; `chunking` (eval.chunking, enabled)
        replaces it with its windows for a what-if report, and a `Reading` replaces it outright."""
        reading = self.reading.overridden(chunking)
        if not reading.windows:
            return self.forward_encoded(self.encode(texts))
        enc, owner = encode_windows(self.tokenizer, texts, self.max_length, reading.stride, reading.max_windows)
        return pool_logits(self.forward_encoded(enc), owner, len(texts), reading.pool)

    def score(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        """Per target, (n, n_labels) probabilities: sigmoid per label (multi-label) or softmax (single-label);
        the targets' heads are consecutive column blocks of the logits."""
        logits = self.logits(texts, chunking)
        out, start = {}, 0
        for target in self.spec.targets:
            block = logits[:, start:start + len(target.labels)]
            start += len(target.labels)
            out[target.name] = to_probabilities(block, target.problem)
        return out

    def forward_encoded(self, enc: dict[str, list]) -> np.ndarray:
        """Run pre-tokenized inputs in batches of similar length, so padding stays small."""
        ids = enc["input_ids"]
        out = np.zeros((len(ids), sum(len(t.labels) for t in self.spec.targets)), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                filled = next((b for b in self.row_buckets if b >= len(rows)), len(rows))
                padded = rows + [rows[0]] * (filled - len(rows))
                batch = self._pad({k: [enc[k][i] for i in padded] for k in enc})
                logits = self.model(**batch).logits[:len(rows)]
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
