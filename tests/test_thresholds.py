"""Threshold tuning against hand-computed values; saved thresholds drive predictions."""
from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from trainer.contracts import ModelSpec, Target, read_thresholds, write_thresholds
from trainer.decisions import Thresholds, apply_thresholds, best_global, f1_counts, tune_thresholds
from trainer.errors import DataError

SPEC2 = ModelSpec("tfidf-linear", [Target("topics", "multi_label", ("a", "b"))])


def load_thresholds(model_dir, n_labels):
    """The saved thresholds of a one-target model with `n_labels` labels."""
    spec = ModelSpec("tfidf-linear", [Target("topics", "multi_label", tuple(f"l{i}" for i in range(n_labels)))])
    return read_thresholds(model_dir, spec)["topics"]


def save_thresholds(model_dir, th):
    write_thresholds(model_dir, {"topics": th})

# Label "a": gold positives score 0.9, 0.7, 0.4; negatives 0.2, 0.1.
#   t in (0.1, 0.2]: 4 predicted, tp 3 fp 1 -> F1 6/7;  t in (0.2, 0.4]: tp 3 fp 0 -> F1 1.0
#   so the best grid values are 0.25 .. 0.40, and the one nearest 0.5 is 0.40.
# Label "b": one positive (0.8) among negatives 0.6, 0.55, 0.3, 0.2: F1 1.0 for t in (0.6, 0.8].
PROBS = np.array([[0.9, 0.6], [0.7, 0.55], [0.4, 0.3], [0.2, 0.8], [0.1, 0.2]])
GOLD = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 0]], dtype=bool)
LABELS = ["a", "b"]


def test_thresholds_f1_counts_hand_computed():
    assert f1_counts(3, 1, 0) == pytest.approx(6 / 7)
    assert f1_counts(0, 0, 0) == 0.0


def test_thresholds_per_label_maximises_each_label_f1():
    th = tune_thresholds(PROBS, GOLD, "per_label", LABELS, min_positives=1)
    assert th.kind == "per_label"
    assert th.values == pytest.approx([0.40, 0.65])   # b: (0.6, 0.8], nearest 0.5 on the grid is 0.65
    assert th.fallback == []


def test_thresholds_per_label_falls_back_to_global_for_rare_labels():
    th = tune_thresholds(PROBS, GOLD, "per_label", LABELS, min_positives=2)
    assert th.values[0] == pytest.approx(0.40)
    assert th.values[1] == pytest.approx(best_global(PROBS, GOLD))
    assert th.fallback == ["b"]


def test_thresholds_global_maximises_micro_f1():
    # micro F1 over both labels: t in (0.3, 0.4] predicts a:{0,1,2}, b:{0,1,3} -> tp 4, fp 2, fn 0 -> 0.8;
    # t in (0.6, 0.7] -> a:{0,1}, b:{3}: tp 3, fp 0, fn 1 -> 6/7, the best; nearest 0.5 there is 0.65
    th = tune_thresholds(PROBS, GOLD, "global", LABELS, min_positives=1)
    assert th.values == pytest.approx([0.65, 0.65])


def test_thresholds_none_is_half_everywhere():
    th = tune_thresholds(PROBS, GOLD, "none", LABELS, min_positives=1)
    assert (th.kind, th.values) == ("none", [0.5, 0.5])


def test_thresholds_apply_uses_each_labels_value():
    pred = apply_thresholds(PROBS, Thresholds("per_label", [0.40, 0.65]))
    np.testing.assert_array_equal(pred, GOLD)


def test_thresholds_at_least_one_gives_an_empty_row_its_top_label():
    probs = np.array([[0.3, 0.45], [0.9, 0.2], [0.1, 0.05]])
    plain = apply_thresholds(probs, Thresholds("none", [0.5, 0.5]))
    forced = apply_thresholds(probs, Thresholds("none", [0.5, 0.5], at_least_one=True))
    np.testing.assert_array_equal(plain, [[0, 0], [1, 0], [0, 0]])
    np.testing.assert_array_equal(forced, [[0, 1], [1, 0], [1, 0]])   # rows that had a label keep theirs


def test_thresholds_tune_carries_at_least_one():
    assert tune_thresholds(PROBS, GOLD, "global", LABELS, min_positives=1, at_least_one=True).at_least_one
    assert not tune_thresholds(PROBS, GOLD, "none", LABELS, min_positives=1).at_least_one


def test_thresholds_format_1_file_is_read_as_the_primary_target(tmp_path):
    (tmp_path / "thresholds.json").write_text(json.dumps({"kind": "global", "values": [0.3, 0.7], "fallback": [],
                                                          "at_least_one": True}))
    assert read_thresholds(tmp_path, SPEC2)["topics"] == Thresholds("global", [0.3, 0.7], at_least_one=True)


def test_thresholds_file_names_the_target_in_errors(tmp_path):
    (tmp_path / "thresholds.json").write_text(json.dumps({"format": 2, "targets": {"topics": {"kind": "odd",
                                                                                              "values": [1, 2]}}}))
    with pytest.raises(DataError, match="target 'topics'.*unknown threshold kind"):
        read_thresholds(tmp_path, SPEC2)


def test_thresholds_file_without_at_least_one_loads_with_it_off(tmp_path):
    (tmp_path / "thresholds.json").write_text(json.dumps({"kind": "none", "values": [0.5, 0.5]}))
    assert load_thresholds(tmp_path, 2).at_least_one is False


def test_thresholds_save_and_load_round_trip(tmp_path):
    th = Thresholds("per_label", [0.4, 0.65], fallback=["b"], at_least_one=True)
    save_thresholds(tmp_path, th)
    assert load_thresholds(tmp_path, 2) == th


def test_thresholds_load_rejects_wrong_label_count(tmp_path):
    save_thresholds(tmp_path, Thresholds("global", [0.3, 0.3, 0.3]))
    with pytest.raises(DataError, match="3 thresholds for 2 labels"):
        load_thresholds(tmp_path, 2)


def test_thresholds_saved_values_change_predictions(tiny_run_dir, tmp_path):
    from trainer.contracts import read_spec
    from trainer.serving.predictor import Predictor
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    n = len(read_spec(run / "model").primary.labels)
    text = ["quarterly earnings and oil prices in Paris"]
    save_thresholds(run / "model", Thresholds("global", [0.0] * n))
    assert len(Predictor.load(run).predict(text)[0]["topics"]["labels"]) == n
    save_thresholds(run / "model", Thresholds("global", [1.0] * n))
    assert Predictor.load(run).predict(text)[0]["topics"]["labels"] == []


def test_thresholds_predictor_at_least_one_gives_the_top_label(tiny_run_dir, tmp_path):
    from trainer.contracts import read_spec
    from trainer.serving.predictor import Predictor
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    n = len(read_spec(run / "model").primary.labels)
    save_thresholds(run / "model", Thresholds("global", [1.0] * n, at_least_one=True))
    predictor = Predictor.load(run)
    result = predictor.predict(["quarterly earnings and oil prices in Paris"])[0]["topics"]
    assert result["labels"] == [max(result["scores"], key=result["scores"].get)]
    # an explicit threshold replaces the saved rule: nothing is forced
    assert predictor.predict(["quarterly earnings and oil prices in Paris"], threshold=1.0)[0]["topics"]["labels"] == []


# ---- per_bucket: one threshold per label-frequency bucket ----
def test_thresholds_per_group_hand_computed():
    from trainer.decisions import tune_per_group
    # labels 0, 1 in group "high" (their positives score 0.6+, negatives 0.4); label 2 "rare", label 3 "none"
    probs = np.array([[0.7, 0.4, 0.2, 0.1], [0.4, 0.65, 0.3, 0.1], [0.4, 0.4, 0.25, 0.1], [0.6, 0.4, 0.1, 0.1]])
    gold = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]], dtype=bool)
    groups = ["high", "high", "rare", "none"]
    th = tune_per_group(probs, gold, groups, ["a", "b", "c", "d"], min_positives=2, fixed={"rare": 0.3})
    assert th.kind == "per_bucket" and th.groups["rare"] == 0.3 and th.values[2] == 0.3
    assert 0.4 < th.groups["high"] <= 0.6 and th.values[0] == th.values[1] == th.groups["high"]
    assert th.fallback == ["d"]          # no positives: the global value
    assert th.values[3] == th.groups["none"]


def test_thresholds_per_bucket_without_validation_keeps_the_fixed_values():
    from trainer.evaluation.split_metrics import tune
    th = tune(None, ["a", "b"], "multi_label", "per_bucket", 3, True, [">=100", "<5"], {"<5": 0.3})
    assert th.values == [0.5, 0.3] and th.at_least_one


def test_thresholds_per_bucket_round_trip(tmp_path):
    from trainer.contracts import ModelSpec, Target, read_thresholds, write_thresholds
    from trainer.decisions import Thresholds
    spec = ModelSpec("tfidf-linear", [Target("topics", "multi_label", ("a", "b"))])
    th = Thresholds("per_bucket", [0.5, 0.3], [], True, {">=100": 0.5, "<5": 0.3})
    write_thresholds(tmp_path, {"topics": th})
    assert read_thresholds(tmp_path, spec)["topics"] == th


def test_thresholds_per_bucket_config_checks(tiny_dataset_dir, tmp_path):
    from conftest import tiny_run_tree
    from trainer.config import RunConfig, load_config
    from trainer.errors import ConfigError
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path)
    tree["eval"] = {"bucket_thresholds": {"<5": 0.3}}
    with pytest.raises(ConfigError, match="only used with eval.thresholds: per_bucket"):
        load_config(None, RunConfig, tree=tree)
    tree["eval"] = {"thresholds": "per_bucket", "bucket_thresholds": {"<5": 1.5}}
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        load_config(None, RunConfig, tree=tree)
    tree["eval"] = {"thresholds": "per_bucket", "bucket_thresholds": {"rare": 0.3}}
    with pytest.raises(ConfigError):
        load_config(None, RunConfig, tree=tree)


def _expected_labels(scores: dict, labels, values, at_least_one: bool) -> list[str]:
    """The decision rule by hand: every label at or above its own threshold; the best one when none is."""
    chosen = [label for label, t in zip(labels, values) if scores[label] >= t]
    return chosen or ([max(labels, key=lambda label: scores[label])] if at_least_one else [])


def test_thresholds_per_bucket_evaluation(tiny_run_dir, tmp_path):
    """Labels in two buckets with a fixed value each: every label gets its bucket's value, and the saved
    predictions and the Predictor apply each label's own threshold."""
    from collections import Counter

    import datasets
    import yaml

    from trainer.contracts import read_predictions, read_spec
    from trainer.evaluation import evaluate_on_split
    from trainer.serving.predictor import Predictor
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    # the same dataset with all but 3 training documents of "trade" left out: "trade" falls in the "<5" bucket
    dsd = datasets.load_from_disk(config["data"]["dataset"])
    keep = [i for i, t in enumerate(dsd["train"]["topics"]) if "trade" not in t]
    keep += [i for i, t in enumerate(dsd["train"]["topics"]) if "trade" in t][:3]
    dsd["train"] = dsd["train"].select(sorted(keep))
    data = tmp_path / "dataset"
    dsd.save_to_disk(str(data))
    shutil.copy(Path(config["data"]["dataset"]) / "manifest.json", data / "manifest.json")
    counts = Counter(label for t in dsd["train"]["topics"] for label in t)
    assert counts["trade"] == 3 and all(5 <= n <= 19 for label, n in counts.items() if label != "trade"), counts
    config["eval"].update({"thresholds": "per_bucket", "bucket_thresholds": {"5-19": 0.35, "<5": 0.2}})
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    evaluate_on_split(run, data=data)     # another training split than the run's: given explicitly, as --data does
    spec = read_spec(run / "model")
    labels = list(spec.target("topics").labels)
    saved = json.loads((run / "model" / "thresholds.json").read_text())["targets"]["topics"]
    assert saved["kind"] == "per_bucket" and saved["groups"] == {"5-19": 0.35, "<5": 0.2}
    assert dict(zip(labels, saved["values"])) == {label: 0.2 if label == "trade" else 0.35 for label in labels}
    report = (run / "report.md").read_text()
    assert "5-19 0.35 (fixed by the config)" in report and "<5 0.20 (fixed by the config)" in report
    th = read_thresholds(run / "model", spec)["topics"]
    rows = read_predictions(run)
    between = 0     # documents where "trade" scores between its threshold and the others': 0.35 would drop it
    for row in rows:
        entry = row["targets"]["topics"]
        assert entry["predicted"] == _expected_labels(entry["scores"], labels, th.values, th.at_least_one), row["id"]
        between += 0.2 <= entry["scores"]["trade"] < 0.35
    assert between >= 1
    texts = ["trade deficit and import tariffs", "trade talks on wheat harvest", "oil prices in Tokyo"]
    for got in (r["topics"] for r in Predictor.load(run, precision="fp32").predict(texts)):
        assert got["labels"] == _expected_labels(got["scores"], labels, th.values, th.at_least_one)


def _validation(n_docs: int):
    from trainer.evaluation.split_metrics import Scored
    rows = [k % len(PROBS) for k in range(n_docs)]
    return Scored(ids=[str(k) for k in range(n_docs)], gold=[[LABELS[j] for j in np.flatnonzero(GOLD[r])] for r in rows],
                  probs=PROBS[rows])


def test_thresholds_are_not_tuned_on_a_tiny_validation_split_and_say_why(tmp_path):
    """5 validation documents (the scraped corpus of issue 21): 0.5 is kept, not a silent tuned default."""
    from trainer.evaluation.split_metrics import split_metrics, tune
    small = tune(_validation(5), LABELS, "multi_label", "global", min_positives=1, min_documents=50)
    assert small.kind == "none" and small.values == [0.5, 0.5]
    assert small.note == ("not tuned: validation has 5 document(s), fewer than eval.threshold_min_documents 50; "
                          "0.5 kept")
    m = split_metrics(_validation(5), LABELS, "multi_label", small)
    assert m["thresholds"] == "none" and m["thresholds_note"] == small.note
    save_thresholds(tmp_path, small)
    assert load_thresholds(tmp_path, 2).note == small.note        # recorded with the model
    # enough documents: tuned as configured, no note
    big = tune(_validation(50), LABELS, "multi_label", "global", min_positives=1, min_documents=50)
    assert big.kind == "global" and big.note == ""
    # enough documents but too few gold labels in all
    few = tune(_validation(5), LABELS, "multi_label", "per_label", min_positives=10, min_documents=5)
    assert few.kind == "none" and "4 gold label(s), fewer than eval.threshold_min_positives 10" in few.note
    # per_bucket: the values the config fixes still apply, the others stay 0.5
    bucket = tune(_validation(5), LABELS, "multi_label", "per_bucket", min_positives=1, groups=["<5", "5-19"],
                  fixed={"<5": 0.3}, min_documents=50)
    assert bucket.kind == "per_bucket" and bucket.values == [0.3, 0.5] and bucket.note.startswith("not tuned")


def test_thresholds_note_is_in_the_summary_and_the_report():
    from trainer.evaluation.report import _header, ReportInput
    from trainer.console.summary import decision_rule
    note = "not tuned: validation has 5 document(s), fewer than eval.threshold_min_documents 50; 0.5 kept"
    assert decision_rule({"thresholds": "none", "thresholds_note": note}) == f"0.5 threshold ({note})"
    header = _header(ReportInput(run_name="r", model_type="t", problem="multi_label", dataset="d", split="test",
                                 metrics={"test": {"tuned": {"n_examples": 9}}}, thresholds_kind="none",
                                 threshold_fallback=[], errors={}, confusions=Counter(),
                                 threshold_note=note))
    assert f"0.5 for every label (saved in model/thresholds.json); {note}" in header


def test_thresholds_not_tuned_are_named_in_the_evaluate_stage_line():
    from trainer.console.stages import StageLog
    note = "not tuned: validation has 5 document(s), fewer than eval.threshold_min_documents 50; 0.5 kept"
    line = StageLog.line(StageLog(console=object()), {"stage": "tune", "done": True, "on": "validation",
                                                      "thresholds": {"topics": "per_label", "regions": "none"},
                                                      "notes": {"regions": note}})
    assert line.endswith(f"thresholds topics: per-label (on validation); regions: {note}")
    alone = StageLog.line(StageLog(console=object()), {"stage": "tune", "done": True, "on": "validation",
                                                       "thresholds": {"regions": "none"}, "notes": {"regions": note}})
    assert alone.endswith(f"regions: {note}") and "on validation" not in alone
