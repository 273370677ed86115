"""`trainer data inspect DIR`: label counts, label coverage, leakage, empty texts and lengths.

Failing checks (exit 1): an id naming more than one row, the same normalised text in two splits
(unless the build reported it as a cross-split duplicate it kept on purpose), labels in
validation/test that train lacks, empty texts, manifest counts or accounting that do not match the
data. Warnings: train labels missing from validation/test, cross-split near duplicates listed in the
manifest.
"""
from __future__ import annotations

import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.contracts import SPLITS
from trainer.data.dataset_io import load_dataset_dir
from trainer.data.dedup import text_key

LABEL_COLUMNS = ("topics", "topic", "regions")
MAX_LISTED = 10  # ids/labels shown per message; the full lists are in to_dict()


@dataclass
class Check:
    name: str
    status: str          # "ok" | "warn" | "fail"
    message: str
    details: list = field(default_factory=list)


@dataclass
class InspectReport:
    path: Path
    counts: dict[str, int]
    label_counts: dict[str, dict[str, dict[str, int]]]
    lengths: dict[str, dict[str, float]]
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "ok": self.ok, "counts": self.counts,
                "label_counts": self.label_counts, "lengths_words": self.lengths,
                "checks": [c.__dict__ for c in self.checks]}

    def render(self) -> str:
        from rich.console import Console
        buf = io.StringIO()
        console = Console(file=buf, width=110, no_color=True, highlight=False)
        console.print(f"dataset {self.path}: " + ", ".join(f"{s} {n}" for s, n in self.counts.items()))
        console.print(self._lengths_table())
        for column in self.label_counts:
            console.print(self._labels_table(column))
        for c in self.checks:
            console.print(f"{c.status.upper():<4}  {c.name}: {c.message}", markup=False)
        console.print("result: " + ("ok" if self.ok else "FAILED"))
        return buf.getvalue()

    def _lengths_table(self):
        from rich.table import Table
        t = Table(title="text length (words)", title_justify="left")
        for col in ("split", "p50", "p90", "p99", "max"):
            t.add_column(col, justify="right" if col != "split" else "left")
        for split, s in self.lengths.items():
            t.add_row(split, *(f"{s[k]:.0f}" for k in ("p50", "p90", "p99", "max")))
        return t

    def _labels_table(self, column: str):
        from rich.table import Table
        counts = self.label_counts[column]
        t = Table(title=f"{column}: documents per label", title_justify="left")
        t.add_column("label")
        for split in counts:
            t.add_column(split, justify="right")
        labels = sorted({l for c in counts.values() for l in c}, key=lambda l: (-counts.get("train", {}).get(l, 0), l))
        for label in labels:
            t.add_row(label, *(str(counts[s].get(label, 0)) for s in counts))
        return t


def inspect_dataset(path: str | Path) -> InspectReport:
    """Load a dataset directory and run every check. Raises DataError when it is not a dataset."""
    dsd, manifest = load_dataset_dir(path)
    splits = [s for s in SPLITS if s in dsd]
    columns = [c for c in LABEL_COLUMNS if c in dsd[splits[0]].column_names] if splits else []
    texts = {s: dsd[s]["text"] for s in splits}
    ids = {s: dsd[s]["id"] for s in splits}
    label_counts = {c: {s: _count(dsd[s][c]) for s in splits} for c in columns}
    checks = [_check_ids(ids), _check_empty(texts, ids), _check_leakage(texts, ids, manifest)]
    for column in columns:
        checks += _check_label_coverage(column, label_counts[column])
    checks += [_check_near_duplicates(manifest), _check_manifest(manifest, {s: len(texts[s]) for s in splits})]
    return InspectReport(Path(path), {s: len(texts[s]) for s in splits}, label_counts,
                         {s: _lengths(texts[s]) for s in splits}, checks)


def _count(values) -> dict[str, int]:
    c = Counter(l for v in values for l in (v if isinstance(v, list) else [v]))
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _lengths(texts: list[str]) -> dict[str, float]:
    n = np.array([len(t.split()) for t in texts]) if texts else np.zeros(1)
    p50, p90, p99 = np.percentile(n, [50, 90, 99])
    return {"p50": float(p50), "p90": float(p90), "p99": float(p99), "max": float(n.max())}


def _listed(items) -> str:
    items = list(items)
    more = f" ... (+{len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return ", ".join(map(str, items[:MAX_LISTED])) + more


def _check_ids(ids) -> Check:
    """Ids name rows everywhere downstream (predictions, duplicates.jsonl): one row per id, across splits."""
    counts = Counter(i for s in ids for i in ids[s])
    repeated = sorted(i for i, n in counts.items() if n > 1)
    if repeated:
        return Check("duplicate ids", "fail", f"{len(repeated)} ids name more than one row: {_listed(repeated)}; "
                     "rebuild the dataset (the build rejects later rows of an id)", repeated)
    return Check("duplicate ids", "ok", "every id names one row")


def _check_empty(texts, ids) -> Check:
    empty = [i for s in texts for t, i in zip(texts[s], ids[s]) if not (t or "").strip()]
    if empty:
        return Check("empty texts", "fail", f"{len(empty)} documents with empty text: {_listed(empty)}", empty)
    return Check("empty texts", "ok", "none")


def _check_leakage(texts, ids, manifest) -> Check:
    """Same normalised text in two splits. Groups the build kept on purpose (predefined split,
    reported in manifest.dedup.cross_split_groups) only warn: the user chose to keep them."""
    where = defaultdict(list)
    for s in texts:
        for t, i in zip(texts[s], ids[s]):
            where[text_key(t)].append((s, i))
    leaks = [sorted(i for _, i in hits) for hits in where.values() if len({s for s, _ in hits}) > 1]
    if not leaks:
        return Check("train/test leakage", "ok", "no text appears in two splits")
    known = {i for g in manifest.get("dedup", {}).get("cross_split_groups", []) for i in g}
    unknown = [g for g in leaks if not set(g) <= known]
    if unknown:
        return Check("train/test leakage", "fail", f"{len(unknown)} texts appear in two splits: "
                     f"{_listed('/'.join(g) for g in unknown)}; rebuild with dedup.exact=true (predefined split: "
                     "split.drop_cross_split_duplicates=true)", unknown)
    return Check("train/test leakage", "warn", f"{len(leaks)} duplicate texts span splits, kept by the "
                 "predefined split; drop them with split.drop_cross_split_duplicates=true", leaks)


def _check_label_coverage(column: str, counts: dict[str, dict[str, int]]) -> list[Check]:
    train = set(counts.get("train", {}))
    checks = []
    unseen = {s: sorted(set(counts[s]) - train) for s in counts if s != "train"}
    unseen = {s: v for s, v in unseen.items() if v}
    if unseen:
        checks.append(Check(f"{column} absent from train", "fail", "; ".join(
            f"{s}: {_listed(v)}" for s, v in unseen.items()) + " (a model cannot learn them)", unseen))
    else:
        checks.append(Check(f"{column} absent from train", "ok", "every label has training examples"))
    missing = {s: sorted(train - set(counts[s])) for s in counts if s != "train"}
    missing = {s: v for s, v in missing.items() if v}
    if missing:
        checks.append(Check(f"{column} missing from evaluation splits", "warn", "; ".join(
            f"{s} lacks {len(v)}: {_listed(v)}" for s, v in missing.items()), missing))
    return checks


def _check_near_duplicates(manifest) -> Check:
    groups = manifest.get("dedup", {}).get("cross_split_groups", [])
    if groups:
        return Check("cross-split duplicates", "warn", f"{len(groups)} duplicate groups span splits "
                     f"(manifest.dedup.cross_split_groups): {_listed('/'.join(g) for g in groups)}", groups)
    return Check("cross-split duplicates", "ok", "none reported by the build")


def _check_manifest(manifest, counts: dict[str, int]) -> Check:
    acc = manifest.get("accounting", {})
    problems = []
    if acc and acc.get("read") != acc.get("kept", 0) + acc.get("rejected", 0) + acc.get("deduplicated", 0):
        problems.append(f"accounting does not balance: {acc}")
    stated = manifest.get("counts", {})
    if stated and any(stated.get(s, 0) != n for s, n in counts.items()):
        problems.append(f"manifest counts {stated} differ from the data {counts}")
    if problems:
        return Check("manifest", "fail", "; ".join(problems) + " (rebuild the dataset)", problems)
    return Check("manifest", "ok", "counts and accounting match the data")
