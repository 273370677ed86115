"""Readers turn raw inputs into `Article` records (or `Rejected` with a reason), one module per kind.

Each reader module exposes:
    inputs(source: SourceConfig) -> list[Path]                      files it will read (for the manifest)
    read(source: SourceConfig) -> Iterator[Article | Rejected]     every document accounted for
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Iterator

from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig

_MODULES = {"reuters": "reuters", "scraped": "scraped", "html": "html", "jsonl": "tabular", "csv": "tabular"}


def _module(kind: str):
    return importlib.import_module(f"trainer.data.readers.{_MODULES[kind]}")


def input_files(source: SourceConfig) -> list[Path]:
    return _module(source.kind).inputs(source)


def read_articles(source: SourceConfig) -> Iterator[Article | Rejected]:
    return _module(source.kind).read(source)
