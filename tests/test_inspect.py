"""`trainer data inspect`: passes on a clean dataset, fails on leakage, empty text, unseen labels."""
from __future__ import annotations

import json

import datasets
import pytest
from typer.testing import CliRunner

from trainer.cli import app
from trainer.data.inspect import inspect_dataset


def _row(i: int, topics: list[str], text: str | None = None) -> dict:
    return {"id": f"d{i}", "title": f"t{i}", "text": text if text is not None else f"document number {i} about {topics}",
            "topics": topics, "published": None, "source": "test"}


def _clean() -> dict[str, list[dict]]:
    labels = [["earn"], ["acq"], ["earn", "acq"]]
    return {"train": [_row(i, labels[i % 3]) for i in range(30)],
            "validation": [_row(i, labels[i % 3]) for i in range(30, 36)],
            "test": [_row(i, labels[i % 3]) for i in range(36, 45)]}


def _write(path, splits: dict[str, list[dict]], **manifest) -> str:
    features = datasets.Features({"id": datasets.Value("string"), "title": datasets.Value("string"),
                                  "text": datasets.Value("string"), "topics": datasets.List(datasets.Value("string")),
                                  "published": datasets.Value("string"), "source": datasets.Value("string")})
    dsd = datasets.DatasetDict({s: datasets.Dataset.from_list(rows, features=features) for s, rows in splits.items()})
    dsd.save_to_disk(str(path))
    n = sum(len(r) for r in splits.values())
    base = {"counts": {s: len(r) for s, r in splits.items()},
            "accounting": {"read": n, "kept": n, "rejected": 0, "deduplicated": 0}, "dedup": {"cross_split_groups": []}}
    (path / "manifest.json").write_text(json.dumps({**base, **manifest}))
    return str(path)


def _status(report, name_part: str) -> str:
    return next(c.status for c in report.checks if name_part in c.name)


def test_inspect_passes_on_a_clean_dataset(tmp_path):
    report = inspect_dataset(_write(tmp_path / "ds", _clean()))
    assert report.ok
    assert report.counts == {"train": 30, "validation": 6, "test": 9}
    assert report.label_counts["topics"]["train"] == {"acq": 20, "earn": 20}


def test_inspect_fails_on_text_in_two_splits(tmp_path):
    splits = _clean()
    splits["test"][0]["text"] = splits["train"][0]["text"].upper() + "!"
    report = inspect_dataset(_write(tmp_path / "ds", splits))
    assert not report.ok
    assert _status(report, "leakage") == "fail"


def test_inspect_only_warns_on_leakage_the_build_reported(tmp_path):
    splits = _clean()
    splits["test"][0]["text"] = splits["train"][0]["text"]
    path = _write(tmp_path / "ds", splits, dedup={"cross_split_groups": [["d0", "d36"]]})
    report = inspect_dataset(path)
    assert report.ok
    assert _status(report, "leakage") == "warn"


def test_inspect_fails_on_empty_text(tmp_path):
    splits = _clean()
    splits["validation"][1]["text"] = "  "
    report = inspect_dataset(_write(tmp_path / "ds", splits))
    assert not report.ok
    assert next(c for c in report.checks if c.name == "empty texts").details == ["d31"]


def test_inspect_fails_on_test_label_absent_from_train(tmp_path):
    splits = _clean()
    splits["test"][0]["topics"] = ["gold"]
    report = inspect_dataset(_write(tmp_path / "ds", splits))
    assert not report.ok
    assert next(c for c in report.checks if "absent from train" in c.name).details == {"test": ["gold"]}


def test_inspect_warns_on_train_label_missing_from_validation(tmp_path):
    splits = _clean()
    for row in splits["validation"]:
        row["topics"] = ["earn"]
    report = inspect_dataset(_write(tmp_path / "ds", splits))
    assert report.ok
    assert next(c for c in report.checks if "missing from evaluation" in c.name).details == {"validation": ["acq"]}


def test_inspect_length_percentiles_in_words(tmp_path):
    splits = _clean()
    for i, row in enumerate(splits["train"]):
        row["text"] = " ".join(["w"] * (i + 1)) + f" {i}"
    report = inspect_dataset(_write(tmp_path / "ds", splits))
    assert report.lengths["train"]["max"] == 31
    assert report.lengths["train"]["p50"] == pytest.approx(16.5)


def test_inspect_render_and_to_dict(tmp_path):
    report = inspect_dataset(_write(tmp_path / "ds", _clean()))
    text = report.render()
    assert "earn" in text and "p90" in text and "result: ok" in text
    assert json.loads(json.dumps(report.to_dict()))["ok"] is True


def test_inspect_cli_exit_codes(tmp_path):
    clean = _write(tmp_path / "clean", _clean())
    splits = _clean()
    splits["test"][0]["topics"] = ["gold"]
    broken = _write(tmp_path / "broken", splits)
    runner = CliRunner()
    assert runner.invoke(app, ["data", "inspect", clean]).exit_code == 0
    result = runner.invoke(app, ["data", "inspect", broken])
    assert result.exit_code == 1 and "FAIL" in result.output


def test_inspect_cli_not_a_dataset(tmp_path):
    result = CliRunner().invoke(app, ["data", "inspect", str(tmp_path)])
    assert result.exit_code == 1
    assert "not a dataset directory" in result.output and "Traceback" not in result.output
