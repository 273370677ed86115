"""The kind conformance suite: what every registered model kind does (in the manner of transformers'
ModelTesterMixin): fit a tiny model, save it, load it back with the same scores, and fail clearly on a wrong directory.

A new kind joins the suite by adding its tiny `model` section to TINY_MODEL; the first test fails until it does.
"""
from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest

from conftest import tiny_run_tree, tiny_teacher_run
from trainer import contracts, tuning
from trainer.compare import bootstrap
from trainer.config import RunConfig, load_config
from trainer.errors import ConfigError, DataError
from trainer.models import KINDS, FitContext, ScoreOptions, load_model, model_class
from trainer.training.data import load_fit_data
from trainer.workflows.train import train

pytestmark = pytest.mark.integration   # trains tiny models / serves / spawns processes

TINY_MODEL = {
    "transformer": tiny_run_tree("unused", "unused")["model"],
    "tfidf-linear": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
    "ensemble": {"type": "ensemble", "combine": "mean_logit",
                 "members": {"encoder": {"model": tiny_run_tree("unused", "unused")["model"]},
                             "linear": {"model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
                                        "train": {"class_weights": "balanced"}, "weight": 0.5}}},
    "gazetteer": {"type": "gazetteer"},
    # the teacher (a TF-IDF run of the case's task) and the vocabulary cache are filled in by tiny_tree
    "student": {"type": "student", "teacher": None, "init": "random", "pca_dims": 8, "hidden": 0,
                "config_overrides": {"num_hidden_layers": 1, "hidden_size": 16, "num_attention_heads": 2,
                                     "intermediate_size": 32},
                "epochs": 100, "patience": 100, "learning_rate": 0.03, "batch_size": 8},
}
# the target each kind is tested on (the gazetteer answers regions only)
TARGET = {"gazetteer": "regions"}
# the cases the suite runs: every kind, and the ensemble with its weights and thresholds picked by tuning on the
# training split (`weight: auto`, `eval.thresholds: auto`), which must train, save, evaluate and serve the same
TUNED = "ensemble-tuned"
KIND_CASES = {**{kind: kind for kind in KINDS}, TUNED: "ensemble"}
TEXTS = ["Paris: wheat harvest and corn exports", "Tokyo: oil prices and barrels per day", "dividend per share rose"]


def tiny_tree(case: str, dataset_dir, out_dir, name: str, **task) -> dict:
    kind = KIND_CASES[case]
    tree = tiny_run_tree(dataset_dir, out_dir, name)
    tree["model"] = json.loads(json.dumps(TINY_MODEL[kind]))
    tree["task"] = task or {"target": TARGET.get(kind, "topics")}
    if kind == "student":
        tree["model"]["teacher"] = str(tiny_teacher_run(dataset_dir, tree["task"]))
        tree["model"]["vocabulary_cache"] = str(dataset_dir.parent / "static-vocabulary")
    if case == TUNED:
        for member in tree["model"]["members"].values():
            member["weight"] = "auto"
        tree["eval"]["thresholds"] = "auto"
        tree["tune"] = {"stand_in": {"train.epochs": 3}}
    return tree


def test_conformance_every_registered_kind_is_tested():
    assert set(TINY_MODEL) == set(KINDS)


@pytest.fixture(scope="module", params=sorted(KIND_CASES))
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def fitted(kind, tiny_dataset_dir, tmp_path_factory):
    """(kind, fitted model, its model dir after save) straight through the kind's interface (a tuned case: with
    the settings tuning picked on the training split)."""
    out = tmp_path_factory.mktemp(f"contract-{kind}")
    cfg = load_config(None, RunConfig, tree=tiny_tree(kind, tiny_dataset_dir, out, "direct"))
    data = load_fit_data(cfg)
    if tuning.wanted(cfg):
        cfg = tuning.tune(cfg, data, out / "tuning").fit_config(cfg)
    started = time.perf_counter()
    result = model_class(KIND_CASES[kind]).fit(FitContext(cfg, data, out))
    result.stats["_fit_wall_seconds"] = time.perf_counter() - started   # what the test measured around fit
    return result, result.model.save(out / "model")


@pytest.fixture(scope="module")
def run_dir(kind, tiny_dataset_dir, tmp_path_factory):
    """A whole `trainer train` run of the kind."""
    out = tmp_path_factory.mktemp(f"contract-run-{kind}")
    started = time.perf_counter()
    run = train(load_config(None, RunConfig, tree=tiny_tree(kind, tiny_dataset_dir, out, "tiny")))
    (out / "wall_seconds").write_text(str(time.perf_counter() - started))   # beside the run, not in it
    return run


def test_conformance_fit_reports_its_costs(fitted):
    result, model_dir = fitted
    rate, seconds = result.stats["train_examples_per_s"], result.stats["train_seconds"]
    # the fit's own clock: within the time the test measured around it (a made-up or unit-confused figure is not)
    assert 0 <= seconds <= result.stats["_fit_wall_seconds"] + 0.01
    assert (rate is None or rate > 0) and (seconds > 0 or rate is None)   # None: nothing trained (the gazetteer)
    assert "global_step" in result.stats
    # the parameters the model counts are the numbers it saves: every float array of its weight files
    assert result.model.num_parameters == _saved_weights(model_dir)


def _saved_weights(model_dir) -> int:
    """Learned numbers in a model directory: the float arrays of its .safetensors files (members included), but
    TF-IDF's idf, a corpus statistic rather than a fitted weight."""
    from safetensors.numpy import load_file
    return sum(int(a.size) for f in sorted(model_dir.rglob("*.safetensors")) for name, a in load_file(f).items()
               if a.dtype.kind == "f" and name != "idf")


def test_conformance_saved_model_scores_like_the_fitted_one(fitted):
    result, model_dir = fitted
    loaded = load_model(model_dir, ScoreOptions(precision="fp32"))
    result.model.set_options(ScoreOptions(precision="fp32"))
    assert loaded.spec.to_dict() == result.model.spec.to_dict()
    before, after = result.model.score(TEXTS), loaded.score(TEXTS)
    target = result.model.spec.primary.name
    assert set(before) == set(after) == {target}
    np.testing.assert_allclose(after[target], before[target], rtol=1e-5, atol=1e-6)


def test_conformance_scores_are_probabilities_per_label(fitted):
    result, _ = fitted
    probs = result.model.score(TEXTS)[result.model.spec.primary.name]
    assert probs.shape == (len(TEXTS), len(result.model.spec.primary.labels))
    assert ((probs >= 0) & (probs <= 1)).all()


def test_conformance_model_files_hold_no_pickle(fitted):
    _, model_dir = fitted
    names = [p.name for p in model_dir.iterdir()]
    assert contracts.SPEC in names
    assert not any(name.endswith((".bin", ".pt", ".pkl", ".pickle", ".joblib")) for name in names)


def test_conformance_wrong_directory_is_a_one_line_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(DataError, match="neither a run directory") as err:
        load_model(tmp_path)
    assert "\n" not in str(err.value)


def test_conformance_missing_weights_is_a_one_line_error(kind, fitted, tmp_path):
    _, model_dir = fitted
    broken = shutil.copytree(model_dir, tmp_path / "model")
    own = [p for p in broken.rglob("*") if p.is_file() and p.parent != broken or
           p.is_file() and p.name not in (contracts.SPEC, contracts.THRESHOLDS)]
    max(own, key=lambda p: p.stat().st_size).unlink()   # the weights: the largest file of the kind (or a member)
    with pytest.raises(DataError) as err:
        load_model(broken)
    assert "\n" not in str(err.value) and str(broken) in str(err.value)


def test_conformance_run_directory_holds_the_contract_files(run_dir):
    for name in (contracts.CONFIG, contracts.META, contracts.METRICS, contracts.PREDICTIONS, contracts.TRAIN_LOG,
                 contracts.REPORT, f"model/{contracts.SPEC}", f"model/{contracts.THRESHOLDS}"):
        assert (run_dir / name).is_file(), name
    meta = contracts.read_meta(run_dir)
    wall = float((run_dir.parent / "wall_seconds").read_text())
    assert meta["status"] == "completed" and meta["model_parameters"] == _saved_weights(run_dir / "model")
    assert 0 <= meta["train_seconds"] <= wall and (meta["train_seconds"] > 0 or meta["train_examples_per_s"] is None)
    assert meta["dataset"]["fingerprint"] and meta["hardware"]["cores_available"] >= 1
    assert not run_dir.with_name(f".{run_dir.name}.partial").exists()   # the staging folder was swapped in


def test_conformance_tuning_json_only_where_settings_are_auto(kind, run_dir):
    record = contracts.read_tuning(run_dir / "model")
    if kind != TUNED:
        assert record is None
        return
    spec = contracts.read_spec(run_dir / "model")
    assert {m["name"]: m["weight"] for m in spec.settings["members"]} == record["weights"]["picked"]
    assert contracts.read_thresholds(run_dir / "model", spec)["topics"].groups == record["thresholds"]["topics"]["picked"]


def test_conformance_resolved_config_names_run_and_dataset(run_dir, tiny_dataset_dir):
    cfg = contracts.read_run_config(run_dir)
    assert cfg.output.name == "tiny" and str(cfg.data.dataset) == str(tiny_dataset_dir)


def test_conformance_predictions_match_the_metrics(run_dir):
    rows = contracts.read_predictions(run_dir)
    spec = contracts.read_spec(run_dir / "model")
    labels, target = list(spec.primary.labels), spec.primary.name
    per_doc = [r["targets"][target] for r in rows]
    point = bootstrap.point_metrics(bootstrap.doc_counts([p["gold"] for p in per_doc],
                                                         [p["predicted"] for p in per_doc], labels))
    test = contracts.read_metrics(run_dir)[target]["test"]
    assert len(rows) == test["n_examples"] == 10
    assert point["micro_f1"] == pytest.approx(test["micro_f1"]) and point["macro_f1"] == pytest.approx(test["macro_f1"])


def test_conformance_single_label_target(kind, tiny_dataset_dir, tmp_path):
    if "single_label" not in model_class(KIND_CASES[kind]).problems:
        with pytest.raises(ConfigError):
            train(load_config(None, RunConfig, tree=tiny_tree(kind, tiny_dataset_dir, tmp_path, "single",
                                                              target="topic", problem="single_label")))
        return
    tree = tiny_tree(kind, tiny_dataset_dir, tmp_path, "single", target="topic", problem="single_label")
    run = train(load_config(None, RunConfig, tree=tree))
    spec = contracts.read_spec(run / "model")
    assert (spec.primary.name, spec.primary.problem) == ("topic", "single_label")
    probs = load_model(run).score(TEXTS)["topic"]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert contracts.read_metrics(run)["topic"]["test"]["n_examples"] == 10
    assert (run / contracts.CONFUSION).is_file()


def test_conformance_data_limit_is_respected(kind, tiny_dataset_dir, tmp_path):
    tree = tiny_tree(kind, tiny_dataset_dir, tmp_path, "small")
    tree["data"]["limit"] = 20
    run = train(load_config(None, RunConfig, tree=tree))
    assert contracts.read_meta(run)["dataset"]["examples"]["train"] == 20


def test_conformance_metrics_file_is_per_target(run_dir):
    raw = json.loads((run_dir / contracts.METRICS).read_text())
    target = contracts.read_spec(run_dir / "model").primary.name
    assert raw["format"] == 2 and set(raw["targets"]) == {target}
    assert {"validation", "test"} <= set(raw["targets"][target])


def test_conformance_served_answers_like_the_predictor(run_dir):
    # `trainer serve`'s app (batching, as the CLI starts it) gives each text the Predictor's labels and scores
    from fastapi.testclient import TestClient

    from trainer.serving.http import DEFAULT_BATCHING, create_app
    from trainer.serving.predictor import Predictor
    predictor = Predictor.load(run_dir, precision="fp32")
    expected = [predictor.wire(r) for r in predictor.predict(TEXTS)]   # one target: its answer at the top level
    with TestClient(create_app(predictor, batching=dict(DEFAULT_BATCHING))) as client:
        answer = client.post("/predict", json={"texts": TEXTS})
    assert answer.status_code == 200
    for got, want in zip(answer.json()["predictions"], expected):
        assert got["labels"] == want["labels"]
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-5)
