"""What differs between two dataset directories: the rows of each split (ids in order, every column), the
cleaning learned, rejects.jsonl and duplicates.jsonl (same records, same order), and the manifest's decisions
(counts, labels, rejected reasons, dedup groups and links, stage counts, accounting), not how or when the
build ran. scripts/check_engine_equivalence.py holds the local and the Ray build to it; so do the tests.
"""
from __future__ import annotations

import json
from pathlib import Path

from trainer.contracts import CLEANING, DUPLICATES, REJECTS
from trainer.data.dataset_io import load_dataset_dir

# manifest keys that depend on how and when the build ran, not on what it decided
RUN_KEYS = {"built_at", "build_seconds", "timings", "engine", "versions", "name", "config_path"}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _text_or_none(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def dataset_differences(a: Path, b: Path) -> list[str]:
    """Differences between two dataset directories, in words (empty when they hold the same dataset)."""
    dsd_a, man_a = load_dataset_dir(a)
    dsd_b, man_b = load_dataset_dir(b)
    out = []
    for split in sorted(set(dsd_a) | set(dsd_b)):
        if split not in dsd_a or split not in dsd_b:
            out.append(f"split {split}: only in {'the first' if split in dsd_a else 'the second'}")
            continue
        rows_a, rows_b = dsd_a[split].to_list(), dsd_b[split].to_list()
        ids_a, ids_b = [r["id"] for r in rows_a], [r["id"] for r in rows_b]
        if ids_a != ids_b:
            only_a, only_b = set(ids_a) - set(ids_b), set(ids_b) - set(ids_a)
            out.append(f"split {split}: ids differ ({len(ids_a)} vs {len(ids_b)} rows; only first: "
                       f"{sorted(only_a)[:5]}; only second: {sorted(only_b)[:5]}"
                       + ("; same ids, other order" if not only_a and not only_b else "") + ")")
            continue
        bad = [r["id"] for r, s in zip(rows_a, rows_b) if r != s]
        if bad:
            out.append(f"split {split}: {len(bad)} rows differ, e.g. {bad[:5]}")
    if _text_or_none(a / CLEANING) != _text_or_none(b / CLEANING):   # what inference will clean pages with
        out.append(f"{CLEANING}: differs")
    for name in (REJECTS, DUPLICATES):
        la, lb = _lines(a / name), _lines(b / name)
        if la != lb:
            sa = {json.dumps(x, sort_keys=True) for x in la}
            sb = {json.dumps(x, sort_keys=True) for x in lb}
            out.append(f"{name}: {len(la)} vs {len(lb)} records" + (
                "; same records, other order" if sa == sb else
                f"; only first: {sorted(sa - sb)[:3]}; only second: {sorted(sb - sa)[:3]}"))
    for key in sorted(set(man_a) | set(man_b)):
        if key in RUN_KEYS:
            continue
        va, vb = man_a.get(key), man_b.get(key)
        if key == "config":
            va, vb = ({k: v for k, v in (va or {}).items() if k not in ("build", "output")},
                      {k: v for k, v in (vb or {}).items() if k not in ("build", "output")})
        if key == "stages":
            va = [{k: v for k, v in s.items() if k != "seconds"} for s in va or []]
            vb = [{k: v for k, v in s.items() if k != "seconds"} for s in vb or []]
        if va != vb:
            out.append(f"manifest {key}: " + _first_difference(va, vb))
    return out


def _first_difference(a, b, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path or 'value'}: {json.dumps(a, default=str)[:200]} != {json.dumps(b, default=str)[:200]}"
