"""Reader for saved HTML news pages, one article per file (kind "html"), via trafilatura.

trafilatura finds the main text (dropping navigation, footers, comments) and the metadata: title,
date, categories (the first becomes `section`) and tags (meta keywords; comma lists are split).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig
from trainer.data.readers.files import check_encoding, decode_text, list_files, read_file, scan
from trainer.data.readers.plan import ReadPlan
from trainer.errors import DataError

# trafilatura falls back to any text it finds ("Home" from a navigation-only page): that is no article.
MIN_BODY_WORDS = 5
# <meta charset="..."> or <meta http-equiv=... content="text/html; charset=...">, in the page head.
_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def inputs(source: SourceConfig) -> list[Path]:
    files = list_files(source)
    return files[: source.limit] if source.limit else files


def plan(source: SourceConfig) -> ReadPlan:
    found = scan(source)
    files = found.files[: source.limit] if source.limit else found.files
    return ReadPlan([str(p) for p in files], leading=found.rejects)


def read_unit(source: SourceConfig, unit: str, state=None) -> Iterator[Article | Rejected]:
    path = Path(unit)
    html, (data, reason) = None, read_file(path)
    if data is not None:
        html, reason = decode_text(data, source.encoding, _declared_charset(data))
    if html is None:
        yield Rejected(str(path), reason)
        return
    yield extract_article(html, path, Path(source.path).expanduser(), source)


def _declared_charset(data: bytes) -> str | None:
    """The charset a <meta> tag in the page head declares, when Python knows it."""
    match = _CHARSET.search(data[:4096])
    if match:
        try:
            return check_encoding(match.group(1).decode("ascii"))
        except DataError:      # an unknown charset in a page is no config error: ignore it
            pass
    return None


def extract_article(html: str, path: Path, root: Path, source: SourceConfig) -> Article | Rejected:
    import trafilatura     # heavy import, only when HTML is read

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=True)
    if doc is None or not (doc.text or "").strip():
        return Rejected(str(path), "no main text found in the HTML page")
    title = (doc.title or "").strip()
    body = _strip_title(doc.text.strip(), title)
    if len(body.split()) < MIN_BODY_WORDS:
        return Rejected(str(path), f"no main text found in the HTML page (under {MIN_BODY_WORDS} words)")
    rel = path.relative_to(root) if root.is_dir() else Path(path.name)
    meta = {k: v for k, v in {"description": doc.description, "author": doc.author,
                              "sitename": doc.sitename, "categories": doc.categories}.items() if v}
    return Article(
        id=rel.with_suffix("").as_posix(), source=source.profile.outlet or doc.hostname or path.parent.name,
        body=body, title=title, url=doc.url, published=doc.date, section=(doc.categories or [None])[0],
        tags=split_tags(doc.tags or []), path=str(path), meta=meta,
    )


def _strip_title(text: str, title: str) -> str:
    """trafilatura repeats the headline as the first line of the text; the title field holds it."""
    first, _, rest = text.partition("\n")
    return rest.strip() if title and first.strip() == title else text


def split_tags(raw: list[str]) -> list[str]:
    """Tags from meta keywords arrive as one comma-separated string; split, strip and deduplicate."""
    return list(dict.fromkeys(t.strip() for item in raw for t in item.split(",") if t.strip()))
