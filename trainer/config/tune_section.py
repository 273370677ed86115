"""The `tune` section of a run config: how the settings written `auto` (ensemble member weights,
eval.thresholds, model.reading.mode) are picked on the run's own training split (trainer.tuning).

Why a section of its own: validation is small (Reuters: 381 documents, ~170 on a user's 2,000-article corpus)
and ranks settings differently from test; out-of-fold scores over a quarter of the training split do not.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from trainer.config.loader import StrictModel

# The Reuters study's cheap stand-in for a transformer member on the cut (the hand protocol's round 1, docs/results.md):
# 128 tokens x 3 epochs picked the same weight and bucket thresholds as the member's own 256 x 4 recipe.
DEFAULT_STAND_IN = {"model.max_length": 128, "train.epochs": 3}
STAND_IN_SECTIONS = ("model.", "train.")


class TuneSection(StrictModel):
    """Cross-fitting on the training split: folds (or one held-out cut), each member fitted on the rest and
    scored on the held-out part; the `auto` settings are picked on those out-of-fold scores. Test documents
    are never read; validation keeps its roles (early stopping, the report)."""
    folds: int = Field(1, ge=1, le=10, description="1: one held-out cut of `holdout` of the training split (about "
                                                   "one more training of the recipe with the stand-in). k > 1: k "
                                                   "folds, every training document scored once out of fold (k "
                                                   "fits of (k-1)/k of the split: more cost, less noise).")
    holdout: float = Field(0.25, gt=0, lt=1, description="folds 1: the share of the training split held out "
                                                         "(label-stratified).")
    seed: int | None = Field(None, description="Seed of the cut; null: train.seed.")
    stand_in: dict[str, Any] = Field(
        default_factory=lambda: dict(DEFAULT_STAND_IN),
        description="Dotted model./train. keys changed for transformer members (or a transformer model) while "
                    "they are fitted on the cut, to make tuning cheap, e.g. {model.max_length: 128, "
                    "train.epochs: 3}; {}: fit them on the cut as configured. The final model is fitted as "
                    "configured.")
    metric: Literal["micro_f1", "macro_f1", "mean_f1", "accuracy"] | None = Field(
        None, description="Out-of-fold figure that picks the weights, the reading and the head+gazetteer rule "
                          "(mean_f1: mean of micro- and macro-F1; several targets: their mean); null: "
                          "eval.metric. Bucket thresholds are each picked on their bucket's own micro-F1, as "
                          "per_bucket tunes them.")

    @model_validator(mode="after")
    def _stand_in_keys(self):
        bad = [k for k in self.stand_in if not k.startswith(STAND_IN_SECTIONS) or k.count(".") < 1]
        if bad:
            raise ValueError(f"tune.stand_in: keys must be dotted model.* or train.* keys, e.g. model.max_length; "
                             f"not {', '.join(bad)}")
        return self
