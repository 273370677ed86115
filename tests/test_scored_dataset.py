"""A run is scored only on the dataset it was trained on: evaluate and compare check meta.json's record of it."""
from __future__ import annotations

import json
import shutil

import pytest
import yaml
from typer.testing import CliRunner

from conftest import make_tiny_dataset

pytestmark = pytest.mark.integration   # every test here trains a TF-IDF run (seconds)
from trainer import contracts
from trainer.errors import DataError


def _train_linear(dataset, out, name="lin"):
    from trainer.config import RunConfig, load_config
    from trainer.workflows.train import train
    tree = {"data": {"dataset": str(dataset)}, "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "output": {"dir": str(out), "name": name}}
    return train(load_config(None, RunConfig, tree=tree))


def _recut(dataset, seed: int) -> None:
    """Rebuild `dataset` in place as another split seed would: the same documents, test and train swapped."""
    import datasets
    dsd = datasets.load_from_disk(str(dataset))
    rows = [r for s in ("train", "validation", "test") for r in dsd[s]]
    rows = rows[-10:] + rows[:-10]
    cut = datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:40]),
                                "validation": datasets.Dataset.from_list(rows[40:50]),
                                "test": datasets.Dataset.from_list(rows[50:])})
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["config"]["split"] = {"seed": seed}
    shutil.rmtree(dataset)
    cut.save_to_disk(str(dataset))
    (dataset / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory):
    """A tfidf-linear run trained on a tiny dataset whose manifest says split seed 0 (fast: no torch training)."""
    root = tmp_path_factory.mktemp("scored")
    dataset = make_tiny_dataset(root / "dataset")
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["config"]["split"] = {"seed": 0}
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    return _train_linear(dataset, root / "runs"), dataset


@pytest.fixture
def rebuilt(linear_run, tmp_path):
    """A copy of the run whose config.yaml names a copy of its dataset, then rebuilt with split seed 7."""
    run, dataset = linear_run
    run = shutil.copytree(run, tmp_path / "run")
    data = shutil.copytree(dataset, tmp_path / "dataset")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["data"]["dataset"] = str(data)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    return run, data


def test_meta_records_the_splits_document_ids_and_split_settings(linear_run):
    run, _ = linear_run
    recorded = contracts.read_meta(run)["dataset"]
    assert recorded["split_config"] == {"seed": 0}
    assert {s: v["n"] for s, v in recorded["splits"].items()} == {"train": 40, "validation": 10, "test": 10}
    scored = contracts.read_scored_dataset(run)
    assert scored["same_as_training"] is True and scored["given"] == "config.yaml"


def test_evaluate_scores_an_unchanged_copy_of_the_dataset(rebuilt):
    from trainer.evaluation import evaluate_on_split
    run, _ = rebuilt
    evaluate_on_split(run)   # a byte-for-byte copy elsewhere is the same dataset
    assert contracts.read_scored_dataset(run)["same_as_training"] is True


def test_evaluate_refuses_a_dataset_rebuilt_with_another_split(rebuilt):
    from trainer.evaluation import evaluate_on_split
    run, data = rebuilt
    before = (run / "metrics.json").read_bytes()
    _recut(data, seed=7)
    with pytest.raises(DataError) as err:
        evaluate_on_split(run)
    message = str(err.value)
    assert "split.seed 0 -> 7" in message and "document ids differ in train, validation, test" in message
    assert f"--data {data}" in message and "\n" not in message
    assert (run / "metrics.json").read_bytes() == before    # nothing overwritten


def test_evaluate_refuses_same_documents_with_other_texts(rebuilt):
    import datasets
    from trainer.evaluation import evaluate_on_split
    run, data = rebuilt
    dsd = datasets.load_from_disk(str(data))
    edited = datasets.DatasetDict({s: ds.map(lambda r: {"text": r["text"] + " more"}) if s == "test" else ds
                                   for s, ds in dsd.items()})
    edited.save_to_disk(str(data) + "2")
    shutil.copy(data / "manifest.json", str(data) + "2")
    shutil.rmtree(data)
    shutil.move(str(data) + "2", data)
    with pytest.raises(DataError, match="same documents but other texts or labels in test"):
        evaluate_on_split(run)


def test_evaluate_with_explicit_data_scores_and_records_it(rebuilt):
    from trainer.cli import app
    run, data = rebuilt
    _recut(data, seed=7)
    result = CliRunner().invoke(app, ["evaluate", str(run), "--data", str(data)])
    assert result.exit_code == 0, result.output
    assert "note: scored on" in result.output and "not the dataset the run was trained on" in result.output
    scored = contracts.read_scored_dataset(run)
    assert scored["given"] == "--data" and scored["same_as_training"] is False
    assert any("split.seed 0 -> 7" in c for c in scored["changes"])
    report = (run / "report.md").read_text()
    assert "given with --data), not the dataset the run was trained on" in report


def test_evaluate_cli_refusal_is_one_line(rebuilt):
    from trainer.cli import app
    run, data = rebuilt
    _recut(data, seed=7)
    result = CliRunner().invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not the one the run was trained on" in errors[0] and "Traceback" not in result.output


def test_compare_refuses_runs_scored_on_other_data(rebuilt, linear_run, tmp_path):
    from trainer.compare import CompareError, compare
    from trainer.evaluation import evaluate_on_split
    run, data = rebuilt
    other = shutil.copytree(run, tmp_path / "other")
    compare([run, other], n_resamples=0)   # both on their own dataset: fine
    _recut(data, seed=7)
    evaluate_on_split(run, data=data)
    evaluate_on_split(other, data=data)             # both re-scored on the same new test split: it agrees, and leaks
    with pytest.raises(CompareError, match=r"run was scored on .* not the dataset it was trained on .*split.seed 0 -> 7"):
        compare([run, other], n_resamples=0)


def test_an_older_run_is_checked_by_its_fingerprint(rebuilt):
    from trainer.evaluation import evaluate_on_split
    run, data = rebuilt
    meta = json.loads((run / "meta.json").read_text())
    for key in ("splits", "split_config", "built_at"):   # what a run recorded before the per-split hashes
        del meta["dataset"][key]
    (run / "meta.json").write_text(json.dumps(meta))
    evaluate_on_split(run)   # the copy keeps the datasets fingerprint
    _recut(data, seed=7)
    with pytest.raises(DataError, match=f"fingerprint {meta['dataset']['fingerprint']} -> "):
        evaluate_on_split(run)
