"""`trainer evaluate`: metrics, thresholds, predictions and reports written into the run directory."""
from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from trainer import contracts
from trainer.errors import ConfigError, DataError
from trainer.evaluation import evaluate_on_split
from trainer.evaluation.confusions import confusion_matrix, confusion_pairs, error_counts, worst_labels
from trainer.models.transformer.reading import encode_windows
from trainer.metrics import compute_metrics


@pytest.fixture(scope="module")
def evaluated_multi(tiny_run_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("eval-multi") / "run"
    shutil.copytree(tiny_run_dir, run)
    return run, evaluate_on_split(run)["topics"]


@pytest.fixture(scope="module")
def evaluated_single(tiny_single_label_run_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("eval-single") / "run"
    shutil.copytree(tiny_single_label_run_dir, run)
    (run / "confusion.png").unlink(missing_ok=True)
    return run, evaluate_on_split(run)["topic"]


def _rows(path, target="topics"):
    """predictions.jsonl rows of one target: {"id", "gold", "predicted", "scores"}."""
    return [{"id": row["id"], **row["targets"][target]} for row in contracts.read_predictions(path.parent)]


def _labels(run):
    return list(contracts.read_spec(run / "model").primary.labels)


def test_evaluation_confusion_pairs_hand_computed():
    labels = ["a", "b", "c"]
    gold = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    pred = np.array([[1, 1, 0], [1, 0, 1], [0, 0, 1]], dtype=bool)
    # doc 0: a -> b wrongly; doc 1: gold a, b; c wrongly predicted -> (a, c), (b, c)
    assert confusion_pairs(gold, pred, labels) == Counter({("a", "b"): 1, ("a", "c"): 1, ("b", "c"): 1})
    assert error_counts(gold, pred, labels) == {"a": {"fn": 0, "fp": 0}, "b": {"fn": 1, "fp": 1},
                                                "c": {"fn": 0, "fp": 1}}


def test_evaluation_confusion_matrix_counts_gold_rows():
    matrix = confusion_matrix([0, 0, 1, 2], [0, 1, 1, 1], 3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [0, 1, 0]])


def test_evaluation_worst_labels_skip_absent_labels():
    per_label = {"a": {"f1": 0.9, "support": 5}, "b": {"f1": 0.1, "support": 2}, "c": {"f1": 0.0, "support": 0}}
    assert worst_labels(per_label, 2) == ["b", "a"]


def test_evaluation_metrics_match_written_predictions(evaluated_multi):
    run, metrics = evaluated_multi
    rows = _rows(run / "predictions.jsonl")
    labels = _labels(run)
    recomputed = compute_metrics([r["gold"] for r in rows], [r["predicted"] for r in rows], labels, "multi_label")
    on_disk = contracts.read_metrics(run)["topics"]
    assert on_disk["test"]["micro_f1"] == pytest.approx(recomputed["micro_f1"]) == metrics["test"]["micro_f1"]
    assert on_disk["test"]["n_examples"] == len(rows)


def test_evaluation_predictions_follow_saved_thresholds(evaluated_multi):
    run, _ = evaluated_multi
    th = json.loads((run / "model" / "thresholds.json").read_text())["targets"]["topics"]
    labels = _labels(run)
    assert th["kind"] == "per_label" and len(th["values"]) == len(labels)
    for row in _rows(run / "predictions.jsonl"):
        expected = {label for label, t in zip(labels, th["values"]) if row["scores"][label] >= t}
        if not expected and th["at_least_one"]:
            expected = {max(row["scores"], key=row["scores"].get)}
        assert set(row["predicted"]) == expected


def test_evaluation_at_least_one_auto_follows_the_training_labels(tiny_dataset_dir):
    import datasets

    from trainer.contracts import Target
    from trainer.evaluation.run import _at_least_one
    topics, topic = Target("topics", "multi_label", ("a",)), Target("topic", "single_label", ("a", "b"))
    train = datasets.load_from_disk(str(tiny_dataset_dir))["train"]
    assert _at_least_one("auto", train, topics)   # every tiny train doc has a topic
    assert not _at_least_one("auto", train, topic)
    unlabelled = train.map(lambda row, i: {"topics": [] if i == 0 else row["topics"]}, with_indices=True)
    assert not _at_least_one("auto", unlabelled, topics)
    assert _at_least_one(True, unlabelled, topics)
    # a multi-task target skips unlabelled documents: the rule follows the labelled ones
    assert _at_least_one("auto", unlabelled, Target("topics", "multi_label", ("a",), skip_unlabelled=True))


def test_evaluation_reports_metrics_at_half_and_tuned(evaluated_multi):
    run, metrics = evaluated_multi
    assert set(metrics) == {"validation", "test"}
    assert metrics["test"]["thresholds"] == "per_label"
    assert set(metrics["test"]["at_0.5"]["per_label"]) == set(metrics["test"]["per_label"])
    report = (run / "report.md").read_text()
    for section in ("## Summary", "## Per label", "## Worst labels", "## Most frequent confusions"):
        assert section in report
    assert "test@0.5" in report and "test@per_label" in report


def test_evaluation_reports_the_at_least_one_rule(evaluated_multi):
    run, metrics = evaluated_multi
    assert metrics["test"]["at_least_one"] is True   # auto: every tiny training document has a topic
    report = (run / "report.md").read_text()
    assert "gets its top-scoring label" in report and "test@per_label+top1" in report


def test_evaluation_report_sorts_labels_by_support(evaluated_multi):
    run, metrics = evaluated_multi
    report = (run / "report.md").read_text().split("## Per label")[1].split("##")[0]
    rows = [line.split("|")[1:3] for line in report.splitlines() if line.startswith("| ") and "support" not in line]
    supports = [int(s) for _, s in rows]
    assert supports == sorted(supports, reverse=True)
    assert {label.strip() for label, _ in rows} == set(metrics["test"]["per_label"])


def test_evaluation_single_label_writes_confusion_png(evaluated_single):
    run, metrics = evaluated_single
    assert (run / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "at_0.5" not in metrics["test"]
    assert not (run / "model" / "thresholds.json").exists()


def test_evaluation_chunking_adds_a_comparison(tiny_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["eval"]["chunking"] = {"enabled": True, "stride": 8, "max_chunks": 4, "pool": "mean"}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    metrics = evaluate_on_split(run)["topics"]
    assert set(metrics["test"]["chunked"]["per_label"]) == set(metrics["test"]["per_label"])
    assert "head truncation vs chunk-and-pool" in (run / "report.md").read_text()


def test_evaluation_chunk_and_pool_reads_past_the_first_window(tiny_run_dir):
    """End to end on the trained tiny model: a text several windows long is scored window by window and
    the pooled logits are the max (mean) of its windows' logits, not the head's."""
    from trainer.config.run_config import ChunkingConfig
    from trainer.serving.predictor import Predictor
    scorer = Predictor.load(tiny_run_dir, precision="fp32").model.scorer
    long_text = " ".join(["Grain exports rose sharply as wheat and corn shipments left the port."] * 6
                         + ["Crude oil prices fell after the OPEC meeting in Vienna on output quotas."] * 8)
    texts = ["Short story about wheat.", long_text]
    chunking = ChunkingConfig(enabled=True, max_chunks=8, pool="max")
    enc, owner = encode_windows(scorer.tokenizer, texts, scorer.max_length, None, 8)
    assert list(owner).count(0) == 1 and list(owner).count(1) > 2          # the long text needs several windows
    windows = scorer.forward_encoded(enc)
    head = scorer.logits(texts)
    pooled = scorer.logits(texts, chunking)
    np.testing.assert_allclose(pooled[1], windows[owner == 1].max(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pooled[0], head[0], rtol=1e-4, atol=1e-4)   # one window: the head itself
    assert not np.allclose(pooled[1], head[1], atol=1e-4)
    mean = scorer.logits(texts, ChunkingConfig(enabled=True, max_chunks=8, pool="mean"))
    np.testing.assert_allclose(mean[1], windows[owner == 1].mean(axis=0), rtol=1e-4, atol=1e-4)


def test_evaluation_chunk_stride_longer_than_window_is_refused(tiny_run_dir):
    from trainer.config.run_config import ChunkingConfig
    from trainer.serving.predictor import Predictor
    model = Predictor.load(tiny_run_dir, precision="fp32").model
    with pytest.raises(ConfigError, match="stride 200 is longer than the window"):
        model.score(["some text " * 100], ChunkingConfig(enabled=True, stride=200))


def test_evaluation_unknown_split_names_the_choices(tiny_run_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    with pytest.raises(DataError, match="no split 'dev'.*--split"):
        evaluate_on_split(run, split="dev")


def test_evaluation_cli_prints_summary(tiny_run_dir, tmp_path):
    from trainer.cli import app
    run = tmp_path / "run"
    shutil.copytree(tiny_run_dir, run)
    result = CliRunner().invoke(app, ["evaluate", str(run), "--split", "validation"])
    assert result.exit_code == 0, result.output
    assert "validation (10 documents): micro-F1" in result.output and "report.html" in result.output
    assert set(contracts.read_metrics(run)["topics"]) == {"validation"}


def test_evaluation_cli_missing_run_is_an_error(tmp_path):
    from trainer.cli import app
    result = CliRunner().invoke(app, ["evaluate", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


def test_evaluation_overrides_change_the_eval_section_and_config(tiny_run_dir, tmp_path):
    run = shutil.copytree(tiny_run_dir, tmp_path / "run")
    evaluate_on_split(run, overrides=["eval.thresholds=global"])
    saved = json.loads((run / "model" / "thresholds.json").read_text())["targets"]["topics"]
    assert saved["kind"] == "global" and len(set(saved["values"])) == 1
    assert yaml.safe_load((run / "config.yaml").read_text())["eval"]["thresholds"] == "global"


def test_evaluation_overrides_outside_eval_are_refused(tiny_run_dir, tmp_path):
    from trainer.errors import ConfigError
    run = shutil.copytree(tiny_run_dir, tmp_path / "run")
    with pytest.raises(ConfigError, match="eval section only"):
        evaluate_on_split(run, overrides=["train.epochs=3"])


# ---- report.html: one self-contained page of pictures per evaluation, per target ----
def _page_checks(page: str) -> list[str]:
    """The page's sections; it loads nothing from elsewhere (inline CSS, data: images only)."""
    import re
    assert page.startswith("<!doctype html>") and "<style>" in page
    assert not re.search(r"<(script|link|iframe)\b", page) and "http://" not in page and "https://" not in page
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    import base64
    assert all(base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n" for _, data in images)
    return [alt for alt, _ in images]


def test_evaluation_html_report_multi_label(evaluated_multi):
    run, _ = evaluated_multi
    page = (run / "report.html").read_text(encoding="utf-8")
    pictures = _page_checks(page)
    assert pictures == ["Loss and validation scores", "F1 per label (test)",
                        "Precision-recall, most frequent labels (test)",
                        "Micro-F1 against one threshold for every label", "Label co-confusions (test)"]
    assert 'id="target-topics"' in page and "Decision rule:" in page and "test at 0.5" in page


def test_evaluation_html_report_single_label_has_a_confusion_matrix(evaluated_single):
    run, _ = evaluated_single
    pictures = _page_checks((run / "report.html").read_text(encoding="utf-8"))
    assert "Confusion matrix (test)" in pictures and "Label co-confusions (test)" not in pictures


def test_evaluation_two_target_model_gets_a_section_per_target(tiny_dataset_dir, tmp_path, monkeypatch):
    """A model with topics + regions (written by hand; multi-target training is built elsewhere): evaluate
    writes metrics, report.md and report.html for both."""
    from conftest import KeywordModel

    from trainer.contracts import ModelSpec, Target, write_spec
    from trainer.evaluation import run as evaluation_run
    from trainer.console.summary import summary_lines
    from trainer.config import RunConfig
    labels = {c: json.loads((tiny_dataset_dir / "manifest.json").read_text())["labels"][c] for c in ("topics", "regions")}
    spec = ModelSpec("keyword", [Target("topics", "multi_label", tuple(labels["topics"])),
                                 Target("regions", "multi_label", tuple(labels["regions"]))])
    run = tmp_path / "two"
    (run / "model").mkdir(parents=True)
    write_spec(run / "model", spec)
    monkeypatch.setattr(evaluation_run, "load_model", lambda model_dir, options: KeywordModel(spec))
    metrics = evaluation_run.evaluate_on_split(run, data=tiny_dataset_dir)
    assert set(metrics) == {"topics", "regions"} and metrics["regions"]["test"]["micro_f1"] > 0.5
    page = (run / "report.html").read_text(encoding="utf-8")
    pictures = _page_checks(page)
    assert 'id="target-topics"' in page and 'id="target-regions"' in page
    assert pictures.count("F1 per label (test)") == 2
    assert pictures.count("Label co-confusions (test)") + page.count("No label co-confusions on test") == 2
    assert "No train_log.jsonl" in page
    report = (run / "report.md").read_text(encoding="utf-8")
    assert "target topics" in report and "target regions" in report
    lines = summary_lines(run, RunConfig.model_validate({"data": {"dataset": str(tiny_dataset_dir)}}))
    assert any(line.startswith("topics test (10 documents)") for line in lines)
    assert any(line.startswith("regions validation (10 documents)") for line in lines)


def test_evaluation_figures_co_confusions_and_pr_points_hand_computed():
    from trainer.evaluation.figures import _pr_points, co_confusion_matrix
    gold = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 1]], dtype=bool)
    pred = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0]], dtype=bool)
    # doc 0 (gold a) also got b; doc 1 (gold a, b) also got c; doc 2 (gold c) got a
    assert co_confusion_matrix(gold, pred).tolist() == [[0, 1, 1], [0, 0, 1], [1, 0, 0]]
    precision, recall, cut = _pr_points(np.array([0.9, 0.8, 0.8, 0.1]), np.array([1, 0, 1, 1]))
    assert cut.tolist() == [0.9, 0.8, 0.1]
    assert precision.tolist() == [1.0, 2 / 3, 0.75] and recall.tolist() == [1 / 3, 2 / 3, 1.0]


def test_evaluation_cli_help_names_report_html_not_a_multi_label_confusion_png():
    result = CliRunner().invoke(app_for_help(), ["evaluate", "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    assert "report.html" in text and "confusion.png for single-label" in text


def app_for_help():
    from trainer.cli import app
    return app


def test_evaluation_reports_name_the_run_not_its_staging_folder(evaluated_multi, tiny_run_dir):
    """Training evaluates inside runs/.NAME.partial; the reports still say NAME (config.yaml's output.name)."""
    run, _ = evaluated_multi
    for report in (tiny_run_dir / "report.md", tiny_run_dir / "report.html", run / "report.md"):
        text = report.read_text(encoding="utf-8")
        assert "Evaluation: tiny" in text and ".partial" not in text


def _single_label_report(gold: list[str], predicted: list[str], labels: list[str], **extra) -> str:
    """report.md of a single-label split scored by hand, built as evaluation builds it."""
    from trainer.decisions import Thresholds
    from trainer.evaluation.confusions import unknown_gold_pairs
    from trainer.evaluation.report import ReportInput, render_report
    from trainer.evaluation.split_metrics import Scored, split_metrics
    probs = np.array([[1.0 if label == p else 0.0 for label in labels] for p in predicted], dtype=np.float32)
    scored = Scored(ids=[str(i) for i in range(len(gold))], gold=gold, probs=probs)
    m = split_metrics(scored, labels, "single_label", Thresholds.default(len(labels)))
    gold_m, pred = scored.gold_matrix(labels, "single_label"), probs.astype(bool)
    return render_report(ReportInput(
        run_name="r", model_type="transformer", problem="single_label", dataset="ds", split="test",
        metrics={"test": {"tuned": m}}, thresholds_kind="none", threshold_fallback=[],
        errors=error_counts(gold_m, pred, labels),
        confusions=confusion_pairs(gold_m, pred, labels) + unknown_gold_pairs(gold, pred, labels), **extra))


def test_evaluation_report_counts_documents_with_a_dropped_gold_label_as_confusions():
    # every document with a known label is right; 1 of 13 has a label the model dropped: accuracy 0.923.
    # Before, report.md said "no wrong predictions on test" here.
    gold, pred = ["a"] * 6 + ["b"] * 6 + ["gone"], ["a"] * 6 + ["b"] * 6 + ["a"]
    report = _single_label_report(gold, pred, ["a", "b"])
    confusions = report.split("## Most frequent confusions")[1]
    assert "no wrong predictions" not in report
    assert "| gone (not a label of the model) | a | 1 |" in confusions
    assert "micro precision, recall and F1 equal accuracy" in report
    summary = report.split("## Summary")[1].split("##")[0]
    assert "| accuracy | 0.9231 |" in summary and "| micro_f1 | 0.9231 |" in summary


def test_evaluation_report_without_pairs_still_counts_the_errors():
    from trainer.evaluation.report import _confusions, ReportInput
    base = dict(run_name="r", model_type="t", problem="multi_label", dataset="d", split="test",
                metrics={"test": {"tuned": {"per_label": {}}}}, thresholds_kind="none", threshold_fallback=[],
                confusions=Counter())
    missed = _confusions(ReportInput(errors={"a": {"fn": 2, "fp": 0}, "b": {"fn": 0, "fp": 1}}, **base))
    assert "no wrong predictions" not in missed and "2 missed gold label(s) and 1 label(s)" in missed
    clean = _confusions(ReportInput(errors={"a": {"fn": 0, "fp": 0}}, **base))
    assert "None: no wrong predictions on test." in clean


def test_evaluation_report_lists_the_labels_left_out_and_why(tmp_path):
    from trainer.evaluation.label_decisions import label_decision_lines
    dataset, run = tmp_path / "ds", tmp_path / "run"
    dataset.mkdir(), run.mkdir()
    build = [{"label": "sport", "documents": 4, "train": 3, "test": 1, "rule": "labels.topic.min_count",
              "threshold": 5, "reason": "3 training document(s), fewer than labels.topic.min_count 5"}]
    trained = [{"label": "weather", "train": 4, "rule": "task.min_label_count", "threshold": 5,
                "reason": "4 training example(s), fewer than task.min_label_count 5"}]
    (dataset / "manifest.json").write_text(json.dumps({"format": "trainer-dataset/1",
                                                       "labels_dropped": {"topic": build}}))
    (run / "meta.json").write_text(json.dumps({"dataset": {"labels_dropped": {"topic": trained}}}))
    lines = label_decision_lines(run, dataset, "topic")
    assert lines == ["dataset build (`trainer data build`): topic: labels.topic.min_count 5 dropped 1 label: "
                     "sport (3 training documents)",
                     "training (`trainer train`): topic: task.min_label_count 5 dropped 1 label: "
                     "weather (4 training documents)"]
    report = _single_label_report(["a", "b"], ["a", "b"], ["a", "b"], label_decisions=lines)
    section = report.split("## Labels left out")[1].split("##")[0]
    assert "- training (`trainer train`): topic: task.min_label_count 5 dropped 1 label: weather" in section
    assert "None:" in _single_label_report(["a"], ["a"], ["a", "b"]).split("## Labels left out")[1]
