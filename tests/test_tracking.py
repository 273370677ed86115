"""Experiment tracking: optional MLflow, off by default, a round trip through a SQLite store."""
from __future__ import annotations

import importlib.util
import json

import pytest

from trainer.errors import ConfigError
from trainer.contracts import TRACKING as TRACKING_FILE
from trainer.tracking import check_available, log_run, tracking_uri
from trainer.config import RunConfig

pytestmark = pytest.mark.integration   # trains tiny models / serves / spawns processes


def _cfg(**tracking):
    return RunConfig.model_validate({"data": {"dataset": "d"}, "output": {"dir": "out"}, "tracking": tracking})


def test_tracking_off_by_default_logs_nothing(make_run_dir):
    run_dir = make_run_dir("plain", metrics={"test": {"micro_f1": 0.5}})
    assert log_run(run_dir) is None
    assert not (run_dir / TRACKING_FILE).exists()


def test_tracking_missing_mlflow_is_a_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install 'trainer\[tracking\]'"):
        check_available(_cfg(backend="mlflow"))


def test_tracking_default_uri_is_sqlite_in_output_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert tracking_uri(_cfg(backend="mlflow")) == f"sqlite:///{tmp_path / 'out' / 'mlflow.db'}"


@pytest.fixture(scope="module")
def tracked_run(tiny_dataset_dir, tmp_path_factory):
    """A tiny tfidf-linear run trained with tracking.backend mlflow (default store under output.dir)."""
    pytest.importorskip("mlflow")
    from trainer.config import load_config
    from trainer.workflows.train import train
    out = tmp_path_factory.mktemp("tracked")
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "output": {"dir": str(out), "name": "tracked"}, "tracking": {"backend": "mlflow", "experiment": "t"}}
    run_dir = train(load_config(None, RunConfig, tree=tree))
    return run_dir, f"sqlite:///{out / 'mlflow.db'}"


def test_tracking_round_trip_through_sqlite_store(tracked_run):
    from mlflow.tracking import MlflowClient
    run_dir, uri = tracked_run
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("t").experiment_id])
    assert run.info.run_id == json.loads((run_dir / TRACKING_FILE).read_text())["run_id"]
    assert run.info.run_name == "tracked" and run.info.status == "FINISHED"
    assert run.data.params["model.type"] == "tfidf-linear" and run.data.params["model.tfidf.min_df"] == "1"
    from trainer.contracts import read_metrics
    test = read_metrics(run_dir)["topics"]["test"]
    assert run.data.metrics["test_micro_f1"] == pytest.approx(test["micro_f1"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.md", "metrics.json", "config.yaml"} <= artifacts


def test_tracking_logging_again_updates_the_same_run(tracked_run):
    from mlflow.tracking import MlflowClient
    run_dir, uri = tracked_run
    first = json.loads((run_dir / TRACKING_FILE).read_text())["run_id"]
    assert log_run(run_dir) == first
    client = MlflowClient(tracking_uri=uri)
    assert len(client.search_runs([client.get_experiment_by_name("t").experiment_id])) == 1
    assert len(client.get_metric_history(first, "features")) == 1   # train_log rows are sent once


def test_tracking_logs_train_log_rows_at_their_steps(make_run_dir, tmp_path):
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    run_dir = make_run_dir("logged", config={"tracking": {"backend": "mlflow", "uri": uri},
                                             "output": {"dir": str(tmp_path / "runs")}},
                           metrics={"test": {"micro_f1": 0.5, "per_label": {"earn": {"f1": 0.7, "support": 3}}}})
    rows = [{"step": 5, "epoch": 0.5, "time": 1.7e9, "loss": 0.9}, {"step": 10, "epoch": 1.0, "time": 1.7e9 + 9, "loss": 0.4}]
    (run_dir / "train_log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_id = log_run(run_dir)
    history = MlflowClient(tracking_uri=uri).get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(5, 0.9), (10, 0.4)]
    assert MlflowClient(tracking_uri=uri).get_run(run_id).data.metrics["test_f1.earn"] == 0.7
    assert (tmp_path / "mlartifacts").is_dir()   # artifacts sit beside the database
