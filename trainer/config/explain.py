"""`trainer validate --explain KEY`: what a config field means, its type and default, from the schema itself."""
from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from trainer.config.loader import _nearest, _union_members, named_sections_of
from trainer.errors import ConfigError


def explain(model: type[BaseModel], key: str) -> str:
    """Text describing `key` (dotted, e.g. `train.epochs`, `model`, `model.tfidf.C`) of `model`'s schema.

    A section lists its keys; a section chosen by `type` (the model kinds) lists each kind's keys.
    """
    parts = [p for p in key.split(".") if p] if key else []
    sections: list[type[BaseModel]] = [model]
    field_info = None
    walked: list[str] = []
    keyed = False   # the previous part is a mapping of named sections (model.members): this part is a name
    for part in parts:
        if keyed:
            keyed = False
            walked.append(part)
            continue
        found = [(s, s.model_fields[part]) for s in sections if part in s.model_fields]
        if not found:
            valid = sorted({name for s in sections for name in s.model_fields})
            hint = _nearest(part, valid)
            where = ".".join(walked) or "the top level"
            raise ConfigError(f"--explain {key}: no key {part!r} in {where}"
                              + (f"; did you mean '{'.'.join(walked + [hint])}'?" if hint else "")
                              + f" (keys there: {', '.join(valid)})")
        walked.append(part)
        field_info = found[0][1]
        sections = [m for _, f in found for m in _models_in(f.annotation)]
        keyed = named_sections_of(field_info.annotation) is not None
    lines = [f"{key or '(run config)'}"]
    if field_info is not None:
        lines.append(f"  {field_info.description or '(no description)'}")
        lines.append(f"  type: {_type_name(field_info.annotation)}")
        default = _default(field_info)
        if default is not None:
            lines.append(f"  default: {default}")
    for section in sections:
        title = _kind_title(section) if len(sections) > 1 else "keys"
        lines.append(f"  {title}:")
        for name, f in section.model_fields.items():
            lines.append(f"    {name}: {f.description or ''}")
    return "\n".join(lines)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    members = _union_members(annotation)
    if members:
        return members
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out += _models_in(arg)
    return out


def _kind_title(section: type[BaseModel]) -> str:
    tag = section.model_fields.get("type")
    return f"keys with type: {tag.default}" if tag is not None else section.__name__


def _default(f) -> str | None:
    if f.default is not PydanticUndefined:
        return json.dumps(f.default)
    if f.default_factory is not None:
        value = f.default_factory()
        return json.dumps(value.model_dump(mode="json") if isinstance(value, BaseModel) else value)
    return None


def _type_name(annotation: Any) -> str:
    models = _models_in(annotation)
    if models:
        return " | ".join("section" if "type" not in m.model_fields else f"section (type {m.model_fields['type'].default})"
                          for m in models)
    text = str(annotation).replace("typing.", "")
    return text.replace("<class '", "").replace("'>", "")
