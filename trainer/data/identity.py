"""Which dataset a run was trained on, and whether the dataset about to score it is that one.

A run's meta.json records, per split, a hash of its document ids and a hash of its rows (what the model
saw), with the dataset's split settings. Evaluating or comparing a run on a dataset whose splits differ
(rebuilt with another `split.seed`, other inputs, other cleaning) would count documents the model trained
on as test documents; `dataset_changes` says what differs. The datasets fingerprint is recorded too, but
it changes with every rebuild (it hashes the build's temporary file names), so it decides only for runs
recorded before the hashes.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

HASH_CHARS = 16


def split_identity(ds) -> dict[str, Any]:
    """{"n", "ids" (the set of document ids), "rows" (every column of every row, in order)} of one split."""
    columns = ds[:] if len(ds) else {name: [] for name in ds.column_names}   # python lists, selections honoured
    ids = hashlib.sha256()
    for doc_id in sorted(str(i) for i in columns["id"]):
        ids.update(doc_id.encode("utf-8") + b"\0")
    rows = hashlib.sha256()
    for column in sorted(columns):
        rows.update(column.encode("utf-8") + b"\0")
        rows.update(json.dumps(columns[column], ensure_ascii=False, sort_keys=True, default=str).encode("utf-8"))
    return {"n": len(ds), "ids": ids.hexdigest()[:HASH_CHARS], "rows": rows.hexdigest()[:HASH_CHARS]}


def fingerprints(dsd) -> tuple[dict[str, str], str]:
    """The splits' datasets fingerprints and one over all of them (as meta.json has recorded them)."""
    per_split = {s: dsd[s]._fingerprint for s in dsd}
    return per_split, hashlib.sha256(repr(sorted(per_split.items())).encode()).hexdigest()[:HASH_CHARS]


def dataset_identity(dsd, manifest: dict) -> dict[str, Any]:
    """What meta.json records of the dataset a run trains on (besides its path and fingerprints)."""
    return {"splits": {name: split_identity(ds) for name, ds in dsd.items()},
            "split_config": (manifest.get("config") or {}).get("split"),
            "built_at": manifest.get("built_at")}


def dataset_changes(recorded: dict | None, dsd, manifest: dict, limit: int | None = None) -> list[str] | None:
    """How the dataset `dsd` (with its `manifest`) differs from the one meta.json's `recorded` dataset describes:
    [] when it is the same, a phrase per difference otherwise, None when the run recorded nothing to check against.
    `limit`: the run's data.limit (its recorded fingerprints are of the limited splits)."""
    if not recorded:
        return None
    if "splits" in recorded:
        return _split_changes(recorded, dsd, manifest)
    if "fingerprints" not in recorded:
        return None
    current = dsd
    if limit:
        from trainer.data.dataset_io import limit_splits
        current = limit_splits(dsd, limit)
    _, now = fingerprints(current)
    if now == recorded.get("fingerprint"):
        return []
    return [f"fingerprint {recorded.get('fingerprint')} -> {now} (a run this old recorded no document ids, so a "
            "rebuild with the same settings reads as changed too)"]


def _split_changes(recorded: dict, dsd, manifest: dict) -> list[str]:
    old, new = recorded["splits"], {name: split_identity(ds) for name, ds in dsd.items()}
    if old == new:
        return []
    changes = []
    old_split, new_split = recorded.get("split_config") or {}, (manifest.get("config") or {}).get("split") or {}
    for key in sorted(set(old_split) | set(new_split)):
        if old_split.get(key) != new_split.get(key):
            changes.append(f"split.{key} {old_split.get(key)} -> {new_split.get(key)}")
    gone = [s for s in old if s not in new]
    added = [s for s in new if s not in old]
    if gone:
        changes.append(f"split(s) {', '.join(gone)} gone")
    if added:
        changes.append(f"new split(s) {', '.join(added)}")
    both = [s for s in old if s in new]
    moved = [f"{s} ({old[s]['n']} -> {new[s]['n']} documents)" if old[s]["n"] != new[s]["n"] else s
             for s in both if old[s]["ids"] != new[s]["ids"]]
    if moved:
        changes.append(f"document ids differ in {', '.join(moved)}")
    edited = [s for s in both if old[s]["ids"] == new[s]["ids"] and old[s]["rows"] != new[s]["rows"]]
    if edited:
        changes.append(f"same documents but other texts or labels in {', '.join(edited)}")
    _, now = fingerprints(dsd)
    changes.append(f"fingerprint {recorded.get('fingerprint')} -> {now}")
    return changes
