"""Model kinds behind one interface (`Model`): fit, save, load, score. See `trainer.models.registry`."""
from trainer.models.base import HEAD_ONLY, FitContext, FitData, Fitted, Model, ScoreOptions
from trainer.models.combination import Combination
from trainer.models.registry import KINDS, export_model, load_model, model_class

__all__ = ["HEAD_ONLY", "Combination", "FitContext", "FitData", "Fitted", "Model", "ScoreOptions", "KINDS", "export_model", "load_model",
           "model_class"]
