"""Classification metrics through `evaluate` modules shipped in this package: loaded by path, never fetched."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

MODULES_DIR = Path(__file__).resolve().parent
CLASSIFICATION = "trainer_classification"


def module_path(name: str) -> str:
    """Directory of a bundled evaluate module, usable as `evaluate.load(module_path(name))`."""
    path = MODULES_DIR / name
    if not (path / f"{name}.py").is_file():
        raise FileNotFoundError(f"no bundled metric module {name!r} in {MODULES_DIR}")
    return str(path)


@lru_cache(maxsize=4)
def load_metric(name: str = CLASSIFICATION, config_name: str | None = None):
    import evaluate
    # keep_in_memory: no Arrow cache files, so parallel ranks and runs never contend for a lock
    return evaluate.load(module_path(name), config_name, keep_in_memory=True)


def compute_metrics(y_true: Sequence, y_pred: Sequence, labels: Sequence[str], problem: str) -> dict[str, Any]:
    """Accuracy (subset accuracy for multi-label), micro/macro P/R/F1 and per-label P/R/F1/support.

    multi_label: rows are label-name lists or multi-hot rows; single_label: label names or class ids.
    Gold labels outside `labels` are ignored (multi-label) or count as errors (single-label: in accuracy and the
    micro averages alike, which are then equal).
    """
    labels = list(labels)
    if problem == "multi_label":
        true, pred = multi_hot(y_true, labels), multi_hot(y_pred, labels)
        metric = load_metric(CLASSIFICATION, "multilabel")
    elif problem == "single_label":
        # an unknown prediction never matches an unknown gold label: it is wrong, not a hit
        true, pred = class_ids(y_true, labels), class_ids(y_pred, labels, unknown=-2)
        metric = load_metric(CLASSIFICATION, "default")
    else:
        raise ValueError(f"problem must be 'multi_label' or 'single_label', got {problem!r}")
    return metric.compute(predictions=pred.tolist(), references=true.tolist(),
                          num_labels=len(labels), label_names=labels)


def multi_hot(rows: Sequence, labels: Sequence[str]) -> np.ndarray:
    if isinstance(rows, np.ndarray) and rows.ndim == 2:
        return rows.astype(np.int8)
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((len(rows), len(labels)), dtype=np.int8)
    for r, row in enumerate(rows):
        row = list(row)
        if row and not isinstance(row[0], str):   # already a multi-hot row
            out[r] = np.asarray(row, dtype=np.int8)
            continue
        for label in row:
            if label in index:
                out[r, index[label]] = 1
    return out


def class_ids(values: Sequence, labels: Sequence[str], unknown: int = -1) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return np.asarray([index.get(v, unknown) if isinstance(v, str) else int(v) for v in values], dtype=np.int32)
