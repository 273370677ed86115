"""Multi-label losses for long-tailed label sets (`model.loss`), beside plain binary cross-entropy.

With BCE every document is a negative for almost every label, so a label seen in three training
documents gets thousands of "no" for each "yes" and its logit is pushed far below zero: the model
rarely predicts it, and its F1 is 0. Two published remedies, each with its authors' settings:

- `distribution_balanced` (Wu et al. 2020, ECCV; for text: Huang et al. 2021, EMNLP, evaluated on
  Reuters-21578): a re-balancing weight per (document, label) from label frequencies, so documents
  of frequent labels do not drown the rare ones; negative-tolerant regularisation (negatives' logits
  scaled by `NEG_SCALE`, loss divided by it: a negative below its margin stops being pushed down);
  a class-specific logit margin from the label prior; and a focal term (gamma 2).
- `asymmetric` (Ridnik et al. 2021, ICCV): focusing only on negatives (gamma- 4, gamma+ 0) and
  negatives with probability under `ASL_CLIP` are ignored.

Both take the training label counts (`counts`, `n_train`): the label space of the run.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

LOSSES = ("bce", "distribution_balanced", "asymmetric")

# distribution-balanced loss: the settings of Huang et al. 2021 for Reuters-21578 (their "DBloss")
DB_ALPHA, DB_BETA, DB_MU = 0.1, 10.0, 0.9       # re-balancing weight = alpha + sigmoid(beta * (r - mu))
DB_FOCAL_GAMMA, DB_FOCAL_ALPHA = 2.0, 0.5       # focal term (1 - p_t)^gamma, times alpha for both classes
DB_NEG_SCALE, DB_INIT_BIAS = 2.0, 0.05          # negative-tolerant regularisation: lambda, kappa
# asymmetric loss: Ridnik et al. 2021's defaults
ASL_GAMMA_NEG, ASL_GAMMA_POS, ASL_CLIP = 4.0, 0.0, 0.05


class LongTailLoss(nn.Module):
    """Callable (logits, multi-hot labels) -> scalar loss, for one multi-label target."""

    def __init__(self, kind: str, counts: Sequence[int], n_train: int):
        super().__init__()
        if kind not in LOSSES:
            raise ValueError(f"unknown loss {kind!r}; known: {', '.join(LOSSES)}")
        self.kind = kind
        freq = torch.tensor([max(int(c), 1) for c in counts], dtype=torch.float32)
        n = float(max(n_train, int(freq.max()) + 1))
        self.register_buffer("freq_inv", 1.0 / freq, persistent=False)
        # log-odds of each label's prior: very negative for rare labels
        self.register_buffer("prior_logit", torch.log(freq / (n - freq)), persistent=False)

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits, labels = logits.float(), labels.float()
        if self.kind == "bce":
            return nn.functional.binary_cross_entropy_with_logits(logits, labels)
        if self.kind == "asymmetric":
            return asymmetric_loss(logits, labels)
        return self.distribution_balanced(logits, labels)

    def rebalance_weights(self, labels: torch.Tensor) -> torch.Tensor:
        """(B, L) weights: a label's sampling rate over the rate of the document (its positives' mean)."""
        freq_inv = self.freq_inv.to(labels.device)
        repeat_rate = (labels * freq_inv).sum(dim=1, keepdim=True)          # (B, 1)
        ratio = freq_inv / repeat_rate.clamp(min=1e-12)                      # (B, L)
        weight = torch.sigmoid(DB_BETA * (ratio - DB_MU)) + DB_ALPHA
        # a document without any label has no sampling rate: plain weight 1
        return torch.where(repeat_rate > 0, weight, torch.ones_like(weight))

    def distribution_balanced(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        weight = self.rebalance_weights(labels)
        # class-specific margin kappa * prior log-odds, then the negatives' logits scaled by lambda
        logits = logits + self.prior_logit.to(logits.device) * DB_INIT_BIAS
        logits = logits * (1 - labels) * DB_NEG_SCALE + logits * labels
        weight = weight / DB_NEG_SCALE * (1 - labels) + weight * labels
        bce = nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        pt = torch.exp(-bce)
        loss = DB_FOCAL_ALPHA * (1 - pt) ** DB_FOCAL_GAMMA * bce * weight
        return loss.mean()


def asymmetric_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Ridnik et al. 2021: L+ = (1-p)^g+ log p, L- = p_m^g- log(1-p_m), p_m = max(p - clip, 0); mean over entries."""
    p = torch.sigmoid(logits)
    p_neg = (p - ASL_CLIP).clamp(min=0)
    log_pos = nn.functional.logsigmoid(logits)
    log_neg = torch.log((1 - p_neg).clamp(min=1e-8))
    pos = labels * (1 - p) ** ASL_GAMMA_POS * log_pos
    neg = (1 - labels) * p_neg ** ASL_GAMMA_NEG * log_neg
    return -(pos + neg).mean()
