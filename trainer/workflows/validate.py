"""`trainer validate`: tell data configs from run configs and validate each against its schema."""
from __future__ import annotations

from pathlib import Path

from trainer.config import RunConfig, load_config, load_yaml_tree


def validate_file(path: str | Path) -> str:
    """Validate one config file; return its kind ("data" or "run"); raise ConfigError otherwise."""
    tree = load_yaml_tree(path)
    if "source" in tree:
        from trainer.data.config import DataConfig
        load_config(path, DataConfig)
        return "data"
    load_config(path, RunConfig)
    return "run"


def explain_key(key: str) -> str:
    """`trainer validate --explain KEY`: a run-config key, or `data.source.kind` style keys of a data config
    when the run config has no such key (`data` alone is the run config's section)."""
    from trainer.config.explain import explain
    from trainer.data.config import DataConfig
    from trainer.errors import ConfigError
    try:
        return explain(RunConfig, key)
    except ConfigError as run_error:
        if not key.startswith("data."):
            raise
        try:
            return "(data config)\n" + explain(DataConfig, key[len("data."):])
        except ConfigError:
            raise run_error from None
