"""The generic fit path: the kind fits its heads, then what every kind shares is recorded in its spec."""
from __future__ import annotations

from trainer.models import Combination, FitContext, Fitted
from trainer.models.combination import record_combination


def fit_model(kind, ctx: FitContext) -> Fitted:
    """Fit `kind` (a Model subclass) on ctx; its spec then records the targets the config combines with the
    gazetteer (spec.settings["gazetteer"], read by trainer.models.combination), so no kind writes it."""
    fitted = kind.fit(ctx)
    record_combination(fitted.model.spec, ctx.data, ctx.cfg)
    fitted.model.combination = Combination(fitted.model.spec)   # the spec changed: combine as it now says
    return fitted
