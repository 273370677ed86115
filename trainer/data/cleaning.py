"""One cleaning, saved with the dataset and the model: what the build learned about reading its pages.

The scraped reader learns, per outlet, which lines are boilerplate (pass 1 of trainer/data/readers/scraped.py).
A model trained on those pages must be served pages cleaned the same way, or the outlet's "Share on
Telegram" line becomes every page's title. So the build writes `cleaning.json` beside manifest.json,
training copies it into model/, and inference (`Predictor.predict_articles`, `trainer predict FILES`,
POST /predict-file) reads a page through the same function the build used (`scraped.read_page`).

cleaning.json, format 1:
    {"format": 1, "kind": "scraped", "source": {"encoding", "profile", "columns"},
     "outlets": {"outlet-name": ["boilerplate line", ...], ...}}

The outlet of a page at inference, the first rule that applies:
1. the outlet asked for (`outlet=`, `trainer predict --outlet`, POST /predict-file?outlet=);
2. the profile's fixed `outlet` (the build gave every page that name);
3. the page's folder, when it names a known outlet (the build's own rule: one folder per outlet);
4. the known outlet whose learned lines the page holds most of (at least MIN_MATCH of them): an uploaded
   page has no folder;
5. none: "generic" cleaning, the build's reader settings without learned lines.
Each article read says which it got in `meta["cleaning"]`: "outlet:NAME" or "generic".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainer.contracts import CLEANING, REBUILD_DATASET, RETRAIN, read_json
from trainer.data.article import Article, Rejected
from trainer.data.config import SourceConfig
from trainer.errors import DataError

FORMAT = 1
GENERIC = "generic"
MIN_MATCH = 2        # one shared line ("Share on Facebook") is not enough to name an outlet
_SOURCE_KEYS = {"encoding", "profile", "columns"}   # what reading one file needs of the build's source


def outlet_cleaning(name: str) -> str:
    return f"outlet:{name}"


@dataclass
class Cleaning:
    kind: str                                   # the reader the dataset was built with
    source: dict[str, Any] = field(default_factory=dict)          # its reading settings (SourceConfig keys)
    outlets: dict[str, frozenset[str]] = field(default_factory=dict)   # learned boilerplate lines per outlet

    @classmethod
    def of_build(cls, source: SourceConfig, state: Any) -> "Cleaning":
        """From the build's source and its reader's plan state (scraped: the frequent lines per outlet)."""
        outlets = dict(state) if source.kind == "scraped" and isinstance(state, dict) else {}
        return cls(source.kind, source.model_dump(mode="json", include=_SOURCE_KEYS), outlets)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "kind": self.kind, "source": self.source,
                "outlets": {name: sorted(lines) for name, lines in sorted(self.outlets.items())}}

    def save(self, folder: str | Path) -> Path:
        from trainer.atomic import atomic_write_json
        return atomic_write_json(Path(folder) / CLEANING, self.to_dict())

    @classmethod
    def load(cls, folder: str | Path, fix: str = RETRAIN) -> "Cleaning | None":
        """The cleaning saved in a dataset or model folder; None when it has none (built before it was saved)."""
        path = Path(folder) / CLEANING
        if not path.is_file():
            return None
        raw = read_json(path, fix)
        try:
            if raw.get("format") != FORMAT:
                raise ValueError(f"format {raw.get('format')!r}, expected {FORMAT}")
            outlets = {str(k): frozenset(map(str, v)) for k, v in raw["outlets"].items()}
            source = dict(raw["source"])
            SourceConfig(kind=raw["kind"], **source)     # the settings must still make a valid source
            return cls(str(raw["kind"]), source, outlets)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:   # pydantic's errors are ValueErrors
            raise DataError(f"{path}: malformed cleaning record ({exc}); {fix}") from None

    # ---- inference ---------------------------------------------------------------------------------
    def source_for(self, path: Path, kind: str) -> SourceConfig:
        """A source reading the single file `path` as the build read its inputs (its settings apply to the
        build's own reader kind only; another kind gets that reader's defaults)."""
        settings = self.source if kind == self.kind else {}
        return SourceConfig(kind=kind, path=str(path), download=False, **settings)

    def outlet_for(self, path: Path, source: SourceConfig, asked: str | None = None) -> str | None:
        """The outlet whose cleaning a scraped page gets (see the module docstring); None: generic."""
        if asked is not None:
            if asked not in self.outlets:
                known = ", ".join(sorted(self.outlets)) or "none"
                raise DataError(f"outlet {asked!r}: the model's dataset learned no such outlet (known: {known}); "
                                "leave it out to find the outlet from the page")
            return asked
        fixed = source.profile.outlet
        if fixed is not None:
            return fixed if fixed in self.outlets else None
        if path.parent.name in self.outlets:
            return path.parent.name
        return self._by_content(path, source)

    def _by_content(self, path: Path, source: SourceConfig) -> str | None:
        from trainer.data.readers.files import read_text
        from trainer.data.readers.scraped import split_lines
        text, _ = read_text(path, source.encoding)
        if text is None:
            return None
        lines = {line.text for line in split_lines(text)}
        ranked = sorted(((len(lines & learned), len(lines & learned) / len(learned), name)
                         for name, learned in self.outlets.items() if learned), reverse=True)
        if not ranked or ranked[0][0] < MIN_MATCH:
            return None
        if len(ranked) > 1 and ranked[1][:2] == ranked[0][:2]:
            return None        # two outlets fit as well: neither is known to be right
        return ranked[0][2]

    def read(self, path: str | Path, kind: str, outlet: str | None = None) -> list[Article | Rejected]:
        """The records of one input file, cleaned as the build cleaned its own; each article's
        meta["cleaning"] names the outlet cleaning used, or "generic"."""
        path = Path(path)
        source = self.source_for(path, kind)
        if kind == "scraped" and self.kind == "scraped":
            from trainer.data.readers.scraped import read_page
            name = self.outlet_for(path, source, outlet)
            record = read_page(source, path, name or path.parent.name, self.outlets.get(name, frozenset()))
            label = outlet_cleaning(name) if name is not None else GENERIC
            records = [record]
        else:
            if outlet is not None:
                built = (f"its dataset was built from {self.kind} files" if self.kind else
                         "its dataset was built before cleaning.json was saved")
                raise DataError(f"outlet {outlet!r}: this model knows no outlets ({built}); leave the outlet out")
            from trainer.data.readers import read_articles
            records, label = list(read_articles(source)), GENERIC
        for record in records:
            if isinstance(record, Article):
                record.meta["cleaning"] = label
        return records


def generic() -> Cleaning:
    """What a model without a saved cleaning gets: each reader's defaults, nothing learned."""
    return Cleaning(kind="", source={}, outlets={})


def copy_to_model(dataset_dir: str | Path, model_dir: str | Path) -> Path | None:
    """Training: the dataset's cleaning.json into model/, so that the model is served pages cleaned as it
    was trained on them (nothing when the dataset has none)."""
    cleaning = Cleaning.load(dataset_dir, REBUILD_DATASET)
    return cleaning.save(model_dir) if cleaning is not None else None
