"""Kill a real `trainer train` with SIGKILL at chosen moments, resume it (`train.resume=true`) and compare it with
the uninterrupted run: test micro-F1 and the largest per-document score difference in predictions.jsonl.
scripts/check_resume.py (the figures in docs/reliability.md) and tests/test_resume.py, tests/test_torchrun.py
use these functions. Nothing in the product calls them; the layer sits above the CLI, whose `train` it runs.

A kill point is MOMENT:STEP, the moment of optimizer step STEP at which the training process stops and waits
for the SIGKILL (so the kill lands exactly there, however busy the machine):
  step:N     after optimizer step N, before its logging, evaluation and checkpoint
  saved:N    right after checkpoint-N is complete (its `.complete` marker written)
  saving:N   while checkpoint-N is being written (model weights written; optimizer, RNG, state not yet)
The training process is the CLI's `train` command, run as `python -m trainer.verification.kill_resume --child`
with one callback added that waits at the kill point; with nproc 2 under torchrun (every rank waits there; the
whole process group is killed).
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MOMENTS = ("step", "saved", "saving")
CHILD = "trainer.verification.kill_resume"   # run as a module: the training process that waits to be killed


@dataclass(frozen=True)
class KillPoint:
    moment: str
    step: int

    @classmethod
    def parse(cls, text: str) -> "KillPoint":
        moment, _, step = text.partition(":")
        if moment not in MOMENTS or not step.isdigit():
            raise SystemExit(f"error: kill point {text!r}: expected MOMENT:STEP with MOMENT one of {', '.join(MOMENTS)}")
        return cls(moment, int(step))

    def __str__(self) -> str:
        return f"{self.moment}:{self.step}"


# ---- the training process (--child) ----------------------------------------------------------------
def _wait_here(flag: Path) -> None:
    """Say "stopped here" (rank 0 writes the flag file) and wait for the SIGKILL."""
    if int(os.environ.get("RANK", "0")) == 0:
        tmp = flag.with_suffix(".tmp")
        tmp.write_text(str(os.getpid()))
        tmp.replace(flag)
    while True:
        time.sleep(60)


def child(config: str, overrides: list[str], point: KillPoint, flag: Path) -> None:
    """Run the CLI's `train` with one more callback, which waits at `point` for the parent's SIGKILL."""
    from transformers import TrainerCallback

    from trainer.cli import app
    from trainer.models.transformer import fitting
    from trainer.models.transformer.hf_trainer import ClassifierTrainer

    # torchrun starts each worker in a session of its own: the parent kills them by these pids
    (flag.parent / f"pid-{os.environ.get('RANK', '0')}").write_text(str(os.getpid()))

    class WaitForKill(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if point.moment == "step" and state.global_step == point.step:
                _wait_here(flag)

        def on_save(self, args, state, control, **kwargs):
            if point.moment == "saved" and state.global_step == point.step:
                _wait_here(flag)

    save_optimizer = ClassifierTrainer._save_optimizer_and_scheduler

    def saving(self, output_dir):   # the model weights are written, the rest of the checkpoint not yet
        if point.moment == "saving" and self.state.global_step == point.step:
            _wait_here(flag)
        return save_optimizer(self, output_dir)
    ClassifierTrainer._save_optimizer_and_scheduler = saving

    make = fitting.make_trainer

    def make_with_kill_point(*args, **kwargs):   # the fit context carries no TrainerCallback: added in the kind
        trainer, meter = make(*args, **kwargs)
        trainer.add_callback(WaitForKill())
        return trainer, meter
    fitting.make_trainer = make_with_kill_point
    app(["train", config, *overrides])


# ---- the parent --------------------------------------------------------------------------------------
def _launcher(nproc: int) -> list[str]:
    if nproc == 1:
        return [sys.executable]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]


def _env() -> dict:
    repo = str(Path(__file__).resolve().parents[2])   # the folder holding this trainer package
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{path}" if path else repo,
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


def _group(cmd: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run `cmd` in a process group of its own (torchrun's workers included); raise with its stderr on failure."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def train_run(config: Path, overrides: list[str], cwd: Path, nproc: int = 1, timeout: float = 600):
    """`trainer train CONFIG OVERRIDES` (under torchrun when nproc > 1)."""
    return _group([*_launcher(nproc), "-m", "trainer", "train", str(config), *overrides], cwd, timeout)


def kill_at(config: Path, overrides: list[str], point: KillPoint, cwd: Path, nproc: int = 1,
            timeout: float = 600) -> None:
    """Start the training, SIGKILL it (all its processes) once it stands at `point`."""
    flag = Path(tempfile.mkdtemp(prefix="kill-")) / "stopped"
    cmd = [*_launcher(nproc), "-m", CHILD, "--child", str(point), "--flag", str(flag), str(config), *overrides]
    proc = subprocess.Popen(cmd, cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    while flag.exists() and len(list(flag.parent.glob("pid-*"))) < nproc and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in [proc.pid, *(int(p.read_text()) for p in flag.parent.glob("pid-*"))]:
        try:
            os.killpg(pid, signal.SIGKILL) if pid == proc.pid else os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:   # it had ended (then the flag says whether it reached the point)
            pass
    err = proc.communicate()[1].decode(errors="replace")
    if not flag.exists():
        raise RuntimeError(f"the training never reached {point} (exit {proc.returncode}):\n{err[-3000:]}")
    shutil.rmtree(flag.parent)


def scores(run_dir: Path) -> tuple[float, dict[str, list[float]]]:
    """Test micro-F1 and each test document's scores (every target, in label order)."""
    from trainer import contracts
    metrics = contracts.read_metrics(run_dir)
    first = next(iter(metrics))
    per_doc = {row["id"]: [v for target in row["targets"].values() for v in target["scores"].values()]
               for row in contracts.read_predictions(run_dir)}
    return float(metrics[first]["test"]["micro_f1"]), per_doc


def compare(straight: Path, resumed: Path) -> dict:
    f1_a, docs_a = scores(straight)
    f1_b, docs_b = scores(resumed)
    if docs_a.keys() != docs_b.keys():
        raise AssertionError(f"{resumed} scored other documents than {straight}")
    diff = max(abs(x - y) for doc in docs_a for x, y in zip(docs_a[doc], docs_b[doc]))
    return {"straight_micro_f1": f1_a, "resumed_micro_f1": f1_b, "max_score_diff": diff}


def kill_and_resume(config: Path, overrides: list[str], point: KillPoint, name: str, cwd: Path,
                    nproc: int = 1) -> tuple[Path, str]:
    """Kill the run `name` at `point`, resume it; return the finished run directory and the resume's stderr."""
    named = [*overrides, f"output.name={name}"]
    kill_at(config, named, point, cwd, nproc)
    resumed = train_run(config, [*named, "train.resume=true"], cwd, nproc)
    from trainer.config import RunConfig, load_config
    cfg = load_config(config, RunConfig, named)
    return Path(cfg.output.dir) / name, resumed.stderr


def _child_main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="the training process of a kill-and-resume check (internal)")
    parser.add_argument("config")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--child", type=KillPoint.parse, required=True)
    parser.add_argument("--flag", type=Path, required=True)
    args = parser.parse_args(argv)
    child(args.config, args.overrides, args.child, args.flag)


if __name__ == "__main__":
    _child_main()
