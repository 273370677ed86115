"""`trainer train` for `model.type: tfidf-linear`: the same run directory as a transformer run
(config.yaml, meta.json, model/, train_log.jsonl, then metrics.json, predictions.jsonl, report.md
from `trainer.evaluation`), so evaluate, predict, serve and compare work unchanged."""
from __future__ import annotations

import platform
import time
from pathlib import Path

from trainer import rundir
from trainer.atomic import atomic_dir, atomic_write_json
from trainer.inference import SPEC_FILE
from trainer.inference.thresholds import Thresholds, save_thresholds
from trainer.linear import fit_tfidf
from trainer.training.config import RunConfig

MODEL_TYPE = "tfidf-linear"


def train_linear(cfg: RunConfig, config_path: str | Path | None = None) -> Path:
    """Fit TF-IDF + a linear classifier on the train split; write and evaluate the run directory."""
    from trainer.training.data import dataset_path
    run_dir = rundir.run_dir_for(cfg, config_path)
    cfg = cfg.model_copy(deep=True)
    cfg.output.name = rundir.run_name(cfg, config_path)     # the resolved config names its run
    cfg.data.dataset = str(dataset_path(cfg.data))           # ... and its dataset, for evaluate/compare
    _start(run_dir, cfg, config_path)
    try:
        _fit_and_save(run_dir, cfg)
        _evaluate(run_dir)
    except BaseException as exc:
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        rundir.update_meta(run_dir, status=status, error=f"{type(exc).__name__}: {exc}", end_time=rundir.now_iso())
        raise
    rundir.update_meta(run_dir, status="completed", end_time=rundir.now_iso())
    return run_dir


def _start(run_dir: Path, cfg: RunConfig, config_path) -> None:
    from trainer.training import hardware
    rundir.replace_previous(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    rundir.write_config(run_dir, cfg)
    rundir.update_meta(run_dir, status="running", start_time=rundir.now_iso(), end_time=None,
                       config_path=str(Path(config_path).resolve()) if config_path else None,
                       git_sha=rundir.git_sha(), versions=rundir.versions(), seed=cfg.train.seed,
                       model_type=MODEL_TYPE,
                       hardware={"cpu_model": hardware.cpu_model(), "cores_available": hardware.cores_available(),
                                 "platform": platform.platform()})


def _fit_and_save(run_dir: Path, cfg: RunConfig) -> None:
    from trainer.data.dataset_io import load_dataset_dir
    from trainer.training import data
    task = cfg.task
    dataset_dir = data.resolve_dataset_dir(cfg.data)
    dsd, _ = load_dataset_dir(dataset_dir)
    if cfg.data.limit:
        dsd = data.limit_splits(dsd, cfg.data.limit)
    data.check_target(dsd, task.target, task.problem, dataset_dir)
    space = data.label_space(dsd["train"], task.target, task.problem, task.min_label_count)
    train = dsd["train"]
    if task.problem == "single_label":   # examples whose label was dropped (min_label_count) cannot be fitted
        known = set(space.labels)
        train = train.select([i for i, y in enumerate(train[task.target]) if y in known])
    rundir.update_meta(run_dir, dataset=rundir.dataset_meta(
        dataset_dir, dsd, {s: len(dsd[s]) for s in dsd}, len(space.labels)))

    _import_sklearn()   # so train_seconds measures fitting, not imports
    started = time.perf_counter()
    scorer = fit_tfidf(train["text"], train[task.target], space.labels, task.problem, cfg.model.tfidf,
                       seed=cfg.train.seed, n_jobs=cfg.train.threads,
                       class_weight="balanced" if cfg.train.class_weights == "balanced" else None)
    seconds = time.perf_counter() - started
    _save_model_dir(run_dir / rundir.MODEL, scorer, cfg)
    n = len(train)
    rundir.append_jsonl(run_dir / rundir.TRAIN_LOG, {
        "step": 1, "epoch": 1.0, "time": time.time(), "train_seconds": round(seconds, 3),
        "train_examples": n, "features": scorer.info["features"]})
    rundir.update_meta(run_dir, train_seconds=round(seconds, 3), train_wall_seconds=round(seconds, 3),
                       train_examples_per_s=round(n / max(seconds, 1e-9), 1), train_steps=1, global_step=1,
                       model_parameters=scorer.num_parameters, tfidf_features=scorer.info["features"])


def _import_sklearn() -> None:
    import importlib
    for module in ("sklearn.feature_extraction.text", "sklearn.linear_model", "sklearn.multiclass", "sklearn.svm"):
        importlib.import_module(module)


def _save_model_dir(path: Path, scorer, cfg: RunConfig) -> None:
    """model/: trainer.json (the spec every scorer reads), tfidf.json + tfidf.safetensors, thresholds."""
    spec = {"model_type": MODEL_TYPE, "labels": scorer.labels, "problem": cfg.task.problem,
            "target": cfg.task.target, "classifier": cfg.model.tfidf.classifier,
            "score": "sigmoid of the decision value" if cfg.task.problem == "multi_label"
            else "softmax of the decision values"}
    with atomic_dir(path) as tmp:
        scorer.save(tmp)
        atomic_write_json(tmp / SPEC_FILE, spec)
        if cfg.task.problem == "multi_label":   # replaced by tuned thresholds when evaluation runs
            save_thresholds(tmp, Thresholds.default(len(scorer.labels)))


def _evaluate(run_dir: Path) -> None:
    from trainer.evaluation import evaluate
    evaluate(run_dir)

