"""Readers turn raw inputs into `Article` records (or `Rejected` with a reason), one module per kind.

Each reader module exposes:
    inputs(source: SourceConfig) -> list[Path]                  files it will read (for the manifest)
    plan(source: SourceConfig) -> ReadPlan                       its work units, in input order
    read_unit(source, unit, state) -> Iterator[Article | Rejected]   the records of one unit

`read_articles(source)` reads the units of the plan one after the other; a distributed build
(trainer/data/build_ray.py) hands the same units to workers and puts the records back in the same
order, so both see the same records.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Iterator

from trainer.data import reader_kinds
from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig
from trainer.data.readers.plan import Limiter, ReadPlan

def _module(kind: str):
    return importlib.import_module(reader_kinds.module_name(kind))


def input_files(source: SourceConfig) -> list[Path]:
    return _module(source.kind).inputs(source)


def plan_reading(source: SourceConfig) -> ReadPlan:
    return _module(source.kind).plan(source)


def read_unit(source: SourceConfig, unit: Any, state: Any) -> Iterator[Article | Rejected]:
    return _module(source.kind).read_unit(source, unit, state)


def read_articles(source: SourceConfig, plan: ReadPlan | None = None) -> Iterator[Article | Rejected]:
    """Every record of the source, in input order (`plan`: the source's plan, when the caller made it)."""
    plan = plan or plan_reading(source)
    yield from plan.leading
    limiter = Limiter(plan.limit)
    for unit in plan.units:
        for record in read_unit(source, unit, plan.state):
            if not limiter.take(record):
                return
            yield record
        if limiter.full:
            return
    limiter.check()


__all__ = ["Limiter", "ReadPlan", "input_files", "plan_reading", "read_unit", "read_articles"]
