"""Model kinds behind one interface (`Model`): fit, save, load, score. See `trainer.models.registry`."""
from trainer.models.base import FitContext, FitData, Fitted, Model, ScoreOptions
from trainer.models.registry import KINDS, export_model, load_model, model_class

__all__ = ["FitContext", "FitData", "Fitted", "Model", "ScoreOptions", "KINDS", "export_model", "load_model", "model_class"]
