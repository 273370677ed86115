"""`build.engine: ray`: the per-document work of the build and the LSH bucketing on Ray Data.

Where it runs: on the cluster that $RAY_ADDRESS names (Ray's own variable; `ray start --head` prints
it), else on a Ray started in this process with `build.workers` CPUs (stopped after the build). Every
node needs trainer installed and must see the output's parent folder (the spill shards are written
there by the workers and read back by the driver): a shared file system on a cluster.

What runs on Ray:
1. read + phase 1 (trainer/data/stream.py): `ray.data.from_items` over batches of the reader's work
   units (page files, archive members, JSONL files) -> `map_batches`: each task reads its units with
   the reader's `read_unit`, runs `process_batch` (clean checks, labels, exact key, MinHash, band
   keys), writes its texts to its own spill shard, and returns the small meta rows.
2. LSH buckets: one row (bucket = band and band key, document) per document and band ->
   `groupby(bucket).count()` finds the buckets holding two or more documents; only their members
   make candidate pairs (a bucket id shared by chance only adds a candidate, which is then checked).

What stays on the driver: the reader's plan (file listing, the boilerplate sample of each outlet),
the meta rows in input order (duplicate ids, source.limit, stage counts), confirming candidate
pairs against their signatures, the split, label filtering, and writing the dataset directory (the
same code as the local engine: trainer/data/stream.py).
"""
from __future__ import annotations

import os
import pickle
import time
from collections import Counter
from pathlib import Path

import numpy as np

from trainer.data.config import DataConfig
from trainer.data.stream import Collector, Processor, SpillReader, band_array, process_batch
from trainer.errors import DataError

ADDRESS_ENV = "RAY_ADDRESS"
NICENESS_ENV = "RAY_worker_niceness"
LOCAL_OBJECT_STORE_BYTES = 1 << 30
_BAND_MIX = np.uint64(0x9E3779B97F4A7C15)   # a Ray started here: meta rows and band keys pass through it, never texts


def ray_phase1(cfg: DataConfig, work: Path, timings: Counter):
    """Read and process every record on Ray; return what the local engine's phase 1 returns."""
    try:
        import ray
    except ImportError:
        raise DataError("build.engine ray: Ray is not installed; pip install 'trainer[ray]'") from None
    from trainer.data.readers import plan_reading

    started = _connect(ray, cfg.build.workers)
    try:
        _data_context(ray)
        start = time.perf_counter()
        plan = plan_reading(cfg.source)
        collector = Collector(cfg, work, limit=plan.limit)
        collector.reader_state = plan.state
        collector.leading(process_batch(cfg, plan.leading, work / "leading.arrow"))
        units = list(plan.units)
        timings["plan"] += time.perf_counter() - start
        per_task = max(1, cfg.build.batch_size // max(1, plan.unit_records))
        tasks = [{"task": k, "units": pickle.dumps(units[i:i + per_task])}
                 for k, i in enumerate(range(0, len(units), per_task))]
        del units
        workers = cfg.build.workers
        start = time.perf_counter()
        if tasks:
            ds = ray.data.from_items(tasks, override_num_blocks=len(tasks))
            ds = ds.map_batches(_phase1_task, batch_size=1, batch_format="pandas", num_cpus=1,
                                compute=ray.data.TaskPoolStrategy(size=workers),
                                fn_kwargs={"cfg": cfg, "state": plan.state, "work": str(work)})
            expected = 0
            for row in ds.iter_rows():
                if row["task"] != expected:   # preserve_order is set: blocks come back in input order
                    raise AssertionError(f"Ray returned task {row['task']} where {expected} was due")
                expected += 1
                done = False
                for shard, metas, seconds in pickle.loads(row["result"]):
                    timings.update(seconds)
                    if not collector.add(metas, shard):
                        done = True
                        break
                if done:
                    break
            else:
                collector.finish_reading()
        else:
            collector.finish_reading()
        timings["phase1_wall"] += time.perf_counter() - start
        n_bands = len(Processor(cfg).bands) if cfg.dedup.near else 0
        start = time.perf_counter()
        pairs = ray_candidates(ray, collector, n_bands, workers)
        timings["lsh_wall"] += time.perf_counter() - start
    finally:
        if started:
            ray.shutdown()
    info = {"workers": workers, "address": os.environ.get(ADDRESS_ENV) or "local (started in-process)",
            "tasks": len(tasks)}
    return collector, SpillReader(collector.shards), lambda: pairs, info


def _connect(ray, workers: int | None) -> bool:
    """Join $RAY_ADDRESS or the Ray this process already runs, else start one here; True when started here."""
    if ray.is_initialized():
        return False
    if os.environ.get(ADDRESS_ENV):
        ray.init(address=os.environ[ADDRESS_ENV], log_to_driver=False)
        return True
    # Ray lowers its workers' priority to nice 15 so that they never starve a driver; here the workers
    # do the build's work, so they get the priority the build was started with (unless RAY_worker_niceness says)
    own = NICENESS_ENV not in os.environ
    if own:
        os.environ[NICENESS_ENV] = str(os.nice(0))
    try:
        ray.init(num_cpus=workers or os.cpu_count(), include_dashboard=False, log_to_driver=False,
                 object_store_memory=LOCAL_OBJECT_STORE_BYTES)
    finally:
        if own:
            del os.environ[NICENESS_ENV]
    return True


def _data_context(ray) -> None:
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True   # meta rows come back in input order
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False


def _phase1_task(batch, cfg: DataConfig, state, work: str):
    """A Ray Data task: read a batch of units, process their records in sub-batches of build.batch_size
    (each its own spill shard), return the meta rows."""
    import pandas as pd

    from trainer.data.readers import read_unit
    processor = Processor(cfg)
    task = int(batch["task"].iloc[0])
    units = pickle.loads(batch["units"].iloc[0])
    out, records = [], []
    read_seconds = 0.0

    def flush():
        shard = os.path.join(work, f"spill-{task:07d}-{len(out):04d}.arrow")
        processor.seconds.clear()
        metas = process_batch(cfg, records, shard, processor)
        out.append((shard, metas, {**processor.seconds, "read": read_seconds}))
        records.clear()

    for unit in units:
        start = time.perf_counter()
        for record in read_unit(cfg.source, unit, state):
            records.append(record)
            if len(records) >= cfg.build.batch_size:
                read_seconds += time.perf_counter() - start
                flush()
                read_seconds, start = 0.0, time.perf_counter()
        read_seconds += time.perf_counter() - start
    if records or not out:
        flush()
    return pd.DataFrame({"task": [task], "result": [pickle.dumps(out)]})


def _shared_buckets(table):
    """The (band, key) buckets of two or more documents."""
    import pyarrow.compute as pc
    return table.filter(pc.greater_equal(table.column("count()"), 2)).select(["bucket"])


def ray_candidates(ray, c: Collector, n_bands: int, workers: int | None) -> set[tuple[int, int]]:
    """LSH candidate pairs: documents sharing a (band, key) bucket, found with a groupby on Ray."""
    import pyarrow as pa

    docs = c.docs
    if not n_bands or not len(docs):
        return set()
    has = np.flatnonzero(np.frombuffer(bytes(docs.has), dtype=np.uint8))
    with np.errstate(over="ignore"):   # one int64 bucket id per (band, key): the band mixed into the key
        bucket = (band_array(docs, n_bands)[has] + np.arange(n_bands, dtype=np.uint64) * _BAND_MIX).view(np.int64)
    table = pa.table({"bucket": bucket.ravel(), "doc": np.repeat(has.astype(np.int64), n_bands)})
    parts = max(1, 2 * (workers or int(ray.cluster_resources().get("CPU", 1))))
    counted = ray.data.from_arrow(table).groupby("bucket", num_partitions=parts).count()
    refs = counted.map_batches(_shared_buckets, batch_format="pyarrow").to_arrow_refs()
    shared = pa.concat_tables(ray.get(refs)).column("bucket").to_numpy() if refs else np.zeros(0, np.int64)
    if not len(shared):
        return set()
    ids, doc = table.column("bucket").to_numpy(), table.column("doc").to_numpy()
    buckets: dict[int, list[int]] = {}
    for k in np.flatnonzero(np.isin(ids, shared)):
        buckets.setdefault(int(ids[k]), []).append(int(doc[k]))
    from trainer.data.dedup import bucket_pairs
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        pairs.update(bucket_pairs(np.array(members)))
    return pairs
