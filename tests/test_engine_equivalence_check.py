"""trainer.data.dataset_diff (scripts/check_engine_equivalence.py's comparator) finds each kind of difference
(the Ray tests only ever see equal datasets, so a comparator that always answered [] would pass them). Fast:
hand-made dataset folders."""
from __future__ import annotations

import json
import shutil

import pytest

from conftest import make_tiny_dataset
from trainer.data.dataset_diff import dataset_differences


@pytest.fixture
def pair(tmp_path):
    a = make_tiny_dataset(tmp_path / "a")
    (a / "rejects.jsonl").write_text(json.dumps({"id": "x", "reason": "empty file"}) + "\n")
    b = tmp_path / "b"
    shutil.copytree(a, b)
    return a, b


def _rewrite(folder, split, change):
    """The dataset in `folder` with `change(rows)` applied to one split's rows, saved in place."""
    import datasets
    dsd = datasets.load_from_disk(str(folder))
    rows = change(dsd[split].to_list())
    dsd[split] = datasets.Dataset.from_list(rows, features=dsd[split].features)
    tmp = folder.with_name(folder.name + ".new")
    dsd.save_to_disk(str(tmp))
    shutil.copy(folder / "manifest.json", tmp / "manifest.json")
    shutil.copy(folder / "rejects.jsonl", tmp / "rejects.jsonl")
    shutil.rmtree(folder)
    tmp.rename(folder)


def test_engine_check_equal_datasets_have_no_difference(pair):
    assert dataset_differences(*pair) == []


def test_engine_check_names_a_changed_row(pair):
    a, b = pair
    _rewrite(b, "train", lambda rows: [dict(r, text=r["text"] + " changed") if i == 3 else r
                                       for i, r in enumerate(rows)])
    assert dataset_differences(a, b) == ["split train: 1 rows differ, e.g. ['tiny-3']"]


def test_engine_check_names_other_order_and_missing_rows(pair):
    a, b = pair
    _rewrite(b, "test", lambda rows: rows[::-1])
    _rewrite(b, "validation", lambda rows: rows[1:])
    diffs = dataset_differences(a, b)
    assert len(diffs) == 2
    assert diffs[0].startswith("split test: ids differ") and "same ids, other order" in diffs[0]
    assert diffs[1].startswith("split validation: ids differ (10 vs 9 rows") and "tiny-40" in diffs[1]


def test_engine_check_names_rejects_and_manifest_differences(pair):
    a, b = pair
    (b / "rejects.jsonl").write_text(json.dumps({"id": "y", "reason": "binary content (NUL bytes)"}) + "\n")
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["accounting"]["rejected"] = 1
    manifest["built_at"] = "another time"          # how and when it ran: not a difference
    (b / "manifest.json").write_text(json.dumps(manifest))
    diffs = dataset_differences(a, b)
    assert len(diffs) == 2
    assert diffs[0].startswith("rejects.jsonl: 1 vs 1 records") and '"y"' in diffs[0]
    assert diffs[1].startswith("manifest accounting: ") and "rejected" in diffs[1]
