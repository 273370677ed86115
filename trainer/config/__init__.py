"""Typed configuration: YAML files with `extends:` inheritance, dotted command-line overrides, strict schemas."""
from trainer.config.loader import (StrictModel, apply_overrides, deep_merge, flatten, load_config, load_yaml_tree,
                                   parse_yaml, to_yaml)
from trainer.config.run_config import (ChunkingConfig, DataRef, EnsembleModel, EvalSection, GazetteerModel, ModelConfig,
                                       ReadingConfig, RunConfig, StudentModel, TargetConfig, TaskConfig, TfidfConfig,
                                       TfidfLinearModel, TransformerModel, member_run_config)

__all__ = ["StrictModel", "apply_overrides", "deep_merge", "flatten", "load_config", "load_yaml_tree", "parse_yaml",
           "to_yaml", "ChunkingConfig", "DataRef", "EvalSection", "ModelConfig", "RunConfig", "TaskConfig",
           "TfidfConfig", "TfidfLinearModel", "TransformerModel", "GazetteerModel", "TargetConfig", "EnsembleModel",
           "ReadingConfig", "StudentModel", "member_run_config"]
