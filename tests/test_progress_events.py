"""The progress-event channel (trainer.events): library code says its lines as events, never prints; the
transformer kind turns the Trainer's moments into kind-neutral training events; the console subscribes."""
from __future__ import annotations

import io
import logging
from types import SimpleNamespace as NS

from rich.console import Console

from conftest import tiny_run_tree
from trainer import contracts
from trainer.config import RunConfig, load_config
from trainer.events import notice


def _console() -> Console:
    return Console(file=io.StringIO(), width=200, color_system=None)


def test_events_notice_goes_to_the_listener_or_else_to_the_trainer_logger(caplog, capsys):
    heard = []
    notice(heard.append, "one line")
    assert heard == [{"event": "notice", "message": "one line"}]
    with caplog.at_level(logging.WARNING, logger="trainer"):
        notice(None, "nobody listens")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [("trainer", "nobody listens")]
    assert capsys.readouterr().err == ""   # never a print


def test_events_run_directory_says_what_it_replaces_and_removes(tmp_path, tiny_dataset_dir, capsys):
    from trainer.training.run_directory import RunDirectory
    cfg = load_config(None, RunConfig, tree=tiny_run_tree(tiny_dataset_dir, tmp_path, "r"))
    run = RunDirectory(tmp_path / "r")
    contracts.update_meta(run.staging, status="failed")    # an earlier unfinished run
    contracts.update_meta(run.final, status="completed")   # and a completed one
    heard = []
    run.start(cfg, None, resume=True, progress=heard.append)
    messages = [e["message"] for e in heard]
    assert messages == [f"train.resume: no interrupted run in {run.staging} to resume; starting from scratch",
                        f"removing the earlier unfinished run {run.staging}",
                        f"training into {run.staging}; it replaces {run.final} once complete"]
    assert all(e["event"] == "notice" for e in heard) and capsys.readouterr().err == ""


def test_events_the_transformer_kind_turns_trainer_moments_into_training_events():
    from trainer.models.transformer.hf_trainer import ProgressEvents
    heard, record = [], {}
    callback = ProgressEvents(heard.append, early_stopping=lambda: record or None)
    args = NS(metric_for_best_model="eval_micro_f1", greater_is_better=True)
    state = NS(is_world_process_zero=True, global_step=0, max_steps=4, best_metric=None, epoch=0.0)
    callback.on_train_begin(args, state, None)
    state.global_step, state.epoch = 2, 1.0
    callback.on_log(args, state, None, logs={"loss": 0.7, "learning_rate": 1e-4})
    callback.on_log(args, state, None, logs={"eval_loss": 0.6})              # no training loss: no event
    callback.on_step_end(args, state, None)
    callback.on_evaluate(args, state, None, metrics={"eval_micro_f1": 0.5})
    record.update(step=2, max_steps=4, reason="validation micro_f1 did not improve")
    callback.on_save(args, state, None)
    callback.on_train_end(args, state, None)
    callback.on_train_end(args, state, None)                                 # announced once
    assert heard == [
        {"event": "train_begin", "step": 0, "max_steps": 4, "best_metric": None, "metric": "eval_micro_f1",
         "greater_is_better": True},
        {"event": "log", "step": 2, "loss": 0.7},
        {"event": "step", "step": 2, "max_steps": 4},
        {"event": "eval", "step": 2, "epoch": 1.0, "metrics": {"eval_micro_f1": 0.5}},
        {"event": "checkpoint", "step": 2},
        {"event": "early_stop", "step": 2, "max_steps": 4, "reason": "validation micro_f1 did not improve"},
        {"event": "train_end", "step": 2},
        {"event": "train_end", "step": 2}]
    other_rank = ProgressEvents(heard.append)
    heard.clear()
    other_rank.on_step_end(args, NS(is_world_process_zero=False, global_step=1, max_steps=4), None)
    assert heard == []                                                       # only the main process reports


def test_events_training_output_routes_stages_notices_and_the_table():
    from trainer.console.training import TrainingOutput
    cfg = NS(task=NS(target="topics", problem="multi_label"), data=NS(limit=None))
    output = TrainingOutput(cfg, console=_console())
    output({"event": "notice", "message": "resuming from checkpoints/checkpoint-2: [exactly]"})
    assert output.table is None                       # no training event yet (a one-fit kind never shows one)
    output({"event": "train_begin", "step": 0, "max_steps": 2, "best_metric": None, "metric": "eval_micro_f1",
            "greater_is_better": True})
    output({"event": "eval", "step": 2, "epoch": 1.0,
            "metrics": {"eval_loss": 0.5, "eval_micro_f1": 0.4, "eval_macro_f1": 0.2}})
    output({"stage": "load", "done": True, "seconds": 0.1, "by_split": {"test": 3}})
    output.close()
    text = output.console.file.getvalue()
    assert "resuming from checkpoints/checkpoint-2: [exactly]" in text   # as said, no markup eaten
    assert [row["step"] for row in output.table.rows] == [2] and "micro-F1@0.5" in text
    assert "3 test documents" in text
