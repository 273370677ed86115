"""labels.corrections: a reviewed list of fixes the build applies and manifest.json records; audit -> correct
-> rebuild round-trips (the planted error is found, fixed by config, and listed as a change)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conftest import FILLER, TINY_TOPICS
from trainer.data.build import build_dataset
from trainer.data.config import DataConfig
from trainer.data.corrections import CORRECTION_DROP
from trainer.errors import DataError

TOPICS = sorted(TINY_TOPICS)


def _corpus(path: Path, wrong: dict[str, list[str]]) -> Path:
    rng = random.Random(3)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(160):
            topic = TOPICS[i % len(TOPICS)]
            words = [w for _ in range(3) for w in rng.choice(TINY_TOPICS[topic]).split() + rng.sample(FILLER, 3)]
            fh.write(json.dumps({"id": f"n-{i}", "text": f"story {i}: " + " ".join(words),
                                 "topics": wrong.get(f"n-{i}", [topic])}) + "\n")
    return path


def _config(tmp_path: Path, corpus: Path, out: str, corrections: Path | None = None) -> DataConfig:
    return DataConfig.model_validate({
        "source": {"kind": "jsonl", "path": str(corpus), "columns": {"id": "id", "topics": "topics", "title": None}},
        "labels": {"region": None, "corrections": str(corrections) if corrections else None},
        "dedup": {"near": False}, "split": {"kind": "random", "test_size": 0.1, "validation_size": 0.1, "seed": 1},
        "output": str(tmp_path / out)})


def _labels(dataset: Path) -> dict[str, list[str]]:
    import datasets
    dsd = datasets.load_from_disk(str(dataset))
    return {r["id"]: r["topics"] for split in dsd.values() for r in split}


def test_corrections_relabel_and_drop_recorded_in_manifest(tmp_path):
    corpus = _corpus(tmp_path / "in.jsonl", {"n-1": ["trade"]})   # n-1 is about earn
    fixes = tmp_path / "fixes.yaml"
    fixes.write_text('n-1: [earn]\n"n-2": drop\nn-3: {topics: [trade]}\n')   # n-3 is trade already
    result = build_dataset(_config(tmp_path, corpus, "ds", fixes))
    labels = _labels(result.output)
    assert labels["n-1"] == ["earn"] and "n-2" not in labels and labels["n-3"] == ["trade"]
    record = result.manifest["corrections"]
    assert record["file"] == str(fixes) and len(record["sha256"]) == 64
    assert (record["relabelled"], record["dropped"], record["unchanged"]) == (1, 1, 1)
    assert {"id": "n-1", "action": "relabelled", "before": {"topics": ["trade"]}, "after": {"topics": ["earn"]}} \
        in record["changes"]
    assert result.manifest["rejected"][CORRECTION_DROP] == 1 and result.manifest["accounting"]["balanced"]


def test_unknown_id_and_bad_entries_are_one_line_errors(tmp_path):
    corpus = _corpus(tmp_path / "in.jsonl", {})
    for text, match in [("n-999: [earn]\n", "1 id\\(s\\) name no document of the corpus: n-999"),
                        ("n-1: {regions: [x]}\n", "unknown column 'regions'"),
                        ("n-1: [[earn]]\n", "must be a label or a list of labels"),
                        ("- n-1\n", "expected a mapping")]:
        fixes = tmp_path / "fixes.yaml"
        fixes.write_text(text)
        with pytest.raises(DataError, match=match) as info:
            build_dataset(_config(tmp_path, corpus, "ds", fixes))
        assert "\n" not in str(info.value) and "labels.corrections" in str(info.value)
        assert not (tmp_path / "ds").exists()


@pytest.mark.integration   # the audit fits TF-IDF folds
def test_audit_correct_rebuild_round_trip(tmp_path):
    """Audit a built dataset with a planted error, accept the draft's top suggestion as the corrections file,
    rebuild: the manifest lists the change and the dataset holds the right label."""
    import yaml

    from trainer.audit import audit_dataset
    corpus = _corpus(tmp_path / "in.jsonl", {"n-5": ["grain"]})   # n-5 is about earn
    built = build_dataset(_config(tmp_path, corpus, "ds")).output
    if _labels(built).get("n-5") is None:
        pytest.fail("n-5 should be kept")
    audit_dataset(built, None, tmp_path / "audit", folds=4)
    draft = yaml.safe_load((tmp_path / "audit" / "corrections.suggested.yaml").read_text())
    first = next(iter(draft))
    assert first == "n-5" and draft[first] == {"topics": ["earn"]}
    fixes = tmp_path / "fixes.yaml"
    fixes.write_text(yaml.safe_dump({first: draft[first]}))
    rebuilt = build_dataset(_config(tmp_path, corpus, "ds2", fixes))
    assert _labels(rebuilt.output)["n-5"] == ["earn"]
    assert rebuilt.manifest["corrections"]["changes"] == [
        {"id": "n-5", "action": "relabelled", "before": {"topics": ["grain"]}, "after": {"topics": ["earn"]}}]
