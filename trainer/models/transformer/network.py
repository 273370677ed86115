"""The network: a Hugging Face encoder, mean (or CLS) pooling, and a linear head per target.

The heads of several targets are row blocks of one `classifier` layer: the same parameters as
separate layers (each target's logits are its own linear function of the pooled vector), one
matmul. `config.heads` records the blocks; a one-target network has no `heads` and the plain
layout Trainer expects (multi-hot rows, or class indices).

Saved as a plain `save_pretrained` folder (config.json + model.safetensors + tokenizer files);
loading imports this class, never remote code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from trainer.errors import ConfigError
from trainer.models.encoders import apply_encoder_overrides

PROBLEM_TYPES = {"multi_label": "multi_label_classification", "single_label": "single_label_classification"}


class PooledClassifierConfig(PreTrainedConfig):
    model_type = "trainer-pooled-classifier"

    encoder: dict | None = None              # the encoder's own config, as `to_dict()` writes it
    pooling: str = "mean"                    # "mean" over the attention mask, or "cls" (first token)
    classifier_dropout: float = 0.1
    loss_weights: list[float] | None = None  # multi-label: BCE pos_weight; single-label: CE class weights
    # several targets: [{"name", "problem", "num_labels", "loss_weight"}] in block order; labels rows are the
    # blocks (multi-hot / one-hot) then one 0/1 column per head (does the document count for it)
    heads: list[dict] | None = None


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

    def blocks(self) -> list[tuple[dict, slice]]:
        """(head, its columns of the logits) per target; one plain head when the config has none."""
        if not self.config.heads:
            problem = "multi_label" if self.multi_label else "single_label"
            return [({"name": None, "problem": problem, "num_labels": self.config.num_labels, "loss_weight": 1.0},
                     slice(0, self.config.num_labels))]
        out, start = [], 0
        for head in self.config.heads:
            out.append((head, slice(start, start + head["num_labels"])))
            start += head["num_labels"]
        return out

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits = logits.float()   # under bf16 autocast: the loss is computed in fp32
        long_tail = getattr(self, "long_tail_loss", None)   # model.loss other than bce (set by fitting; not saved)
        if long_tail is not None and self.multi_label and not self.config.heads:
            return long_tail(logits, labels)
        weights = None
        if self.config.loss_weights is not None:
            weights = torch.tensor(self.config.loss_weights, dtype=torch.float32, device=logits.device)
        if not self.config.heads:
            return _head_loss(logits, labels, self.multi_label, weights)
        labels = labels.float()
        counts = labels[:, logits.shape[1]:]            # one 0/1 column per head
        total = logits.new_zeros(())
        for k, (head, cols) in enumerate(self.blocks()):
            rows = counts[:, k] > 0
            if not rows.any():    # no document of the batch has this target: its head gets no gradient
                continue
            w = weights[cols] if weights is not None else None
            multi = head["problem"] == "multi_label"
            target = labels[rows, cols] if multi else labels[rows, cols].argmax(-1)
            total = total + head["loss_weight"] * _head_loss(logits[rows, cols], target, multi, w)
        return total

    def set_prior_bias(self, priors: Sequence[float]) -> None:
        """Start each head at its label base rates, so early steps do not spend themselves learning them."""
        p = torch.tensor(priors, dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
        bias = torch.empty_like(p)
        for head, cols in self.blocks():
            block = p[cols]
            bias[cols] = torch.log(block / (1 - block)) if head["problem"] == "multi_label" else \
                torch.log(block / block.sum())
        with torch.no_grad():
            self.classifier.bias.copy_(bias.to(self.classifier.bias.dtype))


def _head_loss(logits: torch.Tensor, labels: torch.Tensor, multi_label: bool, weights) -> torch.Tensor:
    if multi_label:
        return nn.functional.binary_cross_entropy_with_logits(logits, labels.float(), pos_weight=weights)
    return nn.functional.cross_entropy(logits, labels.long(), weight=weights)


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
                     loss_weights: Sequence[float] | None = None, heads: list[dict] | None = None) -> PooledClassifier:
    """A new classifier over `labels`: pretrained encoder weights from `encoder_path`, or random (tests).
    `heads` (several targets): the blocks of `labels`, see PooledClassifierConfig.heads.

    `attention` picks the encoder's attention kernel ("eager", "sdpa"); None keeps the library default.
    """
    enc_cfg = AutoConfig.from_pretrained(encoder_path)
    if attention_dropout is not None:
        set_attention_dropout(enc_cfg, attention_dropout)
    apply_encoder_overrides(enc_cfg, encoder_overrides or {})
    config = PooledClassifierConfig(
        encoder=enc_cfg.to_dict(), pooling=pooling, classifier_dropout=dropout,
        loss_weights=list(map(float, loss_weights)) if loss_weights is not None else None,
        id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
        problem_type=PROBLEM_TYPES[problem], heads=[dict(h) for h in heads] if heads else None,
        pad_token_id=getattr(enc_cfg, "pad_token_id", None),   # Trainer checks it against the tokenizer's
    )
    try:
        model = PooledClassifier(config)
    except (ValueError, RuntimeError) as exc:   # e.g. hidden_size not a multiple of num_attention_heads
        raise ConfigError(f"model.config_overrides: the encoder cannot be built with these values ({exc})") from None
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


def load_network(path: str | Path):
    """(PooledClassifier in eval mode, tokenizer) from a model directory written by `save_pretrained`."""
    model = PooledClassifier.from_pretrained(str(path), dtype=torch.float32)
    # the encoder config tells AutoTokenizer the tokenizer family without it reading our config.json
    tokenizer = AutoTokenizer.from_pretrained(str(path), config=encoder_config(model.config))
    model.eval()
    return model, tokenizer
