"""TF-IDF features and a linear classifier per target (`model.type: tfidf-linear`), stored without pickle.

The fitted model is written as plain data and rebuilt for scoring:
  model/tfidf.json          vectorizer parameters, the vocabulary (terms in column order), per-target info
  model/tfidf.safetensors   idf (F,); per target: coef.<target> (L, F) float32, intercept.<target> (L,) float32

Scores are probabilities-like values in [0, 1] so thresholds work as for the transformer:
multi-label uses sigmoid(decision) per label (for an SVM, decision value 0 -> score 0.5, so a 0.5
threshold is the SVM's own decision boundary; for logistic regression it is its probability);
single-label uses softmax(decisions) over the labels (the argmax is the classifier's own prediction).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from trainer.atomic import atomic_write_json
from trainer.contracts import RETRAIN, read_json
from trainer.errors import DataError

TFIDF_JSON = "tfidf.json"
TFIDF_TENSORS = "tfidf.safetensors"
FORMAT_VERSION = 2
_ABSENT_LOGIT = -30.0   # decision value for a label the classifier never saw: score ~ 0


def vectorizer_params(tfidf) -> dict:
    """TfidfVectorizer keyword arguments from a `model.tfidf` section (JSON-serialisable)."""
    return {"analyzer": "word", "lowercase": True, "strip_accents": "unicode",
            "token_pattern": r"(?u)\b\w\w+\b", "ngram_range": [1, tfidf.ngram_max],
            "sublinear_tf": tfidf.sublinear_tf, "norm": "l2", "use_idf": True, "smooth_idf": True}


def _vectorizer(params: dict, **extra):
    from sklearn.feature_extraction.text import TfidfVectorizer
    return TfidfVectorizer(**{**params, "ngram_range": tuple(params["ngram_range"])}, **extra)


def _estimator(tfidf, seed: int, class_weight: str | None, multi_label: bool):
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC
    if tfidf.classifier == "svm":
        return LinearSVC(C=tfidf.C, class_weight=class_weight, random_state=seed, max_iter=5000)
    # liblinear is the fast exact solver for the binary problems of one-vs-rest
    solver = "liblinear" if multi_label else "lbfgs"
    return LogisticRegression(C=tfidf.C, class_weight=class_weight, solver=solver, max_iter=2000,
                              random_state=seed)


@dataclass
class LinearHead:
    """One target's linear classifier over the shared TF-IDF features."""
    labels: list[str]
    problem: str                 # "multi_label" | "single_label"
    coef: np.ndarray             # (L, F)
    intercept: np.ndarray        # (L,)

    def decision(self, X) -> np.ndarray:
        return np.asarray(X @ self.coef.T, dtype=np.float64) + self.intercept

    def score(self, X) -> np.ndarray:
        d = self.decision(X)
        if self.problem == "multi_label":
            return 1.0 / (1.0 + np.exp(-d))
        d = d - d.max(axis=1, keepdims=True)
        e = np.exp(d)
        return e / e.sum(axis=1, keepdims=True)


@dataclass
class TfidfModel:
    """A fitted vectorizer and one linear head per target."""
    params: dict                 # vectorizer_params(): how texts become features
    vectorizer: object           # sklearn TfidfVectorizer with vocabulary and idf set
    heads: dict[str, LinearHead]
    classifier: str = "svm"
    info: dict | None = None     # extra fields kept in tfidf.json (C, training sizes)

    def features(self, texts: Sequence[str]):
        return self.vectorizer.transform([t or "" for t in texts])

    def score(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        X = self.features(texts)
        return {name: head.score(X) for name, head in self.heads.items()}

    @property
    def num_parameters(self) -> int:
        return int(sum(h.coef.size + h.intercept.size for h in self.heads.values()))

    def save(self, model_dir: str | Path) -> None:
        from safetensors.numpy import save_file
        model_dir = Path(model_dir)
        model_dir.mkdir(parents=True, exist_ok=True)
        vocab = self.vectorizer.vocabulary_
        terms = [""] * len(vocab)
        for term, col in vocab.items():
            terms[col] = term
        atomic_write_json(model_dir / TFIDF_JSON, {
            "format": FORMAT_VERSION, "classifier": self.classifier, "vectorizer": self.params,
            "info": self.info or {}, "terms": terms,
            "targets": {name: {"labels": h.labels, "problem": h.problem,
                               "score": "sigmoid" if h.problem == "multi_label" else "softmax"}
                        for name, h in self.heads.items()}})
        tensors = {"idf": np.ascontiguousarray(self.vectorizer.idf_, dtype=np.float64)}
        for name, h in self.heads.items():
            tensors[f"coef.{name}"] = np.ascontiguousarray(h.coef, dtype=np.float32)
            tensors[f"intercept.{name}"] = np.ascontiguousarray(h.intercept, dtype=np.float32)
        save_file(tensors, str(model_dir / TFIDF_TENSORS))


def fit_vectorizer(texts: Sequence[str], tfidf):
    """(params, fitted vectorizer, X) for the training texts."""
    params = vectorizer_params(tfidf)
    vec = _vectorizer(params, min_df=tfidf.min_df, max_features=tfidf.max_features)
    try:
        X = vec.fit_transform([t or "" for t in texts])
    except ValueError as exc:   # e.g. "empty vocabulary" when min_df removes every term
        raise DataError(f"tfidf-linear: cannot build the vocabulary ({exc}); lower model.tfidf.min_df") from None
    return params, vec, X


def fit_head(X, targets: Sequence, labels: Sequence[str], problem: str, tfidf, seed: int = 42,
             class_weight: str | None = None, n_jobs: int | None = None) -> LinearHead:
    """A linear classifier for one target. `targets`: label lists (multi-label) or labels."""
    labels = list(labels)
    multi = problem == "multi_label"
    est = _estimator(tfidf, seed, class_weight, multi)
    if multi:
        coef, intercept = _fit_one_vs_rest(est, X, targets, labels, n_jobs)
    else:
        coef, intercept = _fit_single_label(est, X, targets, labels)
    return LinearHead(labels, problem, coef, intercept.astype(np.float64))


def _info(tfidf, X) -> dict:
    return {"C": tfidf.C, "min_df": tfidf.min_df, "max_features": tfidf.max_features,
            "train_examples": int(X.shape[0]), "features": int(X.shape[1])}


PARALLEL_MIN_WORK = 20_000_000   # stored features x labels: below it, one process


def _fit_one_vs_rest(est, X, targets, labels, n_jobs):
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer
    known = set(labels)
    Y = MultiLabelBinarizer(classes=labels).fit_transform([[y for y in t if y in known] for t in targets])
    # the labels' binary problems in parallel processes (joblib's loky: liblinear draws from one process-wide
    # generator, so threads would make the fit depend on their timing), only where the fit is big enough to pay
    # for starting them (Reuters-90, 7,389 documents x 90 labels: 6.3 s -> 4.2 s on 2 cores, the same weights; a
    # small fit stays serial)
    if n_jobs is not None and X.nnz * len(labels) < PARALLEL_MIN_WORK:
        n_jobs = 1
    ovr = OneVsRestClassifier(est, n_jobs=n_jobs).fit(X, Y)
    coef = np.zeros((len(labels), X.shape[1]), dtype=np.float32)
    intercept = np.zeros(len(labels), dtype=np.float32)
    for j, fitted in enumerate(ovr.estimators_):
        if hasattr(fitted, "coef_"):
            coef[j] = np.asarray(fitted.coef_).ravel()
            intercept[j] = np.asarray(fitted.intercept_).ravel()[0]
        else:   # a label positive in all or no training documents: sklearn keeps a constant
            intercept[j] = -_ABSENT_LOGIT if Y[:, j].all() else _ABSENT_LOGIT
    return coef, intercept


def _fit_single_label(est, X, targets, labels):
    y = np.asarray([t[0] if isinstance(t, (list, tuple)) else t for t in targets], dtype=object)
    est.fit(X, y)
    classes = [str(c) for c in est.classes_]
    raw_coef, raw_b = np.asarray(est.coef_), np.asarray(est.intercept_).ravel()
    if len(classes) == 2 and raw_coef.shape[0] == 1:
        # binary: one decision d for classes[1]; softmax([-d/2, d/2]) gives sigmoid(d), as in multi-label
        raw_coef = np.vstack([-raw_coef[0] / 2, raw_coef[0] / 2])
        raw_b = np.array([-raw_b[0] / 2, raw_b[0] / 2])
    coef = np.zeros((len(labels), X.shape[1]), dtype=np.float32)
    intercept = np.full(len(labels), _ABSENT_LOGIT, dtype=np.float32)
    index = {label: j for j, label in enumerate(labels)}
    for row, cls in enumerate(classes):
        if cls in index:
            coef[index[cls]], intercept[index[cls]] = raw_coef[row], raw_b[row]
    return coef, intercept


def load_tfidf(model_dir: str | Path, primary: str = "target") -> TfidfModel:
    """Rebuild a TfidfModel from model/tfidf.json + model/tfidf.safetensors (no pickle).
    `primary` names the one target of a format-1 file."""
    from safetensors.numpy import load_file
    model_dir = Path(model_dir)
    meta_path, tensor_path = model_dir / TFIDF_JSON, model_dir / TFIDF_TENSORS
    for p in (meta_path, tensor_path):
        if not p.is_file():
            raise DataError(f"{model_dir}: {p.name} missing; not a tfidf-linear model directory "
                            "(train one with model.type: tfidf-linear)")
    meta = read_json(meta_path, RETRAIN)
    if meta.get("format") not in (1, FORMAT_VERSION):
        raise DataError(f"{meta_path}: format {meta.get('format')!r} not supported (expected {FORMAT_VERSION}); retrain")
    tensors = load_file(str(tensor_path))
    vec = _vectorizer(meta["vectorizer"], vocabulary={t: i for i, t in enumerate(meta["terms"])})
    vec.idf_ = tensors["idf"]
    if meta["format"] == 1:
        targets = {primary: {"labels": meta["labels"], "problem": meta["problem"]}}
        keys = {primary: ("coef", "intercept")}
    else:
        targets = meta["targets"]
        keys = {name: (f"coef.{name}", f"intercept.{name}") for name in targets}
    heads = {}
    for name, t in targets.items():
        coef, intercept = tensors[keys[name][0]], tensors[keys[name][1]]
        if coef.shape != (len(t["labels"]), len(meta["terms"])):
            raise DataError(f"{tensor_path}: coef shape {coef.shape} of target {name!r} does not match "
                            f"{len(t['labels'])} labels x {len(meta['terms'])} terms; the model directory is "
                            "inconsistent, retrain")
        heads[name] = LinearHead(list(t["labels"]), t["problem"], coef, intercept.astype(np.float64))
    return TfidfModel(meta["vectorizer"], vec, heads, meta.get("classifier", "svm"), meta.get("info"))
