"""Synthetic scraped pages for tests and benchmarks: one outlet's layout, varying bodies, tags, sections.

Test data, in the package because both the tests and the benchmarks (scripts/bench_build.py,
scripts/bench_scraped.py) use it and scripts never import from tests/. Nothing in the product calls it.

Two layouts: "sputnik" copies the shared sample's boilerplate (date line, "Listen Live", section,
"Get short URL", counters, related headlines, tag line, comment widgets); "planet" is another outlet
with other boilerplate (navigation bar, share links, "Read more:", newsletter and copyright footer)
that only line frequency can find. Each page comes back with the parts a reader should recover.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

SECTIONS = ["World", "Military & Intelligence", "Business", "Science & Tech", "Society", "Politics"]
NAMES = ["Russia", "China", "Afghanistan", "Kyrgyzstan", "Tajikistan", "CSTO", "NATO", "European Union",
         "Sergei Shoigu", "Central Bank", "OPEC", "India", "Brazil", "United Nations", "Iran", "Turkey"]
_SUBJECTS = ["the minister", "the central bank", "a spokesman", "the committee", "the governor", "analysts",
             "the company", "local officials", "the navy", "the delegation", "researchers", "the court"]
_VERBS = ["said", "announced", "warned", "reported", "confirmed", "denied", "estimated", "insisted"]
_OBJECTS = ["new sanctions", "oil output", "border security", "a trade deal", "joint drills", "grain exports",
            "the budget deficit", "interest rates", "the vaccine rollout", "a ceasefire", "fuel prices"]
_SMALL = {"in", "to", "of", "on", "for", "and", "the", "a"}

SPUTNIK_BOILERPLATE = ["Listen Live", "Get short URL", "Community standardsDiscussion",
                       "Comment via SputnikComment via Facebook"]
PLANET_BOILERPLATE = ["Daily Planet", "Home | World | Business | Sport | Culture", "Share on Facebook",
                      "Share on Twitter", "Read more:", "Subscribe to our newsletter",
                      "© 2021 Daily Planet Media. All rights reserved."]


@dataclass
class SyntheticPage:
    path: Path
    day: date                      # kept as a date: only trainer/data/dates.py parses date text
    section: str
    tags: list[str]
    related: list[str]
    paragraphs: list[str]          # lead first

    @property
    def published(self) -> str:
        """The date a reader should recover, as the build writes it (ISO)."""
        return self.day.isoformat()


def write_pages(folder: str | Path, n: int, layout: str = "sputnik", seed: int = 0,
                keep: bool = True) -> list[SyntheticPage]:
    """Write `n` pages of one outlet into `folder` (created) and return what each holds (nothing when
    not `keep`: a million pages would not fit)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    render = {"sputnik": _render_sputnik, "planet": _render_planet}[layout]
    pages = []
    for k in range(n):
        page = _page(rng, folder / f"{k:06d}_{rng.getrandbits(48):012x}.txt")
        page.path.write_text(render(page, rng), encoding="utf-8")
        if keep:
            pages.append(page)
    return pages


def _page(rng: random.Random, path: Path) -> SyntheticPage:
    day = date(2019, 1, 1) + timedelta(days=rng.randrange(900))
    paragraphs = [_sentence(rng)] + [" ".join(_sentence(rng) for _ in range(rng.randint(1, 3)))
                                     for _ in range(rng.randint(2, 7))]
    return SyntheticPage(path, day, rng.choice(SECTIONS), rng.sample(NAMES, rng.randint(2, 8)),
                         [_headline(rng) for _ in range(rng.randint(0, 4))], paragraphs)


def _sentence(rng: random.Random) -> str:
    who, verb, what = rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS)
    return (f"{who.capitalize()} {verb} that {what} in {rng.choice(NAMES)} would change by "
            f"{rng.randint(2, 97)} percent within {rng.randint(2, 30)} months.")


def _headline(rng: random.Random) -> str:
    words = f"{rng.choice(NAMES)} {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}".split()
    return " ".join(w if w in _SMALL else w[0].upper() + w[1:] for w in words) + f" in {rng.randint(2001, 2020)}"


def _render_sputnik(page: SyntheticPage, rng: random.Random) -> str:
    stamp = page.day.strftime("%d %B %Y")
    body = "\n\n".join("    " + p for p in [page.paragraphs[0], "MOSCOW (Sputnik) — " + page.paragraphs[1],
                                            *page.paragraphs[2:]])
    lines = [f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d} GMT{stamp}", "Listen Live",
             f"    {page.section}", "    Get short URL", f"    {rng.randint(0, 9)} {rng.randint(10, 999)}", "",
             body, "", "", *("    " + h for h in page.related), "    " + ", ".join(page.tags),
             "    Community standardsDiscussion", "    Comment via SputnikComment via Facebook"]
    return "\n".join(lines)


def _render_planet(page: SyntheticPage, rng: random.Random) -> str:
    related = ["Read more:", *page.related] if page.related else []
    lines = [PLANET_BOILERPLATE[0], PLANET_BOILERPLATE[1], page.published, page.section,
             "Share on Facebook", "Share on Twitter", str(rng.randint(0, 500)), "",
             "\n\n".join(page.paragraphs), "", *related, ", ".join(page.tags), "",
             "Subscribe to our newsletter", PLANET_BOILERPLATE[-1], ""]
    return "\n".join(lines)
