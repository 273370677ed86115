"""`trainer data build`: read -> clean -> label -> dedup -> split -> filter labels -> write, atomically.

Every document read is accounted for: it is kept, rejected (with a reason, in rejects.jsonl) or
removed as a duplicate (in duplicates.jsonl), and manifest.json checks read == kept + rejected +
deduplicated. Each stage's document counts are in manifest["stages"].

`progress`, when given, is called with one dict per event: {"stage", "done": False, "documents"} when a
stage starts (and every READ_TICK documents while reading), and the stage's manifest record plus
"done": True when it ends; the last event is {"stage": "written", "done": True, "documents", "seconds"}.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from trainer import provenance
from trainer.data.article import Article, Rejected
from trainer.data.config import DataConfig, SourceConfig
from trainer.contracts.dataset import FORMAT, is_dataset_dir
from trainer.data.dedup import choose_representatives, find_duplicates
from trainer.data.split import SPLITS, assign_splits
from trainer.errors import DataError

# versions recorded in manifest.json: the libraries a build depends on
BUILD_PACKAGES = ("trainer", "datasets", "datasketch", "iterative-stratification", "numpy", "pyarrow")
EMPTY = "empty text"
DUPLICATE_ID = "duplicate id"
NO_TOPIC = "no topic label"
NO_REGION = "no region label"
NO_LABEL = "neither a topic nor a region label"
SEVERAL_TOPICS = "several topic labels (single-label dataset)"
FILTERED = "no topic label left after label filtering (min_count / require_in_test)"
READ_TICK = 1000               # a progress event every this many documents read


@dataclass
class Doc:
    """An article on its way through the build, with its labels and where it came from."""
    article: Article
    topics: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    split: str | None = None
    group: int = -1            # duplicate group id (unique per document when it has no duplicate)

    @property
    def where(self) -> str:
        return self.article.path or self.article.id


@dataclass
class BuildResult:
    output: Path
    manifest: dict

    def summary(self) -> str:
        m = self.manifest
        acc = m["accounting"]
        lines = [f"wrote {self.output}  ({m['build_seconds']:.1f} s)",
                 "documents: " + ", ".join(f"{s} {m['counts'][s]}" for s in SPLITS),
                 f"read {acc['read']} = kept {acc['kept']} + rejected {acc['rejected']}"
                 f" + duplicates {acc['deduplicated']}"]
        lines += [f"  rejected {n:>6}  {reason}" for reason, n in m["rejected"].items()]
        for column, labels in m["labels"].items():
            lines.append(f"{column}: {len(labels)} labels")
        cross = len(m["dedup"]["cross_split_groups"])
        if cross:
            lines.append(f"cross-split duplicate groups: {cross} (listed in manifest.json)")
        return "\n".join(lines)


class _Build:
    """State of one build: the documents still in, the rejects, and the stage counts."""

    def __init__(self, cfg: DataConfig, progress: Callable[[dict], None] | None = None):
        self.cfg = cfg
        self.progress = progress
        self.docs: list[Doc] = []
        self.rejects: list[dict] = []
        self.duplicates: list[dict] = []
        self.stages: list[dict] = []
        self.read = 0
        self._clock = time.perf_counter()
        self.dedup: dict = {}
        self.dropped_labels: dict[str, list[str]] = {}

    def reject(self, doc: Doc, reason: str) -> None:
        self.rejects.append({"input": doc.where, "id": doc.article.id, "reason": reason})

    def keep_if(self, predicate: Callable[[Doc], str | None]) -> None:
        """Keep the documents for which `predicate` returns no reject reason."""
        kept = []
        for doc in self.docs:
            reason = predicate(doc)
            if reason is None:
                kept.append(doc)
            else:
                self.reject(doc, reason)
        self.docs = kept

    def stage(self, name: str) -> None:
        by_split = Counter(str(d.split if d.split is not None else d.article.split) for d in self.docs)
        now = time.perf_counter()
        self.stages.append({"stage": name, "documents": len(self.docs), "by_split": dict(sorted(by_split.items())),
                            "seconds": round(now - self._clock, 3)})  # since the previous stage
        self._clock = now
        self.tell({**self.stages[-1], "done": True})

    def tell(self, event: dict) -> None:
        if self.progress is not None:
            self.progress(event)

    def begin(self, name: str) -> None:
        self.tell({"stage": name, "done": False, "documents": len(self.docs)})


def build_dataset(cfg: DataConfig, config_path: str | Path | None = None,
                  articles: Iterable[Article | Rejected] | None = None,
                  output: str | Path | None = None, progress: Callable[[dict], None] | None = None) -> BuildResult:
    """Build the dataset `cfg` describes and write it to `output` (default cfg.output).

    `articles` replaces the configured reader (tests, or callers that read in their own way);
    `progress` receives an event per stage (see the module docstring).
    """
    started = time.perf_counter()
    out = Path(output if output is not None else cfg.output)
    check_output(out, cfg.source if articles is None else None)
    inputs: list[dict] = []
    if articles is None:
        from trainer.data.readers import read_articles
        inputs = describe_inputs(cfg, out)
        articles = read_articles(cfg.source)
    b = _Build(cfg, progress)
    b.begin("read")
    _ingest(b, articles)
    _label(b)
    _dedup(b)
    _split(b)
    _filter_labels(b)
    _require_training_documents(b)
    manifest = make_manifest(b, config_path, inputs, out)
    b.begin("written")
    write_output(b, manifest, out, started)
    b.tell({"stage": "written", "done": True, "documents": len(b.docs), "by_split": manifest["counts"],
            "seconds": round(time.perf_counter() - b._clock, 3), "output": str(out)})
    return BuildResult(out, manifest)


def _require_training_documents(b: _Build) -> None:
    if any(d.split == "train" for d in b.docs):
        return
    reasons = Counter(r["reason"] for r in b.rejects).most_common(5)
    raise DataError(f"no training documents left from {b.read} read (source {b.cfg.source.kind} "
                    f"{b.cfg.source.path or ''}); most rejected: "
                    + ("; ".join(f"{n} {reason}" for reason, n in reasons) or "none")
                    + ". Check source.path and the labels section (min_count, mapping, drop_unlabelled)")


def check_output(out: Path, source: SourceConfig | None) -> None:
    """Refuse, before any input is read, an output the build would have to destroy to write.

    The output directory is replaced as a whole, so it must be new, empty, or a dataset this
    program wrote; and it must neither be, nor lie inside, nor contain the input (`source.path`).
    """
    if source is not None and source.path:
        _check_apart(out, Path(source.path).expanduser(), f"the input source.path {source.path}")
    if out.is_dir():
        if any(out.iterdir()) and not is_dataset_dir(out):
            raise DataError(f"output: {out} is not empty and not a dataset directory (no manifest.json of "
                            f"format {FORMAT}); it is never replaced. Set output to a new or empty folder")
    elif out.exists() or out.is_symlink():
        raise DataError(f"output: {out} is a file (or a broken link), not a dataset directory; "
                        "set output to a new or empty folder")


def _check_apart(out: Path, path: Path, what: str) -> None:
    out_r, path_r = out.expanduser().resolve(), path.resolve()
    if out_r == path_r or out_r.is_relative_to(path_r) or path_r.is_relative_to(out_r):
        relation = "is" if out_r == path_r else "is inside" if out_r.is_relative_to(path_r) else "contains"
        raise DataError(f"output: {out} {relation} {what}, which the build would overwrite; "
                        "set output to a folder outside the input")


def describe_inputs(cfg: DataConfig, out: Path | None = None) -> list[dict]:
    """Path, sha256 and size of each input file (the manifest's `inputs`); none may lie in `out`."""
    from trainer.data.readers import input_files
    from trainer.data.sources import sha256_file
    files = input_files(cfg.source)
    if out is not None:   # inputs found without source.path (mirror, cache) are checked here
        for p in files:
            _check_apart(out, p, f"the input file {p}")
    return [_describe(p, sha256_file) for p in files]


def _describe(path: Path, sha256_file) -> dict:
    """An input the OS cannot read is described by its error; the reader rejects it with the same reason."""
    from trainer.data.readers.files import unreadable
    try:
        return {"path": str(path), "sha256": sha256_file(path), "bytes": path.stat().st_size}
    except OSError as exc:
        return {"path": str(path), "sha256": None, "bytes": None, "error": unreadable(exc)}


def _ingest(b: _Build, articles: Iterable[Article | Rejected]) -> None:
    predefined = b.cfg.split.kind == "predefined"
    outside = "outside predefined split" + (" (ModApte unused)" if b.cfg.source.kind == "reuters" else "")
    seen_ids: set[str] = set()
    for item in articles:
        b.read += 1
        if b.read % READ_TICK == 0:
            b.tell({"stage": "read", "done": False, "documents": b.read})
        if isinstance(item, Rejected):
            b.rejects.append({"input": item.input, "reason": item.reason})
        elif item.id in seen_ids:   # ids name rows in the dataset, duplicates.jsonl and predictions: unique
            b.reject(Doc(item), DUPLICATE_ID)
        else:
            seen_ids.add(item.id)
            b.docs.append(Doc(item))
    b.stage("read")
    b.keep_if(lambda d: EMPTY if not d.article.text.strip() else None)
    b.stage("non_empty")
    if predefined:
        b.keep_if(lambda d: outside if d.article.split is None else None)
        b.stage("in_predefined_split")


def _label(b: _Build) -> None:
    b.begin("labelled")
    topic_cfg, region_cfg = b.cfg.labels.topic, b.cfg.labels.region
    if topic_cfg is not None:
        from trainer.data.topics import topic_labels
        for d in b.docs:
            d.topics = list(topic_labels(d.article, topic_cfg))
    if region_cfg is not None:
        from trainer.data.regions import RegionLabeller
        labeller = RegionLabeller(region_cfg)
        for d in b.docs:
            d.regions = list(labeller.label(d.article))
    b.keep_if(lambda d: _unlabelled(d, b.cfg))
    b.stage("labelled")


def _unlabelled(d: Doc, cfg: DataConfig) -> str | None:
    if cfg.labels.require_any_label:
        return None if d.topics or d.regions else NO_LABEL
    topic = cfg.labels.topic
    if topic is not None and not topic.multi_label:
        # a single-label row needs exactly one class, whatever drop_unlabelled says
        return NO_TOPIC if not d.topics else SEVERAL_TOPICS if len(d.topics) > 1 else None
    if topic is not None:
        return NO_TOPIC if topic.drop_unlabelled and not d.topics else None
    return NO_REGION if not d.regions else None  # regions are the only target


def _dedup(b: _Build) -> None:
    b.begin("deduplicated")
    cfg = b.cfg
    b.dedup = {"groups": 0, "exact_links": 0, "near_links": 0, "removed": 0,
               "cross_split_groups": [], "cross_split_dropped": []}
    for i, d in enumerate(b.docs):
        d.group = i
    if not (cfg.dedup.exact or cfg.dedup.near) or not b.docs:
        b.stage("deduplicated")
        return
    groups = find_duplicates([d.article.text for d in b.docs], cfg.dedup)
    predefined = [d.article.split for d in b.docs] if cfg.split.kind == "predefined" else None
    sel = choose_representatives(groups, predefined, cfg.split.drop_cross_split_duplicates)
    ids = [d.article.id for d in b.docs]
    b.dedup.update(groups=len(groups.groups), exact_links=groups.exact_links, near_links=groups.near_links,
                   removed=len(sel.removed), cross_split_groups=[[ids[i] for i in g] for g in sel.cross_split],
                   cross_split_dropped=[ids[i] for i in sel.dropped_cross_split])
    for i in sel.removed:
        b.duplicates.append({"input": b.docs[i].where, "id": ids[i], "duplicate_of": ids[sel.kept_for[i]]})
    group_of = groups.group_of()
    for i, d in enumerate(b.docs):
        d.group = group_of.get(i, len(b.docs) + i)
    gone = set(sel.removed)
    b.docs = [d for i, d in enumerate(b.docs) if i not in gone]
    b.stage("deduplicated")


def _split(b: _Build) -> None:
    b.begin("split")
    strat = [d.topics if b.cfg.labels.topic is not None else d.regions for d in b.docs]
    result = assign_splits(strat, b.cfg.split, predefined=[d.article.split for d in b.docs],
                           published=[d.article.published for d in b.docs], groups=[d.group for d in b.docs])
    for d, split in zip(b.docs, result.assignment):
        d.split = split
    index = {id(d): i for i, d in enumerate(b.docs)}
    b.keep_if(lambda d: result.rejects.get(index[id(d)]))
    b.stage("split")


def _filter_labels(b: _Build) -> None:
    """Keep labels a model can learn: topics with >= min_count training documents (and >= 1 test
    document with require_in_test); regions seen in train. Rows left without a target are rejected."""
    b.begin("label_filtered")
    topic_cfg = b.cfg.labels.topic
    if topic_cfg is not None:
        from trainer.data.topics import filter_labels
        keep = filter_labels([d.topics for d in b.docs], [d.split == "train" for d in b.docs],
                             [d.split == "test" for d in b.docs], topic_cfg)
        b.dropped_labels["topics"] = sorted({t for d in b.docs for t in d.topics} - keep)
        for d in b.docs:
            d.topics = [t for t in d.topics if t in keep]
        drop_empty = (topic_cfg.drop_unlabelled or not topic_cfg.multi_label) and not b.cfg.labels.require_any_label
        b.keep_if(lambda d: FILTERED if drop_empty and not d.topics else None)
    if b.cfg.labels.region is not None:
        seen = {r for d in b.docs if d.split == "train" for r in d.regions}
        b.dropped_labels["regions"] = sorted({r for d in b.docs for r in d.regions} - seen)
        for d in b.docs:
            d.regions = [r for r in d.regions if r in seen]
        if topic_cfg is None:
            b.keep_if(lambda d: NO_REGION if not d.regions else None)
    if b.cfg.labels.require_any_label:
        b.keep_if(lambda d: NO_LABEL + " left after label filtering" if not (d.topics or d.regions) else None)
    b.stage("label_filtered")


def topic_column(cfg: DataConfig) -> str | None:
    topic = cfg.labels.topic
    return None if topic is None else "topics" if topic.multi_label else "topic"


def label_columns(cfg: DataConfig) -> list[str]:
    return [c for c in (topic_column(cfg), "regions" if cfg.labels.region is not None else None) if c]


def _row(d: Doc, cfg: DataConfig) -> dict:
    a = d.article
    row = {"id": a.id, "title": a.title or "", "text": a.text}
    column = topic_column(cfg)
    if column == "topics":
        row["topics"] = d.topics
    elif column == "topic":
        row["topic"] = d.topics[0]
    if cfg.labels.region is not None:
        row["regions"] = d.regions
    row.update(published=a.published, source=a.source)
    return row


def _features(cfg: DataConfig):
    import datasets
    string, strings = datasets.Value("string"), datasets.List(datasets.Value("string"))
    spec = {"id": string, "title": string, "text": string}
    column = topic_column(cfg)
    if column:
        spec[column] = strings if column == "topics" else string
    if cfg.labels.region is not None:
        spec["regions"] = strings
    spec.update(published=string, source=string)
    return datasets.Features(spec)


def _label_counts(b: _Build) -> dict:
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for column in label_columns(b.cfg):
        counts[column] = {}
        for split in SPLITS:
            c = Counter(l for d in b.docs if d.split == split
                        for l in (d.regions if column == "regions" else d.topics))
            counts[column][split] = dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))
    return counts


def make_manifest(b: _Build, config_path, inputs: list[dict], out: Path) -> dict:
    label_counts = _label_counts(b)
    rejected = Counter(r["reason"] for r in b.rejects)
    kept = len(b.docs)
    return {
        "format": "trainer-dataset/1",
        "name": out.name,
        "built_at": provenance.now_iso(),
        "config_path": str(config_path) if config_path is not None else None,
        "config": b.cfg.model_dump(mode="json"),
        "inputs": inputs,
        "columns": list(_features(b.cfg)),
        "topic_column": topic_column(b.cfg),
        "problem": _problem(b.cfg),
        "counts": {s: sum(d.split == s for d in b.docs) for s in SPLITS},
        "label_counts": label_counts,
        "labels": {c: sorted({l for split in v.values() for l in split}) for c, v in label_counts.items()},
        "labels_dropped": b.dropped_labels,
        "rejected": dict(rejected.most_common()),
        "dedup": {**b.dedup, "config": b.cfg.dedup.model_dump(mode="json")},
        "stages": b.stages,
        "accounting": {"read": b.read, "kept": kept, "rejected": len(b.rejects),
                       "deduplicated": len(b.duplicates),
                       "balanced": b.read == kept + len(b.rejects) + len(b.duplicates)},
        "versions": provenance.versions(BUILD_PACKAGES),
    }


def _problem(cfg: DataConfig) -> str:
    topic = cfg.labels.topic
    return "multi_label" if topic is None or topic.multi_label else "single_label"


def write_output(b: _Build, manifest: dict, out: Path, started: float) -> None:
    """Write the DatasetDict, manifest.json, rejects.jsonl and duplicates.jsonl in one atomic step."""
    import datasets

    from trainer.atomic import atomic_dir, atomic_write_json, atomic_write_jsonl

    if not manifest["accounting"]["balanced"]:  # a bug, not a user error: refuse to write
        raise AssertionError(f"document accounting does not balance: {manifest['accounting']}")
    features = _features(b.cfg)
    splits = {s: [_row(d, b.cfg) for d in b.docs if d.split == s] for s in SPLITS}
    dsd = datasets.DatasetDict({
        s: datasets.Dataset.from_list(rows, features=features) if rows
        else datasets.Dataset.from_dict({k: [] for k in features}, features=features)
        for s, rows in splits.items()})
    bars = datasets.is_progress_bar_enabled()
    try:
        with atomic_dir(out) as tmp:
            datasets.disable_progress_bars()  # a save bar per split is noise in the build summary
            # an empty split needs one (empty) shard, or datasets cannot load it back
            dsd.save_to_disk(str(tmp), num_shards={s: 1 for s in dsd if len(dsd[s]) == 0})
            atomic_write_jsonl(tmp / "rejects.jsonl", b.rejects)
            atomic_write_jsonl(tmp / "duplicates.jsonl", b.duplicates)
            manifest["build_seconds"] = round(time.perf_counter() - started, 3)  # all but this last file
            atomic_write_json(tmp / "manifest.json", manifest)
    except OSError as exc:
        raise DataError(f"{out}: cannot write the dataset ({exc})") from None
    finally:
        if bars:
            datasets.enable_progress_bars()
