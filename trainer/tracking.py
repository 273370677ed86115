"""Experiment tracking (`tracking.backend: mlflow`): log a run directory to an MLflow store.

`log_run(run_dir)` is called when training (and `trainer evaluate`) finishes. It logs the flattened
resolved config as params, every train_log.jsonl row as metrics at its own step and time, the
metrics.json numbers, meta.json costs, and report.md / metrics.json / config.yaml as artifacts.
The MLflow run id is kept in `<run_dir>/tracking.json`, so logging the same run directory again
(after a re-evaluation) updates that MLflow run instead of creating another.

Default store: `sqlite:///<output.dir>/.mlflow/mlflow.db`, artifacts beside it in `.mlflow/mlartifacts/`: a
hidden folder, so it is never taken for a run directory (`runs/*` does not match it). Browse it with
`mlflow ui --backend-store-uri sqlite:///runs/.mlflow/mlflow.db` (`ui_command`; the UI comes with the full
`mlflow` package, `pip install 'trainer[tracking]'`). mlflow is imported only here, only when a run asks
for it: without it everything else works.
"""
from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path
from typing import Any, Iterable

from trainer import contracts
from trainer.atomic import atomic_write_json
from trainer.config import flatten
from trainer.errors import ConfigError, DataError

INSTALL_HINT = "pip install 'trainer[tracking]'"
ARTIFACTS = (contracts.CONFIG, contracts.META, contracts.METRICS, contracts.REPORT, contracts.CONFUSION,
             f"{contracts.MODEL}/{contracts.SPEC}", f"{contracts.MODEL}/{contracts.THRESHOLDS}")
_NOT_METRICS = {"step", "time"}
_MAX_PARAM_CHARS = 6000   # MLflow's limit on a param value
_BATCH = 900              # MLflow accepts at most 1000 metrics per log_batch


STORE_DIR = ".mlflow"      # inside output.dir, hidden: not a run directory
STORE_FILE = "mlflow.db"


def tracking_uri(cfg) -> str:
    if cfg.tracking.uri:
        return cfg.tracking.uri
    return f"sqlite:///{(Path(cfg.output.dir) / STORE_DIR / STORE_FILE).resolve()}"


def ui_command(cfg, port: int | None = None) -> str:
    """The command that opens the MLflow UI on this config's store (a path below the current directory is
    written relative to it)."""
    uri = tracking_uri(cfg)
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        try:
            uri = f"sqlite:///{db.resolve().relative_to(Path.cwd().resolve())}"
        except ValueError:
            pass
    return f"mlflow ui --backend-store-uri {uri}" + (f" --port {port}" if port else "")


def _ensure_store_dir(uri: str) -> None:
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)


def check_available(cfg) -> None:
    """Fail before training, not after it, when the config asks for a tracker that is not installed."""
    if cfg.tracking.backend != "mlflow":
        return
    import importlib.util
    if importlib.util.find_spec("mlflow") is None:
        raise ConfigError(f"tracking.backend: mlflow, but mlflow is not installed; {INSTALL_HINT} "
                          "(or set tracking.backend: none)")


def log_run(run_dir: str | Path, cfg=None) -> str | None:
    """Log `run_dir` to the config's tracking backend; return the MLflow run id (None: tracking off)."""
    run_dir = Path(run_dir)
    if cfg is None:
        cfg = contracts.read_run_config(run_dir)
    if cfg.tracking.backend == "none":
        return None
    check_available(cfg)
    from mlflow.tracking import MlflowClient
    uri = tracking_uri(cfg)
    _ensure_store_dir(uri)
    client = MlflowClient(tracking_uri=uri)
    state = _read_state(run_dir, uri)
    if not _run_exists(client, state.get("run_id")):
        state = {"run_id": _create_run(client, cfg, uri, run_dir)}
    run_id = state["run_id"]
    _log_params(client, run_id, cfg)
    rows = contracts.read_train_log(run_dir)
    done = int(state.get("train_log_rows", 0))   # rows an earlier log_run of this run dir already sent
    _log_metrics(client, run_id, (m for i, row in enumerate(rows[done:], done) for m in _row_metrics(row, i)))
    meta = contracts.read_meta(run_dir)
    final_step = max([int(r.get("step", 0) or 0) for r in rows] + [0])
    _log_metrics(client, run_id, _summary_metrics(contracts.read_metrics(run_dir), meta, final_step))
    for rel in ARTIFACTS:
        if (run_dir / rel).is_file():
            client.log_artifact(run_id, str(run_dir / rel), artifact_path=str(Path(rel).parent) if "/" in rel else None)
    status = meta.get("status")
    client.set_tag(run_id, "trainer.status", str(status))
    client.set_terminated(run_id, status="FINISHED" if status in (None, "completed") else "FAILED")
    atomic_write_json(run_dir / contracts.TRACKING, {"backend": "mlflow", "uri": uri, "experiment": cfg.tracking.experiment,
                                                "run_id": run_id, "train_log_rows": len(rows)})
    return run_id


def _read_state(run_dir: Path, uri: str) -> dict:
    """tracking.json of an earlier log of this run dir to the same store; {} when there is none."""
    state = _read_state_file(run_dir)
    return state if state.get("uri") == uri and state.get("run_id") else {}


def _run_exists(client, run_id: str | None) -> bool:
    if not run_id:
        return False
    from mlflow.exceptions import MlflowException
    try:
        return client.get_run(run_id).info.lifecycle_stage != "deleted"
    except MlflowException:
        return False


def _create_run(client, cfg, uri: str, run_dir: Path) -> str:
    name = cfg.tracking.experiment
    exp = client.get_experiment_by_name(name)
    if exp is None:
        location = None
        if uri.startswith("sqlite:///"):   # artifacts beside the database file, not under the cwd
            location = (Path(uri[len("sqlite:///"):]).resolve().parent / "mlartifacts" / name).as_uri()
        exp_id = client.create_experiment(name, artifact_location=location)
    else:
        exp_id = exp.experiment_id
    meta = contracts.read_meta(run_dir)
    tags = {"trainer.run_dir": str(run_dir.resolve()), "trainer.model_type": cfg.model.type}
    if meta.get("git_sha"):
        tags["mlflow.source.git.commit"] = str(meta["git_sha"])
    return client.create_run(exp_id, run_name=run_dir.name, tags=tags).info.run_id


def _log_params(client, run_id: str, cfg) -> None:
    from mlflow.entities import Param

    have = client.get_run(run_id).data.params
    params = [Param(k, _param_value(v)) for k, v in flatten(cfg.model_dump(mode="json")).items() if k not in have]
    for start in range(0, len(params), 100):   # MLflow: at most 100 params per batch
        client.log_batch(run_id, params=params[start:start + 100])


def _param_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[:_MAX_PARAM_CHARS]


def _metric_name(name: str) -> str:
    # MLflow accepts letters, digits, _ - . space / in metric names
    return re.sub(r"[^A-Za-z0-9_\-. /]", "_", name)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _row_metrics(row: dict, index: int) -> Iterable[tuple[str, float, int, int]]:
    """(name, value, timestamp ms, step) for the numbers of one train_log row."""
    step = int(row.get("step", index) or 0)
    ts = int(float(row.get("time", time.time())) * 1000)
    for key, value in row.items():
        if key not in _NOT_METRICS and _is_number(value):
            yield _metric_name(key), float(value), ts, step


def _summary_metrics(metrics: dict, meta: dict, step: int) -> Iterable[tuple[str, float, int, int]]:
    """metrics.json leaves as `<split>_<key>` (per-label: only F1; `<target>.` in front when the model has
    several targets), and meta.json costs."""
    ts = int(time.time() * 1000)
    for target, splits in metrics.items():
        prefix = f"{target}." if len(metrics) > 1 else ""
        for split, values in splits.items():
            for key, value in _numeric_leaves(values):
                yield _metric_name(f"{prefix}{split}_{key}"), value, ts, step
    for key in ("train_seconds", "train_examples_per_s", "train_tokens_per_s", "model_parameters"):
        if _is_number(meta.get(key)):
            yield key, float(meta[key]), ts, step


def _numeric_leaves(tree: dict, prefix: str = "") -> Iterable[tuple[str, float]]:
    for key, value in tree.items():
        if key == "per_label" and isinstance(value, dict):
            for label, stats in value.items():
                if isinstance(stats, dict) and _is_number(stats.get("f1")):
                    yield f"{prefix}f1.{label}", float(stats["f1"])
        elif isinstance(value, dict):
            yield from _numeric_leaves(value, f"{prefix}{key}.")
        elif _is_number(value):
            yield f"{prefix}{key}", float(value)


def _log_metrics(client, run_id: str, metrics: Iterable[tuple[str, float, int, int]]) -> None:
    from mlflow.entities import Metric
    batch = []
    for name, value, ts, step in metrics:
        batch.append(Metric(name, value, ts, step))
        if len(batch) >= _BATCH:
            client.log_batch(run_id, metrics=batch)
            batch = []
    if batch:
        client.log_batch(run_id, metrics=batch)


def _read_state_file(run_dir: Path) -> dict:
    """tracking.json; a damaged one is ignored (the MLflow run is created again), not fatal."""
    path = run_dir / contracts.TRACKING
    if not path.is_file():
        return {}
    try:
        return contracts.read_json(path, "")
    except DataError:
        return {}
