"""model.type: ensemble: members fitted together, saved as model directories of their own, scores combined."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import tiny_run_tree
from trainer import contracts
from trainer.config import RunConfig, load_config
from trainer.errors import ConfigError
from trainer.models import ScoreOptions, load_model
from trainer.models.ensemble import combine

TEXTS = ["Paris: wheat harvest and corn exports", "Tokyo: oil prices and barrels per day"]


def test_ensemble_combine_hand_computed():
    a, b = np.array([[0.9, 0.2]]), np.array([[0.5, 0.6]])
    np.testing.assert_allclose(combine([a, b], [3, 1], "mean_probability", "multi_label"), [[0.8, 0.3]], rtol=1e-6)
    logit = lambda p: np.log(p / (1 - p))   # noqa: E731
    expected = 1 / (1 + np.exp(-(0.75 * logit(a) + 0.25 * logit(b))))
    np.testing.assert_allclose(combine([a, b], [3, 1], "mean_logit", "multi_label"), expected, rtol=1e-6)
    single = combine([np.array([[0.7, 0.3]]), np.array([[0.2, 0.8]])], [1, 1], "mean_logit", "single_label")
    np.testing.assert_allclose(single.sum(axis=1), 1.0, rtol=1e-6)
    assert single[0, 1] > 0.5       # geometric mean: sqrt(.3 * .8) > sqrt(.7 * .2)


def _tree(dataset, out, name="ens"):
    tree = tiny_run_tree(dataset, out, name)
    encoder = tree["model"]
    tree["model"] = {"type": "ensemble", "combine": "mean_probability",
                     "members": {"encoder": {"model": encoder, "weight": 3.0},
                                 "linear": {"model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
                                            "train": {"class_weights": "balanced"}}}}
    return tree


def test_ensemble_member_train_overrides_are_checked(tiny_dataset_dir, tmp_path):
    tree = _tree(tiny_dataset_dir, tmp_path)
    tree["model"]["members"]["linear"]["train"] = {"class_weight": "balanced"}
    with pytest.raises(ConfigError, match="members.linear"):
        load_config(None, RunConfig, tree=tree)
    tree = _tree(tiny_dataset_dir, tmp_path)
    tree["model"]["members"]["bad name/"] = tree["model"]["members"].pop("linear")
    with pytest.raises(ConfigError, match="folder names"):
        load_config(None, RunConfig, tree=tree)


def test_ensemble_member_keys_can_be_overridden_and_typos_are_named(tiny_dataset_dir, tmp_path):
    from trainer.config import apply_overrides
    tree = _tree(tiny_dataset_dir, tmp_path)
    cfg = load_config(None, RunConfig, ["model.members.encoder.model=null", "model.members.encoder.run=runs/x",
                                        "model.members.linear.model.tfidf.min_df=2"], tree=tree)
    assert cfg.model.members["encoder"].run == "runs/x" and cfg.model.members["encoder"].model is None
    assert cfg.model.members["linear"].model.tfidf.min_df == 2
    with pytest.raises(ConfigError, match="did you mean 'model.members.linear.weight'"):
        apply_overrides(tree, ["model.members.linear.wieght=2"], RunConfig)


def test_ensemble_refuses_two_members_that_train_in_steps(tiny_dataset_dir, tmp_path):
    # two fine-tuned members in one run would share its checkpoints/: the second is given as a trained run
    from trainer.models.registry import model_class
    tree = _tree(tiny_dataset_dir, tmp_path)
    tree["model"]["members"]["second"] = {"model": tree["model"]["members"]["encoder"]["model"]}
    cfg = load_config(None, RunConfig, tree=tree)
    with pytest.raises(ConfigError, match="encoder, second both train in steps"):
        model_class("ensemble").check_config(cfg)
    assert model_class("ensemble").fits_in_steps(cfg)


@pytest.fixture(scope="module")
def ensemble_run(tiny_dataset_dir, tmp_path_factory):
    from trainer.workflows.train import train
    return train(load_config(None, RunConfig, tree=_tree(tiny_dataset_dir, tmp_path_factory.mktemp("ens"))))


def test_ensemble_scores_are_the_weighted_mean_of_its_members(ensemble_run):
    options = ScoreOptions(precision="fp32")
    ensemble = load_model(ensemble_run, options)
    encoder = load_model(ensemble_run / "model" / "members" / "encoder", options)
    linear = load_model(ensemble_run / "model" / "members" / "linear", options)
    assert (encoder.type, linear.type) == ("transformer", "tfidf-linear")
    expected = 0.75 * encoder.score(TEXTS)["topics"] + 0.25 * linear.score(TEXTS)["topics"]
    np.testing.assert_allclose(ensemble.score(TEXTS)["topics"], expected, rtol=1e-5, atol=1e-6)


def test_ensemble_members_get_their_own_train_settings(ensemble_run, tiny_dataset_dir, tmp_path):
    # the linear member fitted with balanced class weights: it scores as a balanced fit on its own does, not as
    # an unweighted one
    from trainer.workflows.train import train
    options = ScoreOptions(precision="fp32")
    member = load_model(ensemble_run / "model" / "members" / "linear", options).score(TEXTS)["topics"]
    alone = {}
    for weights in ("balanced", "none"):
        tree = tiny_run_tree(tiny_dataset_dir, tmp_path, f"linear-{weights}")
        tree["model"] = {"type": "tfidf-linear", "tfidf": {"min_df": 1}}
        tree["train"]["class_weights"] = weights
        alone[weights] = load_model(train(load_config(None, RunConfig, tree=tree)), options).score(TEXTS)["topics"]
    np.testing.assert_allclose(member, alone["balanced"], rtol=1e-6)
    assert np.abs(member - alone["none"]).max() > 1e-3
    meta = contracts.read_meta(ensemble_run)
    assert set(meta["members"]) == {"encoder", "linear"}
    assert meta["train_seconds"] == pytest.approx(sum(m["train_seconds"] for m in meta["members"].values()), abs=0.01)
    # examples/s over the whole fit: each member's examples (epochs included) over the summed seconds
    seen = sum(m["train_examples_per_s"] * m["train_seconds"] for m in meta["members"].values())
    assert meta["train_examples_per_s"] == pytest.approx(seen / meta["train_seconds"], rel=0.01)


def test_ensemble_compares_with_a_member_run(ensemble_run, tiny_dataset_dir, tmp_path):
    from trainer.compare import compare
    from trainer.workflows.train import train
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path, "linear")
    tree["model"] = {"type": "tfidf-linear", "tfidf": {"min_df": 1}}
    linear = train(load_config(None, RunConfig, tree=tree))
    comp = compare([ensemble_run, linear], baseline=linear, n_resamples=50)
    assert {r["run"] for r in comp.rows} == {ensemble_run.name, "linear"} and comp.buckets


def test_ensemble_member_taken_from_a_trained_run(tiny_run_dir, tiny_dataset_dir, tmp_path):
    from trainer.workflows.train import train
    tree = _tree(tiny_dataset_dir, tmp_path, "from-run")
    tree["model"]["members"]["encoder"] = {"run": str(tiny_run_dir), "weight": 3.0}
    run = train(load_config(None, RunConfig, tree=tree))
    options = ScoreOptions(precision="fp32")
    taken, source = load_model(run / "model" / "members" / "encoder", options), load_model(tiny_run_dir, options)
    np.testing.assert_allclose(taken.score(TEXTS)["topics"], source.score(TEXTS)["topics"], rtol=1e-6)
    meta = contracts.read_meta(run)
    assert meta["members"]["encoder"]["from_run"] == str(tiny_run_dir.resolve())
    # the member run's training time is part of the ensemble's
    assert meta["train_seconds"] >= contracts.read_meta(tiny_run_dir)["train_seconds"]


def test_ensemble_member_run_must_match_the_label_space(tiny_single_label_run_dir, tiny_dataset_dir, tmp_path):
    from trainer.errors import DataError
    from trainer.workflows.train import train
    tree = _tree(tiny_dataset_dir, tmp_path, "mismatch")
    tree["model"]["members"]["encoder"] = {"run": str(tiny_single_label_run_dir)}
    with pytest.raises(DataError, match="same dataset and task"):
        train(load_config(None, RunConfig, tree=tree))
    tree["model"]["members"]["encoder"] = {"run": "x", "model": {"type": "tfidf-linear"}}
    with pytest.raises(ConfigError, match="exactly one of model"):
        load_config(None, RunConfig, tree=tree)
