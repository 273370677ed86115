"""A reader's plan: its work units in input order, and the record limit over them (see readers/__init__.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from trainer.data.article import Article, Rejected
from trainer.errors import DataError


@dataclass
class ReadPlan:
    """What a reader will read: `leading` rejects (entries that are no files to read) come first, then
    the records of each unit in order. `limit`: at most this many records of the units are read (the
    records a reader counts: see Rejected.fatal); None when the reader applied source.limit itself."""
    units: Iterable[Any]                  # picklable work units (paths, archive members), in input order
    state: Any = None                     # what every unit needs (scraped: boilerplate lines per outlet)
    leading: list[Rejected] = field(default_factory=list)
    limit: int | None = None
    unit_records: int = 1                 # about how many records a unit holds (how many units make a task)


class Limiter:
    """source.limit over a stream of unit records, and the check that a mapping error is no file's
    fault: when every file lacks a configured column and no article was read, the build stops."""

    def __init__(self, limit: int | None):
        self.limit, self.count, self.articles, self.fatal = limit, 0, 0, []

    def take(self, record: Article | Rejected) -> bool:
        """Whether `record` is read (False: the limit was reached before it)."""
        return self.take_kind(isinstance(record, Article), getattr(record, "fatal", None))

    def take_kind(self, is_article: bool, fatal: str | None) -> bool:
        if self.full:
            return False
        if fatal:
            self.fatal.append(fatal)        # not counted against the limit
        else:
            self.count += 1
            self.articles += is_article
        return True

    @property
    def full(self) -> bool:
        return self.limit is not None and self.count >= self.limit

    def check(self) -> None:
        if self.fatal and not self.articles:
            raise DataError(self.fatal[0])
