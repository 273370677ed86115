"""Duplicates the build found whose labels differ: a removed duplicate (duplicates.jsonl, whose rows carry the
removed document's labels) against the document kept for it, and the members of a cross-split group
(manifest.json dedup.cross_split_groups). Only training and validation documents are compared: a test
document's labels are never read."""
from __future__ import annotations

from pathlib import Path

from trainer.contracts import DUPLICATES, REBUILD_DATASET, read_jsonl


def conflicting_duplicates(dataset_dir: Path, manifest: dict, labels_of: dict[str, dict], targets: list[str]) -> list[dict]:
    """[{kind, target, ids: [a, b], labels: {a: [...], b: [...]}}]; `labels_of`: id -> {target: labels} of the
    audited (training and validation) documents."""
    found = []
    path = Path(dataset_dir) / DUPLICATES
    rows = read_jsonl(path, REBUILD_DATASET) if path.is_file() else []
    for row in rows:
        kept = labels_of.get(str(row.get("duplicate_of")))
        removed = row.get("labels")
        if kept is None or not isinstance(removed, dict):   # kept in test, or a build before labels were recorded
            continue
        for target in targets:
            if target in removed and _norm(removed[target]) != _norm(kept.get(target)):
                found.append({"kind": "removed duplicate", "target": target, "ids": [row["duplicate_of"], row["id"]],
                              "labels": {row["duplicate_of"]: _norm(kept.get(target)), row["id"]: _norm(removed[target])}})
    for group in (manifest.get("dedup") or {}).get("cross_split_groups") or []:
        members = [str(i) for i in group if str(i) in labels_of]
        for target in targets:
            sets = {i: _norm(labels_of[i].get(target)) for i in members}
            if len({tuple(v) for v in sets.values()}) > 1:
                found.append({"kind": "cross-split group", "target": target, "ids": members, "labels": sets})
    return found


def _norm(value) -> list[str]:
    if value is None or value == "":
        return []
    return sorted(value) if isinstance(value, (list, tuple)) else [value]
