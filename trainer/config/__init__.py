"""Typed configuration: YAML files with `extends:` inheritance and dotted command-line overrides."""
from trainer.config.loader import StrictModel, apply_overrides, load_config, load_yaml_tree, to_yaml

__all__ = ["StrictModel", "apply_overrides", "load_config", "load_yaml_tree", "to_yaml"]
