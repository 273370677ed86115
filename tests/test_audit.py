"""`trainer audit`: planted label errors are ranked first (single-label, multi-label, two targets), a dataset
without training labels is refused in one line, the test split is never read, conflicting duplicates are
reported. Each audit fits a few TF-IDF folds on ~160 generated documents (about a second)."""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FILLER, TINY_REGIONS, TINY_TOPICS
from trainer.audit import audit_dataset
from trainer.cli import app
from trainer.errors import DataError

pytestmark = pytest.mark.integration   # fits TF-IDF models on the folds

TOPICS = sorted(TINY_TOPICS)
REGIONS = sorted(TINY_REGIONS)
PLANTED_SINGLE = {"d-3": "grain", "d-17": "trade", "d-40": "earn", "d-66": "crude"}   # true: trade, earn, crude, grain


def _doc(rng: random.Random, i: int, topics: list[str], region: str) -> dict:
    place = rng.choice(TINY_REGIONS[region])
    words = []
    for t in topics:
        for _ in range(3):
            words += rng.choice(TINY_TOPICS[t]).split() + rng.sample(FILLER, 2)
    text = f"{place}: {' '.join(words)} said in {place}."
    return {"id": f"d-{i}", "title": place, "text": text, "topics": sorted(topics), "topic": topics[0],
            "regions": [region], "published": "2024-01-01", "source": "gen"}


def make_dataset(path: Path, planted_topic: dict | None = None, planted_topics: dict | None = None,
                 planted_regions: dict | None = None, n_train: int = 120, pairs: bool = True) -> Path:
    """Keyword-given labels; the planted ids get the wrong labels in train (the text still says the truth)."""
    import datasets
    rng = random.Random(7)
    rows = []
    for i in range(n_train + 40):
        topics = sorted(rng.sample(TOPICS, 2)) if pairs and i % 4 == 0 else [TOPICS[i % len(TOPICS)]]
        rows.append(_doc(rng, i, topics, REGIONS[(i // 2) % len(REGIONS)]))
    for row in rows:
        if row["id"] in (planted_topic or {}):
            row["topic"] = planted_topic[row["id"]]
        if row["id"] in (planted_topics or {}):
            row["topics"] = planted_topics[row["id"]]
        if row["id"] in (planted_regions or {}):
            row["regions"] = planted_regions[row["id"]]
    cut = {"train": rows[:n_train], "validation": rows[n_train:n_train + 20], "test": rows[n_train + 20:]}
    datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in cut.items()}).save_to_disk(str(path))
    manifest = {"format": "trainer-dataset/1", "config": {}, "topic_column": "topics",
                "counts": {k: len(v) for k, v in cut.items()},
                "labels": {"topics": TOPICS, "topic": TOPICS, "regions": REGIONS},
                "dedup": {"cross_split_groups": []}}
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return path


def _top(result, target: str, k: int) -> set[str]:
    """The ids of the target's k most suspicious documents."""
    return {r["id"] for r in [r for r in result.ranking if r["target"] == target][:k]}


def test_single_label_planted_errors_rank_first_and_are_flagged(tmp_path):
    data = make_dataset(tmp_path / "ds", planted_topic=PLANTED_SINGLE, pairs=False)   # one topic per text
    result = audit_dataset(data, None, tmp_path / "out", folds=4, targets=["topic"])
    assert _top(result, "topic", 4) == set(PLANTED_SINGLE)
    flagged = {r["id"]: r for r in result.issues}
    # cleanlab flags only planted documents (softmax over SVM decisions is flat: it does not flag all four)
    assert flagged and set(flagged) <= set(PLANTED_SINGLE)
    # the suggestion is the topic the text names (d-3: TOPICS[3 % 4])
    assert flagged["d-3"]["given"] == ["grain"] and flagged["d-3"]["suggested"] == [TOPICS[3 % 4]]
    rows = [json.loads(line) for line in (tmp_path / "out" / "label_issues.jsonl").read_text().splitlines()]
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert {"id", "target", "given", "suggested", "score"} <= set(rows[0])
    page = (tmp_path / "out" / "report.html").read_text()
    assert "d-3" in page and "http" not in page   # self-contained


def test_multi_label_planted_errors_swap_add_remove(tmp_path):
    planted = {"d-5": ["trade"],            # earn swapped for trade
               "d-9": ["crude", "earn"],    # earn, crude added
               "d-8": None}                 # two labels (i % 4 == 0): one removed, below
    rows_truth = make_dataset(tmp_path / "truth")
    import datasets
    truth = {r["id"]: r["topics"] for r in datasets.load_from_disk(str(rows_truth / "train"))}
    planted["d-8"] = [t for t in truth["d-8"]][:1]      # keep one of its two labels: one removed
    assert truth["d-5"] == ["earn"] and truth["d-9"] == ["earn"] and len(truth["d-8"]) == 2
    data = make_dataset(tmp_path / "ds", planted_topics=planted)
    result = audit_dataset(data, None, None, folds=4, targets=["topics"])
    assert _top(result, "topics", 3) == set(planted)
    by_id = {r["id"]: r for r in result.ranking}
    assert by_id["d-5"]["suggested"] == ["earn"] and by_id["d-9"]["suggested"] == ["earn"]
    assert by_id["d-8"]["suggested"] == truth["d-8"]
    assert {"d-5", "d-9"} <= {r["id"] for r in result.issues}   # the removed label is the subtler error


def test_two_targets_rank_each_targets_planted_errors(tmp_path):
    data = make_dataset(tmp_path / "ds", planted_topics={"d-5": ["trade"]},
                        planted_regions={"d-10": ["Eastern Asia"] if REGIONS[(10 // 2) % 3] != "Eastern Asia"
                                         else ["Western Europe"]})
    result = audit_dataset(data, None, tmp_path / "out", folds=4, targets=["topics", "regions"])
    assert _top(result, "topics", 1) == {"d-5"} and _top(result, "regions", 1) == {"d-10"}
    assert result.summary["targets"] == ["topics", "regions"]


def test_test_split_is_never_read(tmp_path):
    """The test split's files are gone: the audit still runs, and names no test document."""
    data = make_dataset(tmp_path / "ds", planted_topic=PLANTED_SINGLE)
    shutil.rmtree(data / "test")
    result = audit_dataset(data, None, tmp_path / "out", folds=3, targets=["topic"])
    ids = {r["id"] for r in result.ranking}
    assert len(ids) == 140 and not ids & {f"d-{i}" for i in range(140, 160)}
    assert result.summary["audited"] == {"train": 120, "validation": 20}


def test_dataset_without_training_labels_is_refused_in_one_line(tmp_path):
    data = make_dataset(tmp_path / "ds", planted_topics={f"d-{i}": [] for i in range(120)})
    with pytest.raises(DataError, match="no 'topics' labels"):
        audit_dataset(data, None, None, targets=["topics"])
    run = CliRunner().invoke(app, ["audit", str(data), "--out", str(tmp_path / "out")])
    assert run.exit_code == 1 and run.output.strip().count("\n") == 0 and "training labels" in run.output
    assert not (tmp_path / "out").exists()


def test_cli_writes_the_audit_and_a_draft_of_corrections(tmp_path):
    data = make_dataset(tmp_path / "ds", planted_topics={"d-5": ["trade"]})
    run = CliRunner().invoke(app, ["audit", str(data), "--out", str(tmp_path / "out"), "--folds", "4"])
    assert run.exit_code == 0, run.output
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"label_issues.jsonl", "duplicate_conflicts.jsonl", "audit.json",
                                                "report.html", "corrections.suggested.yaml"}
    import yaml
    draft = yaml.safe_load((out / "corrections.suggested.yaml").read_text())
    assert list(draft)[0] == "d-5" and draft["d-5"] == {"topics": ["earn"]}


def test_conflicting_duplicates_from_the_build_records(tmp_path):
    data = make_dataset(tmp_path / "ds")
    (data / "duplicates.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"input": "x", "id": "gone-1", "duplicate_of": "d-1", "labels": {"topics": ["crude"]}},   # d-1 is earn
        {"input": "y", "id": "gone-2", "duplicate_of": "d-2", "labels": {"topics": ["grain"]}},   # same as d-2
        {"input": "z", "id": "gone-3", "duplicate_of": "d-150", "labels": {"topics": ["crude"]}},  # kept in test
    ]) + "\n")
    manifest = json.loads((data / "manifest.json").read_text())
    manifest["dedup"]["cross_split_groups"] = [["d-0", "d-121"], ["d-3", "d-155"]]   # d-0 two labels vs d-121 one
    (data / "manifest.json").write_text(json.dumps(manifest))
    result = audit_dataset(data, None, None, folds=3, targets=["topics"])
    pairs = sorted((c["kind"], tuple(c["ids"])) for c in result.conflicts)
    assert pairs == [("cross-split group", ("d-0", "d-121")), ("removed duplicate", ("d-1", "gone-1"))]
    removed = next(c for c in result.conflicts if c["kind"] == "removed duplicate")
    assert removed["labels"] == {"d-1": ["earn"], "gone-1": ["crude"]}


def test_out_folder_of_the_users_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "report.html").write_text("my page")
    with pytest.raises(DataError, match="not empty and not an earlier audit"):
        audit_dataset(tmp_path / "no-dataset", None, tmp_path / "mine")
    assert (tmp_path / "mine" / "report.html").read_text() == "my page"
