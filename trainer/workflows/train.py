"""`trainer train CONFIG` and `trainer.train(cfg)`: one run lifecycle for every model kind.

    resolve the config -> check the inputs (dataset, label spaces, output folder) -> start the staging
    run directory -> fit through the model kind -> save model/ -> evaluate -> swap the run in -> track

Nothing of a previous run is touched before its replacement is complete (trainer.training.run_directory).
Under torchrun every rank calls `train`; only the main one writes files.
"""
from __future__ import annotations

import time
from pathlib import Path

from trainer import contracts, tracking, tuning
from trainer.config import RunConfig
from trainer.data.cleaning import copy_to_model
from trainer.data.dataset_io import dataset_label_columns, dataset_path
from trainer.data.label_space import resolve_task
from trainer.evaluation import evaluate_on_split
from trainer.events import Progress
from trainer.models import FitContext, model_class
from trainer.training import distributed
from trainer.training.data import dataset_meta, load_fit_data
from trainer.training.fit import fit_model
from trainer.training.run_directory import RunDirectory, run_name


def resolve(cfg: RunConfig, config_path: str | Path | None = None) -> RunConfig:
    """The config as the run directory records it: it names its run and its dataset, and its target and
    problem (`auto`: as the dataset holds them)."""
    cfg = cfg.model_copy(deep=True)
    cfg.output.name = run_name(cfg, config_path)
    if cfg.task.auto:   # before data.dataset is rewritten: a first-use build's columns come from data.build
        cfg.task = resolve_task(cfg.task, dataset_label_columns(cfg.data), f"dataset {dataset_path(cfg.data)}")
    cfg.data.dataset = str(dataset_path(cfg.data))
    return cfg


def train(cfg: RunConfig, config_path: str | Path | None = None, progress: Progress = None,
          loop_output: bool = True) -> Path:
    """Train, evaluate and track as `cfg` says; return the run directory.

    `progress` receives every event of the run (trainer.events): the stages of a first-use dataset build and
    of the evaluation (see build_dataset, evaluate_on_split), the model kind's training events and the notices. `loop_output=False` turns the
    training loop's own progress bar and log printing off (the listener shows progress instead)."""
    given = cfg.task
    cfg = resolve(cfg, config_path)
    kind = model_class(cfg.model.type)
    kind.check_config(cfg)               # settings the kind cannot use fail now ...
    tuning.check(cfg)                    # ... and `auto` settings that cannot be picked ...
    tracking.check_available(cfg)        # ... and so does a missing tracker, not after training
    run = RunDirectory.for_config(cfg)
    main = distributed.is_main()
    if main:
        run.check()
    data = load_fit_data(cfg, progress)  # bad inputs fail here, before any run directory is touched
    if main:
        run.start(cfg, config_path, cfg.train.resume, progress)
        contracts.update_meta(run.staging, dataset=dataset_meta(data), **_from_dataset(given, cfg.task))
    try:
        # `auto` settings picked on the training split (folds or a held-out cut), before the final fit; config.yaml
        # keeps `auto`, model/tuning.json says what was tried and picked
        tuned = (tuning.tune(cfg, data, run.staging / contracts.TUNING_WORK, progress, loop_output)
                 if tuning.wanted(cfg) else None)
        fit_cfg = tuned.fit_config(cfg) if tuned else cfg
        fitted = fit_model(kind, FitContext(fit_cfg, data, run.staging, is_main=main, progress=progress,
                                            loop_output=loop_output))
        if not main:
            return run.final
        for row in fitted.log_rows:
            contracts.append_train_log(run.staging, {"time": time.time(), **row})
        fitted.model.save(run.staging / contracts.MODEL)
        if tuned:
            contracts.write_tuning(run.staging / contracts.MODEL, tuned.record)
        copy_to_model(data.dataset_dir, run.staging / contracts.MODEL)   # served pages cleaned as trained on
        contracts.update_meta(run.staging, **{"model_parameters": fitted.model.num_parameters, **fitted.stats})
        evaluate_on_split(run.staging, progress=progress)   # thresholds tuned on validation, metrics.json, predictions.jsonl, report.md
        final = run.complete()
    except BaseException as exc:
        if main:
            run.fail(exc)
        raise
    tracking.log_run(final)             # params, train_log metrics, metrics.json, artifacts (tracking.backend)
    return final


def _from_dataset(given, task) -> dict:
    """meta.json's `from_dataset`: the task keys the config left `auto`, as the dataset resolved them."""
    picked = {f"task.{k}": getattr(task, k) for k in ("target", "problem")
              if given.targets is None and getattr(given, k) == "auto"}
    return {"from_dataset": picked} if picked else {}
