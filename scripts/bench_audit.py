"""Benchmark `trainer audit` on planted errors: corrupt a seeded share of a dataset's training labels,
audit, and say how well the suspects match the corrupted documents and what fixing them buys.

    nice -n 19 python scripts/bench_audit.py data/processed/reuters-topics --share 0.05 --seeds 1,2

Corruption (multi-label targets: one of, chosen at random: a label swapped for another, one added, one
removed (only where two or more remain, else swapped); single-label: the label swapped). Printed per seed:
precision at k (k = the number corrupted) and recall at 2k of the corrupted documents in the audit's
ranking (train and validation documents, most suspicious first), and the test micro-/macro-F1 of the
audit's model kind (TF-IDF + linear SVM, balanced, threshold 0.5: configs/reuters-topics-tfidf.yaml)
trained on (a) the clean labels, (b) the corrupted labels, (c) the corrupted labels with the top-k
suspects corrected as suggested, (c') ... dropped; and the share of the F1 lost in (b) that (c) recovers.
The test split is read by the scoring of (a)-(c) only, never by the audit.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path


def corrupt(train, target: str, problem: str, labels: list[str], share: float, seed: int):
    """(corrupted Dataset, {id: (before, after)})."""
    rng = random.Random(seed)
    n = len(train)
    chosen = set(rng.sample(range(n), round(share * n)))
    changed = {}

    def change(i, value):
        if i not in chosen:
            return value
        if problem == "single_label":
            new = rng.choice([x for x in labels if x != value])
        else:
            current = list(value)
            how = rng.choice(["swap", "add", "remove"])
            if how == "remove" and len(current) < 2:
                how = "swap"
            others = [x for x in labels if x not in current]
            if how == "swap":
                current[rng.randrange(len(current))] = rng.choice(others)
            elif how == "add":
                current.append(rng.choice(others))
            else:
                current.pop(rng.randrange(len(current)))
            new = sorted(current)
        changed[str(train[i]["id"])] = (value, new)
        return new

    values = [change(i, v) for i, v in enumerate(train[target])]
    return train.remove_columns(target).add_column(target, values, feature=train.features[target]), changed


def save_dataset(src: Path, dst: Path, splits: dict) -> Path:
    import datasets
    datasets.DatasetDict(splits).save_to_disk(str(dst))
    shutil.copy(src / "manifest.json", dst / "manifest.json")
    return dst


def test_scores(dataset_dir: Path, target: str, problem: str, seed: int) -> dict:
    """Fit the TF-IDF baseline on train (+ validation as the config's kind reads it), score test at 0.5."""
    import numpy as np
    from sklearn.metrics import f1_score

    from trainer.config import RunConfig
    from trainer.data.dataset_io import load_dataset_dir
    from trainer.data.label_space import label_space
    from trainer.models import FitContext, FitData, model_class
    from trainer.training.fit import fit_model

    dsd, manifest = load_dataset_dir(dataset_dir)
    cfg = RunConfig.model_validate({"data": {"dataset": str(dataset_dir)}, "task": {"target": target, "problem": problem},
                                    "model": {"type": "tfidf-linear", "tfidf": {"ngram_max": 1, "min_df": 2, "classifier": "svm",
                                                                                "C": 1.0, "sublinear_tf": False}},
                                    "train": {"class_weights": "balanced", "seed": seed}})
    space = label_space(dsd["train"], target, problem, 1)
    with tempfile.TemporaryDirectory() as work:
        fitted = fit_model(model_class("tfidf-linear"), FitContext(cfg, FitData(dataset_dir, dsd, [space], manifest),
                                                                   Path(work), loop_output=False))
    test = dsd["test"]
    probs = fitted.model.score_targets(test["text"])[target]
    index = {label: k for k, label in enumerate(space.labels)}
    gold = np.zeros(probs.shape, dtype=int)
    for i, value in enumerate(test[target]):
        for v in (value if problem == "multi_label" else [value]):
            if v in index:
                gold[i, index[v]] = 1
    if problem == "multi_label":
        pred = (probs >= 0.5).astype(int)
    else:
        pred = np.zeros_like(gold)
        pred[np.arange(len(pred)), probs.argmax(1)] = 1
    return {"micro_f1": round(float(f1_score(gold, pred, average="micro", zero_division=0)), 4),
            "macro_f1": round(float(f1_score(gold, pred, average="macro", zero_division=0)), 4)}


def main() -> None:
    import datasets

    from trainer.audit import audit_dataset
    from trainer.audit.splits import default_targets, problem_of

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--share", type=float, default=0.05)
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--config", type=Path, default=None, help="Run config the audit scores with (default TF-IDF).")
    args = ap.parse_args()
    src = args.dataset
    splits = {s: datasets.load_from_disk(str(src / s)) for s in ("train", "validation", "test")}
    manifest = json.loads((src / "manifest.json").read_text())
    target = default_targets(manifest, splits["train"])[0]
    problem = problem_of(splits["train"], target)
    labels = sorted({x for v in splits["train"][target] for x in (v if problem == "multi_label" else [v])})
    run_cfg = None
    if args.config:
        from trainer.config import RunConfig, load_config
        run_cfg = load_config(args.config, RunConfig)
    clean = test_scores(src, target, problem, 42)
    print(f"(a) clean labels: test {clean}")
    for seed in [int(s) for s in args.seeds.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            train, changed = corrupt(splits["train"], target, problem, labels, args.share, seed)
            bad = save_dataset(src, tmp / "corrupted", {**splits, "train": train})
            started = time.perf_counter()
            result = audit_dataset(bad, run_cfg, None, folds=args.folds, seed=seed, targets=[target])
            seconds = time.perf_counter() - started
            k = len(changed)
            order = [r["id"] for r in result.ranking]
            p_at_k = len(set(order[:k]) & set(changed)) / k
            r_at_2k = len(set(order[:2 * k]) & set(changed)) / k
            corrupted = test_scores(bad, target, problem, 42)
            top = {r["id"]: r["suggested"] for r in result.ranking[:k]}
            fixed_rows = [v if str(i) not in top else (top[str(i)] if problem == "multi_label" else top[str(i)][0])
                          for i, v in zip(train["id"], train[target])]
            fixed_train = train.remove_columns(target).add_column(target, fixed_rows, feature=train.features[target])
            fixed = test_scores(save_dataset(src, tmp / "fixed", {**splits, "train": fixed_train}), target, problem, 42)
            keep = [i for i, doc in enumerate(train["id"]) if str(doc) not in top]
            dropped = test_scores(save_dataset(src, tmp / "dropped", {**splits, "train": train.select(keep)}),
                                  target, problem, 42)
            print(f"seed {seed}: corrupted {k} of {len(train)} training documents; audit {seconds:.0f} s, "
                  f"flagged {len(result.issues)}; precision@k {p_at_k:.3f}, recall@2k {r_at_2k:.3f}")
            print(f"  (b) corrupted: test {corrupted}")
            for name, s in (("(c) top-k corrected", fixed), ("(c') top-k dropped", dropped)):
                rec = {m: (s[m] - corrupted[m]) / max(clean[m] - corrupted[m], 1e-9) for m in s}
                print(f"  {name}: test {s}; recovered of the loss: micro {rec['micro_f1']:.2f}, "
                      f"macro {rec['macro_f1']:.2f}")


if __name__ == "__main__":
    main()
