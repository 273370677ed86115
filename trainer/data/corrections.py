"""`labels.corrections: FILE`: a reviewed list of label fixes the build applies, so that fixing labels is a
config change recorded in manifest.json, never an edit of the user's input files.

The file (YAML or JSON; `trainer audit` writes a draft) maps a document id to
    drop                      remove the document (rejected with the reason CORRECTION_DROP)
    [label, ...] or label     its topic labels (the topic column; a single-label dataset takes exactly one)
    {column: labels, ...}     labels per column (topics | topic | regions)
Labels given replace the document's labels after labels.topic.mapping, before label filtering (min_count,
require_in_test), which still applies. Every entry is accounted for in manifest["corrections"]: applied
(with before and after), or not applied with the reason (the document was rejected before labelling).
An id that names no document of the corpus is an error."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trainer.errors import DataError

CORRECTION_DROP = "dropped by labels.corrections"
DROP = "drop"


@dataclass
class Corrections:
    path: str
    sha256: str
    fixes: dict[str, object]                 # id -> DROP | {column: [labels]}
    columns: list[str] = field(default_factory=list)    # the dataset's label columns
    records: list[dict] = field(default_factory=list)   # what the build did with each entry

    def check_known(self, seen: set[str]) -> None:
        """Every id names a document of the corpus: a fix for a document that is not there is a mistake."""
        unknown = sorted(set(self.fixes) - seen)
        if unknown:
            raise DataError(f"labels.corrections {self.path}: {len(unknown)} id(s) name no document of the corpus: "
                            f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}; remove them or fix the ids")

    def manifest(self) -> dict:
        changed = [r for r in self.records if r["action"] != "not applied"]
        return {"file": self.path, "sha256": self.sha256, "entries": len(self.fixes),
                "relabelled": sum(r["action"] == "relabelled" for r in self.records),
                "dropped": sum(r["action"] == "dropped" for r in self.records),
                "unchanged": sum(r["action"] == "unchanged" for r in self.records),
                "not_applied": [r for r in self.records if r["action"] == "not applied"],
                "changes": [r for r in changed if r["action"] != "unchanged"]}


def load_corrections(path: str | Path, topic_column: str | None, has_regions: bool) -> Corrections:
    """Read and check the file: every entry names a known column with labels of the right shape."""
    import hashlib

    import yaml
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"labels.corrections {path}: cannot be read ({exc.strerror or exc}); fix the path") from None
    try:
        tree = yaml.safe_load(raw.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(getattr(exc, "problem_mark", None), "line", None)
        line = f":{where + 1}" if where is not None else ""
        raise DataError(f"labels.corrections {path}{line}: not valid YAML/JSON; write `id: [labels]` or "
                        "`id: drop` per line") from None
    if tree is None:
        tree = {}
    if not isinstance(tree, dict):
        raise DataError(f"labels.corrections {path}: expected a mapping of document id -> labels or drop, got "
                        f"{type(tree).__name__}")
    columns = [c for c in (topic_column, "regions" if has_regions else None) if c]
    fixes: dict[str, object] = {}
    for doc_id, value in tree.items():
        key = f"labels.corrections {path}: id {doc_id!r}"
        if value == DROP:
            fixes[str(doc_id)] = DROP
            continue
        if not isinstance(value, dict):
            if topic_column is None:
                raise DataError(f"{key}: the dataset has no topic column; write {{regions: [labels]}}")
            value = {topic_column: value}
        fix = {}
        for column, labels in value.items():
            if column not in columns:
                raise DataError(f"{key}: unknown column {column!r}; use one of {', '.join(columns)}, or drop")
            labels = [labels] if isinstance(labels, str) else labels
            if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
                raise DataError(f"{key}: {column} must be a label or a list of labels, got {labels!r}")
            if column == "topic" and len(labels) != 1:
                raise DataError(f"{key}: the single-label column topic takes exactly one label, got {labels!r}")
            fix[column] = sorted(set(labels))
        fixes[str(doc_id)] = fix
    return Corrections(str(path), hashlib.sha256(raw).hexdigest(), fixes, columns)


def apply_correction(corrections: Corrections, meta: dict) -> dict:
    """The meta row of one read document with its correction applied (a copy), recording what changed; a
    drop turns it into a reject at the labelled stage."""
    doc_id = meta["id"]
    fix = corrections.fixes[doc_id]
    before = {c: sorted(meta.get("regions" if c == "regions" else "topics") or []) for c in corrections.columns}
    if meta.get("stage") is not None:
        corrections.records.append({"id": doc_id, "action": "not applied",
                                    "reason": f"rejected at stage {meta['stage']} ({meta.get('reason')}) before "
                                              "the correction could apply"})
        return meta
    meta = dict(meta)
    if fix == DROP:
        corrections.records.append({"id": doc_id, "action": "dropped", "before": before})
        meta.update(stage="labelled", reason=CORRECTION_DROP)
        return meta
    after = dict(before)
    for column, labels in fix.items():
        after[column] = labels
        meta["regions" if column == "regions" else "topics"] = tuple(labels)
    action = "unchanged" if all(sorted(before.get(c, [])) == v for c, v in fix.items()) else "relabelled"
    corrections.records.append({"id": doc_id, "action": action, "before": before, "after": after})
    return meta
