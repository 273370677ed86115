"""A realistic multi-outlet corpus of scraped pages, for tests and the walkthrough (docs/own-pages.md).

Trainer-free (standard library only): tests import it (pytest puts tests/ on sys.path), and
`python tests/outlet_corpus.py FOLDER` writes one by hand.

Each outlet has its own layout, section names and boilerplate lines (masthead, navigation, date line, share
widgets, "Read more:"-style related-headline blocks, a tag line, comment/footer widgets) that only line
frequency tells from text; its pages have varied sentences in the words of their section and name places
from every UN M49 region. The awkward pages a real crawl holds come too: an empty file, a page of
boilerplate only, a cp1251-encoded page, a duplicate of a page with a new time stamp, and one HTML page
(`.html`: a data config reading `**/*.txt` rejects it, naming the pattern; `trainer predict` reads it as HTML).
Seeded: the same arguments write the same bytes.

    FOLDER/sputnik/000_ab12....txt     outlet "sputnik" (the shared sample's layout)
    FOLDER/planet/000_cd34....txt      outlet "planet" (another layout; "Share on Telegram" at the top)
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

# topic -> each outlet's name for its section, and the words its stories use
TOPICS = {
    "World": {"sputnik": "World", "planet": "Global Affairs",
              "words": ["the foreign minister", "a ceasefire", "the summit", "the embassy", "peace talks",
                        "the border dispute", "sanctions", "the ambassador", "refugees", "the parliament"]},
    "Business": {"sputnik": "Business", "planet": "Markets",
                 "words": ["the central bank", "interest rates", "oil output", "quarterly profit", "the stock index",
                           "inflation", "grain exports", "the budget deficit", "bond yields", "a merger"]},
    "Science": {"sputnik": "Science & Tech", "planet": "Technology",
                "words": ["the research team", "a satellite launch", "the vaccine trial", "quantum computers",
                          "the telescope", "a new battery", "artificial intelligence", "the space agency",
                          "gene editing", "the laboratory"]},
}
# places from every M49 region: (tag name, capital for datelines)
PLACES = {
    "Africa": [("Nigeria", "LAGOS"), ("Kenya", "NAIROBI"), ("Egypt", "CAIRO"), ("Ghana", "ACCRA")],
    "Americas": [("Brazil", "BRASILIA"), ("Canada", "OTTAWA"), ("Mexico", "MEXICO CITY"), ("Chile", "SANTIAGO")],
    "Asia": [("India", "NEW DELHI"), ("Japan", "TOKYO"), ("Vietnam", "HANOI"), ("Kazakhstan", "ASTANA")],
    "Europe": [("Germany", "BERLIN"), ("France", "PARIS"), ("Poland", "WARSAW"), ("Norway", "OSLO")],
    "Oceania": [("Australia", "CANBERRA"), ("New Zealand", "WELLINGTON"), ("Fiji", "SUVA")],
}
ORGS = ["United Nations", "OPEC", "World Bank", "WHO", "IMF", "NATO", "African Union", "ASEAN"]
_VERBS = ["said", "announced", "warned", "reported", "confirmed", "denied", "estimated", "insisted", "expects"]
_WHO = ["officials", "a spokesperson", "analysts", "the ministry", "local media", "experts", "the agency"]
_SMALL = {"in", "to", "of", "on", "for", "and", "the", "a", "over", "after"}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]

OUTLETS = ("sputnik", "planet")
BOILERPLATE = {   # the lines each outlet repeats on every page (what the build must learn and remove)
    "sputnik": ["Listen Live", "Get short URL", "Share on VK", "Community standardsDiscussion",
                "Comment via SputnikComment via Facebook"],
    "planet": ["The Daily Planet", "Menu", "Share on Telegram", "Share on Facebook", "Follow us for more",
               "Read more:", "Newsletter: the morning briefing in your inbox",
               "© 2021 Daily Planet Media. All rights reserved."],
}
# what a data config needs to read both layouts (docs/own-pages.md shows it)
PROFILE = {"section_after": ["Listen Live", "Menu"],
           "footer_markers": ["Community standards", "Comment via", "Newsletter:"],
           "date_formats": ["%H:%M GMT%d %B %Y", "%d %B %Y", "%Y-%m-%d"]}
SECTION_MAPPING = {TOPICS[t]["planet"]: TOPICS[t]["sputnik"] for t in TOPICS}   # one label per topic


@dataclass
class Page:
    path: Path
    outlet: str
    topic: str | None              # the sputnik section name (None: an awkward page without one)
    region: str | None
    kind: str = "page"             # page, empty, boilerplate, cp1251, duplicate, html
    duplicate_of: Path | None = None
    paragraphs: list[str] = field(default_factory=list)


def write_corpus(folder: str | Path, pages_per_outlet: int = 30, seed: int = 0, awkward: bool = True) -> list[Page]:
    """Write the corpus under `folder` (created; refused when it holds anything) and return its pages."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty; give a new folder")
    rng = random.Random(seed)
    pages: list[Page] = []
    for outlet in OUTLETS:
        (folder / outlet).mkdir(parents=True, exist_ok=True)
        for k in range(pages_per_outlet):
            topic = sorted(TOPICS)[k % len(TOPICS)]
            region = sorted(PLACES)[(k // len(TOPICS)) % len(PLACES)]
            page = _story(rng, folder / outlet / f"{k:03d}_{rng.getrandbits(40):010x}.txt", outlet, topic, region)
            page.path.write_text(_render(page, rng), encoding="utf-8")
            pages.append(page)
    if awkward:
        pages += _awkward(folder, rng, pages)
    return pages


def _story(rng: random.Random, path: Path, outlet: str, topic: str, region: str) -> Page:
    country, capital = rng.choice(PLACES[region])
    words = TOPICS[topic]["words"]
    lead = f"{_sentence(rng, words, country)}"
    paragraphs = [lead, f"{capital} — " + " ".join(_sentence(rng, words, country) for _ in range(2))]
    paragraphs += [" ".join(_sentence(rng, words, country if rng.random() < 0.6 else None)
                            for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(2, 5))]
    return Page(path, outlet, topic, region, paragraphs=paragraphs)


def _sentence(rng: random.Random, words: list[str], place: str | None) -> str:
    a, b = rng.sample(words, 2)
    where = f" in {place}" if place else ""
    templates = [f"{rng.choice(_WHO).capitalize()} {rng.choice(_VERBS)} that {a} would shape {b}{where} this year.",
                 f"According to {rng.choice(_WHO)}, {a}{where} changed by {rng.randint(2, 97)} percent.",
                 f"{a[0].upper() + a[1:]} and {b} were discussed{where} on {rng.choice(_MONTHS)} {rng.randint(1, 28)}.",
                 f"The debate over {a} continued{where}, {rng.choice(_WHO)} {rng.choice(_VERBS)}."]
    return rng.choice(templates)


def _headline(rng: random.Random, topic: str) -> str:
    country, _ = rng.choice(rng.choice(list(PLACES.values())))
    words = f"{country} {rng.choice(_WHO)} {rng.choice(_VERBS)} {rng.choice(TOPICS[topic]['words'])}".split()
    return " ".join(w if w in _SMALL else w[0].upper() + w[1:] for w in words)


def _day(rng: random.Random) -> date:
    return date(2020, 1, 1) + timedelta(days=rng.randrange(700))


def _tags(rng: random.Random, page: Page) -> list[str]:
    country = next(c for c, _ in PLACES[page.region] if c in " ".join(page.paragraphs))
    return [country, *rng.sample(ORGS, rng.randint(1, 3))]


def _render(page: Page, rng: random.Random, stamp: str | None = None) -> str:
    day = _day(rng)
    related = [_headline(rng, page.topic) for _ in range(rng.randint(1, 3))]
    tags = ", ".join(_tags(rng, page))
    section = TOPICS[page.topic][page.outlet]
    if page.outlet == "sputnik":
        stamp = stamp or f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} GMT{day.day:02d} {_MONTHS[day.month - 1]} {day.year}"
        lines = [stamp, "Listen Live", f"    {section}", "    Get short URL", "    Share on VK",
                 f"    {rng.randint(0, 9)} {rng.randint(10, 999)}", "",
                 *("    " + p + "\n" for p in page.paragraphs), "",
                 *("    " + h for h in related), "    " + tags,
                 "    Community standardsDiscussion", "    Comment via SputnikComment via Facebook"]
    else:
        stamp = stamp or f"{day.day} {_MONTHS[day.month - 1]} {day.year}"
        lines = ["The Daily Planet", "Menu", section, stamp, "Share on Telegram", "Share on Facebook",
                 "Follow us for more", "", *(p + "\n" for p in page.paragraphs), "Read more:", *related, tags, "",
                 "Newsletter: the morning briefing in your inbox", "© 2021 Daily Planet Media. All rights reserved."]
    return "\n".join(lines) + "\n"


def _awkward(folder: Path, rng: random.Random, pages: list[Page]) -> list[Page]:
    out = []
    empty = folder / "planet" / "900_empty.txt"
    empty.write_bytes(b"")
    out.append(Page(empty, "planet", None, None, "empty"))
    only = folder / "sputnik" / "901_boilerplate.txt"
    only.write_text("12:00 GMT01 March 2021\nListen Live\n    Get short URL\n    Share on VK\n    0 12\n"
                    "    Community standardsDiscussion\n    Comment via SputnikComment via Facebook\n", encoding="utf-8")
    out.append(Page(only, "sputnik", None, None, "boilerplate"))
    # a page saved in cp1251: a Russian quote inside an English story
    story = _story(rng, folder / "sputnik" / "902_cp1251.txt", "sputnik", "World", "Europe")
    story.paragraphs.insert(1, "«Мы заинтересованы в том, чтобы наши союзники и партнёры имели современное "
                               "оружие и военную технику», — заявил министр обороны на конференции в Москве.")
    story.path.write_bytes(_render(story, rng).encode("cp1251"))
    story.kind = "cp1251"
    out.append(story)
    # a re-timestamped copy: the same story published again (an exact duplicate once cleaned)
    original = pages[0]
    copy = Page(folder / original.outlet / "903_retimestamped.txt", original.outlet, original.topic,
                original.region, "duplicate", original.path, list(original.paragraphs))
    copy.path.write_text(_render(copy, random.Random(seed_of(original)), stamp="23:59 GMT31 December 2021"),
                         encoding="utf-8")
    out.append(copy)
    html = _story(rng, folder / "planet" / "904_page.html", "planet", "Business", "Asia")
    body = "".join(f"<p>{p}</p>\n" for p in html.paragraphs)
    html.path.write_text(f"<!doctype html>\n<html><head><title>{html.paragraphs[0][:60]}</title></head>\n"
                         f"<body><nav>Menu</nav><article><h1>{html.paragraphs[0][:60]}</h1>\n{body}</article>\n"
                         f"<footer>© 2021 Daily Planet Media</footer></body></html>\n", encoding="utf-8")
    html.kind = "html"
    out.append(html)
    return out


def seed_of(page: Page) -> int:
    """A page's own seed (from its path): renders it again with other widgets but the same story."""
    return sum(page.path.name.encode())


def data_config(pages: str | Path, output: str | Path, multitask: bool = False) -> dict:
    """A data config for this corpus: section as the topic (single-label; `multitask`: a one-item `topics`
    list, for a model answering topics and regions), regions by M49 region."""
    return {"source": {"kind": "scraped", "path": str(pages), "pattern": "**/*.txt", "profile": PROFILE},
            "labels": {"topic": {"field": "section", "multi_label": multitask, "mapping": SECTION_MAPPING,
                                 "min_count": 2},
                       "region": {"granularity": "region", "fields": ["tags"], "from_text": "fallback"},
                       "require_any_label": multitask},
            "split": {"kind": "random", "test_size": 0.25, "validation_size": 0.15, "seed": 13},
            "output": str(output)}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/outlet_corpus.py NEW_FOLDER")
    try:
        written = write_corpus(sys.argv[1])
    except FileExistsError as exc:
        sys.exit(f"error: {exc}")
    print(f"wrote {len(written)} files under {sys.argv[1]}")
