"""The static student's network: token vectors mean-pooled over a text (model2vec's encode: unknown tokens
dropped, the mean L2-normalised), then a head per target (one hidden ReLU layer, or linear).

Training is torch (soft labels: BCE against the teacher's probabilities for a multi-label target,
cross-entropy against its distribution for a single-label one); scoring is numpy on the same arrays, so a
loaded student needs neither torch nor transformers, only `tokenizers`."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer.contracts import RETRAIN, Target
from trainer.contracts.files import STUDENT_TOKENIZER, STUDENT_WEIGHTS
from trainer.errors import DataError

EMBEDDINGS = "embeddings"


@dataclass
class StaticNetwork:
    """Arrays of a fitted static student: embeddings (tokens, dims) and per target the head's layers."""
    embeddings: np.ndarray
    heads: dict[str, list[tuple[np.ndarray, np.ndarray]]]   # target -> [(W (out, in), b (out,)), ...]
    tokenizer_json: str
    max_length: int

    def __post_init__(self):
        from tokenizers import Tokenizer
        self.tokenizer = Tokenizer.from_str(self.tokenizer_json)
        self.tokenizer.no_padding()
        # as model2vec's StaticModel reads: the first max_length tokens, then unknown tokens dropped
        self.tokenizer.enable_truncation(self.max_length)
        unk = getattr(self.tokenizer.model, "unk_token", None)
        self.unk_id = self.tokenizer.token_to_id(unk) if unk else None

    # ---- reading ----------------------------------------------------------------------------------------------
    def token_ids(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per text, the ids it is read as: its first max_length tokens (no special tokens), unknown ones dropped."""
        out = []
        for enc in self.tokenizer.encode_batch_fast([t or "" for t in texts], add_special_tokens=False):
            ids = np.asarray(enc.ids, dtype=np.int64)
            out.append(ids[ids != self.unk_id] if self.unk_id is not None else ids)
        return out

    def pooled(self, texts: Sequence[str]) -> np.ndarray:
        ids = self.token_ids(texts)
        out = np.zeros((len(ids), self.embeddings.shape[1]), dtype=np.float32)
        for i, row in enumerate(ids):
            if len(row):
                out[i] = self.embeddings[row].mean(axis=0)
        return out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-12)

    def score(self, texts: Sequence[str], targets: Sequence[Target], batch_size: int = 1024) -> dict[str, np.ndarray]:
        parts = {t.name: [] for t in targets}
        for start in range(0, len(texts), batch_size):
            x = self.pooled(texts[start:start + batch_size])
            for t in targets:
                parts[t.name].append(_probabilities(_forward(x, self.heads[t.name]), t.problem))
        return {t.name: (np.concatenate(parts[t.name]) if parts[t.name] else
                         np.zeros((0, len(t.labels)), np.float32)) for t in targets}

    # ---- files ------------------------------------------------------------------------------------------------
    def save(self, model_dir: Path) -> None:
        from safetensors.numpy import save_file
        arrays = {EMBEDDINGS: np.ascontiguousarray(self.embeddings, dtype=np.float32)}
        for name, layers in self.heads.items():
            for k, (w, b) in enumerate(layers):
                arrays[f"head.{name}.{k}.weight"] = np.ascontiguousarray(w, dtype=np.float32)
                arrays[f"head.{name}.{k}.bias"] = np.ascontiguousarray(b, dtype=np.float32)
        save_file(arrays, str(Path(model_dir) / STUDENT_WEIGHTS))
        (Path(model_dir) / STUDENT_TOKENIZER).write_text(self.tokenizer_json, encoding="utf-8")

    @classmethod
    def load(cls, model_dir: Path, targets: Sequence[Target], max_length: int) -> "StaticNetwork":
        from safetensors.numpy import load_file
        weights, tokenizer = Path(model_dir) / STUDENT_WEIGHTS, Path(model_dir) / STUDENT_TOKENIZER
        for path in (weights, tokenizer):
            if not path.is_file():
                raise DataError(f"{model_dir}: {path.name} missing: the run did not finish writing its model; {RETRAIN}")
        try:
            arrays = load_file(str(weights))
            heads = {}
            for t in targets:
                layers, k = [], 0
                while f"head.{t.name}.{k}.weight" in arrays:
                    layers.append((arrays[f"head.{t.name}.{k}.weight"], arrays[f"head.{t.name}.{k}.bias"]))
                    k += 1
                if not layers or layers[-1][0].shape[0] != len(t.labels):
                    raise ValueError(f"no head of {len(t.labels)} labels for target {t.name}")
                heads[t.name] = layers
            return cls(arrays[EMBEDDINGS], heads, tokenizer.read_text(encoding="utf-8"), max_length)
        except Exception as exc:  # noqa: BLE001 - safetensors and tokenizers raise their own types
            raise DataError(f"{model_dir}: the saved student cannot be loaded ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}); {RETRAIN}") from None

    @property
    def num_parameters(self) -> int:
        return int(self.embeddings.size + sum(w.size + b.size for layers in self.heads.values() for w, b in layers))


def _forward(x: np.ndarray, layers) -> np.ndarray:
    for k, (w, b) in enumerate(layers):
        x = x @ w.T + b
        if k < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return x


def _probabilities(logits: np.ndarray, problem: str) -> np.ndarray:
    if problem == "multi_label":
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -60, 60)))).astype(np.float32)
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


# ---- training ---------------------------------------------------------------------------------------------
@dataclass
class Fit:
    network: StaticNetwork
    validation_loss: float
    epochs: int
    seconds: float
    log_rows: list[dict]


def fit_static(vectors: np.ndarray, tokenizer_json: str, ids: list[np.ndarray], soft: dict[str, np.ndarray],
               val_ids: list[np.ndarray], val_soft: dict[str, np.ndarray], targets: Sequence[Target], m, *,
               tuned: bool, seed: int, loss_weights: dict[str, float]) -> Fit:
    """Train heads (and, `tuned`, the vectors) on the teacher's scores `soft`; keep the epoch with the lowest loss
    against the teacher's validation scores (the training loss when there is no validation split)."""
    import torch
    from torch import nn

    started = time.perf_counter()
    torch.manual_seed(seed)
    # tuned vectors get sparse gradients (only the rows a batch read): a dense step over the whole table
    # (30k x 256 for MiniLM) would cost more than the rest of the step together
    emb = nn.EmbeddingBag.from_pretrained(torch.from_numpy(vectors.copy()), freeze=not tuned, mode="mean",
                                          sparse=tuned)
    heads = nn.ModuleDict({t.name: _head(vectors.shape[1], m.hidden, len(t.labels)) for t in targets})
    optimizers = [torch.optim.AdamW(heads.parameters(), lr=m.learning_rate, weight_decay=0.0)]
    if tuned:
        optimizers.append(torch.optim.SparseAdam(list(emb.parameters()), lr=m.learning_rate / 10))

    def forward(batch_ids):
        flat = torch.from_numpy(np.concatenate(batch_ids) if batch_ids else np.zeros(0, np.int64))
        offsets = torch.tensor(np.cumsum([0] + [len(r) for r in batch_ids[:-1]]), dtype=torch.long)
        x = emb(flat, offsets)
        x = x / (x.norm(dim=1, keepdim=True) + 1e-12)
        return {name: head(x) for name, head in heads.items()}

    def loss_of(out, rows, scores):
        total = 0.0
        for t in targets:
            target = torch.from_numpy(scores[t.name][rows])
            if t.problem == "multi_label":
                part = nn.functional.binary_cross_entropy_with_logits(out[t.name], target)
            else:
                part = nn.functional.cross_entropy(out[t.name], target)
            total = total + loss_weights.get(t.name, 1.0) * part
        return total

    def evaluate(all_ids, scores) -> float:
        with torch.no_grad():
            losses = [float(loss_of(forward(all_ids[s:s + 512]), np.arange(s, min(s + 512, len(all_ids))), scores))
                      * min(512, len(all_ids) - s) for s in range(0, len(all_ids), 512)]
        return sum(losses) / max(len(all_ids), 1)

    # an empty text reads as no token: EmbeddingBag gives it a zero vector, as the numpy scorer does
    keep_val = val_ids if val_ids else ids
    keep_scores = val_soft if val_ids else soft
    rng = np.random.default_rng(seed)
    best, best_state, best_epoch, bad, rows = float("inf"), None, 0, 0, []
    for epoch in range(1, m.epochs + 1):
        emb.train(), heads.train()
        order = rng.permutation(len(ids))
        for s in range(0, len(order), m.batch_size):
            batch = order[s:s + m.batch_size]
            for opt in optimizers:
                opt.zero_grad()
            loss = loss_of(forward([ids[i] for i in batch]), batch, soft)
            loss.backward()
            for opt in optimizers:
                opt.step()
        emb.eval(), heads.eval()
        val = evaluate(keep_val, keep_scores)
        rows.append({"epoch": epoch, "embeddings": "tuned" if tuned else "frozen", "validation_loss": round(val, 6),
                     "train_seconds": round(time.perf_counter() - started, 3)})
        if val < best - 1e-6:
            best, best_epoch, bad = val, epoch, 0
            best_state = ({k: v.detach().clone() for k, v in heads.state_dict().items()},
                          emb.weight.detach().clone() if tuned else None)
        else:
            bad += 1
            if bad >= m.patience:
                break
    heads.load_state_dict(best_state[0])
    embeddings = (best_state[1] if tuned else emb.weight).detach().numpy().astype(np.float32)
    layers = {t.name: [(lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy())
                       for lin in heads[t.name] if isinstance(lin, nn.Linear)] for t in targets}
    network = StaticNetwork(embeddings, layers, tokenizer_json, m.max_tokens)
    return Fit(network, best, best_epoch, time.perf_counter() - started, rows)


def _head(dims: int, hidden: int, labels: int):
    from torch import nn
    if hidden == 0:
        return nn.Sequential(nn.Linear(dims, labels))
    return nn.Sequential(nn.Linear(dims, hidden), nn.ReLU(), nn.Linear(hidden, labels))
