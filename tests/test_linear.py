"""TF-IDF + linear baseline: safe serialisation, score mapping (what every kind does is in test_kind_conformance.py)."""
from __future__ import annotations

import numpy as np
import pytest

from trainer.errors import DataError
from trainer.models.tfidf_linear.model import (TFIDF_JSON, TFIDF_TENSORS, TfidfModel, fit_head, fit_vectorizer,
                                                load_tfidf)
from trainer.config import TfidfConfig

TEXTS = ["oil prices rose as opec cut output", "wheat and corn exports fell", "net profit and dividend up",
         "crude oil barrels per day", "grain harvest of wheat", "quarterly earnings per share rose",
         "opec crude supply", "corn and soybean crop", "record profit for the quarter"]
MULTI = [["crude"], ["grain"], ["earn"], ["crude"], ["grain"], ["earn"], ["crude"], ["grain"], ["earn", "crude"]]
LABELS = ["crude", "earn", "grain"]
NEW = ["opec oil output", "wheat crop exports", "dividend and earnings"]


def fit_tfidf(texts, targets, labels, problem, tfidf) -> TfidfModel:
    """One target fitted as the tfidf-linear kind fits each (trainer/models/tfidf_linear/__init__.py)."""
    params, vec, X = fit_vectorizer(texts, tfidf)
    return TfidfModel(params, vec, {"target": fit_head(X, targets, labels, problem, tfidf)}, tfidf.classifier)


def _tfidf(**kw):
    return TfidfConfig(min_df=1, **kw)


def test_linear_save_load_round_trip_gives_same_scores(tmp_path):
    scorer = fit_tfidf(TEXTS, MULTI, LABELS, "multi_label", _tfidf())
    scorer.save(tmp_path)
    loaded = load_tfidf(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [TFIDF_JSON, TFIDF_TENSORS]   # no pickle anywhere
    assert loaded.heads["target"].labels == LABELS and loaded.heads["target"].problem == "multi_label"
    np.testing.assert_allclose(loaded.score(NEW)["target"], scorer.score(NEW)["target"], rtol=1e-6)


def test_linear_svm_decision_zero_is_score_half():
    scorer = fit_tfidf(TEXTS, MULTI, LABELS, "multi_label", _tfidf(classifier="svm"))
    d, s = scorer.heads["target"].decision(scorer.features(NEW)), scorer.score(NEW)["target"]
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-d)))
    assert ((s >= 0.5) == (d >= 0)).all()


def test_linear_multi_label_learns_keywords():
    scorer = fit_tfidf(TEXTS, MULTI, LABELS, "multi_label", _tfidf())
    assert [LABELS[j] for j in scorer.score(NEW)["target"].argmax(axis=1)] == ["crude", "grain", "earn"]


def test_linear_logreg_scores_are_its_probabilities():
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer
    scorer = fit_tfidf(TEXTS, MULTI, LABELS, "multi_label", _tfidf(classifier="logreg"))
    X = scorer.vectorizer.transform(TEXTS)
    Y = MultiLabelBinarizer(classes=LABELS).fit_transform(MULTI)
    ref = OneVsRestClassifier(LogisticRegression(solver="liblinear", random_state=42)).fit(X, Y)
    np.testing.assert_allclose(scorer.score(NEW)["target"], ref.predict_proba(scorer.vectorizer.transform(NEW)),
                               rtol=1e-4)


def test_linear_single_label_softmax_follows_the_classifier():
    single = [m[0] for m in MULTI]
    scorer = fit_tfidf(TEXTS, single, LABELS, "single_label", _tfidf())
    s = scorer.score(NEW)["target"]
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    assert [LABELS[j] for j in s.argmax(axis=1)] == ["crude", "grain", "earn"]


def test_linear_binary_single_label_keeps_both_classes(tmp_path):
    labels = ["crude", "other"]
    y = ["crude" if m[0] == "crude" else "other" for m in MULTI]
    scorer = fit_tfidf(TEXTS, y, labels, "single_label", _tfidf())
    scorer.save(tmp_path)
    s = load_tfidf(tmp_path).score(NEW)["target"]
    assert s.shape == (3, 2) and [labels[j] for j in s.argmax(axis=1)] == ["crude", "other", "other"]


def test_linear_min_df_too_high_is_a_user_error():
    with pytest.raises(DataError, match="min_df"):
        fit_tfidf(TEXTS, MULTI, LABELS, "multi_label", TfidfConfig(min_df=50))


def test_linear_load_refuses_a_transformer_dir(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DataError, match="tfidf.json missing"):
        load_tfidf(tmp_path)


@pytest.mark.slow
def test_linear_reuters_topics_baseline_reaches_reference(reuters_archive, tmp_path, monkeypatch):
    """The shipped config on Reuters-21578 ModApte-90: micro-F1 >= 0.86 (measured 0.878) in seconds."""
    from pathlib import Path

    from trainer.config import load_config
    from trainer.config import RunConfig
    from trainer.workflows.train import train
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("TRAINER_DATA_MIRROR", str(reuters_archive.parent))
    overrides = [f"data.build={repo / 'configs/data/reuters-topics.yaml'}", f"data.dataset={tmp_path / 'reuters'}",
                 f"output.dir={tmp_path / 'runs'}"]
    run_dir = train(load_config(repo / "configs/reuters-topics-tfidf.yaml", RunConfig, overrides))
    from trainer import contracts
    test = contracts.read_metrics(run_dir)["topics"]["test"]
    assert test["n_examples"] == 3019 and test["micro_f1"] >= 0.86
