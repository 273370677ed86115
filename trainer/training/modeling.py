"""The classifier: a Hugging Face encoder, mean (or CLS) pooling, one linear head.

Saved as a plain `save_pretrained` folder (config.json + model.safetensors + tokenizer files)
plus `trainer.json` (see docs/contracts.md). Loading imports this class: no remote code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from trainer.atomic import atomic_dir, atomic_write_json
from trainer.inference import SPEC_FILE
from trainer.inference.thresholds import Thresholds, save_thresholds
from trainer.errors import ConfigError, DataError

PROBLEM_TYPES = {"multi_label": "multi_label_classification", "single_label": "single_label_classification"}


class PooledClassifierConfig(PreTrainedConfig):
    model_type = "trainer-pooled-classifier"

    encoder: dict | None = None              # the encoder's own config, as `to_dict()` writes it
    pooling: str = "mean"                    # "mean" over the attention mask, or "cls" (first token)
    classifier_dropout: float = 0.1
    loss_weights: list[float] | None = None  # multi-label: BCE pos_weight; single-label: CE class weights


class PooledClassifier(PreTrainedModel):
    config_class = PooledClassifierConfig
    base_model_prefix = "encoder"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    accepts_loss_kwargs = False   # the loss is a per-batch mean: Trainer must scale it for gradient accumulation

    def __init__(self, config: PooledClassifierConfig):
        super().__init__(config)
        self.encoder = AutoModel.from_config(encoder_config(config))
        _drop_pooler(self.encoder)
        hidden = self.encoder.config.hidden_size
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(hidden, config.num_labels)
        self.post_init()

    @property
    def multi_label(self) -> bool:
        return self.config.problem_type == "multi_label_classification"

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        enc_kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            enc_kwargs["token_type_ids"] = token_type_ids
        hidden = self.encoder(**enc_kwargs).last_hidden_state
        pooled = pool(hidden, attention_mask, self.config.pooling)
        logits = self.classifier(self.dropout(pooled))
        loss = self.loss(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = logits.float()   # under bf16 autocast: the loss is computed in fp32
        weights = None
        if self.config.loss_weights is not None:
            weights = torch.tensor(self.config.loss_weights, dtype=torch.float32, device=logits.device)
        if self.multi_label:
            return nn.functional.binary_cross_entropy_with_logits(logits, labels.float(), pos_weight=weights)
        return nn.functional.cross_entropy(logits, labels.long(), weight=weights)

    def set_prior_bias(self, priors: Sequence[float]) -> None:
        """Start the head at the label base rates, so early steps do not spend themselves learning them."""
        p = torch.tensor(priors, dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
        bias = torch.log(p / (1 - p)) if self.multi_label else torch.log(p / p.sum())
        with torch.no_grad():
            self.classifier.bias.copy_(bias.to(self.classifier.bias.dtype))


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, how: str) -> torch.Tensor:
    if how == "cls":
        return hidden[:, 0]
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-6)


def encoder_config(config: PooledClassifierConfig):
    spec = dict(config.encoder or {})
    model_type = spec.pop("model_type", None)
    if not model_type:
        raise ValueError("PooledClassifierConfig.encoder needs a model_type")
    return AutoConfig.for_model(model_type, **spec)


def _drop_pooler(encoder: nn.Module) -> None:
    # BERT-style poolers feed nothing here; unused parameters would also break DDP's gradient sync
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None


def build_classifier(encoder_path: str | None, labels: Sequence[str], problem: str, *,
                     pooling: str = "mean", dropout: float = 0.1, attention: str | None = None,
                     attention_dropout: float | None = None,
                     encoder_overrides: dict | None = None,
                     random_init: bool = False, priors: Sequence[float] | None = None,
                     loss_weights: Sequence[float] | None = None) -> PooledClassifier:
    """A new classifier over `labels`: pretrained encoder weights from `encoder_path`, or random (tests).

    `attention` picks the encoder's attention kernel ("eager", "sdpa"); None keeps the library default.
    """
    enc_cfg = AutoConfig.from_pretrained(encoder_path)
    if attention_dropout is not None:
        set_attention_dropout(enc_cfg, attention_dropout)
    for key, value in (encoder_overrides or {}).items():
        setattr(enc_cfg, key, value)
    config = PooledClassifierConfig(
        encoder=enc_cfg.to_dict(), pooling=pooling, classifier_dropout=dropout,
        loss_weights=list(map(float, loss_weights)) if loss_weights is not None else None,
        id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
        problem_type=PROBLEM_TYPES[problem],
        pad_token_id=getattr(enc_cfg, "pad_token_id", None),   # Trainer checks it against the tokenizer's
    )
    model = PooledClassifier(config)
    if not random_init:
        encoder = AutoModel.from_pretrained(encoder_path, config=enc_cfg, dtype=torch.float32)
        _drop_pooler(encoder)
        model.encoder = encoder
    if attention is not None:
        model.encoder.set_attn_implementation(attention)   # training kernel only: not saved in config.json
    if priors is not None:
        model.set_prior_bias(priors)
    return model


ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")   # BERT family; DistilBERT, BART


def set_attention_dropout(enc_cfg, p: float) -> None:
    """Set the encoder config's attention-probability dropout, whatever the architecture calls it."""
    keys = [key for key in ATTENTION_DROPOUT_KEYS if hasattr(enc_cfg, key)]
    if not keys:
        raise ConfigError(f"model.attention_dropout: the {enc_cfg.model_type} config has none of "
                        f"{', '.join(ATTENTION_DROPOUT_KEYS)}; set model.attention_dropout: null")
    for key in keys:
        setattr(enc_cfg, key, p)


def save_model_dir(model: PooledClassifier, tokenizer, spec: dict[str, Any], path: str | Path) -> Path:
    """Write `path` atomically: safetensors weights, config, tokenizer, trainer.json (+ thresholds.json)."""
    spec = {"model_type": "transformer", **spec}
    with atomic_dir(path) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        atomic_write_json(tmp / SPEC_FILE, spec)
        if spec.get("problem") == "multi_label":
            save_thresholds(tmp, Thresholds.default(len(spec["labels"])))   # until evaluate tunes them
    return Path(path)


def read_spec(path: str | Path) -> dict:
    from trainer.inference import read_model_spec   # one reader of trainer.json, shared with inference
    return read_model_spec(path)


def load_model_dir(path: str | Path):
    """Return (model in eval mode, tokenizer, spec) from a directory written by `save_model_dir`."""
    spec = read_spec(path)
    if spec.get("model_type") != "transformer":
        raise DataError(f"{path}: model_type {spec.get('model_type')!r} is not a transformer model")
    model = PooledClassifier.from_pretrained(str(path), dtype=torch.float32)
    # the encoder config tells AutoTokenizer the tokenizer family without it reading our config.json
    tokenizer = AutoTokenizer.from_pretrained(str(path), config=encoder_config(model.config))
    model.eval()
    return model, tokenizer, spec
