"""The static vocabulary a static student starts from: model2vec's distillation of a sentence encoder (every
vocabulary token through the encoder, mean-pooled, PCA, Zipf/SIF weighting), computed once per encoder
weights and settings and cached as model2vec writes it (safetensors and tokenizer.json; no pickle).

model2vec's `[distill]` extra pins transformers<5.4; its distillation itself runs on our transformers 5.x
with `skeletoken` installed (checked: the tiny-encoder test distils through it)."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.atomic import atomic_dir
from trainer.contracts.files import STUDENT_TOKENIZER, VOCABULARY_WEIGHTS
from trainer.errors import ConfigError, DataError
from trainer.events import notice

SIF_COEFFICIENT = 1e-4          # model2vec's default Zipf weighting
EMBEDDINGS_KEY = "embeddings"   # the tensor model2vec's save_pretrained writes


@dataclass
class Vocabulary:
    vectors: np.ndarray          # (tokens, dims) float32, Zipf-weighted as model2vec leaves them
    tokenizer_json: str          # the distilled tokenizer (tokenizers' JSON)
    key: str                     # sha256 of the encoder's weights and the distillation settings
    encoder: str                 # the encoder's name as configured


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trainer" / "static-vocabulary"


def static_vocabulary(m, seed: int, progress=None) -> Vocabulary:
    """The distilled vocabulary of student section `m` (encoder, init, config_overrides, pca_dims), from the
    cache when it holds one for these weights and settings, else distilled now and cached."""
    encoder, tokenizer, path = _encoder(m, seed)
    key = _key(encoder, m.pca_dims)
    folder = Path(m.vocabulary_cache or default_cache()).expanduser() / key[:24]
    if not (folder / VOCABULARY_WEIGHTS).is_file():
        notice(progress, f"distilling the static vocabulary of {m.encoder} (once; cached in {folder})")
        _distill(encoder, tokenizer, path, m.pca_dims, folder)
    return _read(folder, key, m.encoder)


def _encoder(m, seed: int):
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from trainer.models.encoders import apply_encoder_overrides, resolve_model_path
    path = resolve_model_path(m.encoder)
    config = AutoConfig.from_pretrained(path)
    apply_encoder_overrides(config, m.config_overrides)
    if m.init == "pretrained" and not m.config_overrides:
        encoder = AutoModel.from_pretrained(path, config=config)
    elif m.init == "pretrained":
        raise ConfigError("model.config_overrides: change the encoder's shape with init: random only (pretrained "
                          "weights would not fit it)")
    else:
        torch.manual_seed(seed)
        encoder = AutoModel.from_config(config)
    # model2vec asks the Hub for the model card when the name is not a local path: name the local folder
    encoder.name_or_path = path
    return encoder.eval(), AutoTokenizer.from_pretrained(path), path


def _key(encoder, pca_dims) -> str:
    import model2vec
    h = hashlib.sha256()
    for name, tensor in sorted(encoder.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().contiguous().numpy().tobytes())
    h.update(json.dumps({"pca_dims": pca_dims, "sif": SIF_COEFFICIENT, "model2vec": model2vec.__version__}).encode())
    return h.hexdigest()


def _distill(encoder, tokenizer, path: str, pca_dims, folder: Path) -> None:
    from model2vec.distill import distill_from_model
    dims = pca_dims if pca_dims is not None and pca_dims < encoder.config.hidden_size else None
    static = distill_from_model(encoder, tokenizer, device="cpu", pca_dims=dims, sif_coefficient=SIF_COEFFICIENT,
                                quantize_to="float32")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(folder) as tmp:
        static.save_pretrained(tmp)


def _read(folder: Path, key: str, encoder: str) -> Vocabulary:
    from safetensors.numpy import load_file
    try:
        vectors = load_file(folder / VOCABULARY_WEIGHTS)[EMBEDDINGS_KEY].astype(np.float32)
        tokenizer_json = (folder / STUDENT_TOKENIZER).read_text(encoding="utf-8")
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"{folder}: the cached static vocabulary cannot be read ({type(exc).__name__}); remove "
                        "that folder and train again to distil it anew") from None
    return Vocabulary(vectors, tokenizer_json, key, encoder)
