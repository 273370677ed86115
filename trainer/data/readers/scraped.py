"""Reader for plain-text scraped news pages, one article per file (kind "scraped").

A page as a scraper saves it (see the shared sample): a date line, navigation words ("Listen Live"),
the section, share widgets ("Get short URL") and counters ("0 124"), the lead (standfirst), the
dateline paragraph ("MOSCOW (Sputnik) — ..."), body paragraphs, related headlines, a comma-separated
tag line, and comment/footer widgets.

Two passes over the files:
1. count, per outlet, in how many files each line occurs: a line found in at least
   `profile.boilerplate_min_fraction` of an outlet's files (given `boilerplate_min_files` files)
   is boilerplate, whatever the outlet. An outlet of more than `profile.boilerplate_sample` files is
   judged on that many of them, taken at even steps through its sorted file list: the counts of a
   whole crawl (every distinct line of millions of pages) would not fit in memory, and a line on half
   the pages is on about half of any such sample too;
2. extract each page. Structure comes first, from the raw lines (a section is frequent but is data):
   date (`date_line`, `date_formats`), section (`section_after` / `section_line`), footer (first line
   starting with a `footer_markers` entry; it and all after it are dropped). Then boilerplate lines
   (frequent, `profile.boilerplate`, number-only counters) go, the last line is taken as the tag line
   when it looks like one, and the title-case short lines just before it are the related headlines
   (kept in `meta["related"]`, not in the body). This pass is `read_page`, which inference runs too, with
   the lines pass 1 learned (saved as cleaning.json: trainer/data/cleaning.py).

Title: a scraped page has no marked title, so the title is the first sentence of the lead paragraph
(the standfirst, when the page has one), cut to TITLE_MAX characters at a word boundary. The body
starts at the lead, so the title is a prefix of the body and `Article.text` holds it once.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from trainer.data.article import Article, Rejected
from trainer.data.config import ScrapedProfile, SourceConfig
from trainer.data.dates import parse_with_formats
from trainer.data.readers.plan import ReadPlan
from trainer.data.readers.files import list_files, read_text, scan

TITLE_MAX = 300
HEADER_SCAN = 10          # the date and section are looked for in the first lines only
_COUNTER = re.compile(r"^(?=.*\d)[\d\s.,+kKM]+$")          # share/view counters: "0 124", "1.2K"
# A sentence ends at . ! ? after a lowercase letter or digit (not "U.S."), or before a closing quote.
_SENTENCE_END = re.compile(r"(?:(?<=[a-z0-9][.!?])|(?<=[.!?][\"”’']))\s+(?=[\"“‘'(A-Z0-9])")
_TAG_FORBIDDEN = re.compile(r"[\"“”:;!?]")
_HEADLINE_END = tuple(".!:;,\"”'’»)")
_MAX_TAG_WORDS, _MAX_HEADLINE_WORDS = 6, 20
NO_BODY = "no body text after removing boilerplate"


@dataclass
class Line:
    text: str                  # whitespace-normalised, non-empty
    blank_before: bool         # a blank line preceded it (a paragraph break)


@dataclass
class Page:
    body: list[Line]
    published: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)


def inputs(source: SourceConfig) -> list[Path]:
    files = list_files(source)
    return files[: source.limit] if source.limit else files


def plan(source: SourceConfig) -> ReadPlan:
    """Units: the page files (as str), in sorted order; state: the boilerplate lines of each outlet (pass 1)."""
    found = scan(source)
    files = found.files[: source.limit] if source.limit else found.files
    return ReadPlan([str(p) for p in files], frequent_lines(files, source), found.rejects)


def read_unit(source: SourceConfig, unit: str, boilerplate: dict[str, frozenset[str]]) -> Iterator[Article | Rejected]:
    """The page of one file (pass 2)."""
    path = Path(unit)
    outlet = outlet_of(path, source.profile)
    yield read_page(source, path, outlet, boilerplate.get(outlet, frozenset()))


def read_page(source: SourceConfig, path: Path, outlet: str, frequent: frozenset[str]) -> Article | Rejected:
    """One page file cleaned with its outlet's learned boilerplate lines `frequent`: the build's pass 2, and
    what inference runs on a new page (trainer/data/cleaning.py), so that both clean a page the same way."""
    text, reason = read_text(path, source.encoding)
    if text is None:
        return Rejected(str(path), reason)
    page = parse_page(text, source.profile, frequent)
    if page is None:
        return Rejected(str(path), NO_BODY)
    return _article(page, path, Path(source.path).expanduser(), outlet)


def outlet_of(path: Path, profile: ScrapedProfile) -> str:
    return profile.outlet or path.parent.name


def sample_files(files: list[Path], profile: ScrapedProfile) -> list[Path]:
    """Per outlet, at most `profile.boilerplate_sample` of its files, at even steps through its list."""
    by_outlet: dict[str, list[Path]] = {}
    for path in files:
        by_outlet.setdefault(outlet_of(path, profile), []).append(path)
    k = profile.boilerplate_sample
    out = []
    for paths in by_outlet.values():
        out += paths if len(paths) <= k else [paths[i * len(paths) // k] for i in range(k)]
    return out


def frequent_lines(files: list[Path], source: SourceConfig) -> dict[str, frozenset[str]]:
    """Per outlet, the lines found in at least `boilerplate_min_fraction` of its (sampled) files (pass 1)."""
    profile = source.profile
    counts: dict[str, Counter] = {}
    n_files: Counter = Counter()
    for path in sample_files(files, profile):
        text, _ = read_text(path, source.encoding)
        if text is None:      # rejected with its reason in pass 2
            continue
        outlet = outlet_of(path, profile)
        counts.setdefault(outlet, Counter()).update({line.text for line in split_lines(text)})
        n_files[outlet] += 1
    out = {}
    for outlet, counter in counts.items():
        n = n_files[outlet]
        if n < profile.boilerplate_min_files:
            out[outlet] = frozenset()    # known (cleaning.json lists it), but too few files to tell
            continue
        # A line seen in a single file is never boilerplate, whatever the fraction says.
        floor = max(profile.boilerplate_min_fraction * n, 2)
        out[outlet] = frozenset(line for line, c in counter.items() if c >= floor)
    return out


def split_lines(text: str) -> list[Line]:
    lines, blank = [], False
    for raw in text.splitlines():
        norm = " ".join(raw.split())     # also turns non-breaking spaces into plain ones
        if norm:
            lines.append(Line(norm, blank))
        blank = not norm
    return lines


def parse_page(text: str, profile: ScrapedProfile, frequent: frozenset[str]) -> Page | None:
    """Split one page into its parts; None when no body line is left."""
    lines = split_lines(text)
    texts = [line.text for line in lines]
    used: set[int] = set()
    published = _find_date(texts, profile, used)
    section = _find_section(texts, profile, used)
    end = _footer_start(texts, profile, max(used, default=-1) + 1)
    noise = frequent | set(profile.boilerplate) | set(profile.section_after)
    keep = [i for i in range(end) if i not in used and texts[i] not in noise and not _COUNTER.match(texts[i])]
    tags: list[str] = []
    if profile.tag_line == "auto" and len(keep) > 1 and is_tag_line(texts[keep[-1]]):
        tags = list(dict.fromkeys(part.strip() for part in texts[keep.pop()].split(",")))
    related: list[str] = []
    while len(keep) > 1 and is_headline(texts[keep[-1]]):
        related.insert(0, texts[keep.pop()])
    if not keep:
        return None
    return Page([lines[i] for i in keep], published, section, tags, related)


def _find_date(texts: list[str], profile: ScrapedProfile, used: set[int]) -> str | None:
    for i in dict.fromkeys([profile.date_line, *range(min(HEADER_SCAN, len(texts)))]):
        if i < len(texts):
            iso = parse_with_formats(texts[i], profile.date_formats)
            if iso:
                used.add(i)
                return iso
    return None


def _find_section(texts: list[str], profile: ScrapedProfile, used: set[int]) -> str | None:
    if profile.section_line is not None:
        index = profile.section_line
    else:
        markers = set(profile.section_after)
        index = next((i + 1 for i in range(min(HEADER_SCAN, len(texts))) if texts[i] in markers), None)
    if index is None or index >= len(texts) or index in used:
        return None
    candidate = texts[index]
    if candidate in profile.boilerplate or len(candidate.split()) > _MAX_TAG_WORDS or _COUNTER.match(candidate):
        return None
    used.add(index)
    return candidate


def _footer_start(texts: list[str], profile: ScrapedProfile, start: int) -> int:
    markers = tuple(profile.footer_markers)
    if markers:
        for i in range(start, len(texts)):
            if texts[i].startswith(markers):
                return i
    return len(texts)


def is_tag_line(text: str) -> bool:
    """A comma-separated list of short names: no sentence punctuation, no long items."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) < 2 or _TAG_FORBIDDEN.search(text) or (text.endswith(".") and len(parts[-1]) > 5):
        return False
    return all(part and len(part.split()) <= _MAX_TAG_WORDS and len(part) <= 60 for part in parts)


def is_headline(text: str) -> bool:
    """A short title-case line without closing punctuation, as related-headline lists hold them."""
    words = text.split()
    if not 3 <= len(words) <= _MAX_HEADLINE_WORDS or text.endswith(_HEADLINE_END):
        return False
    content = [w for w in words if len(w) > 3 and w[0].isalpha()]
    return bool(content) and sum(w[0].isupper() for w in content) >= 0.7 * len(content)


def title_of(lead: str) -> str:
    title = _SENTENCE_END.split(lead, maxsplit=1)[0]
    if len(title) > TITLE_MAX:
        title = title[:TITLE_MAX].rsplit(" ", 1)[0]
    return title


def _article(page: Page, path: Path, root: Path, outlet: str) -> Article:
    body = page.body[0].text + "".join(("\n\n" if ln.blank_before else "\n") + ln.text for ln in page.body[1:])
    rel = path.relative_to(root) if root.is_dir() else Path(path.name)
    return Article(
        id=rel.with_suffix("").as_posix(), source=outlet, body=body, title=title_of(page.body[0].text),
        published=page.published, section=page.section, tags=page.tags, path=str(path),
        meta={"related": page.related},
    )
