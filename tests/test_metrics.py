"""trainer.metrics: bundled evaluate module, checked against values computed by hand."""
import numpy as np
import pytest

from trainer.metrics import compute_metrics, load_metric, module_path

LABELS = ["a", "b", "c"]


def test_metrics_multi_label_by_hand():
    # gold: {a,b} {b} {}   predicted: {a} {b,c} {c}  -> TP a1 b1, FP c2, FN b1
    m = compute_metrics([["a", "b"], ["b"], []], [["a"], ["b", "c"], ["c"]], LABELS, "multi_label")
    assert m["accuracy"] == 0.0                       # no row exactly right
    assert m["micro_precision"] == pytest.approx(2 / 4)
    assert m["micro_recall"] == pytest.approx(2 / 3)
    assert m["micro_f1"] == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    assert m["per_label"]["b"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert m["per_label"]["c"]["precision"] == 0.0 and m["per_label"]["c"]["support"] == 0
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert m["n_examples"] == 3


def test_metrics_multi_label_accepts_multi_hot_rows():
    names = compute_metrics([["a", "b"], ["c"]], [["a"], ["c"]], LABELS, "multi_label")
    rows = compute_metrics(np.array([[1, 1, 0], [0, 0, 1]]), np.array([[1, 0, 0], [0, 0, 1]]), LABELS, "multi_label")
    assert names == rows
    assert rows["accuracy"] == 0.5


def test_metrics_single_label_by_hand():
    m = compute_metrics(["a", "b", "b", "c"], ["a", "b", "c", "c"], LABELS, "single_label")
    assert m["accuracy"] == 0.75
    assert m["per_label"]["c"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert m["macro_precision"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert m["micro_f1"] == pytest.approx(0.75)


def test_metrics_single_label_accepts_class_ids():
    assert compute_metrics([0, 1], [0, 0], LABELS, "single_label") == \
        compute_metrics(["a", "b"], ["a", "a"], LABELS, "single_label")


def test_metrics_gold_outside_label_list_is_ignored_for_multi_label():
    m = compute_metrics([["a", "zzz"]], [["a"]], LABELS, "multi_label")
    assert m["micro_recall"] == 1.0


def test_metrics_module_loads_by_path_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert module_path("trainer_classification").endswith("trainer_classification")
    metric = load_metric("trainer_classification", "multilabel")
    out = metric.compute(predictions=[[1, 0]], references=[[1, 1]], num_labels=2)
    assert out["micro_recall"] == 0.5


def test_metrics_module_has_one_import_per_line():
    # evaluate's import scanner misreads `import a, b`
    source = open(module_path("trainer_classification") + "/trainer_classification.py", encoding="utf-8").read()
    assert not [line for line in source.splitlines() if line.startswith("import ") and "," in line]


def test_metrics_unknown_problem_is_refused():
    with pytest.raises(ValueError, match="problem"):
        compute_metrics([], [], LABELS, "regression")


def test_metrics_single_label_gold_outside_the_labels_counts_in_micro_as_in_accuracy():
    # 10 test documents, 2 with a label the model dropped (task.min_label_count): every known one right.
    # Before, micro-F1 left the 2 out of recall (0.889) beside accuracy 0.800.
    gold = ["a"] * 4 + ["b"] * 4 + ["dropped"] * 2
    pred = ["a"] * 4 + ["b"] * 4 + ["a", "b"]
    m = compute_metrics(gold, pred, ["a", "b"], "single_label")
    assert m["accuracy"] == pytest.approx(0.8)
    assert m["micro_precision"] == m["micro_recall"] == m["micro_f1"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx(np.mean([2 * 0.8 / 1.8] * 2))   # macro: the model's labels only
    assert set(m["per_label"]) == {"a", "b"}


def test_metrics_single_label_unknown_prediction_is_never_a_hit():
    m = compute_metrics(["gone", "a"], ["other", "a"], ["a", "b"], "single_label")
    assert m["accuracy"] == pytest.approx(0.5) and m["micro_f1"] == pytest.approx(0.5)
