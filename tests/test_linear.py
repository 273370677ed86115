"""TF-IDF + linear baseline: safe serialisation, score mapping, and the run-directory contract."""
from __future__ import annotations

import json

import numpy as np
import pytest

from trainer.errors import DataError
from trainer.linear import TFIDF_JSON, TFIDF_TENSORS, fit_tfidf, load_tfidf_scorer
from trainer.training.config import TfidfConfig

TEXTS = ["oil prices rose as opec cut output", "wheat and corn exports fell", "net profit and dividend up",
         "crude oil barrels per day", "grain harvest of wheat", "quarterly earnings per share rose",
         "opec crude supply", "corn and soybean crop", "record profit for the quarter"]
MULTI = [["crude"], ["grain"], ["earn"], ["crude"], ["grain"], ["earn"], ["crude"], ["grain"], ["earn", "crude"]]
LABELS = ["crude", "earn", "grain"]
NEW = ["opec oil output", "wheat crop exports", "dividend and earnings"]


def _tfidf(**kw):
    return TfidfConfig(min_df=1, **kw)


def test_linear_save_load_round_trip_gives_same_scores(tmp_path):
    scorer = fit_tfidf(TEXTS, MULTI, LABELS, "multi_label", _tfidf())
    scorer.save(tmp_path)
    loaded = load_tfidf_scorer(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [TFIDF_JSON, TFIDF_TENSORS]   # no pickle anywhere
    assert loaded.labels == LABELS and loaded.problem == "multi_label"
    np.testing.assert_allclose(loaded.score(NEW), scorer.score(NEW), rtol=1e-6)


def test_linear_svm_decision_zero_is_score_half():
    scorer = fit_tfidf(TEXTS, MULTI, LABELS, "multi_label", _tfidf(classifier="svm"))
    d, s = scorer.decision(NEW), scorer.score(NEW)
    np.testing.assert_allclose(s, 1 / (1 + np.exp(-d)))
    assert ((s >= 0.5) == (d >= 0)).all()


def test_linear_multi_label_learns_keywords():
    scorer = fit_tfidf(TEXTS, MULTI, LABELS, "multi_label", _tfidf())
    assert [LABELS[j] for j in scorer.score(NEW).argmax(axis=1)] == ["crude", "grain", "earn"]


def test_linear_logreg_scores_are_its_probabilities():
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer
    scorer = fit_tfidf(TEXTS, MULTI, LABELS, "multi_label", _tfidf(classifier="logreg"))
    X = scorer.vectorizer.transform(TEXTS)
    Y = MultiLabelBinarizer(classes=LABELS).fit_transform(MULTI)
    ref = OneVsRestClassifier(LogisticRegression(solver="liblinear", random_state=42)).fit(X, Y)
    np.testing.assert_allclose(scorer.score(NEW), ref.predict_proba(scorer.vectorizer.transform(NEW)), rtol=1e-4)


def test_linear_single_label_softmax_follows_the_classifier():
    single = [m[0] for m in MULTI]
    scorer = fit_tfidf(TEXTS, single, LABELS, "single_label", _tfidf())
    s = scorer.score(NEW)
    np.testing.assert_allclose(s.sum(axis=1), 1.0)
    assert [LABELS[j] for j in s.argmax(axis=1)] == ["crude", "grain", "earn"]


def test_linear_binary_single_label_keeps_both_classes(tmp_path):
    labels = ["crude", "other"]
    y = ["crude" if m[0] == "crude" else "other" for m in MULTI]
    scorer = fit_tfidf(TEXTS, y, labels, "single_label", _tfidf())
    scorer.save(tmp_path)
    s = load_tfidf_scorer(tmp_path).score(NEW)
    assert s.shape == (3, 2) and [labels[j] for j in s.argmax(axis=1)] == ["crude", "other", "other"]


def test_linear_min_df_too_high_is_a_user_error():
    with pytest.raises(DataError, match="min_df"):
        fit_tfidf(TEXTS, MULTI, LABELS, "multi_label", TfidfConfig(min_df=50))


def test_linear_load_refuses_a_transformer_dir(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(DataError, match="tfidf.json missing"):
        load_tfidf_scorer(tmp_path)


@pytest.fixture(scope="module")
def linear_run_dir(tiny_dataset_dir, tmp_path_factory):
    from trainer.config import load_config
    from trainer.training.config import RunConfig
    from trainer.training.engine import train
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "output": {"dir": str(tmp_path_factory.mktemp("linear-runs")), "name": "tiny-tfidf"}}
    return train(load_config(None, RunConfig, tree=tree))


def test_linear_train_writes_the_run_directory_contract(linear_run_dir):
    for name in ("config.yaml", "meta.json", "metrics.json", "predictions.jsonl", "train_log.jsonl",
                 "model/trainer.json", "model/thresholds.json", f"model/{TFIDF_JSON}", f"model/{TFIDF_TENSORS}"):
        assert (linear_run_dir / name).is_file(), name
    meta = json.loads((linear_run_dir / "meta.json").read_text())
    assert meta["status"] == "completed" and meta["model_parameters"] > 0 and meta["train_seconds"] >= 0
    spec = json.loads((linear_run_dir / "model" / "trainer.json").read_text())
    assert spec["model_type"] == "tfidf-linear" and spec["labels"] == ["crude", "earn", "grain", "trade"]
    metrics = json.loads((linear_run_dir / "metrics.json").read_text())
    assert metrics["test"]["micro_f1"] > 0.5   # keywords give the labels away


def test_linear_run_scores_through_load_scorer(linear_run_dir):
    from trainer.inference import load_scorer
    scorer = load_scorer(linear_run_dir / "model")
    probs = scorer.score(["oil prices and barrels per day in Tokyo"])
    assert scorer.labels[int(probs.argmax())] == "crude"


def test_linear_run_predictions_match_its_metrics(linear_run_dir):
    from trainer import bootstrap
    rows = [json.loads(line) for line in (linear_run_dir / "predictions.jsonl").read_text().splitlines()]
    labels = json.loads((linear_run_dir / "model" / "trainer.json").read_text())["labels"]
    point = bootstrap.point_metrics(bootstrap.doc_counts([r["gold"] for r in rows], [r["predicted"] for r in rows], labels))
    test = json.loads((linear_run_dir / "metrics.json").read_text())["test"]
    assert point["micro_f1"] == pytest.approx(test["micro_f1"])
    assert point["macro_f1"] == pytest.approx(test["macro_f1"])


def test_linear_trains_single_label_runs(tiny_dataset_dir, tmp_path):
    from trainer.config import load_config
    from trainer.inference import load_scorer
    from trainer.training.config import RunConfig
    from trainer.training.engine import train
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "task": {"target": "topic", "problem": "single_label"},
            "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1, "classifier": "logreg"}},
            "output": {"dir": str(tmp_path), "name": "single"}}
    run_dir = train(load_config(None, RunConfig, tree=tree))
    probs = load_scorer(run_dir / "model").score(["wheat harvest and corn exports"])
    np.testing.assert_allclose(probs.sum(), 1.0)
    assert "accuracy" in json.loads((run_dir / "metrics.json").read_text())["test"]


def test_linear_rerun_replaces_the_previous_run(tiny_dataset_dir, tmp_path):
    from trainer.config import load_config
    from trainer.training.config import RunConfig
    from trainer.training.engine import train
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "output": {"dir": str(tmp_path), "name": "again"}}
    run_dir = train(load_config(None, RunConfig, tree=tree))
    stale = [run_dir / "model" / "from-the-old-run.bin", run_dir / "tracking.json"]
    for path in stale:
        path.write_text("old")
    train(load_config(None, RunConfig, tree=tree))
    assert not any(path.exists() for path in stale)   # no file of the old run next to the new model


def test_linear_respects_data_limit(tiny_dataset_dir, tmp_path):
    from trainer.config import load_config
    from trainer.training.config import RunConfig
    from trainer.training.engine import train
    tree = {"data": {"dataset": str(tiny_dataset_dir), "limit": 20},
            "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}}, "output": {"dir": str(tmp_path), "name": "small"}}
    run_dir = train(load_config(None, RunConfig, tree=tree))
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["dataset"]["examples"]["train"] == 20
    assert json.loads((run_dir / "train_log.jsonl").read_text().splitlines()[0])["train_examples"] == 20


@pytest.mark.slow
def test_linear_reuters_topics_baseline_reaches_reference(reuters_archive, tmp_path, monkeypatch):
    """The shipped config on Reuters-21578 ModApte-90: micro-F1 >= 0.86 (measured 0.878) in seconds."""
    from pathlib import Path

    from trainer.config import load_config
    from trainer.training.config import RunConfig
    from trainer.training.engine import train
    repo = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("TRAINER_DATA_MIRROR", str(reuters_archive.parent))
    overrides = [f"data.build={repo / 'configs/data/reuters-topics.yaml'}", f"data.dataset={tmp_path / 'reuters'}",
                 f"output.dir={tmp_path / 'runs'}"]
    run_dir = train(load_config(repo / "configs/reuters-topics-tfidf.yaml", RunConfig, overrides))
    test = json.loads((run_dir / "metrics.json").read_text())["test"]
    assert test["n_examples"] == 3019 and test["micro_f1"] >= 0.86
