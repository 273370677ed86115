"""Schema of a data config (`trainer data build CONFIG`). Defaults live here, nowhere else."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from trainer.config import StrictModel

MIRROR_ENV = "TRAINER_DATA_MIRROR"


class ColumnMap(StrictModel):
    """Which input column (JSONL key / CSV header) holds each Article field; None = absent."""
    id: str | None = None
    title: str | None = "title"
    body: str = "text"
    published: str | None = None
    section: str | None = None
    topics: str | None = None
    tags: str | None = None
    places: str | None = None
    url: str | None = None
    list_separator: str = ","          # how CSV cells hold lists (tags, topics, places)


class ScrapedProfile(StrictModel):
    """Per-outlet hints for plain-text scraped pages, for what line frequency cannot tell."""
    outlet: str | None = None          # source name recorded on each article (default: folder name)
    date_line: int = 0                 # index of the non-empty line holding the date
    date_formats: list[str] = Field(default_factory=lambda: ["%H:%M GMT%d %B %Y", "%d %B %Y", "%Y-%m-%d"])
    section_after: list[str] = Field(default_factory=lambda: ["Listen Live"])  # section follows this line
    section_line: int | None = None    # or: the index of the non-empty line holding the section
    tag_line: Literal["auto", "none"] = "auto"   # auto: last comma-separated line before the footer
    footer_markers: list[str] = Field(default_factory=lambda: ["Community standards", "Comment via"])
    boilerplate: list[str] = Field(default_factory=lambda: ["Listen Live", "Get short URL"])
    boilerplate_min_fraction: float = Field(0.5, ge=0, le=1)  # lines in >= this share of files are boilerplate
    boilerplate_min_files: int = Field(5, ge=2)                # frequency needs at least this many files
    boilerplate_sample: int = Field(2000, ge=2, description=(
        "Line frequency of an outlet with more files is counted on this many of them, evenly spaced through "
        "its sorted file list, so that memory does not grow with the crawl."))


class SourceConfig(StrictModel):
    kind: Literal["reuters", "scraped", "html", "jsonl", "csv"]
    path: str | None = None            # file or directory; None: look in the mirror, then download
    mirror_env: str = MIRROR_ENV       # environment variable naming a mirror directory
    download: bool = True              # allow a checksummed download when no path or mirror has it
    pattern: str = "**/*"              # glob for directory inputs (scraped, html, jsonl, csv)
    encoding: str = "utf-8"
    columns: ColumnMap = Field(default_factory=ColumnMap)
    profile: ScrapedProfile = Field(default_factory=ScrapedProfile)
    limit: int | None = Field(None, ge=1)   # read at most this many documents (smoke tests)


class TopicLabels(StrictModel):
    field: Literal["topics", "section", "tags"] = "topics"
    multi_label: bool = True
    mapping: dict[str, str | None] = Field(default_factory=dict)  # rename/merge; null drops the label
    min_count: int = Field(1, ge=1)    # drop labels with fewer training documents
    require_in_test: bool = False      # keep only labels with >=1 train and >=1 test document (ModApte-90)
    drop_unlabelled: bool = True       # documents left with no topic are rejected ("no topic label")


class RegionLabels(StrictModel):
    granularity: Literal["region", "subregion", "country"] = "subregion"
    fields: list[Literal["places", "tags"]] = Field(default_factory=lambda: ["places", "tags"])
    from_text: Literal["fallback", "always", "never"] = "fallback"  # name matching in title/body
    # text: places in the title or dateline count, body places when named this often (else the most named)
    min_mentions: int = Field(3, ge=1)


class LabelsConfig(StrictModel):
    topic: TopicLabels | None = Field(default_factory=TopicLabels)
    region: RegionLabels | None = Field(default_factory=RegionLabels)
    # multi-task datasets: keep a document that has a topic OR a region (after label filtering); a model with
    # task.targets skips, per target, the documents without its label. Needs multi-label topics.
    require_any_label: bool = False

    @model_validator(mode="after")
    def _any(self):
        if self.require_any_label and (self.topic is None or self.region is None or not self.topic.multi_label):
            raise ValueError("labels.require_any_label needs multi-label topics and regions (labels.topic with "
                             "multi_label: true, and labels.region)")
        return self


class DedupConfig(StrictModel):
    exact: bool = True
    near: bool = True
    threshold: float = Field(0.9, gt=0, le=1)   # estimated Jaccard similarity of word shingles
    num_perm: int = Field(128, ge=16)
    shingle_size: int = Field(5, ge=1)


class SplitConfig(StrictModel):
    kind: Literal["predefined", "random", "time"] = "random"
    test_size: float = Field(0.2, gt=0, lt=1)
    validation_size: float = Field(0.1, ge=0, lt=1)  # share of train carved out for validation
    seed: int = 13
    drop_cross_split_duplicates: bool = False  # predefined: drop test docs duplicated in train


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
    source: SourceConfig
    labels: LabelsConfig = Field(default_factory=LabelsConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    output: str = "data/processed/dataset"
    build: BuildConfig = Field(default_factory=BuildConfig)

    @model_validator(mode="after")
    def _check(self):
        if self.labels.topic is None and self.labels.region is None:
            raise ValueError("labels: at least one of labels.topic / labels.region is needed")
        return self
