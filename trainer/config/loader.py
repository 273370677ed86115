"""Load YAML configs into pydantic models with errors that name the file, the key and the fix."""
from __future__ import annotations

import copy
import difflib
import typing
from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from trainer.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are refused, values are not coerced silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def load_yaml_tree(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """Read a YAML mapping, resolving `extends:` (a path relative to the file) recursively."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    tree = {} if tree is None else tree
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(tree).__name__}")
    parent = tree.pop("extends", None)
    if parent is None:
        return tree
    parent_path = (path.parent / str(parent)).resolve()
    if parent_path in _seen:
        raise ConfigError(f"{path}: `extends` cycle through {parent_path}")
    return deep_merge(load_yaml_tree(parent_path, _seen + (path.resolve(),)), tree)


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_overrides(tree: dict, overrides: Iterable[str], model: type[BaseModel] | None = None) -> dict:
    """Apply `a.b.c=value` overrides; values are parsed as YAML scalars/lists (`3`, `true`, `[a, b]`)."""
    tree = copy.deepcopy(tree)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. train.epochs=3")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parts = key.split(".")
        if model is not None:
            _check_key_path(model, parts, f"override {item!r}")
        node = tree
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(
                    f"override {item!r}: {'.'.join(parts[:depth + 1])} is a value, not a section"
                )
            node = child
        node[parts[-1]] = value
    return tree


def load_config(path: str | Path | None, model: type[M], overrides: Iterable[str] = (),
                tree: dict | None = None) -> M:
    """Load `path` (or a ready `tree`), apply overrides and validate against `model`."""
    if tree is None:
        if path is None:
            raise ConfigError("no config given")
        tree = load_yaml_tree(path)
    tree = apply_overrides(tree, overrides, model)
    try:
        cfg = model.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, path)) from None
    return cfg


def to_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def format_validation_error(exc: ValidationError, model: type[BaseModel], source: Any) -> str:
    where = f"{source}: " if source else ""
    lines = [f"{where}invalid config ({exc.error_count()} problem{'s' if exc.error_count() > 1 else ''}):"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not isinstance(p, int) or True]
        dotted = ".".join(loc) or "<top>"
        if err["type"] == "extra_forbidden":
            valid = _fields_at(model, loc[:-1])
            hint = _nearest(loc[-1], valid)
            msg = f"  {dotted}: unknown key" + (f"; did you mean '{hint}'?" if hint else "")
            if valid:
                msg += f" (valid keys here: {', '.join(sorted(valid))})"
        else:
            got = err.get("input")
            got_s = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
            msg = f"  {dotted}: {err['msg']}{got_s}"
        lines.append(msg)
    return "\n".join(lines)


def _nearest(word: str, candidates: Iterable[str]) -> str | None:
    hits = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.5)
    return hits[0] if hits else None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `Foo`, `Foo | None` or `Annotated[Foo, ...]`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _fields_at(model: type[BaseModel], loc: list[str]) -> list[str]:
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None or part not in current.model_fields:
            return []
        current = _model_of(current.model_fields[part].annotation)
    return list(current.model_fields) if current is not None else []


def _check_key_path(model: type[BaseModel], parts: list[str], what: str) -> None:
    current: type[BaseModel] | None = model
    for depth, part in enumerate(parts):
        if current is None:
            return  # free-form mapping (e.g. a label mapping table): any key is allowed
        fields = current.model_fields
        if part not in fields:
            if current.model_config.get("extra") != "forbid":
                return
            dotted = ".".join(parts[: depth + 1])
            hint = _nearest(part, fields)
            raise ConfigError(
                f"{what}: unknown key {dotted}" + (f"; did you mean '{'.'.join(parts[:depth] + [hint])}'?" if hint else "")
                + f" (valid keys here: {', '.join(sorted(fields))})"
            )
        current = _model_of(fields[part].annotation)
