"""`trainer evaluate RUN_DIR`: score validation and a test split, tune thresholds, write the run's reports.

Writes into the run directory, each file atomically: metrics.json, predictions.jsonl, report.md,
confusion.png (single-label), and model/thresholds.json (multi-label). Every target of the model is
evaluated on the documents that carry a label for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer import contracts
from trainer.atomic import atomic_write_bytes, atomic_write_text
from trainer.config import EvalSection, RunConfig, to_yaml
from trainer.contracts import Target
from trainer.data.dataset_io import dataset_path, load_dataset_dir
from trainer.decisions import Thresholds, decide
from trainer.errors import ConfigError, DataError
from trainer.evaluation.buckets import bucket_metrics, bucket_name, label_buckets, train_counts
from trainer.evaluation.confusions import confusion_matrix, confusion_pairs, error_counts
from trainer.evaluation.report import ReportInput, render_report
from trainer.evaluation.split_metrics import Scored, split_metrics, tune
from trainer.models import HEAD_ONLY, ScoreOptions, load_model

SCORE_DIGITS = 5


@dataclass
class TargetResult:
    """One target evaluated: its thresholds, metrics per split (and variants), test decisions."""
    target: Target
    thresholds: Thresholds
    metrics: dict[str, dict]          # split -> metrics (with "at_0.5" / "chunked" inside)
    scored: dict[str, Scored]         # split -> scores of the documents that have this target's label
    pred: np.ndarray                  # decisions on the evaluated split


def evaluate(run_dir: str | Path, data: str | Path | None = None, split: str = "test",
             overrides: Sequence[str] = ()) -> dict:
    """Evaluate a run on `split` of its dataset (config.yaml's data.dataset, or `data`); return metrics per target.

    `overrides` change the eval section for this evaluation, e.g. ["eval.thresholds=global",
    "eval.chunking.enabled=true"]; config.yaml is updated to match so the run stays self-describing."""
    run_dir = Path(run_dir)
    model_dir = contracts.model_dir_of(run_dir)
    spec = contracts.read_spec(model_dir)
    cfg = _run_config(run_dir, overrides)
    eval_cfg = cfg.eval if cfg else EvalSection()
    dataset_dir = _dataset_dir(run_dir, cfg, data)
    dsd, _ = load_dataset_dir(dataset_dir)
    splits = _pick_splits(dsd, dataset_dir, split, spec.target_names)
    # fp32: metrics and tuned thresholds must not depend on whether this CPU has fast bf16
    model = load_model(model_dir, ScoreOptions(batch_size=eval_cfg.batch_size, precision="fp32", device="auto"))
    probs = {name: model.score(list(ds["text"])) for name, ds in splits.items()}
    chunked = ({name: model.score(list(ds["text"]), eval_cfg.chunking) for name, ds in splits.items()}
               if eval_cfg.chunking.enabled and model.supports_chunking else None)
    # a model reading windows is also scored on heads only: report.md compares the two readings
    head = ({name: (model.score(list(ds["text"]), HEAD_ONLY), model.long_text_mask(list(ds["text"])))
             for name, ds in splits.items()} if model.reads_windows else None)
    results = [_evaluate_target(t, splits, probs, chunked, dsd.get("train"), eval_cfg, split, head)
               for t in spec.targets]

    tuned = {r.target.name: r.thresholds for r in results if r.target.multi_label}
    if tuned:
        contracts.write_thresholds(model_dir, tuned)
    metrics = {r.target.name: r.metrics for r in results}
    contracts.write_metrics(run_dir, metrics)
    contracts.write_predictions(run_dir, _prediction_rows(splits[split], results, split))
    reports = [_report(run_dir, spec.model_type, dataset_dir, split, r, eval_cfg, model, len(results) > 1)
               for r in results]
    atomic_write_text(run_dir / contracts.REPORT, "\n".join(reports))
    for r in results:
        if not r.target.multi_label:
            name = contracts.CONFUSION if r.target == spec.primary else f"confusion-{r.target.name}.png"
            _write_confusion(run_dir / name, r.scored[split], r.pred, list(r.target.labels),
                             f"{run_dir.resolve().name}: {r.target.name}, {split}")
    if overrides:   # last, so config.yaml never names settings the outputs above do not reflect
        atomic_write_text(run_dir / contracts.CONFIG, to_yaml(cfg))
    return metrics


def _evaluate_target(target: Target, splits: dict, probs: dict, chunked: dict | None, train, eval_cfg: EvalSection,
                     split: str, head: dict | None = None) -> TargetResult:
    labels, problem = list(target.labels), target.problem
    scored = {name: _scored(ds, target.name, probs[name][target.name]) for name, ds in splits.items()}
    at_least_one = _at_least_one(eval_cfg.at_least_one, train, target.name, problem)
    counts = train_counts(train, target.name) if train is not None and target.name in train.column_names else None
    groups = [bucket_name(counts.get(label, 0)) for label in labels] if counts is not None else None
    if eval_cfg.thresholds == "per_bucket" and groups is None and problem == "multi_label":
        raise DataError(f"eval.thresholds per_bucket: the dataset has no training split with {target.name!r} "
                        "labels to put the labels in frequency buckets; choose another eval.thresholds")
    thresholds = tune(scored.get("validation"), labels, problem, eval_cfg.thresholds,
                      eval_cfg.threshold_min_positives, at_least_one, groups, eval_cfg.bucket_thresholds)
    metrics = {name: split_metrics(s, labels, problem, thresholds) for name, s in scored.items()}
    if chunked is not None:
        for name, m in _chunked_metrics(target, splits, chunked, eval_cfg, at_least_one, groups).items():
            metrics[name]["chunked"] = m
    if head is not None:
        from trainer.evaluation.long_texts import reading_comparison
        for name, (head_probs, long_mask) in head.items():
            metrics[name]["reading"] = reading_comparison(
                scored[name], _scored(splits[name], target.name, head_probs[target.name]), long_mask, labels, problem,
                thresholds)
    if counts is not None:
        buckets = label_buckets(labels, counts)
        for m in metrics.values():
            for variant in (m, m.get("chunked")):
                if variant is not None:
                    variant["buckets"] = bucket_metrics(variant["per_label"], buckets)
    pred = decide(scored[split].probs, problem, thresholds)
    return TargetResult(target, thresholds, metrics, scored, pred)


def _scored(ds, column: str, probs: np.ndarray) -> Scored:
    return Scored(ids=[str(i) for i in ds["id"]], gold=list(ds[column]), probs=probs)


def _run_config(run_dir: Path, overrides: Sequence[str] = ()) -> RunConfig | None:
    outside = [o for o in overrides if not o.startswith("eval.")]
    if outside:
        raise ConfigError(f"evaluate overrides change the eval section only (eval.*), not {', '.join(outside)}")
    if not (run_dir / contracts.CONFIG).is_file():
        if overrides:
            raise ConfigError(f"{run_dir}: no config.yaml to apply {', '.join(overrides)} to")
        return None
    return contracts.read_run_config(run_dir, overrides)


def _dataset_dir(run_dir: Path, cfg: RunConfig | None, data: str | Path | None) -> Path:
    if data is not None:
        return Path(data)
    if cfg is None:
        raise DataError(f"{run_dir}: no config.yaml naming the dataset; pass --data DATASET_DIR")
    path = dataset_path(cfg.data)   # data.dataset, else the output of the data config in data.build
    if not path.exists():
        raise DataError(f"{run_dir / contracts.CONFIG}: its dataset {path} does not exist (relative paths are "
                        "taken from the current directory); pass --data DATASET_DIR")
    return path


def _pick_splits(dsd, dataset_dir: Path, split: str, targets: list[str]) -> dict:
    """{"validation": ds, split: ds}; validation is left out when the dataset has none (or it is empty)."""
    if split not in dsd:
        raise DataError(f"{dataset_dir}: no split {split!r} (has {', '.join(dsd)}); pass --split with one of them")
    for target in targets:
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


def _chunked_metrics(target: Target, splits: dict, chunked: dict, eval_cfg: EvalSection,
                     at_least_one: bool, groups: list[str] | None) -> dict[str, dict]:
    """eval.chunking.enabled: metrics of chunk-and-pool scoring, for comparison only.

    Chunked thresholds are tuned on chunked validation scores; the saved thresholds stay those of
    head truncation, which predict and serve use.
    """
    labels, problem = list(target.labels), target.problem
    scored = {name: _scored(ds, target.name, chunked[name][target.name]) for name, ds in splits.items()}
    th = tune(scored.get("validation"), labels, problem, eval_cfg.thresholds, eval_cfg.threshold_min_positives,
              at_least_one, groups, eval_cfg.bucket_thresholds)
    out = {name: split_metrics(s, labels, problem, th) for name, s in scored.items()}
    for m in out.values():
        m.pop("at_0.5", None)
    return out


def _chunking_note(model, eval_cfg: EvalSection) -> str:
    c = eval_cfg.chunking
    return (f"windows of {model.spec.settings.get('max_length')} tokens every {c.stride} tokens, at most "
            f"{c.max_chunks} per article, logits pooled by {c.pool}")


def _reading_note(model) -> str:
    readers = [model] if model.type == "transformer" else [m for m in getattr(model, "members", {}).values()
                                                          if m.type == "transformer"]
    from trainer.models.transformer.reading import Reading
    return "; ".join(Reading.from_settings(m.spec.settings.get("reading")).describe(int(m.spec.settings["max_length"]))
                     for m in readers)


def _prediction_rows(ds, results: list[TargetResult], split: str):
    ids = [str(i) for i in ds["id"]]
    for i, doc_id in enumerate(ids):
        per_target = {}
        for r in results:
            labels, problem = list(r.target.labels), r.target.problem
            gold = r.scored[split].gold[i]
            per_target[r.target.name] = {
                "gold": list(gold) if problem == "multi_label" else [gold],
                "predicted": [labels[j] for j in r.pred[i].nonzero()[0]],
                "scores": {label: round(float(p), SCORE_DIGITS) for label, p in zip(labels, r.scored[split].probs[i])}}
        yield contracts.prediction_row(doc_id, per_target)


def _report(run_dir: Path, model_type: str, dataset_dir: Path, split: str, r: TargetResult, eval_cfg: EvalSection,
            model, several: bool) -> str:
    labels, problem = list(r.target.labels), r.target.problem
    test = r.scored[split]
    gold = test.gold_matrix(labels, problem)
    variants = {name: {"tuned": m, **{k: m[k] for k in ("at_0.5", "chunked") if k in m}} for name, m in r.metrics.items()}
    return render_report(ReportInput(
        run_name=run_dir.resolve().name, model_type=model_type, problem=problem, dataset=str(dataset_dir), split=split,
        metrics=variants, thresholds_kind=r.thresholds.kind, threshold_fallback=r.thresholds.fallback,
        threshold_groups={g: (v, g in eval_cfg.bucket_thresholds) for g, v in r.thresholds.groups.items()},
        at_least_one=r.thresholds.at_least_one, errors=error_counts(gold, r.pred, labels),
        confusions=confusion_pairs(gold, r.pred, labels),
        chunking=_chunking_note(model, eval_cfg) if "chunked" in r.metrics[split] else None,
        reading=_reading_note(model) if "reading" in r.metrics[split] else None,
        notes=_notes(r.scored, labels, problem, "validation" in r.scored),
        target=r.target.name if several else None))


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
