"""Macro-F1 per label-frequency bucket: in metrics.json, report.md and `trainer compare`."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from trainer.compare import compare
from trainer.compare.render import render
from trainer.evaluation.buckets import bucket_metrics, bucket_name, label_buckets

LABELS = ["acq", "corn", "earn", "zinc"]
TRAIN_COUNTS = {"earn": 2877, "acq": 99, "corn": 5, "zinc": 4}


def test_buckets_boundaries():
    assert [bucket_name(c) for c in (10_000, 100, 99, 20, 19, 5, 4, 1, 0)] == \
        [">=100", ">=100", "20-99", "20-99", "5-19", "5-19", "<5", "<5", "<5"]
    assert label_buckets(LABELS, TRAIN_COUNTS) == {">=100": ["earn"], "20-99": ["acq"], "5-19": ["corn"],
                                                   "<5": ["zinc"]}


def test_buckets_macro_is_over_labels_present_in_the_split():
    per_label = {"earn": {"f1": 0.9, "support": 10}, "acq": {"f1": 0.5, "support": 3},
                 "corn": {"f1": 0.0, "support": 0}, "zinc": {"f1": 0.2, "support": 1}}
    buckets = {"high": ["earn", "acq"], "rare": ["corn", "zinc"], "none": []}
    out = bucket_metrics(per_label, buckets)
    assert out["high"]["macro_f1"] == pytest.approx(0.7) and out["high"]["support"] == 13
    assert out["rare"]["macro_f1"] == pytest.approx(0.2) and out["rare"]["n_present"] == 1
    assert out["none"]["macro_f1"] is None and out["rare"]["n_labels"] == 2


def test_buckets_in_metrics_and_report(tiny_run_dir, tmp_path):
    from trainer.evaluation import evaluate_on_split
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    test = evaluate_on_split(run)["topics"]["test"]
    # the tiny dataset: 40 training documents, each of its 4 topics in 5-19 of them
    assert test["buckets"]["5-19"]["n_labels"] == 4 and test["buckets"][">=100"]["n_labels"] == 0
    present = [m["f1"] for m in test["per_label"].values() if m["support"] > 0]
    assert test["buckets"]["5-19"]["macro_f1"] == pytest.approx(np.mean(present))
    assert "## Macro-F1 by label frequency" in (run / "report.md").read_text()


def _rows(gold, pred):
    return [{"id": f"d{i}", "gold": g, "predicted": p, "scores": {}} for i, (g, p) in enumerate(zip(gold, pred))]


def _bucket_metrics(labels=LABELS):
    return {name: {"labels": members} for name, members in label_buckets(labels, TRAIN_COUNTS).items()}


def test_buckets_in_compare_with_paired_deltas(make_run_dir):
    rng = np.random.default_rng(0)
    gold = [[str(rng.choice(LABELS))] for _ in range(300)]
    # "better" finds every zinc document, "base" none of them; both equal elsewhere
    base_pred = [[g[0]] if g[0] != "zinc" else ["earn"] for g in gold]
    metrics = {"test": {"micro_f1": 0.5, "macro_f1": 0.5, "accuracy": 0.5, "buckets": _bucket_metrics()}}
    base = make_run_dir("base", predictions=_rows(gold, base_pred), metrics=metrics, labels=LABELS)
    better = make_run_dir("better", config={"train": {"seed": 1}}, predictions=_rows(gold, gold),
                          metrics={"test": {"micro_f1": 0.6, "macro_f1": 0.6, "accuracy": 0.6}}, labels=LABELS)
    comp = compare([base, better], baseline=base, n_resamples=200)
    rows = {r["run"]: r for r in comp.rows}
    assert comp.buckets == [">=100", "20-99", "5-19", "<5"]
    assert rows["better"]["macro_f1[<5]"] == 1.0 and rows["base"]["macro_f1[<5]"] == 0.0
    assert rows["better"]["delta_macro_f1[<5]"] == 1.0 and rows["better"]["delta_macro_f1[<5]_low"] > 0
    # earn: base also predicts earn for the zinc documents, so its earn F1 is below 1
    assert rows["base"]["macro_f1[>=100]"] < 1.0 == rows["better"]["macro_f1[>=100]"]
    assert rows["better"]["delta_macro_f1[20-99]"] == 0.0
    md = render(comp, "md")
    assert "macro_f1 <5 train docs" in md and "+1.000" in md


def test_buckets_compare_without_bucket_info_says_so(make_run_dir):
    gold = [["earn"], ["acq"]]
    run = make_run_dir("old", predictions=_rows(gold, gold), metrics={"test": {"micro_f1": 1.0}}, labels=LABELS)
    comp = compare([run])
    assert comp.buckets == [] and any("no label-frequency buckets" in n for n in comp.notes)
