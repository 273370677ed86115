"""`trainer predict --engine ray`: the same units as the local engine (trainer/serving/stream.py), scored on Ray Data.

Each actor loads the predictor once and scores groups of units (reading their files or JSONL byte ranges itself);
the execution is streaming with preserve_order, so the driver receives the rows in input order while at most a
few groups are in flight, and writes them as the local engine does.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Iterable, Iterator

from trainer.errors import DataError
from trainer.serving.stream import Settings, score_unit

TEXTS_PER_TASK = 256   # a Ray task's worth of texts: enough to hide its overhead (TF-IDF: ~0.2 s), few enough to keep
                       # both actors busy on a slow model and to bound memory


class _Scorer:
    """A Ray Data actor: one Predictor, loaded once, scoring the groups of units it is given."""

    def __init__(self, run_dir: str, options: dict, settings: Settings):
        from trainer.serving.predictor import Predictor
        self.predictor = Predictor.load(run_dir, **options)
        self.settings = settings

    def __call__(self, batch: dict) -> dict:
        import numpy as np
        out = []
        for blob in batch["units"]:
            rows = []
            for unit in pickle.loads(blob):
                rows += score_unit(self.predictor, unit, self.settings)
            out.append(pickle.dumps(rows))
        return {"task": batch["task"], "rows": np.array(out, dtype=object)}


def ray_rows(run_dir: str | Path, options: dict, unit_stream: Iterable[tuple], settings: Settings,
             workers: int | None = None, drop: int = 0) -> Iterator[list[dict]]:
    """Per group of units, its wire rows in input order (the first `drop` rows left out, as local_rows)."""
    try:
        import ray
    except ImportError:
        raise DataError("--engine ray: Ray is not installed; pip install 'trainer[ray]'") from None
    from trainer.data.build_ray import _connect, _data_context

    per_task = max(1, TEXTS_PER_TASK // settings.batch_size)
    groups, group = [], []
    for unit in unit_stream:   # descriptions only (paths, byte ranges): small even for a million pages
        if unit[0] == "stdin" or (unit[0] == "lines" and unit[1] == "<stdin>"):
            raise DataError("--engine ray reads article files, folders and --input FILE, not stdin; "
                            "use --engine local for stdin")
        group.append(unit)
        if len(group) == per_task:
            groups.append(group)
            group = []
    if group:
        groups.append(group)
    if not groups:
        return
    workers = workers or os.cpu_count() or 1
    started = _connect(ray, workers)
    try:
        _data_context(ray)
        ds = ray.data.from_items([{"task": k, "units": pickle.dumps(g)} for k, g in enumerate(groups)],
                                 override_num_blocks=len(groups))
        del groups
        ds = ds.map_batches(_Scorer, batch_size=1, batch_format="numpy", num_cpus=1,
                            compute=ray.data.ActorPoolStrategy(size=workers),
                            fn_constructor_kwargs={"run_dir": str(run_dir), "options": options, "settings": settings})
        expected = 0
        for row in _reraise_data_errors(ds.iter_rows()):
            if row["task"] != expected:   # preserve_order is set: groups come back in input order
                raise AssertionError(f"Ray returned group {row['task']} where {expected} was due")
            expected += 1
            rows = pickle.loads(row["rows"])
            if drop:
                rows, drop = rows[drop:], 0
            yield rows
    finally:
        if started:
            ray.shutdown()


def _reraise_data_errors(rows: Iterator[dict]) -> Iterator[dict]:
    """A DataError raised in an actor (a bad JSONL line, an unreadable file) as itself, not as Ray's wrapping."""
    try:
        yield from rows
    except DataError:
        raise
    except Exception as exc:
        seen, cause = set(), exc
        while cause is not None and id(cause) not in seen:
            if isinstance(cause, DataError):
                raise DataError(str(cause)) from None
            seen.add(id(cause))
            cause = getattr(cause, "cause", None) or cause.__cause__
        raise
