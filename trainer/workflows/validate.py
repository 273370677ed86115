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
    """`trainer validate --explain KEY`: a run-config key or a data-config key (`labels.topic.mapping`), whichever
    schema has it; `data.KEY` also names a data-config key (`data` alone is the run config's section). A key both
    schemas have is explained for the run config, with a pointer to the other."""
    from trainer.config.explain import explain
    from trainer.data.config import DataConfig
    from trainer.errors import ConfigError
    data_key = key[len("data."):] if key.startswith("data.") else None
    try:
        text = explain(RunConfig, key)
    except ConfigError as run_error:
        for candidate in ([key] if data_key is None else [data_key, key]):
            try:
                return "(data config)\n" + explain(DataConfig, candidate)
            except ConfigError:
                continue
        raise ConfigError(f"{run_error}; nor is it a data-config key (those start with "
                          f"{', '.join(DataConfig.model_fields)})") from None
    try:
        explain(DataConfig, key)
    except ConfigError:
        return text
    return text + f"\n(a data config has a key {key!r} too: `trainer validate --explain data.{key}`)"
