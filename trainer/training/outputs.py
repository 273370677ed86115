"""End-of-run outputs: hand over to `trainer.evaluation` when present, else metrics at 0.5 / argmax."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from trainer import rundir
from trainer.atomic import atomic_write_json, atomic_write_jsonl

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
THRESHOLD = 0.5


def evaluation_available() -> bool:
    return importlib.util.find_spec("trainer.evaluation") is not None


def run_evaluation(run_dir: Path) -> bool:
    """Thresholds, metrics.json, predictions.jsonl and report.md from `trainer.evaluation`; False if it cannot."""
    if not evaluation_available():
        return False
    try:
        from trainer.evaluation import evaluate
        evaluate(run_dir)
    except Exception as exc:  # noqa: BLE001 - the trained model stays valid; fall back and say so
        print(f"warning: evaluation failed ({type(exc).__name__}: {exc}); writing metrics at threshold "
              f"{THRESHOLD} instead. Rerun it with `trainer evaluate {run_dir}`", file=sys.stderr)
        rundir.update_meta(run_dir, evaluation_error=f"{type(exc).__name__}: {exc}")
        return False
    return True


def predict_scores(model, dataset, tokenizer, batch_size: int, bf16: bool) -> np.ndarray:
    """Probabilities (sigmoid or softmax) for every row of a tokenized split, in order."""
    import torch
    from transformers import DataCollatorWithPadding

    from trainer.training.hf_trainer import scores_from_logits

    columns = [c for c in MODEL_INPUTS if c in dataset.column_names]
    collate = DataCollatorWithPadding(tokenizer)
    model.eval()
    device = next(model.parameters()).device
    problem = "multi_label" if model.multi_label else "single_label"
    chunks = []
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        for start in range(0, len(dataset), batch_size):
            rows = dataset.select_columns(columns)[start:start + batch_size]
            batch = collate([{c: rows[c][i] for c in columns} for i in range(len(rows[columns[0]]))])
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            chunks.append(logits.float().cpu().numpy())
    width = model.config.num_labels
    return scores_from_logits(np.concatenate(chunks) if chunks else np.zeros((0, width)), problem)


def gold_matrix(dataset, n_labels: int, problem: str) -> np.ndarray:
    labels = np.asarray(dataset["labels"])
    if problem == "multi_label":
        return labels.astype(np.int8)
    out = np.zeros((len(labels), n_labels), dtype=np.int8)
    out[np.arange(len(labels)), labels.astype(int)] = 1
    return out


def write_metrics(run_dir: Path, model, tokenizer, tokenized, labels: list[str], problem: str,
                  batch_size: int, bf16: bool) -> dict:
    """metrics.json for validation and test, predictions.jsonl for test (threshold 0.5 or argmax)."""
    from trainer.metrics import compute_metrics
    from trainer.training.hf_trainer import decide

    metrics = {}
    for split in ("validation", "test"):
        if split not in tokenized:
            continue
        scores = predict_scores(model, tokenized[split], tokenizer, batch_size, bf16)
        pred = decide(scores, problem, THRESHOLD)
        gold = gold_matrix(tokenized[split], len(labels), problem)
        if problem == "single_label":
            m = compute_metrics(gold.argmax(-1), pred.argmax(-1), labels, problem)
        else:
            m = compute_metrics(gold, pred, labels, problem)
        m["threshold"] = {"kind": "none", "value": THRESHOLD} if problem == "multi_label" else {"kind": "argmax"}
        metrics[split] = m
        if split == "test":
            atomic_write_jsonl(Path(run_dir) / rundir.PREDICTIONS, prediction_rows(tokenized[split], gold, pred,
                                                                                  scores, labels))
    atomic_write_json(Path(run_dir) / rundir.METRICS, metrics)
    return metrics


def prediction_rows(dataset, gold: np.ndarray, pred: np.ndarray, scores: np.ndarray, labels: list[str]):
    ids = dataset["id"] if "id" in dataset.column_names else [str(i) for i in range(len(dataset))]
    for i, doc_id in enumerate(ids):
        yield {"id": doc_id,
               "gold": [labels[j] for j in np.flatnonzero(gold[i])],
               "predicted": [labels[j] for j in np.flatnonzero(pred[i])],
               "scores": {label: round(float(s), 5) for label, s in zip(labels, scores[i])}}
