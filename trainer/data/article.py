"""The record every reader yields, and the reject record for inputs that cannot be used."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Article:
    id: str
    source: str                      # reader kind or outlet name, e.g. "reuters", "sputniknews.com"
    body: str = ""
    title: str = ""
    url: str | None = None
    published: str | None = None     # ISO 8601 date or datetime
    section: str | None = None       # outlet section / category
    topics: list[str] = field(default_factory=list)   # explicit topic codes (Reuters TOPICS, a column)
    tags: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)   # place codes or names (Reuters PLACES, a column)
    path: str | None = None          # raw input this came from (file, or archive!member#n)
    split: str | None = None         # predefined split, e.g. ModApte "train" / "test" / None (unused)
    meta: dict[str, Any] = field(default_factory=dict)  # reader-specific extras (Reuters TYPE, CGISPLIT, ...)

    @property
    def text(self) -> str:
        """The model input: title and body, as the dataset's `text` column holds it."""
        return join_title_body(self.title, self.body)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def join_title_body(title: str, body: str) -> str:
    title, body = (title or "").strip(), (body or "").strip()
    if title and body and not body.startswith(title):
        return f"{title}\n\n{body}"
    return body or title


@dataclass
class Rejected:
    input: str    # file path, or archive member / line reference
    reason: str
    # the error to stop the build with when no article at all is read (a column mapping that no file
    # matches is the config's fault, not the files'); such a record is not counted by source.limit
    fatal: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "reason": self.reason}
