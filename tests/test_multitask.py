"""Several targets from one encoder: topics and regions heads, masked losses, per-target files and answers."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from conftest import make_tiny_dataset, tiny_run_tree
from trainer import contracts
from trainer.config import RunConfig, load_config
from trainer.errors import ConfigError
from trainer.models import ScoreOptions, load_model
from trainer.serving.predictor import Predictor
from trainer.workflows.train import train

pytestmark = pytest.mark.integration
TEXTS = ["Paris: wheat harvest and corn exports", "Tokyo: oil prices and barrels per day"]
BOTH = [{"name": "topics"}, {"name": "regions"}]


def multitask_tree(dataset_dir, out_dir, name="multi", **model) -> dict:
    tree = tiny_run_tree(dataset_dir, out_dir, name)
    tree["task"] = {"targets": BOTH}
    tree["train"]["epochs"] = 30      # the tiny random encoder needs ~150 steps to tie place names to regions
    tree["model"].update(model)
    return tree


@pytest.fixture(scope="module")
def dataset_without_some_regions(tmp_path_factory):
    """The tiny dataset with every fifth document's regions removed (as Reuters stories without PLACES); the
    regions cycle with period 3, so every region keeps labelled documents in every split."""
    import datasets
    root = tmp_path_factory.mktemp("multi-data")
    source = make_tiny_dataset(root / "source")
    dsd = datasets.load_from_disk(str(source))
    dsd = datasets.DatasetDict({s: ds.map(lambda row: {"regions": [] if int(row["id"].split("-")[1]) % 5 == 1
                                                       else row["regions"]}) for s, ds in dsd.items()})
    dsd.save_to_disk(str(root / "dataset"))
    shutil.copy(source / "manifest.json", root / "dataset" / "manifest.json")
    return root / "dataset"


@pytest.fixture(scope="module")
def multitask_run(dataset_without_some_regions, tmp_path_factory):
    out = tmp_path_factory.mktemp("multi-runs")
    return train(load_config(None, RunConfig, tree=multitask_tree(dataset_without_some_regions, out)))


def test_multitask_spec_and_files_are_per_target(multitask_run):
    spec = contracts.read_spec(multitask_run / "model")
    assert spec.target_names == ["topics", "regions"]
    assert all(t.skip_unlabelled for t in spec.targets)
    thresholds = json.loads((multitask_run / "model" / "thresholds.json").read_text())["targets"]
    assert set(thresholds) == {"topics", "regions"}
    metrics = contracts.read_metrics(multitask_run)
    assert set(metrics) == {"topics", "regions"} and {"validation", "test"} <= set(metrics["regions"])
    report = (multitask_run / "report.md").read_text()
    assert "target topics" in report and "target regions" in report


def test_multitask_each_target_is_evaluated_on_its_labelled_documents(multitask_run, dataset_without_some_regions):
    import datasets
    test = datasets.load_from_disk(str(dataset_without_some_regions))["test"]
    with_regions = sum(1 for r in test["regions"] if r)
    metrics = contracts.read_metrics(multitask_run)
    assert metrics["topics"]["test"]["n_examples"] == len(test) == 10
    assert metrics["regions"]["test"]["n_examples"] == with_regions < len(test)
    rows = contracts.read_predictions(multitask_run)
    assert sum("regions" in r["targets"] for r in rows) == with_regions
    assert all("topics" in r["targets"] for r in rows)


def test_multitask_saved_model_scores_like_training_left_it(multitask_run):
    """Every predictions.jsonl row (written by the trained model in memory), both targets: the saved model,
    loaded back, gives the same scores."""
    model = load_model(multitask_run, ScoreOptions(precision="fp32"))
    rows = contracts.read_predictions(multitask_run)
    ds_texts = _test_texts(multitask_run)
    scored = model.score([ds_texts[r["id"]] for r in rows])
    assert set(scored) == {"topics", "regions"} and len(rows) == len(ds_texts)
    # separate heads: per-label sigmoids per target (a softmax over one head's labels would sum to 1)
    assert scored["regions"].shape == (len(rows), len(model.spec.target("regions").labels))
    compared = {"topics": 0, "regions": 0}
    for k, row in enumerate(rows):
        for name, entry in row["targets"].items():
            labels = model.spec.target(name).labels
            np.testing.assert_allclose([entry["scores"][label] for label in labels], scored[name][k], atol=1e-5,
                                       err_msg=f"{row['id']} {name}")
            compared[name] += 1
    assert compared["topics"] == len(rows) and compared["regions"] > 0


def _test_texts(run_dir):
    import datasets
    cfg = contracts.read_run_config(run_dir)
    test = datasets.load_from_disk(cfg.data.dataset)["test"]
    return dict(zip(test["id"], test["text"]))


def test_multitask_regions_learn_the_place_names(multitask_run):
    # keywords give the regions away: the test documents that have regions are mostly right at 0.5
    assert contracts.read_metrics(multitask_run)["regions"]["test"]["at_0.5"]["micro_f1"] > 0.6


def test_multitask_unlabelled_documents_move_no_weight_of_their_head(minilm_dir):
    from trainer.models.transformer.network import build_classifier
    torch.manual_seed(0)
    heads = [{"name": "topics", "problem": "multi_label", "num_labels": 3, "loss_weight": 1.0},
             {"name": "regions", "problem": "multi_label", "num_labels": 2, "loss_weight": 1.0}]
    model = build_classifier(str(minilm_dir), ["t/a", "t/b", "t/c", "r/x", "r/y"], "multi_label", random_init=True,
                             encoder_overrides={"num_hidden_layers": 1, "hidden_size": 32, "num_attention_heads": 2,
                                                "intermediate_size": 64}, heads=heads)
    ids = torch.tensor([[101, 2000, 2001, 102], [101, 2002, 2003, 102]])
    #                     topics block    regions block  counts: topics, regions
    labels = torch.tensor([[1., 0., 1.,    0., 0.,        1., 0.],
                           [0., 1., 0.,    0., 0.,        1., 0.]])
    model(input_ids=ids, labels=labels).loss.backward()
    grad = model.classifier.weight.grad
    assert grad[:3].abs().sum() > 0                        # the topics rows learn
    assert torch.count_nonzero(grad[3:]) == 0              # no regions row moves: no document has regions
    assert torch.count_nonzero(model.classifier.bias.grad[3:]) == 0
    model.zero_grad()
    labels[0, 6] = 1.0                                     # now the first document counts for regions (as negative)
    model(input_ids=ids, labels=labels).loss.backward()
    assert model.classifier.weight.grad[3:].abs().sum() > 0


def test_multitask_loss_weights_scale_each_head(minilm_dir):
    from trainer.models.transformer.network import build_classifier

    def loss_with(weight):
        torch.manual_seed(0)
        heads = [{"name": "topics", "problem": "multi_label", "num_labels": 2, "loss_weight": 1.0},
                 {"name": "topic", "problem": "single_label", "num_labels": 2, "loss_weight": weight}]
        model = build_classifier(str(minilm_dir), ["a", "b", "x", "y"], "multi_label", random_init=True,
                                 encoder_overrides={"num_hidden_layers": 1, "hidden_size": 32,
                                                    "num_attention_heads": 2, "intermediate_size": 64}, heads=heads)
        model.eval()
        labels = torch.tensor([[1., 0., 0., 1., 1., 1.]])
        return model(input_ids=torch.tensor([[101, 2000, 102]]), labels=labels).loss.item()
    # loss = topics BCE + w * topic CE: two weights give two points on one line
    l1, l2, l3 = loss_with(1.0), loss_with(2.0), loss_with(3.0)
    assert l3 - l2 == pytest.approx(l2 - l1, rel=1e-5) and l2 > l1


def test_multitask_target_the_dataset_lacks_is_refused_before_training(tiny_dataset_dir, tmp_path):
    tree = multitask_tree(tiny_dataset_dir, tmp_path)
    tree["task"] = {"targets": [{"name": "topics"}, {"name": "topic", "problem": "single_label"}]}
    import datasets
    ds_dir = tmp_path / "no-topic"
    dsd = datasets.load_from_disk(str(tiny_dataset_dir))
    datasets.DatasetDict({s: d.remove_columns("topic") for s, d in dsd.items()}).save_to_disk(str(ds_dir))
    shutil.copy(tiny_dataset_dir / "manifest.json", ds_dir / "manifest.json")
    tree["data"]["dataset"] = str(ds_dir)
    with pytest.raises(ConfigError, match="task.targets 'topic'.*has no column 'topic'"):
        train(load_config(None, RunConfig, tree=tree))
    assert not list(tmp_path.glob("*multi*"))   # nothing started


def test_multitask_config_refuses_both_forms_and_duplicates():
    base = {"data": {"dataset": "d"}}
    with pytest.raises(ConfigError, match="either task.targets or task.target"):
        load_config(None, RunConfig, tree={**base, "task": {"target": "regions", "targets": BOTH}})
    with pytest.raises(ConfigError, match="each target once"):
        load_config(None, RunConfig, tree={**base, "task": {"targets": [{"name": "topics"}, {"name": "topics"}]}})
    with pytest.raises(ConfigError, match="gazetteer applies to the regions target"):
        load_config(None, RunConfig, tree={**base, "task": {"targets": [{"name": "topics", "gazetteer": True}]}})


def test_multitask_predictor_answers_per_target(multitask_run):
    out = Predictor.load(multitask_run).predict(TEXTS, top_k=2)
    assert len(out) == 2 and all(set(r) == {"topics", "regions"} for r in out)
    assert all(len(r["regions"]["scores"]) == 2 and set(r["regions"]["labels"]) <= set(r["regions"]["scores"])
               for r in out)


def test_multitask_serve_answers_both_targets_over_http(multitask_run):
    import threading
    import time

    import httpx
    import uvicorn

    from trainer.serving.http import create_app
    config = uvicorn.Config(create_app(Predictor.load(multitask_run)), host="127.0.0.1", port=0, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            answer = client.post("/predict", json={"texts": TEXTS}).json()["predictions"]
            labels = client.get("/labels").json()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert all(set(a) == {"topics", "regions"} for a in answer)
    assert set(labels["targets"]) == {"topics", "regions"}
    assert labels["targets"]["regions"]["labels"] == list(contracts.read_spec(multitask_run / "model").target("regions").labels)


# ---- the gazetteer: a model kind, and a part of the regions answer ------------------------------------------
def test_multitask_gazetteer_run_reads_regions_from_place_names(tiny_dataset_dir, tmp_path):
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "task": {"target": "regions"}, "model": {"type": "gazetteer"},
            "output": {"dir": str(tmp_path), "name": "gaz"}}
    run = train(load_config(None, RunConfig, tree=tree))
    test = contracts.read_metrics(run)["regions"]["test"]
    assert test["at_0.5"]["micro_f1"] == 1.0        # every tiny text names its city: the labeller is exact here
    assert contracts.read_meta(run)["model_parameters"] == 0
    out = Predictor.load(run).predict(["Talks in Berlin and Paris on Monday", "Markets in Tokyo fell"])
    assert out[0]["regions"]["labels"] == ["Western Europe"] and out[1]["regions"]["labels"] == ["Eastern Asia"]


@pytest.fixture(scope="module")
def combined_run(dataset_without_some_regions, tmp_path_factory):
    out = tmp_path_factory.mktemp("combined-runs")
    tree = multitask_tree(dataset_without_some_regions, out, "combined")
    tree["task"] = {"targets": [{"name": "topics"}, {"name": "regions", "gazetteer": True}]}
    tree["train"]["epochs"] = 4      # a head that has barely learned: the combination has something to add
    return train(load_config(None, RunConfig, tree=tree))


def test_multitask_combined_answer_is_picked_on_validation_and_reported(combined_run):
    from trainer.decisions import fusion_candidates
    rule = json.loads((combined_run / "model" / "fusion.json").read_text())["targets"]["regions"]
    assert {k: rule[k] for k in rule if k != "picked_on"} in fusion_candidates()
    assert rule["picked_on"].startswith("validation mean_f1")      # eval.fusion_metric's default
    metrics = contracts.read_metrics(combined_run)["regions"]
    val = metrics["validation"]
    # the pick is the best validation combination (mean of micro- and macro-F1), so at least as good as either
    # part alone (weight 0 and 1 are among the candidates)
    def mean_f1(m):
        return (m["micro_f1"] + m["macro_f1"]) / 2
    assert mean_f1(val) >= max(mean_f1(val["parts"]["head"]), mean_f1(val["parts"]["gazetteer"])) - 1e-9
    assert set(metrics["test"]["parts"]) == {"head", "gazetteer"}
    report = (combined_run / "report.md").read_text()
    assert "The combined answer" in report and "| test | micro_f1 |" in report


def test_multitask_predictor_answers_with_the_combination(combined_run):
    from trainer.decisions import fuse
    model = load_model(combined_run, ScoreOptions(precision="fp32"))
    raw = model.score_targets(TEXTS)
    parts = model.combination.parts(TEXTS, raw)["regions"]
    rule = json.loads((combined_run / "model" / "fusion.json").read_text())["targets"]["regions"]
    np.testing.assert_allclose(model.score(TEXTS)["regions"], fuse(parts["head"], parts["gazetteer"], rule),
                               atol=1e-6)
    assert model.score(TEXTS)["topics"].tolist() == raw["topics"].tolist()


def test_multitask_run_is_an_ensemble_member_for_one_of_its_targets(multitask_run, dataset_without_some_regions,
                                                                   tmp_path):
    # a topics ensemble takes the topics head of a multi-task run; its regions head is not used
    from trainer.models import ScoreOptions, load_model
    tree = tiny_run_tree(dataset_without_some_regions, tmp_path, "topics-ensemble")
    tree["model"] = {"type": "ensemble", "members": {
        "multi": {"run": str(multitask_run), "weight": 1.0},
        "linear": {"model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}}, "weight": 1.0}}}
    run = train(load_config(None, RunConfig, tree=tree))
    options = ScoreOptions(precision="fp32")
    ensemble = load_model(run, options)
    assert ensemble.spec.target_names == ["topics"]
    multi, linear = load_model(multitask_run, options), load_model(run / "model" / "members" / "linear", options)
    expected = (multi.score(TEXTS)["topics"] + linear.score(TEXTS)["topics"]) / 2
    np.testing.assert_allclose(ensemble.score(TEXTS)["topics"], expected, rtol=1e-5, atol=1e-6)
    assert set(contracts.read_metrics(run)) == {"topics"}


# ---- regions no training page has: the gazetteer answers them, evaluation scores them ----------------------
@pytest.fixture(scope="module")
def central_asia_run(dataset_without_some_regions, tmp_path_factory):
    """A combined run whose validation and test splits hold stories from Bishkek (Central Asia), a region no
    training document has."""
    import datasets
    root = tmp_path_factory.mktemp("central-asia")
    dsd = datasets.load_from_disk(str(dataset_without_some_regions))

    def to_bishkek(row, k):
        if k % 4:
            return row
        return {"title": "Bishkek: trade talks", "text": "Bishkek: trade talks\n\ntrade talks in Bishkek.",
                "regions": ["Central Asia"]}
    dsd = datasets.DatasetDict({s: ds if s == "train" else ds.map(to_bishkek, with_indices=True)
                                for s, ds in dsd.items()})
    dsd.save_to_disk(str(root / "dataset"))
    shutil.copy(dataset_without_some_regions / "manifest.json", root / "dataset" / "manifest.json")
    tree = multitask_tree(root / "dataset", root / "runs", "central-asia")
    tree["task"] = {"targets": [{"name": "topics"}, {"name": "regions", "gazetteer": True}]}
    tree["train"]["epochs"] = 2
    return train(load_config(None, RunConfig, tree=tree))


def test_multitask_region_absent_from_training_is_evaluated_and_answered(central_asia_run):
    from trainer.data.regions import m49_labels
    spec = contracts.read_spec(central_asia_run / "model")
    assert "Central Asia" not in spec.target("regions").labels          # the head never saw it
    assert "Central Asia" in contracts.gazetteer_only(spec)["regions"]
    thresholds = json.loads((central_asia_run / "model" / "thresholds.json").read_text())["targets"]["regions"]
    assert len(thresholds["values"]) == len(m49_labels("subregion"))    # one per label of the M49 set
    test = contracts.read_metrics(central_asia_run)["regions"]["test"]
    assert "Central Asia" in test["gazetteer_only"] and "Western Europe" not in test["gazetteer_only"]
    central = test["per_label"]["Central Asia"]
    assert central["support"] >= 1 and central["f1"] == 1.0          # scored, and the gazetteer gets it right
    assert set(test["per_label"]) == set(m49_labels("subregion"))
    assert "Answered by the gazetteer alone" in (central_asia_run / "report.md").read_text()
    rows = [r for r in contracts.read_predictions(central_asia_run)
            if "Central Asia" in r["targets"].get("regions", {}).get("gold", [])]
    assert rows and all("Central Asia" in r["targets"]["regions"]["predicted"] for r in rows)
    answer = Predictor.load(central_asia_run).predict(["Bishkek: grain shipments\n\ngrain shipments in Bishkek."])[0]
    assert answer["regions"]["gazetteer_only"] == ["Central Asia"] and "Central Asia" in answer["regions"]["labels"]
