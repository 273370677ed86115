"""The run directory's files besides the model: config.yaml, meta.json, metrics.json, predictions.jsonl,
train_log.jsonl (docs/contracts.md).

metrics.json, format 2:  {"format": 2, "targets": {"topics": {"validation": {...}, "test": {...}}}}
predictions.jsonl, format 2, one row per evaluated document:
    {"id": ..., "targets": {"topics": {"gold": [...], "predicted": [...], "scores": {label: prob}}}}
    (a target is absent from a row when the document has no gold label for it)
Format 1 (one target's splits / gold-predicted-scores at the top level) is still read.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

from trainer.atomic import atomic_write_json, atomic_write_jsonl
from trainer.contracts.files import (CONFIG, META, METRICS, PREDICTIONS, REEVALUATE, RETRAIN, TRAIN_LOG, read_json,
                                     read_jsonl)
from trainer.errors import ConfigError, DataError
from trainer.provenance import process_alive

RESULT_FORMAT = 2


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / CONFIG).is_file() or (Path(path) / META).is_file()


def read_run_config(run_dir: str | Path, overrides: Sequence[str] = ()):
    """config.yaml as a RunConfig (schema defaults filled in, `overrides` applied)."""
    from trainer.config import RunConfig, load_config, load_yaml_tree
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise ConfigError(f"{run_dir}: not a run directory (no {CONFIG}); give a directory written by `trainer train`")
    # as recorded: relative paths in an older run's config.yaml are taken from the current directory
    tree = load_yaml_tree(path)
    return load_config(path, RunConfig, overrides, tree=_recorded_model_keys_only(tree), resolve_paths=False)


def _recorded_model_keys_only(tree: dict) -> dict:
    """A run written before model sections were per kind recorded every kind's keys (e.g. model.max_length for a
    tfidf-linear run); they were valid then and meant nothing for the kind, so a recorded config drops them.
    User configs stay strict (load_config)."""
    from trainer.config.run_config import model_fields_of
    model = tree.get("model")
    if not isinstance(model, dict):
        return tree
    known = model_fields_of(model.get("type", "transformer"))
    if known is None:
        return tree
    return {**tree, "model": {k: v for k, v in model.items() if k in known}}


# ---- meta.json --------------------------------------------------------------------------------
def read_meta(run_dir: str | Path) -> dict[str, Any]:
    """meta.json ({} when absent). A run that says "running" but whose process is gone reads as
    "interrupted" (its process was killed before it could say so)."""
    path = Path(run_dir) / META
    if not path.is_file():
        return {}
    meta = read_json(path, "the run's meta.json is damaged; " + RETRAIN)
    if meta.get("status") == "running" and process_alive(meta.get("pid"), meta.get("host")) is False:
        meta["status"] = "interrupted"
    return meta


def update_meta(run_dir: str | Path, **fields: Any) -> dict[str, Any]:
    path = Path(run_dir) / META
    meta = {**(read_json(path, RETRAIN) if path.is_file() else {}), **fields}
    atomic_write_json(path, meta)
    return meta


# ---- metrics.json -----------------------------------------------------------------------------
def write_metrics(run_dir: str | Path, metrics: dict[str, dict[str, dict]], dataset: dict | None = None) -> Path:
    """`metrics[target][split]` -> metrics.json; `dataset`: the dataset scored ({"path", "given": "config.yaml" |
    "--data", "same_as_training": true | false | null (nothing recorded to check), "changes", "fingerprint"})."""
    body = {"format": RESULT_FORMAT, **({"dataset": dataset} if dataset is not None else {}), "targets": metrics}
    return atomic_write_json(Path(run_dir) / METRICS, body)


def read_scored_dataset(run_dir: str | Path) -> dict | None:
    """metrics.json's record of the dataset the run was scored on; None when absent (not evaluated, or by an
    older version)."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return None
    dataset = read_json(path, REEVALUATE).get("dataset")
    return dataset if isinstance(dataset, dict) else None


def read_metrics(run_dir: str | Path, primary: str | None = None) -> dict[str, dict[str, dict]]:
    """metrics.json as `{target: {split: metrics}}`; {} when the run has not been evaluated.
    `primary`: the target name a format-1 file belongs to."""
    path = Path(run_dir) / METRICS
    if not path.is_file():
        return {}
    raw = read_json(path, REEVALUATE)
    if raw.get("format") == RESULT_FORMAT:
        targets = raw.get("targets")
        if not isinstance(targets, dict):
            raise DataError(f"{path}: \"targets\" must map target names to splits; {REEVALUATE}")
        return targets
    return {primary or "target": raw}


# ---- predictions.jsonl ------------------------------------------------------------------------
def write_predictions(run_dir: str | Path, rows: Iterable[dict]) -> Path:
    return atomic_write_jsonl(Path(run_dir) / PREDICTIONS, rows)


def prediction_row(doc_id: str, per_target: dict[str, dict]) -> dict:
    return {"id": doc_id, "targets": per_target}


def read_predictions(run_dir: str | Path, primary: str | None = None) -> list[dict] | None:
    """predictions.jsonl rows as `{"id", "targets": {target: {"gold", "predicted", "scores"}}}`; None when absent."""
    path = Path(run_dir) / PREDICTIONS
    if not path.is_file():
        return None
    rows = read_jsonl(path, REEVALUATE)
    out = []
    for number, row in enumerate(rows, 1):
        if "targets" in row:
            if not isinstance(row["targets"], dict):
                raise DataError(f"{path}:{number}: \"targets\" must be an object; {REEVALUATE}")
            out.append(row)
        else:   # format 1: one target's fields at the top level
            fields = {k: row[k] for k in ("gold", "predicted", "scores") if k in row}
            out.append({"id": row.get("id"), "targets": {primary or "target": fields}})
    return out


# ---- train_log.jsonl --------------------------------------------------------------------------
def append_train_log(run_dir: str | Path, row: dict) -> None:
    # one short line per append: readers see whole lines, a crash loses at most the last one
    with open(Path(run_dir) / TRAIN_LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def read_train_log(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / TRAIN_LOG
    if not path.is_file():
        return []
    return read_jsonl(path, "the training log is damaged", tolerate_cut_line=True)
