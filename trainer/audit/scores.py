"""Out-of-fold scores: k seeded, label-stratified folds of the training split (trainer.tuning.cut); a model
of the configured kind is fitted on the other folds and scores the held-out one. Validation documents get the
mean score of the k fold models (none of them saw those documents). Only train (the folds' part) is fitted on."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from trainer.models import FitContext, FitData, model_class
from trainer.training.fit import fit_model
from trainer.tuning.cut import make_cut, stratification_labels


def out_of_fold(cfg, dataset_dir: Path, splits: dict, spaces: list, manifest: dict, folds: int, seed: int,
                work_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """{split: {target: (documents, labels) scores}} for train (out of fold) and validation (fold mean)."""
    import datasets

    train = splits["train"]
    n = len(train)
    cuts = make_cut(stratification_labels(train, spaces), folds, 0.0, seed)
    kind = model_class(cfg.model.type)
    texts = train["text"]
    val_texts = splits["validation"]["text"] if "validation" in splits else []
    scores: dict[str, dict[str, np.ndarray]] = {"train": {}, **({"validation": {}} if val_texts else {})}
    try:
        for k, (fit_rows, held_rows) in enumerate(cuts):
            data = FitData(dataset_dir, datasets.DatasetDict({"train": train.select(fit_rows)}), spaces, manifest)
            fitted = fit_model(kind, FitContext(cfg, data, Path(work_dir) / f"fold-{k}", loop_output=False))
            held = fitted.model.score_targets([texts[i] for i in held_rows])
            for target, p in held.items():
                scores["train"].setdefault(target, np.zeros((n, p.shape[1]), dtype=np.float32))[held_rows] = p
            if val_texts:
                for target, p in fitted.model.score_targets(val_texts).items():
                    acc = scores["validation"].setdefault(target, np.zeros(p.shape, dtype=np.float64))
                    acc += p / len(cuts)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)   # the folds' checkpoints: written there by this function
    return scores
