"""`trainer validate`: tell data configs from run configs and validate each against its schema."""
from __future__ import annotations

from pathlib import Path

from trainer.config import load_config, load_yaml_tree


def validate_file(path: str | Path) -> str:
    """Validate one config file; return its kind ("data" or "run"); raise ConfigError otherwise."""
    tree = load_yaml_tree(path)
    if "source" in tree:
        from trainer.data.config import DataConfig
        load_config(path, DataConfig, tree=tree)
        return "data"
    from trainer.training.config import RunConfig
    load_config(path, RunConfig, tree=tree)
    return "run"
