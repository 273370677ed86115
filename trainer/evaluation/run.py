"""`trainer evaluate RUN_DIR`: score validation and a test split, tune thresholds, write the run's reports.

Writes into the run directory, each file atomically: metrics.json, predictions.jsonl, report.md,
report.html (the same evaluation with pictures, one self-contained page), confusion.png (single-label),
and model/thresholds.json (multi-label). Every target of the model is
evaluated on the documents that carry a label for it.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from trainer import contracts
from trainer.atomic import atomic_write_bytes, atomic_write_text
from trainer.config import EvalSection, RunConfig, to_yaml
from trainer.contracts import Target
from trainer.data.dataset_io import dataset_path, load_dataset_dir
from trainer.data.identity import dataset_changes, fingerprints
from trainer.data.label_space import label_counts
from trainer.decisions import DEFAULT_FUSION, Thresholds, decide, fusion_candidates
from trainer.errors import ConfigError, DataError
from trainer.evaluation.buckets import bucket_metrics, bucket_name, in_bucket_order, label_buckets
from trainer.evaluation.confusions import confusion_matrix, confusion_pairs, error_counts, unknown_gold_pairs
from trainer.evaluation.label_decisions import label_decision_lines
from trainer.evaluation.report import ReportInput, render_report
from trainer.evaluation.split_metrics import Scored, split_metrics, tune
from trainer.evaluation.split_metrics import at_least_one_rule as _at_least_one
from trainer.evaluation.tuning_report import tuning_lines
from trainer.evaluation.validation_pick import validation_pick
from trainer.models import HEAD_ONLY, ScoreOptions, load_model

SCORE_DIGITS = 5
SCORE_BLOCK = 512          # texts scored per call, so progress can be reported while a split is scored


@dataclass
class TargetResult:
    """One target evaluated: its thresholds, metrics per split (and variants), test decisions."""
    target: Target
    thresholds: Thresholds
    metrics: dict[str, dict]          # split -> metrics (with "at_0.5" / "chunked" inside)
    scored: dict[str, Scored]         # split -> scores of the documents that have this target's label
    pred: np.ndarray                  # decisions on the evaluated split


def evaluate_on_split(run_dir: str | Path, data: str | Path | None = None, split: str = "test",
             overrides: Sequence[str] = (), progress: Callable[[dict], None] | None = None) -> dict:
    """Evaluate a run on `split` of its dataset (config.yaml's data.dataset, or `data`); return metrics per target.

    `overrides` change the eval section for this evaluation, e.g. ["eval.thresholds=global",
    "eval.chunking.enabled=true"]; config.yaml is updated to match so the run stays self-describing.
    `progress` is called with {"stage", "done", ...} events: load, score (per split, with "documents" done of
    "total"), tune (or, with nothing to tune, a tune event with "skipped": why, then metrics), report."""
    tell = _Stages(progress)
    run_dir = Path(run_dir)
    model_dir = contracts.model_dir_of(run_dir)
    spec = contracts.answer_spec(contracts.read_spec(model_dir))   # combined targets: gazetteer-only labels too
    cfg = _run_config(run_dir, overrides)
    eval_cfg = cfg.eval if cfg else EvalSection()
    picked = _picked_thresholds(model_dir, eval_cfg, spec)
    if picked is not None:   # the what-ifs (parts, chunking, fusion) tune per bucket on validation, as before
        eval_cfg = eval_cfg.model_copy(update={"thresholds": "per_bucket"})
    dataset_dir = _dataset_dir(run_dir, cfg, data)
    tell.start("load")
    dsd, manifest = load_dataset_dir(dataset_dir)
    scored_on = _scored_dataset(run_dir, cfg, dataset_dir, dsd, manifest, explicit=data is not None)
    targets = _present_targets(dsd, dataset_dir, split, spec)
    splits = _pick_splits(dsd, dataset_dir, split)
    # fp32: metrics and tuned thresholds must not depend on whether this CPU has fast bf16
    model = load_model(model_dir, ScoreOptions(batch_size=eval_cfg.batch_size, precision="fp32", device="auto"))
    tell.done("load", documents=sum(len(ds) for ds in splits.values()),
              by_split={name: len(ds) for name, ds in splits.items()}, model_type=spec.model_type)
    tuned_rules = {t: v["picked"] for t, v in ((contracts.read_tuning(model_dir) or {}).get("fusion") or {}).items()}
    probs, rules, part_scores = _score_splits(model, splits, eval_cfg, dsd.get("train"), tell, tuned_rules)
    chunked = ({name: _score(lambda texts: model.score(texts, eval_cfg.chunking), list(ds["text"]),
                             f"{name} (chunked)", tell) for name, ds in splits.items()}
               if eval_cfg.chunking.enabled and model.supports_chunking else None)
    idle = _nothing_to_tune(targets, splits, eval_cfg, rules)
    if idle:   # the stage would only compute metrics: say so, and time the metrics as what they are
        tell.skip("tune", idle)
    stage = "metrics" if idle else "tune"
    tell.start(stage)
    # a model reading windows is also scored on heads only: report.md compares the two readings
    head = _head_scores(model, splits, rules) if model.reads_windows else None
    results = [_evaluate_target(t, splits, probs, chunked, dsd.get("train"), eval_cfg, split, head,
                                (picked or {}).get(t.name)) for t in targets]
    for r in results:
        if r.target.name in part_scores:   # each part alone, beside the combination, in every split's metrics
            parts = _part_metrics(r.target, splits, part_scores, dsd.get("train"), eval_cfg)
            only = list(contracts.gazetteer_only(model.spec).get(r.target.name, ()))
            for name, m in r.metrics.items():
                m["parts"] = {part: by_split[name] for part, by_split in parts.items()}
                m["fusion"] = rules[r.target.name]
                m["gazetteer_only"] = only   # labels scored from the gazetteer alone (the head never learned them)
    if rules:
        contracts.write_fusion(model_dir, rules)
    if idle:
        tell.done(stage, targets=[r.target.name for r in results])
    else:
        tell.done(stage, thresholds={r.target.name: r.thresholds.kind for r in results if r.target.multi_label},
                  on=("the training split, out of fold" if picked is not None
                      else "validation" if "validation" in splits else None),
                  notes={r.target.name: r.thresholds.note for r in results if r.thresholds.note})
    tell.start("report")

    tuned = {r.target.name: r.thresholds for r in results if r.target.multi_label}
    if tuned:
        contracts.write_thresholds(model_dir, tuned)
    metrics = {r.target.name: r.metrics for r in results}
    contracts.write_metrics(run_dir, metrics, dataset=scored_on)
    contracts.write_predictions(run_dir, _prediction_rows(splits[split], results, split))
    name = _run_name(run_dir, cfg)
    # weights and reading: what validation alone would have picked, beside the cross-fitted picks
    record = contracts.read_tuning(model_dir)
    by_validation = validation_pick(cfg, model, record, splits.get("validation"), dsd.get("train"), eval_cfg)
    tuning = {r.target.name: tuning_lines(record, r.target.name, r.metrics, split, r.metrics[split].get("fusion"),
                                          by_validation) for r in results}
    reports = [_report(run_dir, spec.model_type, dataset_dir, split, r, eval_cfg, model, len(results) > 1, name,
                       _dataset_note(scored_on), tuning[r.target.name])
               for r in results]
    atomic_write_text(run_dir / contracts.REPORT, "\n".join(reports))
    atomic_write_text(run_dir / contracts.REPORT_HTML,
                      _html_report(run_dir, spec.model_type, dataset_dir, split, splits, results, name, tuning))
    for r in results:
        if not r.target.multi_label:
            name = contracts.CONFUSION if r.target == spec.primary else f"confusion-{r.target.name}.png"
            _write_confusion(run_dir / name, r.scored[split], r.pred, list(r.target.labels),
                             f"{name}: {r.target.name}, {split}")
    if overrides:   # last, so config.yaml never names settings the outputs above do not reflect
        atomic_write_text(run_dir / contracts.CONFIG, to_yaml(cfg))
    tell.done("report", run_dir=str(run_dir))
    return metrics


def _nothing_to_tune(targets: list[Target], splits: dict, eval_cfg: EvalSection, rules: dict) -> str | None:
    """Why there is nothing to tune on validation (no thresholds, no fusion rule to pick), or None."""
    if rules:
        return None
    multi = [t for t in targets if t.multi_label]
    if not multi:
        return "nothing to tune (single-label)"
    if "validation" not in splits:
        return "nothing to tune (no validation split)"
    if eval_cfg.thresholds == "none":
        return "nothing to tune (eval.thresholds none: 0.5)"
    return None


def _score_splits(model, splits: dict, eval_cfg: EvalSection, train, tell, tuned_rules: dict | None = None):
    """Scores per split and target. A target the config combines with the gazetteer gets the combination
    that scores best on validation (eval.fusion_metric, decisions as the run makes them), or, in a run that
    tuned settings on its training split, the one tuning picked there (`tuned_rules`; validation's pick is kept
    beside it); returns the scores, the rules picked, and the two parts' scores per split."""
    raw = {name: _score(model.score_targets, list(ds["text"]), name, tell) for name, ds in splits.items()}
    parts = {name: model.combination.parts(list(splits[name]["text"]), raw[name]) for name in splits}
    combined = sorted({target for p in parts.values() for target in p})
    if not combined:
        return raw, {}, {}
    rules = {}
    for target_name in combined:
        target = model.answer_spec.target(target_name)
        rules[target_name] = _pick_fusion(model, target, splits, parts, eval_cfg, train)
        if target_name in (tuned_rules or {}):
            by_validation = {k: v for k, v in rules[target_name].items()}
            rules[target_name] = {**tuned_rules[target_name], "picked_on": "training split, out of fold "
                                  "(model/tuning.json)", "validation_pick": by_validation}
        for name in splits:
            raw[name][target_name] = model.combination.fuse(target_name, parts[name][target_name], rules[target_name])
    part_scores = {t: {part: {name: parts[name][t][part] for name in splits} for part in ("head", "gazetteer")}
                   for t in combined}
    return raw, rules, part_scores


def _pick_fusion(model, target: Target, splits: dict, parts: dict, eval_cfg: EvalSection, train) -> dict:
    if "validation" not in splits:
        return dict(DEFAULT_FUSION, picked_on="default (no validation split)")
    at_least_one = _at_least_one(eval_cfg.at_least_one, train, target)
    labels, p = list(target.labels), parts["validation"][target.name]
    best, best_key = None, None
    for rule in fusion_candidates():
        scored = _scored(splits["validation"], target, model.combination.fuse(target.name, p, rule))
        th = tune(scored, labels, target.problem, eval_cfg.thresholds, eval_cfg.threshold_min_positives,
                  at_least_one, _label_groups(train, target), eval_cfg.bucket_thresholds,
                  min_documents=eval_cfg.threshold_min_documents)
        m = split_metrics(scored, labels, target.problem, th)
        m["mean_f1"] = (m["micro_f1"] + m["macro_f1"]) / 2
        key = (round(m[eval_cfg.fusion_metric], 6), round(m["micro_f1"], 6))
        if best_key is None or key > best_key:   # ties keep the earlier rule: less of the gazetteer
            best, best_key = rule, key
    return {**best, "picked_on": f"validation {eval_cfg.fusion_metric} {best_key[0]:.4f}"}


def _label_groups(train, target: Target) -> list[str] | None:
    """Each label's training-frequency bucket (per_bucket thresholds); None without the target's training labels."""
    if train is None or target.name not in train.column_names:
        return None
    counts = label_counts(train, target.name, target.problem)[0]
    return [bucket_name(counts.get(label, 0)) for label in target.labels]


def _part_metrics(target: Target, splits: dict, part_scores: dict, train, eval_cfg: EvalSection) -> dict:
    """Metrics of each part alone (head, gazetteer) per split, thresholds tuned for each on validation."""
    out = {}
    at_least_one = _at_least_one(eval_cfg.at_least_one, train, target)
    labels = list(target.labels)
    for part, by_split in part_scores[target.name].items():
        scored = {name: _scored(ds, target, by_split[name]) for name, ds in splits.items()}
        th = tune(scored.get("validation"), labels, target.problem, eval_cfg.thresholds,
                  eval_cfg.threshold_min_positives, at_least_one, _label_groups(train, target),
                  eval_cfg.bucket_thresholds, min_documents=eval_cfg.threshold_min_documents)
        out[part] = {name: split_metrics(s, labels, target.problem, th) for name, s in scored.items()}
    return out


class _Stages:
    """evaluate_on_split's progress events, with each stage's seconds."""

    def __init__(self, progress: Callable[[dict], None] | None):
        self.progress = progress
        self.started: dict[str, float] = {}

    def start(self, stage: str, **info) -> None:
        self.started.setdefault(f"{stage}:{info.get('split')}", time.perf_counter())
        if self.progress is not None:
            self.progress({"stage": stage, "done": False, **info})

    def skip(self, stage: str, reason: str) -> None:
        if self.progress is not None:
            self.progress({"stage": stage, "done": True, "skipped": reason})

    def done(self, stage: str, **info) -> None:
        seconds = time.perf_counter() - self.started.pop(f"{stage}:{info.get('split')}", time.perf_counter())
        if self.progress is not None:
            self.progress({"stage": stage, "done": True, "seconds": round(seconds, 3), **info})


def _score(score_fn, texts: list[str], split: str, tell: _Stages) -> dict[str, np.ndarray]:
    """`score_fn` (texts -> scores per target) over `texts` in blocks of SCORE_BLOCK, telling how many are
    done after each."""
    stage = "score"
    tell.start(stage, split=split, documents=0, total=len(texts))
    if len(texts) <= SCORE_BLOCK:
        scores = score_fn(texts)
    else:
        parts = []
        for start in range(0, len(texts), SCORE_BLOCK):
            parts.append(score_fn(texts[start:start + SCORE_BLOCK]))
            if start + SCORE_BLOCK < len(texts):
                tell.start(stage, split=split, documents=start + SCORE_BLOCK, total=len(texts))
        scores = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    tell.done(stage, split=split, documents=len(texts), total=len(texts))
    return scores


def _picked_thresholds(model_dir: Path, eval_cfg: EvalSection, spec) -> dict[str, dict[str, float]] | None:
    """eval.thresholds auto: per multi-label target, the bucket thresholds training picked on out-of-fold scores
    of the training split (model/tuning.json); None for any other eval.thresholds."""
    if eval_cfg.thresholds != "auto":
        return None
    return {t.name: contracts.picked_bucket_thresholds(model_dir, t.name) for t in spec.targets if t.multi_label}


def _evaluate_target(target: Target, splits: dict, probs: dict, chunked: dict | None, train, eval_cfg: EvalSection,
                     split: str, head: dict | None = None, picked: dict[str, float] | None = None) -> TargetResult:
    labels, problem = list(target.labels), target.problem
    scored = {name: _scored(ds, target, probs[name][target.name]) for name, ds in splits.items()}
    at_least_one = _at_least_one(eval_cfg.at_least_one, train, target)
    counts = (label_counts(train, target.name, problem)[0]
              if train is not None and target.name in train.column_names else None)
    groups = [bucket_name(counts.get(label, 0)) for label in labels] if counts is not None else None
    if eval_cfg.thresholds == "per_bucket" and groups is None and problem == "multi_label":
        raise DataError(f"eval.thresholds per_bucket: the dataset has no training split with {target.name!r} "
                        "labels to put the labels in frequency buckets; choose another eval.thresholds")
    by_validation = tune(scored.get("validation"), labels, problem, eval_cfg.thresholds,
                         eval_cfg.threshold_min_positives, at_least_one, groups, eval_cfg.bucket_thresholds,
                         eval_cfg.threshold_min_documents)
    thresholds = by_validation
    if picked is not None and problem == "multi_label":
        # picked on the training split (eval.thresholds auto): validation is not read for them; a bucket tuning
        # did not see (data.limit) is tuned on validation as per_bucket would
        thresholds = tune(scored.get("validation"), labels, problem, "per_bucket", eval_cfg.threshold_min_positives,
                          at_least_one, groups, {**eval_cfg.bucket_thresholds, **picked},
                          eval_cfg.threshold_min_documents)
        if groups is not None and set(groups) <= set(picked):
            thresholds.note = ""   # nothing was to be tuned on validation: its size does not matter
    metrics = {name: split_metrics(s, labels, problem, thresholds) for name, s in scored.items()}
    if thresholds is not by_validation:   # what validation alone would have picked, over the same candidates
        for name, s in scored.items():
            m = split_metrics(s, labels, problem, by_validation)
            metrics[name]["validation_pick"] = {"thresholds": by_validation.groups, "note": by_validation.note,
                                                "micro_f1": m["micro_f1"], "macro_f1": m["macro_f1"]}
    if chunked is not None:
        for name, m in _chunked_metrics(target, splits, chunked, eval_cfg, at_least_one, groups).items():
            metrics[name]["chunked"] = m
    if head is not None:
        from trainer.evaluation.long_texts import reading_comparison
        for name, (head_probs, long_mask) in head.items():
            metrics[name]["reading"] = reading_comparison(
                scored[name], _scored(splits[name], target, head_probs[target.name]), long_mask, labels, problem,
                thresholds)
    if counts is not None:
        buckets = label_buckets(labels, counts)
        for m in metrics.values():
            for variant in (m, m.get("chunked")):
                if variant is not None:
                    variant["buckets"] = bucket_metrics(variant["per_label"], buckets)
    pred = decide(scored[split].probs, problem, thresholds)
    return TargetResult(target, thresholds, metrics, scored, pred)


def _scored(ds, target: Target, probs: np.ndarray) -> Scored:
    """The split's documents that count for `target` (all of them, unless it skips unlabelled ones)."""
    gold = list(ds[target.name])
    rows = [i for i, g in enumerate(gold) if target.has_label(g)]
    ids = [str(i) for i in ds["id"]]
    return Scored(ids=[ids[i] for i in rows], gold=[gold[i] for i in rows], probs=np.asarray(probs)[rows])


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


def _scored_dataset(run_dir: Path, cfg: RunConfig | None, dataset_dir: Path, dsd, manifest: dict,
                    explicit: bool) -> dict:
    """metrics.json's record of the dataset scored. The dataset config.yaml names must still be the one the run
    was trained on (meta.json): rebuilt with another split, its test split would hold training documents.
    A dataset given with --data is scored as it is, and recorded as such."""
    recorded = contracts.read_meta(run_dir).get("dataset")
    changes = dataset_changes(recorded, dsd, manifest, cfg.data.limit if cfg is not None else None)
    if changes and not explicit:
        raise DataError(f"{run_dir}: its dataset {dataset_dir} is not the one the run was trained on "
                        f"({'; '.join(changes)}), so its test split may hold documents the model trained on; "
                        "retrain the run on it (`trainer train CONFIG`), rebuild the dataset as it was, or pass "
                        f"--data {dataset_dir} to score it anyway (metrics.json then says so)")
    return {"path": str(dataset_dir.resolve()), "given": "--data" if explicit else "config.yaml",
            "same_as_training": None if changes is None else not changes, "changes": changes or [],
            "fingerprint": fingerprints(dsd)[1]}


def _dataset_note(scored_on: dict) -> str | None:
    if scored_on["same_as_training"] is False:
        return (f"scored on {scored_on['path']} (given with --data), not the dataset the run was trained on "
                f"({'; '.join(scored_on['changes'])}): its documents may include ones the model trained on")
    if scored_on["same_as_training"] is None:
        return (f"scored on {scored_on['path']} ({scored_on['given']}); meta.json records no dataset to check it "
                "against (a run from an older version)")
    return None


def _present_targets(dsd, dataset_dir: Path, split: str, spec) -> list[Target]:
    """The model's targets whose label column the dataset has (a regions-only dataset evaluates the regions
    target of a topics+regions model)."""
    if split not in dsd:
        raise DataError(f"{dataset_dir}: no split {split!r} (has {', '.join(dsd)}); pass --split with one of them")
    present = [t for t in spec.targets if t.name in dsd[split].column_names]
    if not present:
        raise DataError(f"{dataset_dir}: split {split!r} has none of the label columns the model was trained on "
                        f"({', '.join(spec.target_names)}); pass --data with a dataset that has them")
    return present


def _pick_splits(dsd, dataset_dir: Path, split: str) -> dict:
    """{"validation": ds, split: ds}; validation is left out when the dataset has none (or it is empty)."""
    names = ([] if "validation" not in dsd or len(dsd["validation"]) == 0 else ["validation"]) + [split]
    return {name: dsd[name] for name in dict.fromkeys(names)}


def _chunked_metrics(target: Target, splits: dict, chunked: dict, eval_cfg: EvalSection,
                     at_least_one: bool, groups: list[str] | None) -> dict[str, dict]:
    """eval.chunking.enabled: metrics of chunk-and-pool scoring, for comparison only.

    Chunked thresholds are tuned on chunked validation scores; the saved thresholds stay those of
    head truncation, which predict and serve use.
    """
    labels, problem = list(target.labels), target.problem
    scored = {name: _scored(ds, target, chunked[name][target.name]) for name, ds in splits.items()}
    th = tune(scored.get("validation"), labels, problem, eval_cfg.thresholds, eval_cfg.threshold_min_positives,
              at_least_one, groups, eval_cfg.bucket_thresholds, eval_cfg.threshold_min_documents)
    out = {name: split_metrics(s, labels, problem, th) for name, s in scored.items()}
    for m in out.values():
        m.pop("at_0.5", None)
    return out


def _chunking_note(model, eval_cfg: EvalSection) -> str:
    c = eval_cfg.chunking
    every = f"every {c.stride} tokens" if c.stride else "every half window"
    return (f"windows of {model.spec.settings.get('max_length')} tokens {every}, at most "
            f"{c.max_chunks} per article, logits pooled by {c.pool}")


def _head_scores(model, splits: dict, rules: dict) -> dict:
    """Per split, (the answer when each text is read by its head only, which texts are longer than a window)."""
    out = {}
    for name, ds in splits.items():
        texts = list(ds["text"])
        scores = model.score_targets(texts, HEAD_ONLY)
        for target, p in model.combination.parts(texts, scores).items():
            scores[target] = model.combination.fuse(target, p, rules.get(target, DEFAULT_FUSION))
        out[name] = (scores, model.long_text_mask(texts))
    return out


def _prediction_rows(ds, results: list[TargetResult], split: str):
    """One row per document of the split; a target appears in the rows of the documents that count for it."""
    position = [{doc_id: k for k, doc_id in enumerate(r.scored[split].ids)} for r in results]
    for doc_id in (str(i) for i in ds["id"]):
        per_target = {}
        for r, where in zip(results, position):
            k = where.get(doc_id)
            if k is None:
                continue
            labels, problem = list(r.target.labels), r.target.problem
            gold = r.scored[split].gold[k]
            per_target[r.target.name] = {
                "gold": list(gold) if problem == "multi_label" else [gold],
                "predicted": [labels[j] for j in r.pred[k].nonzero()[0]],
                "scores": {label: round(float(p), SCORE_DIGITS) for label, p in zip(labels, r.scored[split].probs[k])}}
        yield contracts.prediction_row(doc_id, per_target)


def _run_name(run_dir: Path, cfg: RunConfig | None) -> str:
    """The run's name: config.yaml's output.name (during training the folder is the staging `.NAME.partial`)."""
    return cfg.output.name if cfg is not None and cfg.output.name else run_dir.resolve().name


def _report(run_dir: Path, model_type: str, dataset_dir: Path, split: str, r: TargetResult, eval_cfg: EvalSection,
            model, several: bool, run_name: str, dataset_note: str | None = None,
            tuning: list[str] = ()) -> str:
    labels, problem = list(r.target.labels), r.target.problem
    test = r.scored[split]
    gold = test.gold_matrix(labels, problem)
    variants = {name: {"tuned": m, **{k: m[k] for k in ("at_0.5", "chunked") if k in m}} for name, m in r.metrics.items()}
    return render_report(ReportInput(
        run_name=run_name, model_type=model_type, problem=problem, dataset=str(dataset_dir), split=split,
        metrics=variants, thresholds_kind=r.thresholds.kind, threshold_fallback=r.thresholds.fallback,
        threshold_note=r.thresholds.note,
        threshold_groups=in_bucket_order({g: (v, g in eval_cfg.bucket_thresholds or (
                                              "picked on the training split" if "validation_pick" in r.metrics[split]
                                              else False))
                                          for g, v in r.thresholds.groups.items()}),
        tuning=list(tuning),
        at_least_one=r.thresholds.at_least_one, errors=error_counts(gold, r.pred, labels),
        confusions=confusion_pairs(gold, r.pred, labels) + (unknown_gold_pairs(test.gold, r.pred, labels)
                                                            if problem == "single_label" else Counter()),
        chunking=_chunking_note(model, eval_cfg) if "chunked" in r.metrics[split] else None,
        reading=model.reading_description() if "reading" in r.metrics[split] else None,
        notes=([dataset_note] if dataset_note else []) + _notes(r.scored, labels, problem, "validation" in r.scored),
        target=r.target.name if several else None,
        label_decisions=label_decision_lines(run_dir, dataset_dir, r.target.name)))


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


def _html_report(run_dir: Path, model_type: str, dataset_dir: Path, split: str, splits: dict,
                 results: list[TargetResult], run_name: str, tuning: dict[str, list[str]] | None = None) -> str:
    from trainer.evaluation import figures
    from trainer.evaluation.html_report import Picture, ReportPage, TargetPage, render_html

    rows = contracts.read_train_log(run_dir)
    curves = figures.training_curves(rows)
    note = ("" if curves is not None else
            "No training curve: the model was fitted in one step." if rows else "No train_log.jsonl in this run.")
    pages = []
    for r in results:
        labels, problem = list(r.target.labels), r.target.problem
        multi = r.target.multi_label
        test = r.scored[split]
        gold = test.gold_matrix(labels, problem)
        columns = []
        for name, m in r.metrics.items():
            columns.append((f"{name}" + (" (saved rule)" if multi else ""), m))
            if multi and "at_0.5" in m:
                columns.append((f"{name} at 0.5", m["at_0.5"]))
            if "chunked" in m:
                columns.append((f"{name} chunked", m["chunked"]))
        pictures, notes = [], []
        bars = figures.label_f1_bars(r.metrics[split]["per_label"])
        if bars:
            pictures.append(Picture(f"F1 per label ({split})", bars,
                                    f"sorted by support, the {figures.MAX_BAR_LABELS} most frequent labels at most; "
                                    "every label is in report.md"))
        pr = figures.pr_curves(test.probs, gold, labels, r.thresholds.array() if multi else None)
        if pr:
            pictures.append(Picture(f"Precision-recall, most frequent labels ({split})", pr,
                                    "one label against the rest, every score as a threshold"))
        if multi:
            by_split = {name: (s.probs, s.gold_matrix(labels, problem)) for name, s in r.scored.items()}
            chosen = r.thresholds.values[0] if r.thresholds.kind == "global" and r.thresholds.values else None
            curve = figures.threshold_curves(by_split, chosen)
            if curve:
                pictures.append(Picture("Micro-F1 against one threshold for every label", curve,
                                        "without the at-least-one rule; 0.5 is what the table during training used"))
            heat = figures.co_confusion_heatmap(gold, r.pred, labels)
            if heat:
                pictures.append(Picture(f"Label co-confusions ({split})", heat,
                                        "row: a gold label; column: a label also predicted for the same document "
                                        "that is not gold (the labels most involved in such errors); missed labels "
                                        "are counted per label in report.md", wide=True))
            else:
                notes.append(f"No label co-confusions on {split}: no document got a label besides its gold ones.")
        else:
            from trainer.evaluation.confusion_plot import render_confusion
            known = gold.any(axis=1)
            matrix = confusion_matrix(gold[known].argmax(axis=1), r.pred[known].argmax(axis=1), len(labels))
            pictures.append(Picture(f"Confusion matrix ({split})", render_confusion(matrix, labels, ""),
                                    "rows: gold, columns: predicted; colour: share of the gold row", wide=True))
        rule = ""
        if multi:
            from trainer.evaluation.report import decision_rule_text
            rule = decision_rule_text(r.thresholds.kind, r.thresholds.at_least_one, r.thresholds.values)
        pages.append(TargetPage(r.target.name, problem, columns, pictures, rule, notes,
                                (tuning or {}).get(r.target.name, [])))
    return render_html(ReportPage(run_name, model_type, str(dataset_dir), split,
                                  {name: len(ds) for name, ds in splits.items()}, pages,
                                  Picture("Loss and validation scores", curves) if curves else None, note))


def _write_confusion(path: Path, scored: Scored, pred, labels: list[str], title: str) -> None:
    from trainer.evaluation.confusion_plot import render_confusion
    gold = scored.gold_matrix(labels, "single_label")
    known = gold.any(axis=1)   # gold outside the label set has no row to go in
    matrix = confusion_matrix(gold[known].argmax(axis=1), pred[known].argmax(axis=1), len(labels))
    atomic_write_bytes(path, render_confusion(matrix, labels, title))
