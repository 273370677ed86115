"""Exact resume after a kill -9 in later epochs: a real `trainer train` (one process here; two under torchrun in
tests/test_torchrun.py) is SIGKILLed at a chosen moment, resumed with train.resume=true, and must score every
test document as the uninterrupted run does (within 1e-6). Length-grouped batches, early stopping and
best-checkpoint tracking are on. The kill machinery is trainer/verification/kill_resume.py's (the same
scripts/check_resume.py, which made the figures, uses)."""
from __future__ import annotations

import json

import pytest
import yaml

from conftest import tiny_run_tree
from trainer import contracts
from trainer.config import RunConfig, load_config
from trainer.verification.kill_resume import KillPoint, compare, kill_and_resume

EPOCH = 5   # optimizer steps an epoch: 40 training documents, batch 8


def resume_tree(dataset_dir, out_dir) -> dict:
    """5 epochs of 5 steps, a checkpoint every 3 steps (so some fall inside an epoch, 15 on a boundary),
    early stopping with patience 6 (the tiny model scores best early: it stops at step 21 at the earliest) and
    the best checkpoint loaded at the end; batches grouped by length."""
    tree = tiny_run_tree(dataset_dir, out_dir, "straight")
    tree["train"].update({"epochs": 5, "eval_every": 3, "logging_steps": 1, "early_stopping_patience": 6,
                          "group_by_length": True})
    return tree


@pytest.fixture(scope="module")
def straight(tiny_dataset_dir, tmp_path_factory):
    """The uninterrupted run, and its config file (the killed runs differ in output.name only)."""
    from trainer.workflows.train import train
    out = tmp_path_factory.mktemp("resume")
    config = out / "resume.yaml"
    config.write_text(yaml.safe_dump(resume_tree(tiny_dataset_dir, out)), encoding="utf-8")
    return train(load_config(config, RunConfig), config), config


@pytest.mark.slow   # four kill-and-resume runs (~2 min): CI runs them in its slow pass (.ci/run)
@pytest.mark.parametrize("point, resumed_from", [
    ("step:13", 12),     # epoch 3, a step after its checkpoint in the middle of the epoch
    ("saved:15", 15),    # epoch 3's last step, its checkpoint complete, epoch 4 not begun
    ("saving:21", 18),   # epoch 5, while checkpoint-21 is being written: resume skips that folder
    ("saved:21", 21),    # checkpoint-21 complete, where early stopping decides to stop if nothing improved
])
def test_resume_after_kill_9_in_a_later_epoch_equals_the_uninterrupted_run(straight, point, resumed_from):
    straight_run, config = straight
    point = KillPoint.parse(point)
    assert point.step > EPOCH                                    # past the first epoch
    resumed, stderr = kill_and_resume(config, [], point, f"killed-{point.moment}-{point.step}", config.parent)

    meta, plain = contracts.read_meta(resumed), contracts.read_meta(straight_run)
    assert meta["resumed_from"] == f"checkpoints/checkpoint-{resumed_from}"
    result = compare(straight_run, resumed)
    assert result["max_score_diff"] <= 1e-6, result
    assert result["resumed_micro_f1"] == pytest.approx(result["straight_micro_f1"], abs=1e-6)
    assert meta["global_step"] == plain["global_step"]           # early stopping stopped at the same step
    assert meta["best_checkpoint"] == plain["best_checkpoint"]   # and the same checkpoint was best
    assert f"resuming from checkpoints/checkpoint-{resumed_from}: " in stderr and "continues exactly" in stderr
    # the same batches in the same order: the logged losses and token counts agree step by step
    assert _loss_rows(resumed) == _loss_rows(straight_run)


def _loss_rows(run_dir) -> list[tuple]:
    return [(row["step"], row["loss"], row.get("num_input_tokens_seen"))
            for row in contracts.read_train_log(run_dir) if "loss" in row]


class _Batching:
    """Stands for a ClassifierTrainer in resume_message: how the resuming run draws its batches."""

    def __init__(self, **settings):
        self.settings = {"step": 0, "world_size": 1, "batch_size": 8, "gradient_accumulation": 1, **settings}

    def batching(self) -> dict:
        return self.settings


def test_resume_message_says_whether_the_resume_is_exact(tmp_path):
    from trainer.models.transformer.hf_trainer import COMPLETE_MARKER, resume_message
    folder = tmp_path / contracts.CHECKPOINTS / "checkpoint-12"
    folder.mkdir(parents=True)
    (folder / COMPLETE_MARKER).write_text(json.dumps(
        {"step": 12, "world_size": 2, "batch_size": 4, "gradient_accumulation": 1}))
    same = resume_message(folder, _Batching(world_size=2, batch_size=4))
    assert same.startswith("resuming from checkpoints/checkpoint-12: ") and "continues exactly" in same
    other = resume_message(folder, _Batching())
    assert "NOT exactly" in other and "2 process(es) x batch 4" in other and "1 process(es) x batch 8" in other
    (folder / COMPLETE_MARKER).write_text("12\n")             # a marker from before the settings were recorded
    assert "NOT exactly" in resume_message(folder, _Batching())
