"""`trainer data build`: read -> clean -> label -> dedup -> split -> filter labels -> write, atomically.

Every document read is accounted for: it is kept, rejected (with a reason, in rejects.jsonl) or
removed as a duplicate (in duplicates.jsonl), and manifest.json checks read == kept + rejected +
deduplicated. Each stage's document counts are in manifest["stages"].

The build streams (trainer/data/stream.py): documents are read, checked, labelled and hashed a batch
at a time, their texts wait in spill shards inside the output's temporary folder, and only ids,
labels, split information and LSH band keys stay in memory. `build.engine` picks who runs the
per-document work: this process (`local`), or Ray Data (`ray`, trainer/data/build_ray.py) on the
cluster named by $RAY_ADDRESS or on a Ray started in-process. Both write the same dataset.

`progress`, when given, is called with one dict per event: {"stage", "done": False, "documents"} when a
stage starts (and after each batch read by the local engine), and the stage's manifest record plus
"done": True when it ends; the last event is {"stage": "written", "done": True, "documents", "seconds"}.
"""
from __future__ import annotations

import itertools
import shutil
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from trainer import provenance
from trainer.contracts import SPLITS
from trainer.contracts.dataset import FORMAT, is_dataset_dir
from trainer.data.article import Article, Rejected
from trainer.data.cleaning import Cleaning
from trainer.data.config import DataConfig, SourceConfig
from trainer.data.label_space import dropped_lines
from trainer.data.stream import (DUPLICATE_ID, EMPTY, FILTERED, NO_LABEL, NO_REGION, NO_TOPIC, SEVERAL_TOPICS,
                                 Collector, Decisions, Processor, SpillReader, decide, features, label_columns,
                                 local_candidates, process_batch, topic_column, write_dataset)
from trainer.errors import DataError

# versions recorded in manifest.json: the libraries a build depends on
BUILD_PACKAGES = ("trainer", "datasets", "datasketch", "iterative-stratification", "numpy", "pyarrow")
ENGINE_PACKAGES = {"ray": ("ray",)}
INLINE_INPUTS = 1000   # manifest.json lists this many inputs; more go to inputs.jsonl
WORK = ".work"         # spill shards and partial files, inside the output's temporary folder

__all__ = ["BuildResult", "build_dataset", "check_output", "describe_inputs", "topic_column", "label_columns",
           "DUPLICATE_ID", "EMPTY", "FILTERED", "NO_LABEL", "NO_REGION", "NO_TOPIC", "SEVERAL_TOPICS"]


@dataclass
class BuildResult:
    output: Path
    manifest: dict

    def summary(self) -> str:
        m = self.manifest
        acc = m["accounting"]
        lines = [f"wrote {self.output}  ({m['build_seconds']:.1f} s, engine {m['engine']['name']})",
                 "documents: " + ", ".join(f"{s} {m['counts'][s]}" for s in SPLITS),
                 f"read {acc['read']} = kept {acc['kept']} + rejected {acc['rejected']}"
                 f" + duplicates {acc['deduplicated']}"]
        lines += [f"  rejected {n:>6}  {reason}" for reason, n in m["rejected"].items()]
        for column, labels in m["labels"].items():
            lines.append(f"{column}: {len(labels)} labels")
            lines += ["  " + line for line in dropped_lines(column, m["labels_dropped"].get(column) or [])]
        cross = len(m["dedup"]["cross_split_groups"])
        if cross:
            lines.append(f"cross-split duplicate groups: {cross} (listed in manifest.json)")
        return "\n".join(lines)


def build_dataset(cfg: DataConfig, config_path: str | Path | None = None,
                  articles: Iterable[Article | Rejected] | None = None,
                  output: str | Path | None = None, progress: Callable[[dict], None] | None = None) -> BuildResult:
    """Build the dataset `cfg` describes and write it to `output` (default cfg.output).

    `articles` replaces the configured reader (tests, or callers that read in their own way; local engine);
    `progress` receives an event per stage (see the module docstring).
    """
    from trainer.atomic import atomic_dir

    started = time.perf_counter()
    out = Path(output if output is not None else cfg.output)
    check_output(out, cfg.source if articles is None else None)
    engine = cfg.build.engine
    if articles is not None and engine != "local":
        raise DataError(f"build.engine {engine}: reads the configured source itself; articles= needs build.engine local")
    timings: Counter = Counter()
    tell = progress or (lambda event: None)
    tell({"stage": "read", "done": False, "documents": 0})
    with atomic_dir(out) as tmp:
        work = tmp / WORK
        work.mkdir()
        inputs, total = [], None
        if articles is None:
            start = time.perf_counter()
            inputs, total = _describe_inputs(cfg, out, tmp)
            timings["inputs"] += time.perf_counter() - start
        if engine == "local":
            collector, spill, candidates, info = _local_phase1(cfg, articles, work, timings, tell)
        else:
            from trainer.data.build_ray import ray_phase1
            collector, spill, candidates, info = ray_phase1(cfg, work, timings)
        told = _tell_stages(tell, collector, timings, set(), collector.phase1_stages)
        if collector.corrections is not None:
            collector.corrections.check_known(collector.seen_ids)
        try:
            num_perm = cfg.dedup.num_perm
            tell({"stage": "deduplicated", "done": False, "documents": collector.read})
            decisions = decide(collector, candidates,
                               lambda idx: spill.signatures(collector.docs, idx, num_perm), timings)
            _tell_stages(tell, collector, timings, told, collector.stages,
                         {"label_filtered": {"labels_dropped": decisions.dropped_labels}})
            _require_training_documents(collector, decisions)
            tell({"stage": "written", "done": False, "documents": int((decisions.split >= 0).sum())})
            start = time.perf_counter()
            try:
                deduplicated = write_dataset(collector, decisions, spill, tmp)
                collector.rejects.finish(tmp / "rejects.jsonl")
            except OSError as exc:
                raise DataError(f"{out}: cannot write the dataset ({exc})") from None
            timings["write"] += time.perf_counter() - start
        finally:
            spill.close()
        shutil.rmtree(work)
        manifest = make_manifest(collector, decisions, deduplicated, config_path, inputs, total, out,
                                 {**info, "name": engine}, timings)
        # what the reader learned (scraped: each outlet's boilerplate lines), for inference to clean alike
        Cleaning.of_build(cfg.source, collector.reader_state).save(tmp)
        manifest["build_seconds"] = round(time.perf_counter() - started, 3)  # all but this last file
        from trainer.atomic import atomic_write_json
        atomic_write_json(tmp / "manifest.json", manifest)
    tell({"stage": "written", "done": True, "documents": manifest["accounting"]["kept"], "by_split": manifest["counts"],
          "seconds": round(timings["write"], 3), "output": str(out)})
    return BuildResult(out, manifest)


def _local_phase1(cfg: DataConfig, articles, work: Path, timings: Counter, tell: Callable[[dict], None]):
    """Read and process the records in this process, a batch at a time."""
    collector = Collector(cfg, work)
    if articles is None:
        from trainer.data.readers import plan_reading, read_articles
        plan = plan_reading(cfg.source)
        collector.reader_state = plan.state
        articles = read_articles(cfg.source, plan)
    processor = Processor(cfg)
    records = iter(articles)
    shard = 0
    while True:
        start = time.perf_counter()
        batch = list(itertools.islice(records, cfg.build.batch_size))
        timings["read"] += time.perf_counter() - start
        if not batch:
            break
        path = shard_path(work, shard)
        collector.add(process_batch(cfg, batch, path, processor), path)
        shard += 1
        tell({"stage": "read", "done": False, "documents": collector.read})
    timings.update(processor.seconds)
    spill = SpillReader(collector.shards)
    bands = len(processor.bands)
    return collector, spill, lambda: local_candidates(collector.docs, bands), {"workers": 1}


def shard_path(work: Path, shard: int) -> Path:
    return work / f"spill-{shard:07d}.arrow"


def _require_training_documents(c: Collector, dec: Decisions) -> None:
    if (dec.split == SPLITS.index("train")).any():
        return
    reasons = c.rejects.by_reason()
    reasons.update(reason for _, reason in dec.rejected.values())
    top = reasons.most_common(5)
    raise DataError(f"no training documents left from {c.read} read (source {c.cfg.source.kind} "
                    f"{c.cfg.source.path or ''}); most rejected: "
                    + ("; ".join(f"{n} {reason}" for reason, n in top) or "none")
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


def _describe_inputs(cfg: DataConfig, out: Path, tmp: Path) -> tuple[list[dict], dict | None]:
    """The manifest's `inputs` (path, sha256, size of each input file) and, past INLINE_INPUTS files, a
    summary; then every entry is in inputs.jsonl (one file at a time in memory)."""
    import json

    from trainer.data.readers import input_files
    from trainer.data.sources import sha256_file
    inline, listing, count, size = [], None, 0, 0
    check = cfg.source.path is None     # inputs found without source.path (mirror, cache) are checked here
    try:
        for path in input_files(cfg.source):
            if check:
                _check_apart(out, path, f"the input file {path}")
            entry = _describe(path, sha256_file)
            count, size = count + 1, size + (entry["bytes"] or 0)
            if count <= INLINE_INPUTS:
                inline.append(entry)
                continue
            if listing is None:
                listing = open(tmp / "inputs.jsonl", "w", encoding="utf-8")
                listing.writelines(json.dumps(e, ensure_ascii=False) + "\n" for e in inline)
            listing.write(json.dumps(entry, ensure_ascii=False) + "\n")
    finally:
        if listing is not None:
            listing.close()
    total = {"files": count, "bytes": size, "listed_in": "inputs.jsonl"} if listing is not None else None
    return inline, total


def describe_inputs(cfg: DataConfig, out: Path | None = None) -> list[dict]:
    """Path, sha256 and size of each input file; none may lie in `out`."""
    from trainer.data.readers import input_files
    from trainer.data.sources import sha256_file
    files = input_files(cfg.source)
    if out is not None:
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


def stage_records(c: Collector, timings: Counter, stages: list[str] | None = None) -> list[dict]:
    """Per stage (default: all): documents left (in all and by split) and seconds, as manifest["stages"] holds them."""
    seconds = {"read": timings["read"], "labelled": timings["label"],
               "deduplicated": timings["minhash"] + timings["dedup"], "split": timings["split"],
               "label_filtered": timings["label_filter"]}
    records = [{"stage": s, "documents": sum(c.counts[s].values()), "by_split": dict(sorted(c.counts[s].items())),
                "seconds": round(seconds.get(s, 0.0), 3)} for s in (c.stages if stages is None else stages)]
    for record in records:
        if record["stage"] == "read":   # what the reader rejected: the accounting's `read` is documents + these
            record["rejected"] = c.read - record["documents"]
    return records


def _tell_stages(tell, c: Collector, timings: Counter, told: set, stages: list[str],
                 extra: dict[str, dict] | None = None) -> set:
    """A done event for each of `stages` not told yet (with `extra[stage]`'s items: the label_filtered
    event names each label dropped, with its rule and reason)."""
    for record in stage_records(c, timings, stages):
        if record["stage"] not in told:
            told.add(record["stage"])
            tell({**record, **(extra or {}).get(record["stage"], {}), "done": True})
    return told


def make_manifest(c: Collector, dec: Decisions, deduplicated: int, config_path, inputs: list[dict],
                  total: dict | None, out: Path, engine: dict, timings: Counter) -> dict:
    cfg = c.cfg
    rejected = c.rejects.by_reason()
    kept = int((dec.split >= 0).sum())
    n_rejected = c.rejects.total()
    manifest = {
        "format": FORMAT,
        "name": out.name,
        "built_at": provenance.now_iso(),
        "config_path": str(config_path) if config_path is not None else None,
        "config": cfg.model_dump(mode="json"),
        "inputs": inputs,
    }
    if total is not None:
        manifest["inputs_total"] = total
    if c.corrections is not None:   # what labels.corrections changed: id, before, after / dropped
        manifest["corrections"] = c.corrections.manifest()
    manifest.update({
        "columns": list(features(cfg)),
        "topic_column": topic_column(cfg),
        "problem": _problem(cfg),
        "counts": {s: int((dec.split == k).sum()) for k, s in enumerate(SPLITS)},
        "label_counts": dec.label_counts,
        "labels": {col: sorted({l for split in v.values() for l in split}) for col, v in dec.label_counts.items()},
        "labels_dropped": dec.dropped_labels,
        "rejected": dict(rejected.most_common()),
        "dedup": {**dec.dedup, "config": cfg.dedup.model_dump(mode="json")},
        "stages": stage_records(c, timings),
        "accounting": {"read": c.read, "kept": kept, "rejected": n_rejected, "deduplicated": deduplicated,
                       "balanced": c.read == kept + n_rejected + deduplicated},
        "versions": provenance.versions(BUILD_PACKAGES + ENGINE_PACKAGES.get(engine["name"], ())),
        "engine": engine,
        "timings": {k: round(v, 3) for k, v in sorted(timings.items())},
    })
    if not manifest["accounting"]["balanced"]:  # a bug, not a user error: refuse to write
        raise AssertionError(f"document accounting does not balance: {manifest['accounting']}")
    return manifest


def _problem(cfg: DataConfig) -> str:
    topic = cfg.labels.topic
    return "multi_label" if topic is None or topic.multi_label else "single_label"
