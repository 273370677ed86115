"""Load YAML configs into pydantic models with errors that name the file, the key and the fix.

Relative paths written in a config file (the keys a schema lists in its `path_keys`, e.g. data.dataset,
data.build, output.dir) are taken from the config's *base folder*, wherever the command runs: the folder
holding the nearest `configs/` folder above the file (the project the config belongs to), else the
file's own folder. So `configs/x.yaml`'s `data/processed/...` means `<repo>/data/processed/...` from
any current directory. Values given on the command line (`key=value` overrides) are taken from the
current directory, where the user typed them, and made absolute; `$VAR/...`, `~/...` and URIs are left
as written.

Values are not coerced: the schemas are strict (`"16"` is not an int, `"yes"` is not a bool) and
non-finite numbers (`.inf`, `.nan`) are refused. YAML is read with YAML 1.2 scalars: only
true/false are booleans (yes/no/on/off stay strings, and are then refused where a bool is
expected), and `1e-4` is a float.
"""
from __future__ import annotations

import copy
import difflib
import os
import re
import typing
from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from trainer.errors import ConfigError
from trainer.events import Progress, notice

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are refused, values are not coerced, numbers are finite."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False)


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and floats (PyYAML implements 1.1, where `yes` is True and
    `1e-4` is a string)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                    list("tTfF"))
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+0123456789."))


def parse_yaml(text: str) -> Any:
    """YAML text -> Python values, with the loader every config and override uses."""
    return yaml.load(text, Loader=_Yaml12Loader)  # noqa: S506 - a SafeLoader subclass


def config_base(path: str | Path) -> Path:
    """The folder that relative paths in the config file `path` are taken from: the parent of the nearest
    folder named `configs` that holds the file (e.g. the repository for `configs/data/x.yaml`), else the
    file's own folder."""
    folder = Path(path).resolve().parent
    for candidate in (folder, *folder.parents):
        if candidate.name == "configs":
            return candidate.parent
    return folder


def path_keys(model: type[BaseModel] | None) -> tuple[str, ...]:
    """The dotted keys of `model` that hold file system paths (its `path_keys` class attribute)."""
    return tuple(getattr(model, "path_keys", ())) if model is not None else ()


def load_yaml_tree(path: str | Path, model: type[BaseModel] | None = None, _seen: tuple[Path, ...] = ()) -> dict:
    """Read a YAML mapping, resolving `extends:` (a path relative to the file) recursively.

    With `model`, the relative paths of its `path_keys` are resolved against each file's `config_base`
    (a parent file's against its own), and a path key the files leave out gets its schema default
    resolved the same way (e.g. output.dir `runs` -> `<base>/runs`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        tree = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    tree = {} if tree is None else tree
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(tree).__name__}")
    base = config_base(path)
    keys = path_keys(model)
    _resolve_paths(tree, keys, base)
    parent = tree.pop("extends", None)
    if parent is not None:
        parent_path = (path.parent / str(parent)).resolve()
        if parent_path in _seen:
            raise ConfigError(f"{path}: `extends` cycle through {parent_path}")
        tree = deep_merge(load_yaml_tree(parent_path, model, _seen + (path.resolve(),)), tree)
    if not _seen:   # the file named on the command line: defaults of path keys it leaves out
        for key in keys:
            default = _default_at(model, key.split("."))
            if isinstance(default, str) and _lookup(tree, key.split(".")) is _MISSING:
                _assign(tree, key.split("."), resolve_path(default, base))
    return tree


_MISSING = object()


def resolve_path(value: str, base: Path) -> str:
    """`value` taken from `base` when it is a plain relative path; absolute paths, `$VAR/...`, `~/...`
    and URIs (`sqlite:///...`) are returned unchanged."""
    if not value or value.startswith(("$", "~")) or "://" in value or Path(value).is_absolute():
        return value
    return os.path.normpath(base / value)


def _resolve_paths(tree: dict, keys: Iterable[str], base: Path) -> None:
    for key in keys:
        parts = key.split(".")
        value = _lookup(tree, parts)
        if isinstance(value, str):
            _assign(tree, parts, resolve_path(value, base))
        elif isinstance(value, list):
            _assign(tree, parts, [resolve_path(v, base) if isinstance(v, str) else v for v in value])


def _lookup(tree: Any, parts: list[str]) -> Any:
    node = tree
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _assign(tree: dict, parts: list[str], value: Any) -> None:
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            return   # a value where a section belongs: validation reports it
        node = child
    node[parts[-1]] = value


def _default_at(model: type[BaseModel] | None, parts: list[str]) -> Any:
    """The schema default of a dotted key (None when a section on the way has no model)."""
    current = model
    for depth, part in enumerate(parts):
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return None
        field = fields[part]
        if depth == len(parts) - 1:
            return None if field.is_required() else field.get_default(call_default_factory=True)
        current = _model_of(field.annotation)
    return None


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_overrides(tree: dict, overrides: Iterable[str], model: type[BaseModel] | None = None,
                    progress: Progress = None) -> dict:
    """Apply `a.b.c=value` overrides; values are parsed as YAML scalars/lists (`3`, `true`, `[a, b]`).
    A `SECTION.type=KIND` switch says which keys it dropped as a notice to `progress` (trainer.events)."""
    tree = copy.deepcopy(tree)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value, e.g. train.epochs=3")
        try:
            value = parse_yaml(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        parts = key.split(".")
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
        before = node.get(parts[-1])
        node[parts[-1]] = value
        if model is not None:   # after setting it, so a `model.type=...` override picks the section's kind
            check_key_path(model, parts, tree, f"override {item!r}")
            if parts[-1] == "type" and before != value:
                _drop_other_kind(model, parts[:-1], node, before, value, progress)
    return tree


def _drop_other_kind(model: type[BaseModel], loc: list[str], section: dict, before: Any, after: Any,
                     progress: Progress = None) -> None:
    """A `SECTION.type=KIND` override switching a section's kind (model.type=tfidf-linear over a transformer
    config): the keys only the previous kind has are dropped, and one line says which, so that a config can
    be tried with another model kind without editing it."""
    members = _union_members(_annotation_at(model, loc))
    if not members:
        return
    if before is None:     # the section did not say: it was the default kind (the union's first member)
        before = members[0].model_fields["type"].default
    valid = set(fields_at(model, loc, _tree_at(loc, section)))
    if not valid:
        return    # an unknown kind: validation names it
    dropped = [key for key in section if key not in valid]
    for key in dropped:
        del section[key]
    if dropped:
        where = ".".join(loc)
        notice(progress, f"{where}.type={after}: dropped the {before} keys "
                         f"{', '.join(f'{where}.{k}' for k in dropped)}")


def _tree_at(loc: list[str], section: dict) -> dict:
    """A tree holding `section` at `loc` (to resolve the section's union member by its type)."""
    tree: dict = section
    for part in reversed(loc):
        tree = {part: tree}
    return tree


def load_config(path: str | Path | None, model: type[M], overrides: Iterable[str] = (),
                tree: dict | None = None, resolve_paths: bool = True, progress: Progress = None) -> M:
    """Load `path` (or a ready `tree`), apply overrides and validate against `model`.

    Relative paths in the file are resolved against its base folder (see the module docstring) unless
    `resolve_paths` is False (a run directory's config.yaml: its paths were recorded as the run used them).
    Notices (keys an override of a section's kind dropped) go to `progress` (trainer.events)."""
    if tree is None:
        if path is None:
            raise ConfigError("no config given")
        tree = load_yaml_tree(path, model if resolve_paths else None)
    overrides = list(overrides)
    tree = apply_overrides(tree, overrides, model, progress)
    if resolve_paths:
        _resolve_override_paths(tree, overrides, model)
    try:
        cfg = model.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, model, path, tree)) from None
    return cfg


def _resolve_override_paths(tree: dict, overrides: list[str], model: type[BaseModel]) -> None:
    """Path keys typed on the command line are taken from the current directory, where the user typed them, and
    made absolute so that the run's config.yaml still names them from any other directory."""
    keys = path_keys(model)
    typed = {item.partition("=")[0].strip() for item in overrides}
    _resolve_paths(tree, [k for k in keys if k in typed], Path.cwd())


def to_yaml(cfg: BaseModel) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> dotted keys; lists stay values (compared as a whole)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


# ---- errors -------------------------------------------------------------------------------------
def format_validation_error(exc: ValidationError, model: type[BaseModel], source: Any, tree: dict | None = None) -> str:
    """The one place a pydantic ValidationError becomes a message: dotted key, the problem, the fix."""
    where = f"{source}: " if source else ""
    lines = [f"{where}invalid config ({exc.error_count()} problem{'s' if exc.error_count() > 1 else ''}):"]
    for err in exc.errors():
        loc = _user_loc(model, [p for p in err["loc"]], tree or {})
        dotted = ".".join(loc) or "<top>"
        if err["type"] == "extra_forbidden":
            valid = fields_at(model, loc[:-1], tree or {})
            hint = _nearest(loc[-1], valid)
            kind = _kind_at(model, loc[:-1], tree or {})
            msg = f"  {dotted}: unknown key" + (f" for {kind}" if kind else "")
            msg += f"; did you mean '{hint}'?" if hint else ""
            if valid:
                msg += f" (valid keys here: {', '.join(sorted(valid))})"
        else:
            got = err.get("input")
            got_s = "" if isinstance(got, (dict, list)) else f" (got {got!r})"
            msg = f"  {dotted}: {_message(err)}{got_s}"
        lines.append(msg)
    return "\n".join(lines)


def _message(err: dict) -> str:
    if err["type"] == "finite_number":
        return "must be a finite number (not inf or nan)"
    return err["msg"]


def _user_loc(model: type[BaseModel], loc: list, tree: dict) -> list[str]:
    """The error location as the user writes keys: a discriminated union's tag (`tfidf-linear`) dropped."""
    out: list[str] = []
    current: Any = model
    tag_next = False
    for part in loc:
        if tag_next:   # pydantic puts the chosen member's tag after a union field; the user never wrote it
            tag_next = False
            if isinstance(part, str) and not (current and part in current.model_fields):
                continue
        fields = getattr(current, "model_fields", None)
        if isinstance(part, str) and fields is not None and part in fields:
            out.append(part)
            annotation = fields[part].annotation
            current = _model_of(annotation, _subtree(tree, out))
            tag_next = bool(_union_members(annotation))
        else:
            out.append(str(part))
            current = None
    return out


def _subtree(tree: dict, keys: list[str]) -> Any:
    node: Any = tree
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _nearest(word: str, candidates: Iterable[str]) -> str | None:
    hits = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.5)
    return hits[0] if hits else None


# ---- walking the schema -------------------------------------------------------------------------
def _union_members(annotation: Any) -> list[type[BaseModel]]:
    """The models of a union annotation such as `A | B` or `Annotated[A | B, Discriminator]`."""
    if annotation is None:
        return []
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return _union_members(args[0])
    members = []
    for arg in args:
        if typing.get_origin(arg) is typing.Annotated:
            arg = typing.get_args(arg)[0]
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            members.append(arg)
    return members if len(members) > 1 else []


def _model_of(annotation: Any, subtree: Any = None) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as `Foo`, `Foo | None` or `Annotated[Foo, ...]`;
    for a union of models, the member whose `type` matches `subtree["type"]` (or the first, the default)."""
    members = _union_members(annotation)
    if members:
        wanted = subtree.get("type") if isinstance(subtree, dict) else None
        for member in members:
            tag = member.model_fields.get("type")
            if wanted is None or (tag is not None and tag.default == wanted):
                return member
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg, subtree)
        if found is not None:
            return found
    return None


def _annotation_at(model: type[BaseModel], loc: list[str]) -> Any:
    current: Any = model
    annotation = None
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if fields is None or part not in fields:
            return None
        annotation = fields[part].annotation
        current = _model_of(annotation)
    return annotation


def model_at(model: type[BaseModel], loc: list[str], tree: dict) -> type[BaseModel] | None:
    """The section model at dotted location `loc`, resolving unions by the tree's `type` values."""
    current: type[BaseModel] | None = model
    for depth, part in enumerate(loc):
        if current is None or part not in current.model_fields:
            return None
        current = _model_of(current.model_fields[part].annotation, _subtree(tree, loc[:depth + 1]))
    return current


def fields_at(model: type[BaseModel], loc: list[str], tree: dict | None = None) -> list[str]:
    current = model_at(model, loc, tree or {})
    return list(current.model_fields) if current is not None else []


def _kind_at(model: type[BaseModel], loc: list[str], tree: dict) -> str | None:
    """`model.type tfidf-linear` when `loc` is a section chosen by its `type` (a union member)."""
    if not loc or not _union_members(_annotation_at(model, loc)):
        return None
    section = model_at(model, loc, tree)
    tag = section.model_fields.get("type") if section is not None else None
    return f"{'.'.join(loc)}.type {tag.default}" if tag is not None else None


def named_sections_of(annotation: Any) -> type[BaseModel] | None:
    """The section model of a mapping of named sections (dict[str, Section], or its Optional; e.g.
    model.members): its keys are names the user picks. None for any other annotation."""
    options = [annotation] if typing.get_origin(annotation) is dict else typing.get_args(annotation)
    for option in options:
        if typing.get_origin(option) is dict:
            section = _model_of(typing.get_args(option)[1])
            if section is not None:
                return section
    return None


def check_key_path(model: type[BaseModel], parts: list[str], tree: dict, what: str) -> None:
    """Refuse an override key the schema does not have, naming the nearest valid one."""
    current: type[BaseModel] | None = model
    keyed = False   # the previous part named a mapping of sections (e.g. model.members): this part is its key
    for depth, part in enumerate(parts):
        if keyed:
            keyed = False
            continue
        if current is None:
            return  # free-form mapping (e.g. a label mapping table): any key is allowed
        fields = current.model_fields
        if part not in fields:
            if current.model_config.get("extra") != "forbid":
                return
            dotted = ".".join(parts[: depth + 1])
            hint = _nearest(part, fields)
            kind = _kind_at(model, parts[:depth], tree)
            raise ConfigError(
                f"{what}: unknown key {dotted}" + (f" for {kind}" if kind else "")
                + (f"; did you mean '{'.'.join(parts[:depth] + [hint])}'?" if hint else "")
                + f" (valid keys here: {', '.join(sorted(fields))})"
            )
        section = named_sections_of(fields[part].annotation)
        if section is not None:
            keyed, current = True, section
            continue
        current = _model_of(fields[part].annotation, _subtree(tree, parts[: depth + 1]))
