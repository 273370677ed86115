"""Experiment tracking: optional MLflow, off by default, a round trip through a SQLite store."""
from __future__ import annotations

import importlib.util
import json

import pytest

from trainer.errors import ConfigError
from trainer.contracts import TRACKING as TRACKING_FILE
from trainer.tracking import check_available, log_run, tracking_uri, ui_command
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
    assert tracking_uri(_cfg(backend="mlflow")) == f"sqlite:///{tmp_path / 'out' / '.mlflow' / 'mlflow.db'}"


@pytest.fixture(scope="module")
def tracked_run(tiny_dataset_dir, tmp_path_factory):
    """A tiny tfidf-linear run trained with tracking.backend mlflow (default store under output.dir)."""
    _require_mlflow()
    from trainer.config import load_config
    from trainer.workflows.train import train
    out = tmp_path_factory.mktemp("tracked")
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "output": {"dir": str(out), "name": "tracked"}, "tracking": {"backend": "mlflow", "experiment": "t"}}
    run_dir = train(load_config(None, RunConfig, tree=tree))
    return run_dir, f"sqlite:///{out / '.mlflow' / 'mlflow.db'}"


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
    _require_mlflow()
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


def test_tracking_store_sits_outside_the_run_folders(tracked_run):
    import glob
    run_dir, _ = tracked_run
    out = run_dir.parent
    assert (out / ".mlflow" / "mlflow.db").is_file() and (out / ".mlflow" / "mlartifacts").is_dir()
    assert glob.glob(str(out / "*")) == [str(run_dir)]     # `trainer compare runs/*` gets run directories only


def test_tracking_ui_command_opens_the_default_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ui_command(_cfg(backend="mlflow")) == "mlflow ui --backend-store-uri sqlite:///out/.mlflow/mlflow.db"
    elsewhere = _cfg(backend="mlflow", uri="sqlite:////srv/m.db")
    assert ui_command(elsewhere, port=5001) == "mlflow ui --backend-store-uri sqlite:////srv/m.db --port 5001"


def _require_mlflow() -> None:
    """mlflow is in the dev extra: its absence is a broken install, reported as such, not a skip."""
    if importlib.util.find_spec("mlflow") is None:
        pytest.fail("mlflow is not installed: pip install -e '.[dev]'", pytrace=False)


def _mlflow_ui_installed() -> bool:
    spec = importlib.util.find_spec("mlflow")
    if spec is None or importlib.util.find_spec("flask") is None:
        return False
    from pathlib import Path
    return (Path(spec.origin).parent / "server" / "js" / "build").is_dir()


@pytest.mark.slow
def test_tracking_mlflow_ui_starts_and_shows_the_run(tracked_run, tmp_path):
    """The documented command (`ui_command`) starts MLflow's UI server, which answers on loopback and lists the run."""
    import os
    import shlex
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx
    from trainer.contracts import read_run_config
    if not _mlflow_ui_installed():
        pytest.fail("MLflow's UI is not installed (mlflow-skinny has none; the dev extra has the full mlflow): "
                    "pip install -e '.[dev]'", pytrace=False)
    run_dir, _ = tracked_run
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    words = shlex.split(ui_command(read_run_config(run_dir), port=port))
    assert words[:2] == ["mlflow", "ui"]
    cmd = [sys.executable, "-m", "mlflow", *words[1:], "--host", "127.0.0.1", "--workers", "1"]
    log = open(tmp_path / "mlflow-ui.log", "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240     # the UI server imports a lot: tens of seconds on 2 busy cores
        while True:
            assert proc.poll() is None, f"mlflow ui exited {proc.returncode}: " + open(log.name).read()[-2000:]
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "mlflow ui did not answer: " + open(log.name).read()[-2000:]
            time.sleep(1)
        assert httpx.get(f"{base}/", timeout=30).status_code == 200          # the UI's page
        experiment = httpx.get(f"{base}/api/2.0/mlflow/experiments/get-by-name",
                               params={"experiment_name": "t"}, timeout=30).json()["experiment"]
        runs = httpx.post(f"{base}/api/2.0/mlflow/runs/search",
                          json={"experiment_ids": [experiment["experiment_id"]]}, timeout=30).json()["runs"]
        assert [r["info"]["run_name"] for r in runs] == ["tracked"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
