"""The run lifecycle (trainer.workflows.train): nothing of a previous run is lost before its replacement is
complete; an interrupted run says so and resumes exactly; a run that goes non-finite stops with a clear error."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import tiny_run_tree
from trainer import contracts
from trainer.cli import app
from trainer.config import RunConfig, load_config
from trainer.errors import ConfigError, DataError, TrainerError
from trainer.workflows.train import train

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[1]


def tfidf_tree(dataset_dir, out_dir, name="again") -> dict:
    return {"data": {"dataset": str(dataset_dir)}, "model": {"type": "tfidf-linear", "tfidf": {"min_df": 1}},
            "output": {"dir": str(out_dir), "name": name}}


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


def test_lifecycle_wrong_dataset_keeps_the_previous_run(tiny_dataset_dir, tmp_path):
    run = train(load_config(None, RunConfig, tree=tfidf_tree(tiny_dataset_dir, tmp_path)))
    before = _snapshot(run)
    bad = tfidf_tree(tmp_path / "no-such-dataset", tmp_path)
    with pytest.raises(DataError, match="no dataset there"):
        train(load_config(None, RunConfig, tree=bad))
    assert _snapshot(run) == before                       # the previous run, byte for byte
    assert not (tmp_path / ".again.partial").exists()     # and nothing was started


def test_lifecycle_failed_rerun_keeps_the_previous_run_and_says_why(tiny_dataset_dir, tmp_path, monkeypatch):
    from trainer.models.tfidf_linear import TfidfLinearClassifier
    run = train(load_config(None, RunConfig, tree=tfidf_tree(tiny_dataset_dir, tmp_path)))
    before = _snapshot(run)

    def broken(cls, ctx):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(TfidfLinearClassifier, "fit", classmethod(broken))
    with pytest.raises(RuntimeError):
        train(load_config(None, RunConfig, tree=tfidf_tree(tiny_dataset_dir, tmp_path)))
    assert _snapshot(run) == before
    failed = contracts.read_meta(tmp_path / ".again.partial")
    assert failed["status"] == "failed" and "disk on fire" in failed["error"]
    monkeypatch.undo()
    again = train(load_config(None, RunConfig, tree=tfidf_tree(tiny_dataset_dir, tmp_path)))
    assert contracts.read_meta(again)["status"] == "completed"
    assert not (tmp_path / ".again.partial").exists()     # the failed attempt made way for the new run


def test_lifecycle_replaced_run_keeps_no_file_of_the_old_one(tiny_dataset_dir, tmp_path):
    run = train(load_config(None, RunConfig, tree=tfidf_tree(tiny_dataset_dir, tmp_path)))
    stale = [run / "model" / "from-the-old-run.bin", run / contracts.TRACKING]
    for path in stale:
        path.write_text("old")
    train(load_config(None, RunConfig, tree=tfidf_tree(tiny_dataset_dir, tmp_path)))
    assert not any(path.exists() for path in stale)


def test_lifecycle_refuses_a_folder_that_is_not_a_run(tiny_dataset_dir, tmp_path):
    (tmp_path / "again").mkdir()
    (tmp_path / "again" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not a run directory"):
        train(load_config(None, RunConfig, tree=tfidf_tree(tiny_dataset_dir, tmp_path)))
    assert (tmp_path / "again" / "notes.txt").read_text() == "mine"


def test_lifecycle_non_finite_loss_stops_the_run(tiny_dataset_dir, tmp_path):
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path, "blowup")
    tree["train"].update({"learning_rate": 1e30, "max_steps": 6})
    with pytest.raises(TrainerError, match="training loss became .* lower train.learning_rate"):
        train(load_config(None, RunConfig, tree=tree))
    assert contracts.read_meta(tmp_path / ".blowup.partial")["status"] == "failed"
    assert not (tmp_path / "blowup").exists()             # no run with NaN scores was published


# ---- kill -9 and resume ---------------------------------------------------------------------------
_SLOW_TRAINING = textwrap.dedent("""
    import sys, time, yaml
    from transformers import TrainerCallback
    from trainer.config import RunConfig, load_config
    from trainer.workflows.train import train

    class Slow(TrainerCallback):        # slow enough for the parent to kill it at a step of its choosing
        def on_step_end(self, args, state, control, **kwargs):
            time.sleep(0.1)

    from trainer.models.transformer import fitting
    make = fitting.make_trainer

    def make_slow(*args, **kwargs):     # the fit context carries no TrainerCallback: added inside the kind
        trainer, meter = make(*args, **kwargs)
        trainer.add_callback(Slow())
        return trainer, meter
    fitting.make_trainer = make_slow

    tree = yaml.safe_load(open(sys.argv[1]))
    train(load_config(None, RunConfig, tree=tree))
""")


def _resume_tree(dataset_dir, out_dir, name, **train_overrides) -> dict:
    tree = tiny_run_tree(dataset_dir, out_dir, name)
    tree["train"].update({"epochs": 5, "eval_every": 5, **train_overrides})   # 25 steps, a checkpoint every 5
    return tree


def _scores(run_dir: Path) -> np.ndarray:
    rows = contracts.read_predictions(run_dir)
    return np.array([list(r["targets"]["topics"]["scores"].values()) for r in rows])


@pytest.mark.slow   # two training processes (~20 s): CI's slow pass
def test_lifecycle_kill_9_then_resume_equals_the_uninterrupted_run(tiny_dataset_dir, tmp_path):
    import yaml
    straight = train(load_config(None, RunConfig, tree=_resume_tree(tiny_dataset_dir, tmp_path, "straight")))

    tree = _resume_tree(tiny_dataset_dir, tmp_path, "killed")
    config = tmp_path / "killed.yaml"
    config.write_text(yaml.safe_dump(tree))
    script = tmp_path / "slow_train.py"
    script.write_text(_SLOW_TRAINING)
    target = random.Random(os.getpid()).choice([10, 15])    # which checkpoint to kill after
    print(f"killing after checkpoint-{target}")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, str(script), str(config)], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = tmp_path / ".killed.partial" / contracts.CHECKPOINTS / f"checkpoint-{target}" / ".complete"
    deadline = time.monotonic() + 240
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(random.Random(target).uniform(0.0, 0.3))          # somewhere in the next steps
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert marker.exists(), "the training process never wrote the checkpoint"
    partial = tmp_path / ".killed.partial"
    assert contracts.read_meta(partial)["status"] == "interrupted"   # its pid is gone: not "running"

    # a kill in the middle of writing a checkpoint leaves a folder without the marker: resume skips it
    cut = partial / contracts.CHECKPOINTS / f"checkpoint-{target + 5}"
    if not (cut / ".complete").exists():
        cut.mkdir(exist_ok=True)
        (cut / "model.safetensors").write_bytes(b"cut short")

    tree["train"]["resume"] = True
    resumed = train(load_config(None, RunConfig, tree=tree))
    meta = contracts.read_meta(resumed)
    assert meta["resumed_from"] == f"checkpoints/checkpoint-{target}"
    assert meta["train_steps"] == 25 - target and meta["global_step"] == 25   # only the missing steps ran
    np.testing.assert_allclose(_scores(resumed), _scores(straight), rtol=0, atol=1e-6)
    assert contracts.read_metrics(resumed)["topics"]["test"] == contracts.read_metrics(straight)["topics"]["test"]
    steps = [row["step"] for row in contracts.read_train_log(resumed) if "loss" in row]
    assert steps == sorted(steps) and len(steps) == len(set(steps))   # one timeline, no replayed rows


def test_lifecycle_resume_without_an_interrupted_run_starts_over(tiny_dataset_dir, tmp_path, capsys):
    tree = _resume_tree(tiny_dataset_dir, tmp_path, "fresh", max_steps=2, eval_every=2, resume=True)
    events = []
    run = train(load_config(None, RunConfig, tree=tree), progress=events.append)
    assert contracts.read_meta(run)["resumed_from"] is None
    notices = [e["message"] for e in events if e.get("event") == "notice"]
    assert any(m.startswith("train.resume: no interrupted run in ") for m in notices), notices
    assert "no interrupted run" not in capsys.readouterr().err   # the library prints nothing itself


# ---- bad input through the CLI: one line, no traceback --------------------------------------------
def _cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def test_lifecycle_half_written_run_is_a_one_line_error_everywhere(tiny_run_dir, tmp_path):
    import shutil
    run = shutil.copytree(tiny_run_dir, tmp_path / "half")
    (run / "model" / "model.safetensors").unlink()
    for args in (["evaluate", run], ["predict", run, "-"], ["serve", run, "--port", "8123"]):
        result = _cli(*args)
        assert result.exit_code == 1, args
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "model.safetensors missing" in errors[0], result.output


@pytest.mark.parametrize("args, message", [
    (["serve", "RUN", "--port", "-1"], "--port -1"),
    (["serve", "RUN", "--port", "70000"], "--port 70000"),
    (["compare", "RUN", "--resamples", "-1"], "--resamples -1"),
])
def test_lifecycle_bad_numbers_on_the_command_line(tiny_run_dir, args, message):
    result = _cli(*[tiny_run_dir if a == "RUN" else a for a in args])
    assert result.exit_code == 1 and message in result.output


@pytest.mark.parametrize("override, message", [
    ("train.learning_rate=.inf", "finite"), ("train.learning_rate=.nan", "finite"),
    ("train.batch_size='16'", "valid integer"), ("train.resume=yes", "valid boolean"),
    ("model.config_overrides.hidden_size=abc", "expected int"),
    ("model.config_overrides.num_hidden_layers=-3", ">= 1"),
])
def test_lifecycle_bad_config_values_are_refused_before_training(tiny_dataset_dir, tmp_path, override, message):
    import yaml
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(tiny_run_tree(tiny_dataset_dir, tmp_path / "runs", "bad")))
    result = _cli("train", config, override)
    assert result.exit_code == 1 and message in result.output
    assert not (tmp_path / "runs" / "bad").exists()
