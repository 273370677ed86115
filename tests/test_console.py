"""What the commands show while they work: library noise off (and back with --verbose), the training table,
stage progress of dataset builds and evaluations, the summary after training, predict's table."""
from __future__ import annotations

import io
import json
import logging
import re
import shutil
import warnings
from types import SimpleNamespace as NS

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from trainer.cli import app
from conftest import tiny_run_tree


def _console() -> Console:
    return Console(file=io.StringIO(), width=200, color_system=None)


# ---- library noise ----------------------------------------------------------------------------------------
def test_console_quiet_libraries_silences_and_restores_everything():
    import datasets
    import transformers.utils.logging as hf_logging

    from trainer.console.quiet import quiet_libraries

    def state():
        return (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled(),
                datasets.logging.get_verbosity(), logging.getLogger("accelerate").level, list(warnings.filters))
    before = state()
    with quiet_libraries(["datasets", "transformers"]):
        assert hf_logging.get_verbosity() == logging.ERROR and not hf_logging.is_progress_bar_enabled()
        assert not datasets.is_progress_bar_enabled() and datasets.logging.get_verbosity() == logging.ERROR
        assert logging.getLogger("accelerate").level == logging.ERROR
        with warnings.catch_warnings(record=True) as seen:
            warnings.warn_explicit("library chatter", UserWarning, "x.py", 1, module="transformers.trainer")
            warnings.warn_explicit("ours", UserWarning, "x.py", 2, module="trainer.cli")
        assert [str(w.message) for w in seen] == ["ours"]
    assert state() == before
    with quiet_libraries(["datasets", "transformers"], enabled=False):   # --verbose
        assert state() == before


# ---- the training table -------------------------------------------------------------------------------------
def _drive(table, evals, metric="eval_micro_f1"):
    """The training events (trainer.events) a run with these evaluations sends, to `table`."""
    table({"event": "train_begin", "step": 0, "max_steps": 10 * len(evals), "best_metric": None, "metric": metric,
           "greater_is_better": True})
    for n, metrics in enumerate(evals, 1):
        table({"event": "log", "step": 10 * n, "loss": 1.0 / n})
        table({"event": "step", "step": 10 * n, "max_steps": 10 * len(evals)})
        table({"event": "eval", "step": 10 * n, "epoch": float(n),
               "metrics": {"eval_loss": 0.5, "eval_n_examples": 381, **metrics}})
        table({"event": "checkpoint", "step": 10 * n})
    table({"event": "train_end", "step": 10 * len(evals)})
    return table.console.file.getvalue()


def test_console_training_table_marks_the_best_checkpoint_kept():
    from trainer.console.training import TrainingConsole
    cb = TrainingConsole(_console(), problems={"topics": "multi_label"}, limit=200)
    text = _drive(cb, [{"eval_micro_f1": f, "eval_macro_f1": f / 2, "eval_accuracy": f} for f in (0.2, 0.5, 0.4)])
    assert [r["best"] for r in cb.rows] == [True, True, False]          # strictly better only, as Trainer keeps
    assert text.count("✔ best") == 2 and "kept the best checkpoint: step 20" in text
    header = next(line for line in text.splitlines() if line.strip().startswith("epoch"))
    assert header.split() == ["epoch", "step", "loss", "val", "loss", "micro-F1@0.5", "macro-F1@0.5", "time"]
    assert "381 documents, data.limit" in text and "plain 0.5 threshold" in text
    row = next(line for line in text.splitlines() if line.split()[:2] == ["2.00", "20"])
    assert row.split()[2:6] == ["0.5000", "0.5000", "0.500", "0.250"]   # loss, val loss, micro, macro


def test_console_training_table_names_single_label_and_two_target_columns():
    from trainer.console.training import TrainingConsole
    single = TrainingConsole(_console(), problems={"topic": "single_label"})
    text = _drive(single, [{"eval_accuracy": 0.6, "eval_macro_f1": 0.5, "eval_micro_f1": 0.6}], "eval_accuracy")
    header = next(line for line in text.splitlines() if line.strip().startswith("epoch"))
    assert "accuracy" in header and "macro-F1" in header and "@0.5" not in header and "micro" not in header
    two = TrainingConsole(_console(), problems={"topics": "multi_label", "regions": "multi_label"})
    text = _drive(two, [{"eval_topics_micro_f1": 0.4, "eval_regions_micro_f1": 0.7, "eval_topics_macro_f1": 0.2,
                         "eval_regions_macro_f1": 0.3}], "eval_topics_micro_f1")
    assert "topics micro-F1@0.5" in text and "regions micro-F1@0.5" in text


def test_console_training_table_of_a_task_auto_run_names_columns_as_the_dataset_resolved_it(tmp_path):
    # task.target/problem auto: the table learns the problem from the run's label-space event, not the config
    from trainer.config import RunConfig, load_config
    from trainer.console.training import TrainingOutput
    tree = tiny_run_tree(tmp_path, tmp_path)
    tree["task"] = {"target": "auto", "problem": "auto"}
    output = TrainingOutput(load_config(None, RunConfig, tree=tree), console=_console())
    output({"stage": "labels", "done": True, "target": "topic", "problem": "single_label", "labels": 4,
            "labels_dropped": {"topic": []}})
    text = _drive(output, [{"eval_accuracy": 0.6, "eval_macro_f1": 0.5, "eval_micro_f1": 0.6}], "eval_accuracy")
    header = next(line for line in text.splitlines() if line.strip().startswith("epoch"))
    assert "accuracy" in header and "@0.5" not in header and "plain 0.5 threshold" not in text


@pytest.fixture
def tiny_config(tiny_dataset_dir, tmp_path):
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path / "runs", "tiny-cli")
    tree["train"].update({"max_steps": 4, "eval_every": 2, "logging_steps": 1})
    path = tmp_path / "tiny-cli.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.mark.integration
def test_console_train_shows_a_table_not_library_dicts(tiny_config, tmp_path):
    result = CliRunner().invoke(app, ["train", str(tiny_config)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "'loss':" not in out and "Writing model shards" not in out and "Loading weights" not in out
    assert "micro-F1@0.5" in out and "✔ best" in out and "kept the best checkpoint" in out
    table = [line.split()[:2] for line in out.splitlines() if re.match(r"^\s*\d+\.\d\d\s+\d+\s", line)]
    assert table == [["0.40", "2"], ["0.80", "4"]]                   # one row per evaluation: epoch, step
    assert "evaluating" in out and "score test" in out and "report.html" in out
    assert "validation (10 documents): micro-F1" in out and "plain 0.5 threshold, as in the training table" in out
    run = tmp_path / "runs" / "tiny-cli"
    for command in ("trainer evaluate", "trainer predict", "trainer serve", "trainer compare"):
        assert f"{command} {run}" in out
    rows = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    assert any("grad_norm" in r for r in rows) and any("eval_micro_f1" in r for r in rows)   # the full record


@pytest.mark.integration
def test_console_train_verbose_brings_the_library_output_back(tiny_config):
    result = CliRunner().invoke(app, ["train", str(tiny_config), "--verbose"])
    assert result.exit_code == 0, result.output
    assert "'loss':" in result.output          # the Trainer's own log dicts
    assert "micro-F1@0.5" in result.output     # and the table


@pytest.mark.integration
def test_console_tfidf_run_says_fitted_not_trained_one_step(tiny_dataset_dir, tmp_path):
    config = tmp_path / "lin.yaml"
    config.write_text(yaml.safe_dump({"data": {"dataset": str(tiny_dataset_dir)}, "output": {"dir": str(tmp_path)},
                                      "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}}}))
    result = CliRunner().invoke(app, ["train", str(config)])
    assert result.exit_code == 0, result.output
    assert "fitted in" in result.output and "trained 1 steps" not in result.output
    assert "as in the training table" not in result.output       # there was none
    assert f"trainer predict {tmp_path / 'lin'} --text" in result.output


def test_console_summary_names_the_rule_and_the_plain_threshold():
    from trainer.console.summary import metric_lines
    m = {"micro_f1": 0.347, "macro_f1": 0.011, "accuracy": 0.378, "n_examples": 381, "thresholds": "global",
         "at_least_one": True, "at_0.5": {"micro_f1": 0.0, "macro_f1": 0.0, "accuracy": 0.029}}
    tuned, plain = metric_lines("validation", m, NS(values=[0.3] * 4))
    assert tuned.startswith("validation (381 documents): micro-F1 0.347")
    assert "global threshold 0.30 (tuned on validation) + at-least-one rule" in tuned
    assert "micro-F1 0.000" in plain and "plain 0.5 threshold, as in the training table" in plain
    assert plain.index("micro-F1") == tuned.index("micro-F1")    # aligned under each other
    only = metric_lines("test", {**m, "thresholds": "none", "at_least_one": False})
    assert len(only) == 1 and "0.5 threshold" in only[0]
    assert len(metric_lines("test", {"micro_f1": 0.5, "macro_f1": 0.4, "accuracy": 0.5, "n_examples": 3})) == 1
    groups = {"<5": 0.3, "5-19": 0.35, ">=100": 0.55}        # as a saved file may order them: shown in bucket order
    bucket = metric_lines("test", {**m, "thresholds": "per_bucket"}, NS(values=[0.55, 0.3], groups=groups))
    assert "per-bucket thresholds (>=100 0.55, 5-19 0.35, <5 0.30) + at-least-one rule" in bucket[0]


# ---- stage progress ---------------------------------------------------------------------------------------
def test_console_build_reports_each_stage_with_counts(tmp_path):
    from test_build import _articles, _cfg

    from trainer.data.build import build_dataset
    from trainer.console.stages import StageLog
    events = []
    result = build_dataset(_cfg(), articles=_articles(120), output=tmp_path / "ds", progress=events.append)
    done = [e["stage"] for e in events if e["done"]]
    assert done == ["read", "non_empty", "labelled", "deduplicated", "split", "label_filtered", "written"]
    # the streaming build reads and labels a batch at a time (one spinner, counted per batch), then
    # dedups, splits and filters labels in one pass over the collected documents
    started = [e for e in events if not e["done"]]
    assert [e["stage"] for e in started if e["stage"] != "read"] == ["deduplicated", "written"]
    reads = [e["documents"] for e in started if e["stage"] == "read"]
    assert reads[0] == 0 and reads[-1] == 120 and reads == sorted(reads)
    assert events[-1]["documents"] == result.manifest["accounting"]["kept"]
    assert events[-1]["by_split"] == result.manifest["counts"]
    assert [s["stage"] for s in result.manifest["stages"]] == done[:-1]     # the manifest is unchanged
    log = StageLog(_console())
    for event in events:
        log(event)
    text = log.console.file.getvalue()
    assert text.startswith("building the dataset")
    for word in ("read", "labelled", "deduplicated", "split", "written"):
        assert f"  {word} " in text
    assert "120 documents" in text and f"-> {tmp_path / 'ds'}" in text


def test_console_data_build_cli_prints_stages(tmp_path):
    rows = [{"title": f"T{i}", "text": f"body {i} " + "wheat corn oil " * (i % 7 + 3), "topics": ["grain"]}
            for i in range(30)]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "data.yaml"
    config.write_text(yaml.safe_dump({"source": {"kind": "jsonl", "path": "in.jsonl",
                                                 "columns": {"topics": "topics"}},
                                      "labels": {"region": None}, "output": "ds"}))
    result = CliRunner().invoke(app, ["data", "build", str(config)])
    assert result.exit_code == 0, result.output
    assert "building the dataset" in result.output and "  read " in result.output and "30 documents" in result.output
    assert (tmp_path / "ds" / "manifest.json").is_file()    # `output: ds` is taken from the config's folder


def test_console_data_build_read_line_agrees_with_the_summary(tmp_path):
    rows = [{"title": f"T{i}", "text": f"body {i} " + "wheat corn oil " * (i % 7 + 3), "topics": ["grain"]}
            for i in range(30)]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    (tmp_path / "in" / "notes.txt").write_text("not a JSONL file")   # left out by the pattern: rejected
    config = tmp_path / "data.yaml"
    config.write_text(yaml.safe_dump({"source": {"kind": "jsonl", "path": "in", "pattern": "*.jsonl",
                                                 "columns": {"topics": "topics"}},
                                      "labels": {"region": None}, "output": "ds"}))
    result = CliRunner().invoke(app, ["data", "build", str(config)])
    assert result.exit_code == 0, result.output
    read_line = next(line for line in result.output.splitlines() if line.startswith("  read "))
    assert read_line.endswith("32 documents, 2 rejected")
    assert "read 32 = kept 30 + rejected 2 + duplicates 0" in result.output
    assert "  non-empty " in result.output and "(-" not in result.output.split("non-empty")[1].splitlines()[0]


@pytest.mark.integration
def test_console_evaluate_reports_stages_and_scores_in_blocks(tiny_run_dir, tmp_path, monkeypatch):
    from trainer import contracts
    from trainer.evaluation import run as evaluation_run
    run = shutil.copytree(tiny_run_dir, tmp_path / "run")
    whole = contracts.read_metrics(run)
    monkeypatch.setattr(evaluation_run, "SCORE_BLOCK", 4)
    events = []
    metrics = evaluation_run.evaluate_on_split(run, progress=events.append)
    assert metrics == whole                                     # scoring in blocks changes nothing
    stages = [(e["stage"], e.get("split"), e["done"]) for e in events]
    assert stages[0] == ("load", None, False) and stages[-1] == ("report", None, True)
    test_scores = [e["documents"] for e in events if e["stage"] == "score" and e["split"] == "test"]
    assert test_scores == [0, 4, 8, 10]                         # a count after each block
    assert next(e for e in events if e["stage"] == "load" and e["done"])["by_split"] == {"validation": 10, "test": 10}
    assert ("tune", None, True) in stages


@pytest.mark.integration   # trains a TF-IDF run
def test_console_evaluate_skips_the_tune_stage_with_nothing_to_tune(tiny_dataset_dir, tmp_path):
    from trainer.config import RunConfig, load_config
    from trainer.evaluation import run as evaluation_run
    from trainer.console.stages import StageLog
    from trainer.workflows.train import train
    tree = {"data": {"dataset": str(tiny_dataset_dir)}, "task": {"target": "topic", "problem": "single_label"},
            "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}}, "output": {"dir": str(tmp_path), "name": "one"}}
    run = train(load_config(None, RunConfig, tree=tree))
    events = []
    evaluation_run.evaluate_on_split(run, progress=events.append)
    tune = [e for e in events if e["stage"] == "tune"]
    assert tune == [{"stage": "tune", "done": True, "skipped": "nothing to tune (single-label)"}]
    metrics = next(e for e in events if e["stage"] == "metrics" and e["done"])
    assert metrics["targets"] == ["topic"] and "seconds" in metrics
    line = StageLog(Console(file=io.StringIO())).line(tune[0])
    assert line.split() == ["tune", "skipped:", "nothing", "to", "tune", "(single-label)"]


@pytest.mark.integration
def test_console_evaluate_cli_prints_stages(tiny_run_dir, tmp_path):
    run = shutil.copytree(tiny_run_dir, tmp_path / "run")
    result = CliRunner().invoke(app, ["evaluate", str(run)])
    assert result.exit_code == 0, result.output
    for line in ("evaluating", "  load ", "  score validation ", "  score test ", "  tune ", "  report "):
        assert line in result.output
    assert "report.html" in result.output


# ---- predict -----------------------------------------------------------------------------------------------
@pytest.mark.integration
def test_console_predict_takes_text_and_prints_json_lines_in_a_pipe(tiny_run_dir):
    result = CliRunner().invoke(app, ["predict", str(tiny_run_dir), "--text", "oil prices rose", "-t",
                                      "net profit rose"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["text-1", "text-2"] and all("scores" in r for r in rows)


@pytest.mark.integration
def test_console_predict_table_shows_labels_and_top_scores(tiny_run_dir):
    from trainer.serving.predictor import Predictor
    result = CliRunner().invoke(app, ["predict", str(tiny_run_dir), "--text", "oil prices rose in Tokyo",
                                      "--format", "table"])
    assert result.exit_code == 0, result.output
    expected = Predictor.load(tiny_run_dir).predict(["oil prices rose in Tokyo"])[0]["topics"]
    out = result.output
    assert "labels" in out and "top scores" in out and "oil prices rose in Tokyo" in out
    assert all(label in out for label in expected["labels"])
    top = max(expected["scores"], key=expected["scores"].get)
    assert f"{expected['scores'][top]:.3f}" in out and "{" not in out


@pytest.mark.integration
def test_console_predict_text_given_as_a_file_gets_a_hint(tiny_run_dir):
    result = CliRunner().invoke(app, ["predict", str(tiny_run_dir), "some text about oil"])
    assert result.exit_code == 1 and "no such file or folder" in result.output
    assert "--text 'some text about oil'" in result.output and "Traceback" not in result.output


def test_console_predict_table_has_a_column_pair_per_target(two_target_predictor):
    from trainer.console.predict_table import predict_table
    texts = ["corn exports from Tokyo", "net profit rose in Paris"]
    records = [{"id": f"text-{i}", **r} for i, r in enumerate(two_target_predictor.predict(texts), 1)]
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(predict_table(records, [(t.name, len(t.labels)) for t in two_target_predictor.targets], texts))
    out = console.file.getvalue()
    assert "topics labels" in out and "regions labels" in out and "regions top scores" in out
    first = next(line for line in out.splitlines() if "corn exports" in line)
    assert "grain" in first and "Eastern Asia" in first


@pytest.mark.integration
def test_console_train_announces_early_stopping_and_shows_each_rows_own_loss(tiny_dataset_dir, tmp_path):
    """train.max_steps 30 ending at step 4 is explained (console, train_log.jsonl, meta.json, the summary), and
    with train.logging_steps 50 the loss column is each row's own mean, not the step-1 loss repeated."""
    from trainer import contracts
    from trainer.config import RunConfig, load_config
    from trainer.console.summary import training_line
    from trainer.workflows.train import train
    from trainer.console.training import TrainingConsole
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path / "runs", "stops")
    # a learning rate too small to change a decision: validation never improves after the first evaluation
    tree["train"].update({"max_steps": 30, "eval_every": 2, "logging_steps": 50, "learning_rate": 1e-12,
                          "early_stopping_patience": 1})
    table = TrainingConsole(_console(), problems={"topics": "multi_label"})
    run = train(load_config(None, RunConfig, tree=tree), progress=table)   # the run's events: the table's own
    text = table.console.file.getvalue()
    assert [row["step"] for row in table.rows] == [2, 4]
    assert ("early stopping at step 4 of 30: validation micro_f1 did not improve on "
            f"{table.rows[0]['eval_micro_f1']:.4f} (step 2) for 1 evaluation in a row "
            "(train.early_stopping_patience 1)") in text
    rows = contracts.read_train_log(run)
    event = next(r for r in rows if r.get("event") == "early_stopping")
    assert event["step"] == 4 and event["early_stopping"]["max_steps"] == 30
    meta = contracts.read_meta(run)
    assert meta["global_step"] == 4 and meta["early_stopping"]["best_step"] == 2
    assert training_line(meta).startswith("trained 4 of 30 steps") and "early stopping: validation" in training_line(meta)
    # the loss is logged at each evaluation: each row shows the mean of its own steps
    losses = {r["step"]: r["loss"] for r in rows if "loss" in r}
    assert set(losses) == {1, 2, 4}
    assert table.rows[1]["loss"] == pytest.approx(losses[4]) and table.rows[1]["loss"] != pytest.approx(losses[1])
    assert table.rows[0]["loss"] == pytest.approx((losses[1] + losses[2]) / 2)
