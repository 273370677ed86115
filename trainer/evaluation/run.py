"""`trainer evaluate RUN_DIR`: score validation and a test split, tune thresholds, write the run's reports.

Writes into the run directory, each file atomically: metrics.json, predictions.jsonl, report.md,
confusion.png (single-label), and model/thresholds.json (multi-label).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from trainer.atomic import atomic_write_bytes, atomic_write_json, atomic_write_jsonl, atomic_write_text
from trainer.errors import ConfigError, DataError
from trainer.evaluation.decisions import Scored, decide, split_metrics, tune
from trainer.evaluation.errors_analysis import confusion_matrix, confusion_pairs, error_counts
from trainer.evaluation.report import ReportInput, render_report
from trainer.inference import load_scorer, model_dir_of, read_model_spec
from trainer.inference.thresholds import save_thresholds
from trainer.training.config import EvalSection, RunConfig

log = logging.getLogger(__name__)
SCORE_DIGITS = 5


def evaluate(run_dir: str | Path, data: str | Path | None = None, split: str = "test",
             overrides: Sequence[str] = ()) -> dict:
    """Evaluate a run on `split` of its dataset (config.yaml's data.dataset, or `data`); return metrics.json.

    `overrides` change the eval section for this evaluation, e.g. ["eval.thresholds=global",
    "eval.chunking.enabled=true"]; config.yaml is updated to match so the run stays self-describing."""
    run_dir = Path(run_dir)
    model_dir = model_dir_of(run_dir)
    spec = read_model_spec(model_dir)
    cfg = _run_config(run_dir, overrides)
    eval_cfg = cfg.eval if cfg else EvalSection()
    dataset_dir = _dataset_dir(run_dir, cfg, data)
    from trainer.data.dataset_io import load_dataset_dir
    dsd, _ = load_dataset_dir(dataset_dir)
    splits = _pick_splits(dsd, dataset_dir, split, spec["target"])
    scorer = _scorer(model_dir, spec, eval_cfg)
    labels, problem = list(scorer.labels), scorer.problem

    scored = {name: _score(scorer, ds, spec["target"]) for name, ds in splits.items()}
    at_least_one = _at_least_one(eval_cfg.at_least_one, dsd.get("train"), spec["target"], problem)
    thresholds = tune(scored.get("validation"), labels, problem, eval_cfg.thresholds, eval_cfg.threshold_min_positives,
                      at_least_one)
    metrics = {name: split_metrics(s, labels, problem, thresholds) for name, s in scored.items()}
    for name, m in _chunked_metrics(scorer, splits, eval_cfg, labels, problem, spec["target"], at_least_one).items():
        metrics[name]["chunked"] = m
    variants = {name: {"tuned": m, **{k: m[k] for k in ("at_0.5", "chunked") if k in m}}
                for name, m in metrics.items()}

    if problem == "multi_label":
        save_thresholds(model_dir, thresholds)
    atomic_write_json(run_dir / "metrics.json", metrics)
    test = scored[split]
    pred = decide(test.probs, problem, thresholds)
    atomic_write_jsonl(run_dir / "predictions.jsonl", _prediction_rows(test, pred, labels, problem))
    report = ReportInput(
        run_name=run_dir.resolve().name, model_type=spec.get("model_type", "?"), problem=problem,
        dataset=str(dataset_dir), split=split, metrics=variants, thresholds_kind=thresholds.kind,
        threshold_fallback=thresholds.fallback, at_least_one=thresholds.at_least_one,
        errors=error_counts(test.gold_matrix(labels, problem), pred, labels),
        confusions=confusion_pairs(test.gold_matrix(labels, problem), pred, labels),
        chunking=_chunking_note(scorer, eval_cfg) if "chunked" in metrics[split] else None,
        notes=_notes(scored, labels, problem, "validation" in splits))
    atomic_write_text(run_dir / "report.md", render_report(report))
    if problem == "single_label":
        _write_confusion(run_dir / "confusion.png", test, pred, labels, f"{run_dir.resolve().name}: {split}")
    if overrides:   # last, so config.yaml never names settings the outputs above do not reflect
        from trainer.config import to_yaml
        atomic_write_text(run_dir / "config.yaml", to_yaml(cfg))
    return metrics


def _run_config(run_dir: Path, overrides: Sequence[str] = ()) -> RunConfig | None:
    from trainer.config import load_config
    path = run_dir / "config.yaml"
    outside = [o for o in overrides if not o.startswith("eval.")]
    if outside:
        raise ConfigError(f"evaluate overrides change the eval section only (eval.*), not {', '.join(outside)}")
    if not path.is_file():
        if overrides:
            raise ConfigError(f"{run_dir}: no config.yaml to apply {', '.join(overrides)} to")
        return None
    return load_config(path, RunConfig, overrides)


def _dataset_dir(run_dir: Path, cfg: RunConfig | None, data: str | Path | None) -> Path:
    if data is not None:
        return Path(data)
    if cfg is None:
        raise DataError(f"{run_dir}: no config.yaml naming the dataset; pass --data DATASET_DIR")
    from trainer.training.data import dataset_path
    path = dataset_path(cfg.data)   # data.dataset, else the output of the data config in data.build
    if not path.exists():
        raise DataError(f"{run_dir / 'config.yaml'}: its dataset {path} does not exist (relative paths are "
                        "taken from the current directory); pass --data DATASET_DIR")
    return path


def _pick_splits(dsd, dataset_dir: Path, split: str, target: str) -> dict:
    """{"validation": ds, split: ds}; validation is left out when the dataset has none (or it is empty)."""
    if split not in dsd:
        raise DataError(f"{dataset_dir}: no split {split!r} (has {', '.join(dsd)}); pass --split with one of them")
    if target not in dsd[split].column_names:
        raise DataError(f"{dataset_dir}: split {split!r} has no label column {target!r} the model was trained on")
    names = ([] if "validation" not in dsd or len(dsd["validation"]) == 0 else ["validation"]) + [split]
    return {name: dsd[name] for name in dict.fromkeys(names)}


def _at_least_one(setting, train, target: str, problem: str) -> bool:
    """eval.at_least_one resolved: "auto" is on when every `train` document has a label (multi-label)."""
    if problem != "multi_label" or setting is False:
        return False
    if setting is True:
        return True
    if train is None or target not in train.column_names or len(train) == 0:
        return False
    return all(len(row) > 0 for row in train[target])


def _scorer(model_dir: Path, spec: dict, eval_cfg: EvalSection):
    if spec.get("model_type") == "transformer":
        # fp32: metrics and tuned thresholds must not depend on whether this CPU has fast bf16
        import torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
        return load_scorer(model_dir, batch_size=eval_cfg.batch_size, precision="fp32", device=device)
    return load_scorer(model_dir)


def _score(scorer, ds, target: str, chunking=None) -> Scored:
    texts = list(ds["text"])
    probs = scorer.score(texts, chunking) if chunking is not None else scorer.score(texts)
    return Scored(ids=[str(i) for i in ds["id"]], gold=list(ds[target]), probs=probs)


def _chunked_metrics(scorer, splits, eval_cfg: EvalSection, labels, problem, target,
                     at_least_one: bool) -> dict[str, dict]:
    """With eval.chunking.enabled (transformers): metrics of chunk-and-pool scoring, for comparison only.

    Chunked thresholds are tuned on chunked validation scores; the saved thresholds stay those of
    head truncation, which predict and serve use.
    """
    chunking = eval_cfg.chunking
    if not chunking.enabled:
        return {}
    if getattr(scorer, "model_type", None) != "transformer":
        log.info("eval.chunking applies to transformer models only; skipped")
        return {}
    chunked = {name: _score(scorer, ds, target, chunking) for name, ds in splits.items()}
    th = tune(chunked.get("validation"), labels, problem, eval_cfg.thresholds, eval_cfg.threshold_min_positives,
              at_least_one)
    out = {name: split_metrics(s, labels, problem, th) for name, s in chunked.items()}
    for m in out.values():
        m.pop("at_0.5", None)
    return out


def _chunking_note(scorer, eval_cfg: EvalSection) -> str:
    c = eval_cfg.chunking
    return (f"windows of {scorer.max_length} tokens every {c.stride} tokens, at most {c.max_chunks} "
            f"per article, logits pooled by {c.pool}")


def _prediction_rows(scored: Scored, pred, labels: list[str], problem: str):
    for i, doc_id in enumerate(scored.ids):
        gold = scored.gold[i]
        yield {"id": doc_id, "gold": list(gold) if problem == "multi_label" else [gold],
               "predicted": [labels[j] for j in pred[i].nonzero()[0]],
               "scores": {label: round(float(p), SCORE_DIGITS) for label, p in zip(labels, scored.probs[i])}}


def _notes(scored: dict[str, Scored], labels: list[str], problem: str, has_validation: bool) -> list[str]:
    notes = []
    if not has_validation and problem == "multi_label":
        notes.append("the dataset has no validation split: thresholds were not tuned (0.5 everywhere)")
    known = set(labels)
    for name, s in scored.items():
        rows = s.gold if problem == "multi_label" else [[g] for g in s.gold]
        outside = sum(1 for row in rows if set(row) - known)
        if outside:
            effect = "those labels are ignored" if problem == "multi_label" else "they count as errors"
            notes.append(f"{name}: {outside} document(s) have gold labels the model does not know; {effect}")
    return notes


def _write_confusion(path: Path, scored: Scored, pred, labels: list[str], title: str) -> None:
    from trainer.evaluation.confusion_plot import render_confusion
    gold = scored.gold_matrix(labels, "single_label")
    known = gold.any(axis=1)   # gold outside the label set has no row to go in
    matrix = confusion_matrix(gold[known].argmax(axis=1), pred[known].argmax(axis=1), len(labels))
    atomic_write_bytes(path, render_confusion(matrix, labels, title))
