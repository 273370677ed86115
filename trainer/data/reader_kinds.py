"""The reader kinds: one row per kind of raw input the program reads.

The source config's choices (data.source.kind), the readers' dispatch (trainer.data.readers), `trainer
predict`'s kind detection (trainer.serving.inputs) and the server's page upload (trainer.serving.http) all
derive from this table, so adding a reader is one module under trainer/data/readers/ plus one row here.
No imports: trainer.data.config reads it, and the reader modules import that config.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReaderKind:
    kind: str                     # data.source.kind in a dataset config
    module: str                   # trainer.data.readers.<module> reads it
    suffixes: tuple[str, ...]     # file name endings (lower case) that mean this kind; () = never by name
    name: str                     # shown to people (the server's answer says what it read)
    single_file: bool = True      # `trainer predict` and the server can read one file of it on its own
    page: bool = False            # one saved web page per file: the server accepts it as an upload
    sniffed: bool = False         # its ending does not settle it (a saved page may be HTML): the content decides


READERS: tuple[ReaderKind, ...] = (
    # an archive of SGML files with its own split, read as a whole: never a file handed to predict
    ReaderKind("reuters", "reuters", (), "Reuters-21578", single_file=False),
    ReaderKind("scraped", "scraped", (".txt", ".text"), "page text", page=True, sniffed=True),
    ReaderKind("html", "html", (".html", ".htm", ".xhtml"), "HTML", page=True),
    ReaderKind("jsonl", "tabular", (".jsonl",), "JSONL"),
    ReaderKind("csv", "tabular", (".csv",), "CSV"),
)

BY_KIND = {r.kind: r for r in READERS}

# the views the rest of the program lists (tuples: usable as typing.Literal[...] arguments)
KINDS = tuple(r.kind for r in READERS)
SINGLE_FILE_KINDS = tuple(r.kind for r in READERS if r.single_file)
BY_SUFFIX = {suffix: r.kind for r in READERS for suffix in r.suffixes}
PAGE_SUFFIXES = {suffix: r.kind for r in READERS if r.page for suffix in r.suffixes}


def module_name(kind: str) -> str:
    return f"trainer.data.readers.{BY_KIND[kind].module}"


def kind_of(suffix: str) -> str | None:
    """The kind a file name ending settles (any case); None: the content has to decide."""
    kind = BY_SUFFIX.get(suffix.lower())
    return None if kind is None or BY_KIND[kind].sniffed else kind
