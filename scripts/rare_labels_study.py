"""The training-data evidence behind configs/reuters-topics-ensemble.yaml (no test document is read).

    python scripts/rare_labels_study.py split  DATASET DEV_DATASET      # 75% / 25% of DATASET's train split
    python scripts/rare_labels_study.py oof    DATASET                  # 5-fold out-of-fold SVM over train
    trainer train configs/reuters-topics-minilm.yaml data.dataset=DEV_DATASET data.build=null \\
        model.max_length=128 train.epochs=3 output.dir=runs/dev output.name=bce-128x3 [model.loss=...]
    trainer train configs/reuters-topics-minilm.yaml data.dataset=DEV_DATASET data.build=null \\
        model.max_length=128 train.epochs=3 model.reading.mode=windows model.reading.train=windows \\
        output.dir=runs/dev output.name=windows-128x3                    # trained on every window
    python scripts/rare_labels_study.py fuse   DEV_DATASET runs/dev/bce-128x3 [runs/dev/windows-128x3 ...]
    trainer train configs/reuters-topics-minilm.yaml data.dataset=DEV_DATASET data.build=null \\
        output.dir=runs/dev output.name=recipe-256x4                     # the shipped member's own recipe
    python scripts/rare_labels_study.py weights DEV_DATASET runs/dev/recipe-256x4 [SCORES.npz]
    python scripts/rare_labels_study.py pick    DEV_DATASET runs/dev/bce-128x3[=SCORES.npz] runs/dev/recipe-256x4

split: the dev protocol. DATASET's training split cut 75/25 (iterative stratification, seed 2024): the
25% becomes DEV_DATASET's "test" split (the dev holdout), the validation split is kept. A model trained
on DEV_DATASET and evaluated on its "test" never sees a ModApte test document.
oof: the SVM baseline (reuters-topics-tfidf.yaml settings) scored out of fold over the training split;
macro-F1 per label-frequency bucket at 0.5, and with bucket thresholds tuned by cross-validation.
fuse: on the dev holdout, MiniLM (head / windows with max, mean, attention pooling) alone and fused with an
SVM fitted on the same 75% (probability mean, MiniLM weight 0.3-0.7), at 0.5 and with bucket thresholds
(cross-validated on the holdout, and as the recipe sets them: frequent buckets tuned on the validation
split, 5-19 fixed at 0.35, < 5 at 0.30); all with the at-least-one rule; long documents separately.
weights: on the dev holdout, the MiniLM run fused with SVM variants, one MiniLM weight for the frequent
buckets (>= 20 training documents) and one for the rare; thresholds as the recipe sets them, cross-validated,
and every bucket fixed (0.5, 0.5, 0.35, 0.30). SCORES.npz caches the run's holdout scores.
pick: the recipe's two changes over the settings shipped before (every bucket's threshold fixed; the SVM on
sublinear term frequencies), each and both, with a paired bootstrap of the holdout micro-F1 difference.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from trainer.decisions import best_global, f1_counts
from trainer.evaluation.buckets import BUCKET_NAMES, bucket_name

SVM = dict(ngram_max=1, min_df=2, max_features=None, sublinear_tf=False, classifier="svm", C=1.0)


def load(dataset: str):
    from trainer.data.dataset_io import load_dataset_dir
    dsd, manifest = load_dataset_dir(dataset)
    return dsd, manifest


def label_matrix(rows, labels) -> np.ndarray:
    index = {label: j for j, label in enumerate(labels)}
    out = np.zeros((len(rows), len(labels)), bool)
    for i, row in enumerate(rows):
        for label in row:
            if label in index:
                out[i, index[label]] = True
    return out


def buckets_of(train_rows, labels) -> np.ndarray:
    counts = {label: 0 for label in labels}
    for row in train_rows:
        for label in row:
            counts[label] = counts.get(label, 0) + 1
    return np.array([BUCKET_NAMES.index(bucket_name(counts[label])) for label in labels])


def at_least_one(probs: np.ndarray, thresholds) -> np.ndarray:
    pred = probs >= thresholds
    empty = ~pred.any(axis=1)
    pred[np.flatnonzero(empty), probs[empty].argmax(axis=1)] = True
    return pred


def summary(pred: np.ndarray, gold: np.ndarray, bucket: np.ndarray) -> str:
    """micro-F1, macro-F1 over the labels present, and per bucket."""
    tp, fp, fn = (pred & gold).sum(0), (pred & ~gold).sum(0), (~pred & gold).sum(0)
    micro = float(f1_counts(tp.sum(), fp.sum(), fn.sum()))
    per_label, present = f1_counts(tp, fp, fn), gold.sum(0) > 0
    parts = [f"micro {micro:.4f}", f"macro {per_label[present].mean():.4f}"]
    for k, name in enumerate(BUCKET_NAMES):
        cols = present & (bucket == k)
        parts.append(f"{name} {per_label[cols].mean():.3f}" if cols.any() else f"{name} -")
    return "  ".join(parts)


def cv_bucket_thresholds(probs, gold, bucket, folds=5, seed=0) -> tuple[np.ndarray, list[float]]:
    """Decisions with one threshold per bucket, each tuned on the other folds (an honest estimate)."""
    fold = np.random.default_rng(seed).integers(0, folds, len(gold))
    pred, chosen = np.zeros_like(gold), []
    for f in range(folds):
        fit, held = fold != f, fold == f
        th = np.zeros(probs.shape[1])
        for k in range(len(BUCKET_NAMES)):
            cols = bucket == k
            th[cols] = best_global(probs[fit][:, cols], gold[fit][:, cols]) if cols.any() else 0.5
        chosen.append([float(th[bucket == k].mean()) if (bucket == k).any() else 0.5 for k in range(len(BUCKET_NAMES))])
        pred[held] = at_least_one(probs[held], th)
    return pred, [round(float(v), 2) for v in np.mean(chosen, axis=0)]


FIXED = {">=100": 0.5, "20-99": 0.5, "5-19": 0.35, "<5": 0.30}    # every bucket fixed, none tuned on validation


def fixed_thresholds(bucket: np.ndarray) -> np.ndarray:
    """Per label, its bucket's value in FIXED (the recipe's thresholds since round 2)."""
    return np.array([FIXED[BUCKET_NAMES[k]] for k in bucket])


def round1_thresholds(probs_val: np.ndarray, gold_val: np.ndarray, bucket: np.ndarray) -> np.ndarray:
    """Round 1's thresholds: the two frequent buckets tuned on the validation split, the rare ones fixed."""
    th = fixed_thresholds(bucket)
    for name in (">=100", "20-99"):
        cols = bucket == BUCKET_NAMES.index(name)
        if cols.any():
            th[cols] = best_global(probs_val[:, cols], gold_val[:, cols])
    return th


def svm_scores(train_texts, train_rows, texts, labels, seed=42) -> np.ndarray:
    from trainer.config import TfidfConfig
    from trainer.models.tfidf_linear.model import fit_head, fit_vectorizer
    cfg = TfidfConfig(**SVM)
    _, vec, X = fit_vectorizer(train_texts, cfg)
    head = fit_head(X, train_rows, labels, "multi_label", cfg, seed=seed, class_weight="balanced", n_jobs=1)
    return 1 / (1 + np.exp(-head.decision(vec.transform(texts))))


def cmd_split(dataset: str, out: str) -> None:
    import datasets
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
    dsd, manifest = load(dataset)
    labels = sorted({label for row in dsd["train"]["topics"] for label in row})
    gold = label_matrix(dsd["train"]["topics"], labels)
    fit, held = next(MultilabelStratifiedKFold(n_splits=4, shuffle=True, random_state=2024).split(gold, gold))
    if Path(out).exists():
        sys.exit(f"{out} exists: give a new folder for the dev dataset (this script does not replace folders)")
    dev = datasets.DatasetDict({"train": dsd["train"].select(sorted(fit)), "validation": dsd["validation"],
                                "test": dsd["train"].select(sorted(held))})
    dev.save_to_disk(out)
    manifest.update(name=Path(out).name, counts={k: len(v) for k, v in dev.items()},
                    note=f"dev protocol: train = 75% of {dataset}'s train, test = the other 25% of it")
    Path(out, "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    print({k: len(v) for k, v in dev.items()})


def cmd_oof(dataset: str) -> None:
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold
    dsd, _ = load(dataset)
    train = dsd["train"]
    labels = sorted({label for row in train["topics"] for label in row})
    texts, rows = list(train["text"]), [list(r) for r in train["topics"]]
    gold, bucket = label_matrix(rows, labels), buckets_of(rows, labels)
    probs = np.zeros(gold.shape)
    for fit, held in MultilabelStratifiedKFold(n_splits=5, shuffle=True, random_state=0).split(gold, gold):
        probs[held] = svm_scores([texts[i] for i in fit], [rows[i] for i in fit], [texts[i] for i in held], labels)
    print(f"SVM out of fold, {len(texts)} training documents")
    print("  @0.5 + at-least-one      ", summary(at_least_one(probs, 0.5), gold, bucket))
    pred, th = cv_bucket_thresholds(probs, gold, bucket)
    print("  bucket thresholds (CV)   ", summary(pred, gold, bucket), " thresholds", th)


def cmd_fuse(dev_dataset: str, *runs: str) -> None:
    from trainer.models import ScoreOptions, load_model
    from trainer.models.transformer.reading import Reading, encode_windows, pool_logits
    dsd, _ = load(dev_dataset)
    labels = sorted({label for row in dsd["train"]["topics"] for label in row}
                    | {label for row in dsd["test"]["topics"] for label in row})
    rows = [list(r) for r in dsd["train"]["topics"]]
    bucket = buckets_of(rows, labels)
    splits = {s: (list(dsd[s]["text"]), label_matrix(dsd[s]["topics"], labels)) for s in ("test", "validation")}
    svm = {s: svm_scores(list(dsd["train"]["text"]), rows, texts, labels) for s, (texts, _) in splits.items()}
    gold, gold_val = splits["test"][1], splits["validation"][1]
    print(f"dev holdout: {len(gold)} documents; SVM alone:")
    print("  @0.5+1  ", summary(at_least_one(svm["test"], 0.5), gold, bucket))
    for run in runs:
        model = load_model(run, ScoreOptions(precision="fp32", batch_size=64))
        index = [labels.index(label) for label in model.spec.primary.labels]
        scorer, readings = model.scorer, {}
        for s, (texts, _) in splits.items():
            full = {how: np.full((len(texts), len(labels)), 1e-6) for how in ("head", "max", "mean", "attention")}
            full["head"][:, index] = 1 / (1 + np.exp(-scorer.logits(texts, Reading())))
            enc, owner = encode_windows(scorer.tokenizer, texts, scorer.max_length, None, 8)
            windows = scorer.forward_encoded(enc)
            for how in ("max", "mean", "attention"):
                full[how][:, index] = 1 / (1 + np.exp(-pool_logits(windows, owner, len(texts), how)))
            readings[s] = full
        long = model.long_text_mask(splits["test"][0])
        print(f"\n{run}: {int(long.sum())} holdout documents longer than one window")
        for how in ("head", "max", "mean", "attention"):
            p = readings["test"][how]
            print(f"  {how:9s} alone @0.5+1  {summary(at_least_one(p, 0.5), gold, bucket)}")
            print(f"  {'':9s} long docs      {summary(at_least_one(p, 0.5)[long], gold[long], bucket)}")
            for w in (0.3, 0.4, 0.5, 0.7):
                fused, fused_val = w * p + (1 - w) * svm["test"], w * readings["validation"][how] + (1 - w) * svm["validation"]
                cv, th = cv_bucket_thresholds(fused, gold, bucket)
                rec = at_least_one(fused, round1_thresholds(fused_val, gold_val, bucket))
                print(f"  {'':9s} fused w={w} @0.5+1   {summary(at_least_one(fused, 0.5), gold, bucket)}")
                print(f"  {'':9s}   bucket thresholds (CV) {summary(cv, gold, bucket)}  {th}")
                print(f"  {'':9s}   as the recipe sets them {summary(rec, gold, bucket)}")
                print(f"  {'':9s}   recipe, long documents {summary(rec[long], gold[long], bucket)}")
    print(f"\n  SVM alone, long documents  {summary(at_least_one(svm['test'], 0.5)[long], gold[long], bucket)}")


def _dev_scores(dev_dataset: str, run: str, labels: list[str], cache: str | None):
    """The run's probabilities on the dev holdout and the validation split, columns in `labels` order (cached:
    scoring takes minutes)."""
    from trainer.models import ScoreOptions, load_model
    if cache and Path(cache).exists():
        saved = np.load(cache)
        return {"test": saved["test"], "validation": saved["validation"]}
    dsd, _ = load(dev_dataset)
    model = load_model(run, ScoreOptions(batch_size=32))
    target = model.spec.primary
    index = [list(target.labels).index(label) for label in labels]
    out = {s: model.score(list(dsd[s]["text"]))[target.name][:, index] for s in ("test", "validation")}
    if cache:
        np.savez(cache, **out)
    return out


def _tfidf_variants() -> dict[str, dict]:
    return {"svm uni C1": SVM, "svm uni C0.5": {**SVM, "C": 0.5}, "svm uni C2": {**SVM, "C": 2.0},
            "svm uni+bi sublinear": {**SVM, "ngram_max": 2, "sublinear_tf": True},
            "svm uni sublinear": {**SVM, "sublinear_tf": True}}


def cmd_weights(dev_dataset: str, run: str, cache: str | None = None) -> None:
    """Per label-frequency bucket fusion weights, and SVM variants, on the dev holdout."""
    dsd, _ = load(dev_dataset)
    rows = [list(r) for r in dsd["train"]["topics"]]
    labels = sorted({label for row in rows for label in row})
    bucket = buckets_of(rows, labels)
    gold, gold_val = (label_matrix(dsd[s]["topics"], labels) for s in ("test", "validation"))
    minilm = _dev_scores(dev_dataset, run, labels, cache)
    print(f"dev holdout {len(gold)} documents; MiniLM {run} alone @0.5+1:",
          summary(at_least_one(minilm["test"], 0.5), gold, bucket))
    frequent = np.isin(bucket, [BUCKET_NAMES.index(">=100"), BUCKET_NAMES.index("20-99")])
    for name, settings in _tfidf_variants().items():
        svm = _svm_dev(dsd, rows, labels, settings)
        print(f"\n{name}: alone @0.5+1  {summary(at_least_one(svm['test'], 0.5), gold, bucket)}")
        for w_freq in (0.3, 0.4, 0.5, 0.6, 0.7):
            for w_rare in (0.2, 0.3, 0.4):
                w = np.where(frequent, w_freq, w_rare)
                fused = {s: w * minilm[s] + (1 - w) * svm[s] for s in svm}
                recipe = round1_thresholds(fused["validation"], gold_val, bucket)
                cv, th = cv_bucket_thresholds(fused["test"], gold, bucket)
                print(f"  w frequent {w_freq} rare {w_rare}: recipe thresholds "
                      f"{summary(at_least_one(fused['test'], recipe), gold, bucket)}")
                print(f"  {'':27s}CV thresholds     {summary(cv, gold, bucket)}  {th}")
                print(f"  {'':27s}fixed thresholds  {summary(at_least_one(fused['test'], fixed_thresholds(bucket)), gold, bucket)}")


def cmd_pick(dev_dataset: str, *runs_and_caches: str) -> None:
    """The recipe's changes, one by one, against the settings shipped before (SVM on raw term counts, MiniLM
    weight 0.3, frequent buckets' thresholds tuned on validation): dev-holdout micro-F1 with a paired bootstrap
    (1,000 resamples of the holdout's documents), per MiniLM run (RUN[=SCORES.npz] ...)."""
    dsd, _ = load(dev_dataset)
    rows = [list(r) for r in dsd["train"]["topics"]]
    labels = sorted({label for row in rows for label in row})
    bucket = buckets_of(rows, labels)
    gold, gold_val = (label_matrix(dsd[s]["topics"], labels) for s in ("test", "validation"))
    svms = {"raw": _svm_dev(dsd, rows, labels, SVM), "sublinear": _svm_dev(dsd, rows, labels, {**SVM, "sublinear_tf": True})}

    def decide(minilm, svm, tuned):
        fused = {s: 0.3 * minilm[s] + 0.7 * svm[s] for s in svm}
        th = round1_thresholds(fused["validation"], gold_val, bucket) if tuned else fixed_thresholds(bucket)
        return at_least_one(fused["test"], th)

    def micro(pred, g):
        return float(f1_counts((pred & g).sum(), (pred & ~g).sum(), (~pred & g).sum()))

    rng = np.random.default_rng(0)
    resamples = [rng.integers(0, len(gold), len(gold)) for _ in range(1000)]
    for item in runs_and_caches:
        run, _, cache = item.partition("=")
        minilm = _dev_scores(dev_dataset, run, labels, cache or None)
        before = decide(minilm, svms["raw"], True)
        print(f"{run}\n  {'shipped before':28s}{summary(before, gold, bucket)}")
        for name, svm, tuned in (("every threshold fixed", svms["raw"], False),
                                 ("SVM on sublinear tf", svms["sublinear"], True),
                                 ("both", svms["sublinear"], False)):
            pred = decide(minilm, svm, tuned)
            delta = np.array([micro(pred[i], gold[i]) - micro(before[i], gold[i]) for i in resamples])
            print(f"  {name:28s}{summary(pred, gold, bucket)}  delta micro {micro(pred, gold) - micro(before, gold):+.4f} "
                  f"[{np.percentile(delta, 2.5):+.4f}, {np.percentile(delta, 97.5):+.4f}]")


def _svm_dev(dsd, rows, labels, settings) -> dict[str, np.ndarray]:
    from trainer.config import TfidfConfig
    from trainer.models.tfidf_linear.model import fit_head, fit_vectorizer
    cfg = TfidfConfig(**settings)
    _, vec, X = fit_vectorizer(list(dsd["train"]["text"]), cfg)
    head = fit_head(X, rows, labels, "multi_label", cfg, seed=42, class_weight="balanced", n_jobs=1)
    return {s: 1 / (1 + np.exp(-head.decision(vec.transform(list(dsd[s]["text"]))))) for s in ("test", "validation")}


if __name__ == "__main__":
    command, *args = sys.argv[1:] or ["--help"]
    if command not in ("split", "oof", "fuse", "weights", "pick"):
        print(__doc__)
        sys.exit(0 if command == "--help" else 2)
    {"split": cmd_split, "oof": cmd_oof, "fuse": cmd_fuse, "weights": cmd_weights, "pick": cmd_pick}[command](*args)
