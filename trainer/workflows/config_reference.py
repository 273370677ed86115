"""The reference of every config key (docs/reference/configs.md), rendered from the pydantic schemas themselves.

The schemas (trainer/config/run_config.py, trainer/data/config.py) hold each key's type, default, allowed values
and description, as `trainer validate --explain KEY` reads them; the page lists them all, one table per section,
so that the documentation cannot drift from the code. scripts/gen_config_reference.py writes (or checks) the
committed page; tests/test_docs.py fails when it is out of date or when a field has no description.
"""
from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from trainer.config.explain import _models_in   # the sections inside an annotation, as --explain finds them
from trainer.config.loader import _union_members, named_sections_of
from trainer.config.run_config import RunConfig
from trainer.data.config import DataConfig

SCRIPT = "scripts/gen_config_reference.py"   # what writes the page (named in its header)


@dataclass
class Section:
    """One table of the page: a pydantic model reached at `path` (e.g. `model.reading`)."""
    path: str
    model: type[BaseModel]
    kind: str | None = None                 # the model kind a `model` section belongs to (the union's tag)
    rows: list[list[str]] = field(default_factory=list)


def sections(root: type[BaseModel], prefix: str = "") -> list[Section]:
    """Every section of `root`'s schema, depth first: the union on `type` (model kinds) gives one section per
    kind, a list of sections `path[]`, a mapping of named sections `path.NAME`."""
    out: list[Section] = []
    _walk(root, prefix, None, out, seen=set())
    return out


def _walk(model: type[BaseModel], path: str, kind: str | None, out: list[Section], seen: set) -> None:
    section = Section(path, model, kind)
    out.append(section)
    children: list[tuple[type[BaseModel], str, str | None]] = []
    for name, info in model.model_fields.items():
        key = f"{path}.{name}" if path else name
        section.rows.append([key, info])
        members = _kinds(info.annotation)
        if members:
            # a union of model kinds: each kind once, at the first place it appears (ensemble members reuse them)
            for member in members:
                if member not in seen:
                    seen.add(member)
                    children.append((member, key, member.model_fields["type"].default))
            continue
        named = named_sections_of(info.annotation)
        if named is not None:
            children.append((named, f"{key}.NAME", kind))
            continue
        for sub in _models_in(info.annotation):
            children.append((sub, f"{key}[]" if _is_list(info.annotation) else key, kind))
    for sub, key, sub_kind in children:
        _walk(sub, key, sub_kind, out, seen)


def _kinds(annotation: Any) -> list[type[BaseModel]]:
    """The sections of a union on `type` (model kinds), also inside `Optional[...]`; [] for anything else."""
    members = _union_members(annotation)
    if members:
        return members
    for arg in typing.get_args(annotation):
        members = _union_members(arg) if typing.get_origin(arg) is typing.Annotated else []
        if members:
            return members
    return []


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    return any(typing.get_origin(a) is list for a in typing.get_args(annotation))


def missing_descriptions(*roots: type[BaseModel]) -> list[str]:
    """`key path (Class.field)` of every field without a description, in the schemas under `roots`."""
    return [f"{key} ({s.model.__name__}.{name})"
            for root in roots for s in sections(root)
            for (key, info), name in zip(s.rows, s.model.model_fields) if not (info.description or "").strip()]


# ---- rendering ---------------------------------------------------------------------------------------------------
def type_text(annotation: Any) -> str:
    """A reader's name for a field's type: `int`, `str or null`, `list of str`, `section`."""
    if annotation is type(None) or annotation is None:
        return "null"
    if annotation is Any:
        return "any"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_text(args[0])
    if _union_members(annotation):
        return "section, by `type`"
    if origin in (typing.Union, types.UnionType):
        names: list[str] = []
        for a in args:
            text = type_text(a)
            if text not in names:
                names.append(text)
        return " or ".join(names)
    if origin is Literal:
        return " or ".join(dict.fromkeys("bool" if isinstance(a, bool) else type(a).__name__ for a in args))
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is dict:
        value = "section" if named_sections_of(annotation) else type_text(args[1])
        return f"mapping: {type_text(args[0])} to {value}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return getattr(annotation, "__name__", str(annotation))


def allowed_text(info) -> str:
    """Literal values and numeric bounds, from the annotation and the Field() constraints."""
    literals: list[Any] = []
    bounds: list[str] = []
    _collect(info.annotation, literals, bounds)
    _bounds(info.metadata, bounds)
    parts = [", ".join(_code(json.dumps(v)) for v in literals)] if literals else []
    parts += list(dict.fromkeys(bounds))
    return "; ".join(parts)


def _collect(annotation: Any, literals: list, bounds: list) -> None:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        literals.extend(a for a in args if a not in literals)
    elif origin is typing.Annotated:
        _collect(args[0], literals, bounds)
        _bounds(args[1:], bounds)
        for extra in args[1:]:
            _bounds(getattr(extra, "metadata", []), bounds)
    elif origin in (typing.Union, types.UnionType) and not _kinds(annotation):
        for a in args:
            _collect(a, literals, bounds)
        if bool in args and literals:   # e.g. `bool | Literal["auto"]`: list every value, not only the string
            literals[:0] = [v for v in (True, False) if v not in literals]
    elif origin is dict and not named_sections_of(annotation):
        keys: list[Any] = []
        _collect(args[0], keys, [])
        if keys:
            bounds.append("keys: " + ", ".join(_code(json.dumps(k)) for k in keys))


def _bounds(metadata, bounds: list) -> None:
    for m in metadata:
        for cls, attr, sign in ((annotated_types.Ge, "ge", "≥"), (annotated_types.Gt, "gt", ">"),
                                (annotated_types.Le, "le", "≤"), (annotated_types.Lt, "lt", "<")):
            if isinstance(m, cls):
                bounds.append(f"{sign} {getattr(m, attr)}")
        if isinstance(m, annotated_types.MinLen):
            bounds.append(f"at least {m.min_length} entr{'y' if m.min_length == 1 else 'ies'}")


def default_text(info) -> str:
    if info.default is not PydanticUndefined:
        return _code(json.dumps(info.default))
    if info.default_factory is not None:
        value = info.default_factory()
        if isinstance(value, BaseModel):
            return "its keys' defaults"
        return _code(json.dumps(value))
    return "**required**"


def _code(text: str) -> str:
    return f"`{text}`"


def _cell(text: str) -> str:
    # a pipe inside a cell would end it; a newline would end the table
    return " ".join(text.split()).replace("|", "\\|")


def _anchor(section: Section) -> str:
    return section.path.replace(".", "-").replace("[]", "").replace("NAME", "name") + (
        f"-{section.kind}" if section.kind else "")


def _heading(section: Section) -> str:
    title = f"`{section.path}`"
    if section.kind:
        title += f" (`model.type: {section.kind}`)"
    return title


def render_schema(root: type[BaseModel], title: str) -> list[str]:
    lines = [f"## {title}", ""]
    all_sections = sections(root)
    # a row whose value is a section links to that section's table (each kind's, for the model kinds)
    links: dict[str, list[str]] = {}
    anchor_of: dict[type[BaseModel], str] = {}
    for s in all_sections:
        anchor_of.setdefault(s.model, _anchor(s))
        if "type" in s.model.model_fields:
            continue   # a model kind's own table: linked by kind below
        parent = s.path.removesuffix("[]").removesuffix(".NAME")
        links.setdefault(parent, []).append(f"[keys](#{_anchor(s)})")
    for s in all_sections:
        if s.path:
            lines += [f"### {_heading(s)} {{ #{_anchor(s)} }}", ""]
        doc = " ".join((s.model.__doc__ or "").split())
        if doc:
            lines += [doc, ""]
        lines += ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
        for key, info in s.rows:
            kinds = _kinds(info.annotation)
            targets = ([f"[{m.model_fields['type'].default}](#{anchor_of[m]})" for m in kinds] if kinds
                       else links.get(key))
            lines.append("| " + " | ".join(_cell(c) for c in (
                f"`{key}`", _linked(type_text(info.annotation), targets), default_text(info), allowed_text(info),
                info.description or "")) + " |")
        lines.append("")
    return lines


def _linked(type_name: str, targets: list[str] | None) -> str:
    return f"{type_name}: {', '.join(targets)}" if targets else type_name


def render() -> str:
    lines = [
        "# Config reference",
        "",
        f"<!-- generated by `python {SCRIPT}` from the config schemas: do not edit by hand -->",
        "",
        "Every key of a run config (`trainer train CONFIG`) and of a data config (`trainer data build CONFIG`),",
        "generated from the schemas that check them (`trainer/config/run_config.py`, `trainer/data/config.py`).",
        "`trainer validate --explain KEY` prints the same description at the command line; `trainer validate`",
        "checks a file without training. Any key can be set on the command line as `key.sub=value`.",
        "",
        "How to read the tables: a key path joins section names with dots; `null` is YAML's empty value;",
        "`its keys' defaults` means the section may be left out. The `model` section depends on `model.type`:",
        "each kind has its own table, and keys of another kind are refused. `NAME` stands for a name you choose",
        "(an ensemble member), `[]` for each entry of a list (`task.targets`).",
        "",
    ]
    lines += render_schema(RunConfig, "Run config (`trainer train CONFIG`)")
    lines += render_schema(DataConfig, "Data config (`trainer data build CONFIG`)")
    return "\n".join(lines).rstrip("\n") + "\n"
