"""The dataset build as a stream, bounded in memory, shared by every engine (local, ray).

Phase 1, per document, in batches (`process_batch`, run in-process by the local engine and on workers
by trainer/data/build_ray.py): clean checks, labels, the exact-duplicate key, the MinHash signature and
its LSH band keys. The texts of the documents that pass go to a spill shard on disk (an Arrow file per
batch, in the build's temporary folder); what comes back is one small `meta` row per record.

Phase 2, on the driver (`Collector`, `decide`): the meta rows, in input order, give the duplicate-id
rejects and the stage counts, and leave in memory only what global decisions need: per document its
id, labels, predefined split, date (time splits), exact key and band keys (~200-300 bytes, see
README "Scaling"). Near-duplicate candidates come from the band keys (a sort per band, or the
engine's groupby), their signatures are read back from the spill shards, and then dedup, split and
label filtering run as before on those arrays.

Phase 3 (`write_dataset`): the spill shards are read back in order, one at a time, and each kept row
goes to its split's Arrow file with its final labels; rejects and duplicates are written as they come.

Every record is accounted for exactly as the in-memory build did: the same reasons, the same stages,
the same order in rejects.jsonl and duplicates.jsonl.
"""
from __future__ import annotations

import json
import os
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from trainer.contracts import SPLITS
from trainer.data.article import Article, Rejected
from trainer.data.config import DataConfig
from trainer.data.readers.plan import Limiter

EMPTY = "empty text"
DUPLICATE_ID = "duplicate id"
NO_TOPIC = "no topic label"
NO_REGION = "no region label"
NO_LABEL = "neither a topic nor a region label"
SEVERAL_TOPICS = "several topic labels (single-label dataset)"
FILTERED = "no topic label left after label filtering (min_count / require_in_test)"
MAX_SHARD_BYTES = 500 * 2**20   # datasets' default max_shard_size for save_to_disk


def stage_names(cfg: DataConfig) -> list[str]:
    predefined = ["in_predefined_split"] if cfg.split.kind == "predefined" else []
    return ["read", "non_empty", *predefined, "labelled", "deduplicated", "split", "label_filtered"]


def outside_reason(cfg: DataConfig) -> str:
    return "outside predefined split" + (" (ModApte unused)" if cfg.source.kind == "reuters" else "")


# ---- phase 1: per document ---------------------------------------------------------------------------
class Processor:
    """Clean checks, labels, dedup keys of single documents; the same on every worker."""

    def __init__(self, cfg: DataConfig):
        from trainer.data.dedup import lsh_bands
        self.cfg = cfg
        self.predefined = cfg.split.kind == "predefined"
        self.outside = outside_reason(cfg)
        self.labeller = None
        if cfg.labels.region is not None:
            from trainer.data.regions import RegionLabeller
            self.labeller = RegionLabeller(cfg.labels.region)
        self.bands = lsh_bands(cfg.dedup) if cfg.dedup.near else []
        self.seconds: Counter = Counter()

    def check(self, article: Article, text: str) -> tuple[str | None, str | None, list[str], list[str]]:
        """(stage, reason, topics, regions): the stage that rejects the article and why, else (None, None, ...)."""
        if not text.strip():
            return "non_empty", EMPTY, [], []
        if self.predefined and article.split is None:
            return "in_predefined_split", self.outside, [], []
        start = time.perf_counter()
        topics, regions = [], []
        if self.cfg.labels.topic is not None:
            from trainer.data.topics import topic_labels
            topics = list(topic_labels(article, self.cfg.labels.topic))
        if self.labeller is not None:
            regions = list(self.labeller.label(article))
        self.seconds["label"] += time.perf_counter() - start
        reason = unlabelled(topics, regions, self.cfg)
        return ("labelled", reason, topics, regions) if reason else (None, None, topics, regions)


def unlabelled(topics: Sequence[str], regions: Sequence[str], cfg: DataConfig) -> str | None:
    if cfg.labels.require_any_label:
        return None if topics or regions else NO_LABEL
    topic = cfg.labels.topic
    if topic is not None and not topic.multi_label:
        # a single-label row needs exactly one class, whatever drop_unlabelled says
        return NO_TOPIC if not topics else SEVERAL_TOPICS if len(topics) > 1 else None
    if topic is not None:
        return NO_TOPIC if topic.drop_unlabelled and not topics else None
    return NO_REGION if not regions else None  # regions are the only target


def spill_schema(cfg: DataConfig):
    import pyarrow as pa
    fields = [("id", pa.string()), ("title", pa.string()), ("text", pa.string()), ("published", pa.string()),
              ("source", pa.string()), ("input", pa.string())]
    if cfg.dedup.near:
        fields.append(("sig", pa.binary(4 * cfg.dedup.num_perm)))
    return pa.schema(fields)


def process_batch(cfg: DataConfig, records: Sequence[Article | Rejected], shard: str | os.PathLike,
                  processor: Processor | None = None) -> list[dict]:
    """Phase 1 for `records`: one meta row per record, in order; the texts of the documents that pass
    are written to the Arrow file `shard` (not created when none passes)."""
    import pyarrow as pa
    from trainer.data.dedup import band_keys, exact_key, minhash_signatures

    p = processor or Processor(cfg)
    metas, spilled = [], []
    for record in records:
        if isinstance(record, Rejected):
            metas.append({"article": False, "input": record.input, "reason": record.reason, "fatal": record.fatal})
            continue
        text = record.text
        stage, reason, topics, regions = p.check(record, text)
        meta = {"article": True, "input": record.path or record.id, "id": record.id, "split": record.split,
                "stage": stage, "reason": reason}
        if stage is None:
            meta.update(topics=topics, regions=regions, published=record.published, row=len(spilled))
            spilled.append((record, text, meta))
        metas.append(meta)
    if not spilled:
        return metas
    start = time.perf_counter()
    near = cfg.dedup.near
    if cfg.dedup.exact:
        for _, text, meta in spilled:
            meta["key"] = exact_key(text)
    if near:
        sig, has = minhash_signatures((text for _, text, _ in spilled), cfg.dedup)
        keys = band_keys(sig, p.bands)
        for k, (_, _, meta) in enumerate(spilled):
            meta["has"] = bool(has[k])
            meta["bands"] = keys[k].tobytes()
    p.seconds["minhash"] += time.perf_counter() - start
    start = time.perf_counter()
    columns = {"id": [a.id for a, _, _ in spilled], "title": [a.title or "" for a, _, _ in spilled],
               "text": [t for _, t, _ in spilled], "published": [a.published for a, _, _ in spilled],
               "source": [a.source for a, _, _ in spilled], "input": [m["input"] for _, _, m in spilled]}
    if near:
        columns["sig"] = [row.tobytes() for row in sig]
    table = pa.Table.from_pydict(columns, schema=spill_schema(cfg))
    with pa.OSFile(str(shard), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    p.seconds["spill"] += time.perf_counter() - start
    return metas


# ---- phase 2: collect the meta rows, decide ------------------------------------------------------------
class Rejects:
    """rejects.jsonl, one temporary file per stage (stage order, then input order: as the in-memory build
    appended them), and the count of each reason."""

    def __init__(self, folder: Path, stages: list[str]):
        self.folder = folder
        self.files = {s: open(folder / f"rejects-{i:02d}.jsonl", "w", encoding="utf-8") for i, s in enumerate(stages)}
        self.counts = {s: Counter() for s in stages}

    def add(self, stage: str, row: dict) -> None:
        self.files[stage].write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        self.counts[stage][row["reason"]] += 1

    def total(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def by_reason(self) -> Counter:
        out: Counter = Counter()
        for counter in self.counts.values():
            for reason, n in counter.items():
                out[reason] += n
        return out

    def finish(self, path: Path) -> None:
        with open(path, "wb") as out:
            for fh in self.files.values():
                fh.close()
                with open(fh.name, "rb") as part:
                    while block := part.read(1 << 20):
                        out.write(block)
                os.unlink(fh.name)


@dataclass
class Docs:
    """The documents that passed phase 1 (and the duplicate-id check), as compact columns."""
    ids: list[str] = field(default_factory=list)
    splits: list[str | None] = field(default_factory=list)       # predefined split
    topics: list[tuple] = field(default_factory=list)
    regions: list[tuple] = field(default_factory=list)
    published: list[str | None] = field(default_factory=list)    # time splits only
    keys: bytearray = field(default_factory=bytearray)           # 16 bytes each (exact dedup)
    bands: bytearray = field(default_factory=bytearray)          # 8 bytes per LSH band each
    has: bytearray = field(default_factory=bytearray)            # 1 when the text has shingles
    shard: array = field(default_factory=lambda: array("i"))    # where its row is spilled
    row: array = field(default_factory=lambda: array("i"))

    def __len__(self) -> int:
        return len(self.ids)


class Collector:
    """Phase 2 input: the meta rows of every record, in input order."""

    def __init__(self, cfg: DataConfig, work: Path, limit: int | None = None):
        self.cfg = cfg
        self.stages = stage_names(cfg)
        self.rejects = Rejects(work, self.stages)
        self.docs = Docs()
        self.read = 0
        self.counts = {s: Counter() for s in self.stages}   # documents left after each stage, by split
        self.seen_ids: set[str] = set()
        self._interned: dict = {}
        self.limiter = Limiter(limit) if limit is not None else None
        self.shards: list[str] = []           # spill shard files, in input order
        self.keep_published = cfg.split.kind == "time"
        self.phase1_stages = self.stages[: self.stages.index("labelled") + 1]   # counted as batches arrive
        self.reader_state = None              # the reader's plan state (scraped: boilerplate lines per outlet)
        self.corrections = None               # labels.corrections, applied here: the driver, whatever the engine
        if cfg.labels.corrections:
            from trainer.data.corrections import load_corrections
            self.corrections = load_corrections(cfg.labels.corrections, topic_column(cfg), cfg.labels.region is not None)

    def _intern(self, value):
        return self._interned.setdefault(value, value)

    def leading(self, metas: Iterable[dict]) -> None:
        """Records before the units (a plan's leading rejects): not counted by the limit."""
        for meta in metas:
            self._add(meta, None)

    def add(self, metas: Iterable[dict], shard_file: str | os.PathLike) -> bool:
        """Add one batch, whose documents were spilled to `shard_file`; False when the reader's limit is
        reached (the rest is not read)."""
        shard = len(self.shards)
        self.shards.append(str(shard_file))
        for meta in metas:
            if self.limiter is not None and not self.limiter.take_kind(meta["article"], meta.get("fatal")):
                return False
            self._add(meta, shard)
        return True

    def finish_reading(self) -> None:
        if self.limiter is not None and not self.limiter.full:
            self.limiter.check()

    def _add(self, meta: dict, shard: int | None) -> None:
        self.read += 1
        if not meta["article"]:
            self.rejects.add("read", {"input": meta["input"], "reason": meta["reason"]})
            return
        doc_id = meta["id"]
        if doc_id in self.seen_ids:   # ids name rows in the dataset, duplicates.jsonl and predictions: unique
            self.rejects.add("read", {"input": meta["input"], "id": doc_id, "reason": DUPLICATE_ID})
            return
        self.seen_ids.add(doc_id)
        if self.corrections is not None and doc_id in self.corrections.fixes:
            from trainer.data.corrections import apply_correction
            meta = apply_correction(self.corrections, meta)
        split = str(meta["split"])
        failed = meta["stage"]
        for stage in self.phase1_stages:
            if stage == failed:
                self.rejects.add(stage, {"input": meta["input"], "id": doc_id, "reason": meta["reason"]})
                return
            self.counts[stage][split] += 1
        d = self.docs
        d.ids.append(doc_id)
        d.splits.append(self._intern(meta["split"]))
        d.topics.append(self._intern(tuple(meta["topics"])))
        d.regions.append(self._intern(tuple(meta["regions"])))
        d.published.append(meta["published"] if self.keep_published else None)
        if self.cfg.dedup.exact:
            d.keys += meta["key"]
        if self.cfg.dedup.near:
            d.bands += meta["bands"]
            d.has.append(meta["has"])
        d.shard.append(shard)
        d.row.append(meta["row"])


@dataclass
class Decisions:
    """What phase 2 decided for each collected document (index into Docs)."""
    split: np.ndarray                                        # int8: index into SPLITS, -1 when not kept
    duplicate_of: dict[int, int] = field(default_factory=dict)
    rejected: dict[int, tuple[str, str]] = field(default_factory=dict)   # index -> (stage, reason)
    keep_topics: set[str] | None = None
    keep_regions: set[str] | None = None
    dedup: dict = field(default_factory=dict)
    dropped_labels: dict[str, list[dict]] = field(default_factory=dict)   # column -> topic_decisions' records
    label_counts: dict = field(default_factory=dict)

    def topics(self, topics: Sequence[str]) -> list[str]:
        return [t for t in topics if self.keep_topics is None or t in self.keep_topics]

    def regions(self, regions: Sequence[str]) -> list[str]:
        return [r for r in regions if self.keep_regions is None or r in self.keep_regions]


class SpillReader:
    """The spilled rows; signatures by random access (memory-mapped: only the rows asked for are read)."""

    def __init__(self, shards: list[str]):
        self.shards = shards
        self._open: dict[int, object] = {}

    def table(self, shard: int):
        import pyarrow as pa
        if shard not in self._open:
            self._open[shard] = pa.ipc.open_file(pa.memory_map(self.shards[shard])).read_all()
        return self._open[shard]

    def signatures(self, docs: Docs, indices: np.ndarray, num_perm: int) -> np.ndarray:
        out = np.empty((len(indices), num_perm), dtype=np.uint32)
        for k, i in enumerate(indices):
            value = self.table(docs.shard[i]).column("sig")[docs.row[i]].as_py()
            out[k] = np.frombuffer(value, dtype=np.uint32)
        return out

    def close(self) -> None:
        self._open.clear()


def band_array(docs: Docs, n_bands: int) -> np.ndarray:
    """[n, bands] uint64 band keys of the documents with shingles; rows of those without are never candidates."""
    return np.frombuffer(bytes(docs.bands), dtype=np.uint64).reshape(len(docs), n_bands) if len(docs) else \
        np.zeros((0, n_bands), np.uint64)


def local_candidates(docs: Docs, n_bands: int) -> set[tuple[int, int]]:
    """Candidate pairs from a sort of each band's keys (the local engine)."""
    from trainer.data.dedup import candidate_pairs
    keys = band_array(docs, n_bands)
    has = np.frombuffer(bytes(docs.has), dtype=np.uint8).astype(bool) if len(docs) else np.zeros(0, bool)
    index = np.flatnonzero(has)
    return {(int(index[i]), int(index[j])) for i, j in candidate_pairs(keys[index])}


def decide(c: Collector, candidates, signatures, timings: Counter) -> Decisions:
    """Dedup, split and label filtering over the collected documents; stage counts go into `c.counts`.
    `candidates`: callable giving the LSH candidate pairs; `signatures(indices)`: their signature rows."""
    from trainer.data.dedup import choose_representatives, confirm_pairs, group_duplicates, lsh_bands
    from trainer.data.split import assign_splits

    cfg, docs = c.cfg, c.docs
    n = len(docs)
    dec = Decisions(split=np.full(n, -1, dtype=np.int8))
    dec.dedup = {"groups": 0, "exact_links": 0, "near_links": 0, "removed": 0,
                 "cross_split_groups": [], "cross_split_dropped": []}
    start = time.perf_counter()
    alive = np.ones(n, dtype=bool)
    group = np.arange(n, dtype=np.int64)   # duplicate group id per document (unique when it has none)
    if (cfg.dedup.exact or cfg.dedup.near) and n:
        keys = np.frombuffer(bytes(docs.keys), dtype=np.uint8).reshape(n, 16) if cfg.dedup.exact else None
        pairs = []
        if cfg.dedup.near:
            bands = lsh_bands(cfg.dedup)
            pairs = confirm_pairs(candidates(), signatures, bands, cfg.dedup.threshold)
        groups = group_duplicates(n, keys, pairs)
        predefined = docs.splits if cfg.split.kind == "predefined" else None
        sel = choose_representatives(groups, predefined, cfg.split.drop_cross_split_duplicates)
        ids = docs.ids
        dec.dedup.update(groups=len(groups.groups), exact_links=groups.exact_links, near_links=groups.near_links,
                         removed=len(sel.removed), cross_split_groups=[[ids[i] for i in g] for g in sel.cross_split],
                         cross_split_dropped=[ids[i] for i in sel.dropped_cross_split])
        dec.duplicate_of = dict(sel.kept_for)
        for g, members in enumerate(groups.groups):
            group[members] = g
        singles = np.ones(n, dtype=bool)
        for members in groups.groups:
            singles[members] = False
        group[singles] = n + np.flatnonzero(singles)
        alive[list(sel.removed)] = False
    _count(c, "deduplicated", [docs.splits[i] for i in np.flatnonzero(alive)])
    timings["dedup"] += time.perf_counter() - start

    start = time.perf_counter()
    live = np.flatnonzero(alive)
    topic_cfg = cfg.labels.topic
    strat = [docs.topics[i] if topic_cfg is not None else docs.regions[i] for i in live]
    result = assign_splits(strat, cfg.split, predefined=[docs.splits[i] for i in live],
                           published=[docs.published[i] for i in live], groups=[int(group[i]) for i in live])
    code = {s: k for k, s in enumerate(SPLITS)}
    for k, i in enumerate(live):
        reason = result.rejects.get(k)
        if reason:
            dec.rejected[int(i)] = ("split", reason)
        else:
            dec.split[i] = code[result.assignment[k]]
    _count(c, "split", [SPLITS[dec.split[i]] for i in live if dec.split[i] >= 0])
    timings["split"] += time.perf_counter() - start

    start = time.perf_counter()
    _filter_labels(c, dec)
    timings["label_filter"] += time.perf_counter() - start
    return dec


def _unseen_regions(docs: Docs, kept: list[int], dec: Decisions, seen: set[str]) -> list[dict]:
    """A record per region label of the kept documents that no training document has (the model could never
    learn it), in topic_decisions' shape."""
    test = SPLITS.index("test")
    everywhere, in_test = Counter(), Counter()
    for i in kept:
        everywhere.update(set(docs.regions[i]))
        if dec.split[i] == test:
            in_test.update(set(docs.regions[i]))
    return [{"label": r, "documents": everywhere[r], "train": 0, "test": in_test[r], "rule": "regions seen in training",
             "threshold": 1, "reason": "no training document (a region never seen in training cannot be learned)"}
            for r in sorted(set(everywhere) - seen)]


def _count(c: Collector, stage: str, splits: Iterable) -> None:
    c.counts[stage] = Counter(str(s) for s in splits)


def _filter_labels(c: Collector, dec: Decisions) -> None:
    """Keep labels a model can learn: topics with >= min_count training documents (and >= 1 test
    document with require_in_test); regions seen in train. Rows left without a target are rejected."""
    cfg, docs = c.cfg, c.docs
    kept = [int(i) for i in np.flatnonzero(dec.split >= 0)]
    train, test = SPLITS.index("train"), SPLITS.index("test")
    topic_cfg = cfg.labels.topic

    def reject(i: int, reason: str) -> None:
        dec.rejected[i] = ("label_filtered", reason)
        dec.split[i] = -1

    if topic_cfg is not None:
        from trainer.data.topics import topic_decisions
        keep, dropped = topic_decisions([docs.topics[i] for i in kept], [dec.split[i] == train for i in kept],
                                        [dec.split[i] == test for i in kept], topic_cfg)
        dec.keep_topics = keep
        dec.dropped_labels[topic_column(cfg)] = dropped
        drop_empty = (topic_cfg.drop_unlabelled or not topic_cfg.multi_label) and not cfg.labels.require_any_label
        if drop_empty:
            for i in kept:
                if not dec.topics(docs.topics[i]):
                    reject(i, FILTERED)
        kept = [i for i in kept if dec.split[i] >= 0]
    if cfg.labels.region is not None:
        seen = {r for i in kept if dec.split[i] == train for r in docs.regions[i]}
        dec.keep_regions = seen
        dec.dropped_labels["regions"] = _unseen_regions(docs, kept, dec, seen)
        if topic_cfg is None:
            for i in kept:
                if not dec.regions(docs.regions[i]):
                    reject(i, NO_REGION)
            kept = [i for i in kept if dec.split[i] >= 0]
    if cfg.labels.require_any_label:
        for i in kept:
            if not (dec.topics(docs.topics[i]) or dec.regions(docs.regions[i])):
                reject(i, NO_LABEL + " left after label filtering")
        kept = [i for i in kept if dec.split[i] >= 0]
    _count(c, "label_filtered", [SPLITS[dec.split[i]] for i in kept])
    columns = label_columns(cfg)
    counts: dict[str, dict[str, dict[str, int]]] = {}
    for column in columns:
        counts[column] = {}
        for k, split in enumerate(SPLITS):
            counter = Counter(l for i in kept if dec.split[i] == k
                              for l in (dec.regions(docs.regions[i]) if column == "regions" else dec.topics(docs.topics[i])))
            counts[column][split] = dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))
    dec.label_counts = counts


# ---- columns of the dataset ------------------------------------------------------------------------
def _labels_of(cfg: DataConfig, dec: Decisions, docs: Docs, k: int) -> dict:
    """A document's labels per label column, as the dataset would hold them."""
    labels = {}
    column = topic_column(cfg)
    if column:
        topics = dec.topics(docs.topics[k])
        labels[column] = topics if column == "topics" else (topics[0] if topics else None)
    if cfg.labels.region is not None:
        labels["regions"] = dec.regions(docs.regions[k])
    return labels


def topic_column(cfg: DataConfig) -> str | None:
    topic = cfg.labels.topic
    return None if topic is None else "topics" if topic.multi_label else "topic"


def label_columns(cfg: DataConfig) -> list[str]:
    return [c for c in (topic_column(cfg), "regions" if cfg.labels.region is not None else None) if c]


def features(cfg: DataConfig):
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


# ---- phase 3: write -------------------------------------------------------------------------------
class SplitWriter:
    """One split of a DatasetDict as save_to_disk lays it out (data-XXXXX-of-NNNNN.arrow, state.json,
    dataset_info.json), written a batch at a time with datasets' own ArrowWriter."""

    def __init__(self, folder: Path, feats, max_shard_bytes: int = MAX_SHARD_BYTES):
        self.folder, self.features, self.max_bytes = folder, feats, max_shard_bytes
        folder.mkdir(parents=True)
        self.parts: list[Path] = []
        self.writer = None
        self.bytes = 0
        self.rows = 0

    def _new_part(self):
        from datasets.arrow_writer import ArrowWriter
        self._close_part()
        path = self.folder / f"part-{len(self.parts):05d}.arrow"
        self.parts.append(path)
        self.writer, self.bytes = ArrowWriter(features=self.features, path=str(path)), 0

    def _close_part(self) -> None:
        if self.writer is not None:
            self.writer.finalize()
            self.writer.close()
            self.writer = None

    def write(self, table) -> None:
        if not len(table):
            return
        if self.writer is None or self.bytes >= self.max_bytes:
            self._new_part()
        self.writer.write_table(table)
        self.bytes += table.nbytes
        self.rows += len(table)

    def finish(self) -> None:
        """Name the shards as save_to_disk does and write its two JSON files (read by load_from_disk)."""
        import dataclasses

        import datasets
        if self.writer is None and not self.parts:   # an empty split still needs one (empty) shard
            self._new_part()
        self._close_part()
        names = []
        for k, part in enumerate(self.parts):
            name = f"data-{k:05d}-of-{len(self.parts):05d}.arrow"
            os.replace(part, self.folder / name)
            names.append(name)
        ds = datasets.concatenate_datasets([datasets.Dataset.from_file(str(self.folder / n)) for n in names])
        state = {key: ds.__dict__[key] for key in
                 ["_fingerprint", "_format_columns", "_format_kwargs", "_format_type", "_output_all_columns"]}
        state["_split"] = None
        state["_data_files"] = [{"filename": n} for n in names]
        info = dataclasses.asdict(ds._info)
        with open(self.folder / datasets.config.DATASET_STATE_JSON_FILENAME, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=2, sort_keys=True)
        with open(self.folder / datasets.config.DATASET_INFO_FILENAME, "w", encoding="utf-8") as fh:
            json.dump({key: info[key] for key in sorted(info)}, fh, indent=2)


def write_dataset(c: Collector, dec: Decisions, spill: SpillReader, tmp: Path) -> int:
    """The DatasetDict, rejects.jsonl and duplicates.jsonl into `tmp`, from the spill shards; returns
    the number of duplicates written."""
    import pyarrow as pa

    cfg, docs = c.cfg, c.docs
    feats = features(cfg)
    schema = feats.arrow_schema
    writers = {s: SplitWriter(tmp / s, feats) for s in SPLITS}
    column = topic_column(cfg)
    duplicates = 0
    with open(tmp / "duplicates.jsonl", "w", encoding="utf-8") as dup_file:
        i, n = 0, len(docs)
        while i < n:
            shard = docs.shard[i]
            j = i
            while j < n and docs.shard[j] == shard:
                j += 1
            table = spill.table(shard)
            rows = {s: [] for s in SPLITS}
            labels = {s: ([], []) for s in SPLITS}
            inputs = table.column("input")
            for k in range(i, j):
                row = docs.row[k]
                if k in dec.duplicate_of:
                    # its labels too: `trainer audit` reports duplicates whose labels conflict with the kept one's
                    dup_file.write(json.dumps({"input": inputs[row].as_py(), "id": docs.ids[k],
                                               "duplicate_of": docs.ids[dec.duplicate_of[k]],
                                               "labels": _labels_of(cfg, dec, docs, k)}, ensure_ascii=False) + "\n")
                    duplicates += 1
                elif k in dec.rejected:
                    stage, reason = dec.rejected[k]
                    c.rejects.add(stage, {"input": inputs[row].as_py(), "id": docs.ids[k], "reason": reason})
                elif dec.split[k] >= 0:
                    split = SPLITS[dec.split[k]]
                    rows[split].append(row)
                    labels[split][0].append(dec.topics(docs.topics[k]))
                    labels[split][1].append(dec.regions(docs.regions[k]))
            for split, taken in rows.items():
                if not taken:
                    continue
                part = table.take(pa.array(taken, pa.int32()))
                out = {"id": part.column("id"), "title": part.column("title"), "text": part.column("text")}
                if column == "topics":
                    out["topics"] = pa.array(labels[split][0], pa.list_(pa.string()))
                elif column == "topic":
                    out["topic"] = pa.array([t[0] for t in labels[split][0]], pa.string())
                if cfg.labels.region is not None:
                    out["regions"] = pa.array(labels[split][1], pa.list_(pa.string()))
                out.update(published=part.column("published"), source=part.column("source"))
                writers[split].write(pa.table(out).cast(schema))
            spill._open.pop(shard, None)    # one shard's table alive at a time
            i = j
    for w in writers.values():
        w.finish()
    with open(tmp / "dataset_dict.json", "w", encoding="utf-8") as fh:
        json.dump({"splits": list(SPLITS)}, fh)
    return duplicates

