"""Resolve a model name (alias, local directory, cached hub id) to a local directory. Never downloads.
It lives in trainer.models.encoders (the student kind uses it too); this name stays for its callers."""
from trainer.models.encoders import ALIASES, resolve_model_path

__all__ = ["ALIASES", "resolve_model_path"]
