"""Score with a model's ONNX export (`trainer export RUN --format onnx`): ONNX Runtime and the `tokenizers`
library only. Nothing here imports torch or transformers, so a deployment needs neither.

The same tokenization as training (`text.encode`: head or head_tail truncation, special tokens), the same
length-sorted, dynamically padded batches as the torch scorer, one logits matrix per target.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer import hardware
from trainer.contracts import ModelSpec, export_dir_of, read_export_info
from trainer.decisions import to_probabilities
from trainer.errors import ConfigError
from trainer.models.base import ScoreOptions
from trainer.models.transformer.reading import Reading, encode_windows, pool_logits
from trainer.models.transformer.text import encode


class FastTokenizer:
    """The subset of a transformers tokenizer's call interface that `text.encode` and chunking use, over a
    `tokenizers.Tokenizer` read from tokenizer.json (the file transformers' fast tokenizers save)."""

    def __init__(self, path: Path, pad_token_id: int, padding_side: str, model_input_names: Sequence[str]):
        from tokenizers import Tokenizer
        self._tk = Tokenizer.from_file(str(path))
        self._tk.no_padding()
        self._lock = threading.Lock()   # truncation is tokenizer state: one call at a time
        self.pad_token_id, self.padding_side = pad_token_id, padding_side
        self.model_input_names = list(model_input_names)

    def __call__(self, texts, truncation: bool = False, max_length: int | None = None, padding: bool = False,
                 add_special_tokens: bool = True, verbose: bool = True) -> dict[str, list]:
        if padding:
            raise ValueError("FastTokenizer does not pad; batches are padded by the scorer")
        single = isinstance(texts, str)
        with self._lock:
            if truncation and max_length:
                self._tk.enable_truncation(max_length)
            else:
                self._tk.no_truncation()
            encodings = self._tk.encode_batch([texts] if single else list(texts),
                                              add_special_tokens=add_special_tokens)
        out = {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings]}
        if "token_type_ids" in self.model_input_names:
            out["token_type_ids"] = [e.type_ids for e in encodings]
        return {k: v[0] for k, v in out.items()} if single else out


def session_options(threads: int | None = None):
    """ONNX Runtime settings measured fastest here: every core for one operator at a time, all graph
    optimizations (layer-norm and GELU fusions), sequential execution."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = hardware.thread_count(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return so


class OnnxScorer:
    """Texts -> per-target logits / probabilities through an ONNX Runtime session."""

    precision = "fp32"

    def __init__(self, model_dir: str | Path, spec: ModelSpec, options: ScoreOptions, threads: int | None = None):
        if options.precision == "bf16":
            raise ConfigError("runtime onnx computes in fp32 (or int8 with quantize int8); bf16 is torch-only: "
                              "leave precision at auto or fp32")
        if options.device not in ("cpu", "auto"):
            raise ConfigError(f"runtime onnx runs on the CPU; device {options.device!r} is torch-only")
        try:
            import onnxruntime as ort
        except ImportError:
            raise ConfigError("runtime onnx needs onnxruntime: pip install 'trainer[export]'") from None
        self.info = read_export_info(model_dir, options.quantize)
        folder = export_dir_of(model_dir)
        self.spec, self.quantize, self.batch_size = spec, options.quantize, options.batch_size
        self.max_length: int = int(spec.settings["max_length"])
        self.truncation: str = spec.settings.get("truncation", "head")
        self.reading = Reading.from_settings(spec.settings.get("reading"))   # how long texts are read
        tok = self.info.tokenizer
        self.tokenizer = FastTokenizer(folder / tok["file"], int(tok["pad_token_id"]), tok.get("padding_side", "right"),
                                       tok["model_input_names"])
        path = folder / self.info.variants[options.quantize]["file"]
        self.session = ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])
        self.output_names = [self.info.outputs[t.name] for t in spec.targets]

    def encode(self, texts: Sequence[str]) -> dict[str, list]:
        return encode(self.tokenizer, list(texts), self.max_length, self.truncation)

    def logits(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        reading = self.reading.overridden(chunking)
        if not reading.windows:
            return self.forward_encoded(self.encode(texts))
        enc, owner = encode_windows(self.tokenizer, texts, self.max_length, reading.stride, reading.max_windows)
        return {name: pool_logits(x, owner, len(texts), reading.pool)
                for name, x in self.forward_encoded(enc).items()}

    def score(self, texts: Sequence[str], chunking=None) -> dict[str, np.ndarray]:
        logits = self.logits(texts, chunking)
        return {t.name: to_probabilities(logits[t.name], t.problem) for t in self.spec.targets}

    def forward_encoded(self, enc: dict[str, list]) -> dict[str, np.ndarray]:
        """Batches of similar length (longest first), each padded to its own longest text."""
        ids = enc["input_ids"]
        out = {t.name: np.zeros((len(ids), len(t.labels)), dtype=np.float32) for t in self.spec.targets}
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            feed = pad_batch({k: [enc[k][i] for i in rows] for k in self.info.inputs if k in enc},
                             self.tokenizer.pad_token_id, self.tokenizer.padding_side == "left")
            for target, logits in zip(self.spec.targets, self.session.run(self.output_names, feed)):
                out[target.name][rows] = logits
        return out


def pad_batch(features: dict[str, list], pad_token_id: int, left: bool = False) -> dict[str, np.ndarray]:
    """int64 arrays padded to the longest row: pad id for input_ids, 0 for masks and type ids."""
    width = max(len(x) for x in features["input_ids"])
    out = {}
    for key, rows in features.items():
        fill = pad_token_id if key == "input_ids" else 0
        arr = np.full((len(rows), width), fill, dtype=np.int64)
        for i, row in enumerate(rows):
            if left:
                arr[i, width - len(row):] = row
            else:
                arr[i, :len(row)] = row
        out[key] = arr
    return out
