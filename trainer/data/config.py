"""Schema of a data config (`trainer data build CONFIG`). Defaults and field documentation live here, nowhere
else; `trainer validate --explain data.KEY` prints a field's description."""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from trainer.config import StrictModel
from trainer.data import reader_kinds

MIRROR_ENV = "TRAINER_DATA_MIRROR"


class ColumnMap(StrictModel):
    """Which input column (JSONL key / CSV header) holds each Article field; null = absent."""
    id: str | None = Field(None, description="Column of the document id; null: file stem and line number.")
    title: str | None = Field("title", description="Column of the headline.")
    body: str = Field("text", description="Column of the article text (required in every file).")
    published: str | None = Field(None, description="Column of the publication date (ISO, or profile.date_formats).")
    section: str | None = Field(None, description="Column of the outlet's section (a single-label topic).")
    topics: str | None = Field(None, description="Column of topic codes (a list).")
    tags: str | None = Field(None, description="Column of tags: organisations, people, places (a list).")
    places: str | None = Field(None, description="Column of place codes or names (a list; region labels).")
    url: str | None = Field(None, description="Column of the article URL.")
    list_separator: str = Field(",", description="How a CSV cell holds a list (tags, topics, places); a cell holding "
                                                 "a JSON array is read as one.")


class ScrapedProfile(StrictModel):
    """Per-outlet hints for plain-text scraped pages, for what line frequency cannot tell."""
    outlet: str | None = Field(None, description="Source name recorded on each article; null: the outlet's folder name.")
    date_line: int = Field(0, description="Index of the non-empty line holding the date.")
    date_formats: list[str] = Field(default_factory=lambda: ["%H:%M GMT%d %B %Y", "%d %B %Y", "%Y-%m-%d"],
                                    description="Date formats (Python format codes, e.g. %d %B %Y) tried in order on the date line.")
    section_after: list[str] = Field(default_factory=lambda: ["Listen Live"],
                                     description="The section is the line after one of these lines.")
    section_line: int | None = Field(None, description="Or: the index of the non-empty line holding the section.")
    tag_line: Literal["auto", "none"] = Field(
        "auto", description="auto: the last comma-separated line before the footer holds the tags; none: no tags.")
    footer_markers: list[str] = Field(default_factory=lambda: ["Community standards", "Comment via"],
                                      description="The first line starting with one of these, and all after it, "
                                                  "are dropped.")
    boilerplate: list[str] = Field(default_factory=lambda: ["Listen Live", "Get short URL"],
                                   description="Lines always dropped as boilerplate.")
    boilerplate_min_fraction: float = Field(0.5, ge=0, le=1, description="A line found in at least this share of an "
                                                                         "outlet's files is boilerplate.")
    boilerplate_min_files: int = Field(5, ge=2, description="Line frequency is used only for outlets with at least "
                                                            "this many files.")
    boilerplate_sample: int = Field(2000, ge=2, description=(
        "Line frequency of an outlet with more files is counted on this many of them, evenly spaced through "
        "its sorted file list, so that memory does not grow with the crawl."))


# the reader kinds come from their table (trainer/data/reader_kinds.py), not a copy of its names
ReaderKindName = Literal[reader_kinds.KINDS]


class SourceConfig(StrictModel):
    """Where the raw articles are and how to read them."""
    kind: ReaderKindName = Field(description="Reader of the input files.")
    path: str | None = Field(None, description="File or folder; null: look in the mirror, then download (reuters).")
    mirror_env: str = Field(MIRROR_ENV, description="Environment variable naming a mirror folder of public corpora.")
    download: bool = Field(True, description="Allow a checksummed download when neither path nor mirror has the file.")
    pattern: str = Field("**/*", description="Glob of the files to read under a folder (scraped, html, jsonl, csv).")
    encoding: str = Field("utf-8", description="Encoding tried after a byte-order mark (and an HTML page's declared "
                                               "charset), before detection.")
    columns: ColumnMap = Field(default_factory=ColumnMap, description="JSONL/CSV: which column holds which field.")
    profile: ScrapedProfile = Field(default_factory=ScrapedProfile, description="Scraped pages: the outlet's layout.")
    limit: int | None = Field(None, ge=1, description="Read at most this many documents (smoke tests).")


class TopicLabels(StrictModel):
    """Topic labels: which article field holds them, and which to keep."""
    field: Literal["topics", "section", "tags"] = Field("topics", description="Article field the topics come from.")
    multi_label: bool = Field(True, description="true: a `topics` column of label lists; false: a `topic` column "
                                                "with exactly one label per document.")
    mapping: dict[str, str | None] = Field(default_factory=dict,
                                           description="Rename or merge labels (several keys to one value); null "
                                                       "drops a label.")
    min_count: int = Field(1, ge=1, description="Drop labels with fewer training documents.")
    require_in_test: bool = Field(False, description="Keep only labels with >= 1 training and >= 1 test document "
                                                     "(ModApte-90).")
    drop_unlabelled: bool = Field(True, description="Reject documents left with no topic (\"no topic label\").")


class RegionLabels(StrictModel):
    """Region labels (UN M49) from place codes, tags and place names in the text."""
    granularity: Literal["region", "subregion", "country"] = Field(
        "subregion", description="region (5 continents), subregion (M49 sub-/intermediate regions) or country (ISO3).")
    fields: list[Literal["places", "tags"]] = Field(default_factory=lambda: ["places", "tags"],
                                                    description="Article fields read for place codes and names.")
    from_text: Literal["fallback", "always", "never"] = Field(
        "fallback", description="Match place names in the title and body: only when the fields give no region "
                                "(fallback), always, or never.")
    min_mentions: int = Field(3, ge=1, description="From text: places in the title or dateline count, a place in "
                                                   "the body when named this often (else the most named).")


class LabelsConfig(StrictModel):
    """The label columns the dataset gets."""
    corrections: str | None = Field(
        None, description="A reviewed list of label fixes (YAML/JSON: id: [labels], id: drop, or id: {column: "
                          "labels}; `trainer audit` writes a draft). Applied after labels.topic.mapping, before "
                          "label filtering; manifest.json `corrections` records each change. An unknown id is an error.")
    topic: TopicLabels | None = Field(default_factory=TopicLabels, description="Topic labels; null: none.")
    region: RegionLabels | None = Field(default_factory=RegionLabels, description="Region labels; null: none.")
    require_any_label: bool = Field(
        False, description="Multi-task datasets: keep a document that has a topic OR a region (after label "
                           "filtering); a model with task.targets skips, per target, the documents without its "
                           "label. Needs multi-label topics and regions.")

    @model_validator(mode="after")
    def _any(self):
        if self.require_any_label and (self.topic is None or self.region is None or not self.topic.multi_label):
            raise ValueError("labels.require_any_label needs multi-label topics and regions (labels.topic with "
                             "multi_label: true, and labels.region)")
        return self


class DedupConfig(StrictModel):
    """Exact and near-duplicate detection over the whole corpus."""
    exact: bool = Field(True, description="Group documents whose normalised texts are equal.")
    near: bool = Field(True, description="Group near duplicates (MinHash LSH over word shingles).")
    threshold: float = Field(0.9, gt=0, le=1, description="Estimated Jaccard similarity of word shingles that makes "
                                                          "two documents near duplicates.")
    num_perm: int = Field(128, ge=16, description="MinHash permutations (more: a finer similarity estimate).")
    shingle_size: int = Field(5, ge=1, description="Words per shingle.")


class SplitConfig(StrictModel):
    """How documents are assigned to train / validation / test."""
    kind: Literal["predefined", "random", "time"] = Field(
        "random", description="predefined: the corpus's own split (ModApte); random: stratified by label, duplicate "
                              "groups on one side; time: oldest to train, newest to test (undated rejected).")
    test_size: float = Field(0.2, gt=0, lt=1, description="Share of documents for test (random, time).")
    validation_size: float = Field(0.1, ge=0, lt=1, description="Share of train carved out for validation.")
    seed: int = Field(13, description="Seed of the random and stratified choices.")
    drop_cross_split_duplicates: bool = Field(False, description="predefined: drop test documents that duplicate a "
                                                                 "training document.")


class BuildConfig(StrictModel):
    """How the build runs; the dataset it writes does not depend on it."""
    engine: Literal["local", "ray"] = Field("local", description=(
        "Who runs the per-document work: this process (local), or Ray Data (ray) on the cluster $RAY_ADDRESS "
        "names, else on a Ray started in-process (pip install 'trainer[ray]'). Both write the same dataset."))
    batch_size: int = Field(2000, ge=1, description=(
        "Records per batch: one spill shard on disk, and about one Ray task. Memory per batch grows with it."))
    workers: int | None = Field(None, ge=1, description=(
        "ray: tasks run at once (a Ray started in-process gets this many CPUs); null: as many as the cluster has."))


class DataConfig(StrictModel):
    """A dataset build: source, labels, dedup, split, output."""
    # file system paths: relative ones in a config file are taken from its base folder (trainer.config.loader)
    path_keys: ClassVar[tuple[str, ...]] = ("source.path", "output", "labels.corrections")

    source: SourceConfig = Field(description="The raw articles.")
    labels: LabelsConfig = Field(default_factory=LabelsConfig, description="Label columns.")
    dedup: DedupConfig = Field(default_factory=DedupConfig, description="Duplicate detection.")
    split: SplitConfig = Field(default_factory=SplitConfig, description="Splits.")
    output: str = Field("data/processed/dataset", description="Dataset folder to write (refused if it holds "
                                                              "anything but a dataset of ours, or an input).")
    build: BuildConfig = Field(default_factory=BuildConfig, description="How the build runs: engine, batch size, workers.")

    @model_validator(mode="after")
    def _check(self):
        if self.labels.topic is None and self.labels.region is None:
            raise ValueError("labels: at least one of labels.topic / labels.region is needed")
        return self
