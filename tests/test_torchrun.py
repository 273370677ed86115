"""Two CPU processes under torchrun (gloo): one run directory, written by rank 0 only, equal to the one
a single process writes (same files, same metrics within a tolerance)."""
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import tiny_run_tree

pytestmark = pytest.mark.integration   # trains tiny models / serves / spawns processes

REPO = Path(__file__).resolve().parents[1]


def run_group(cmd, timeout, **kwargs) -> subprocess.CompletedProcess:
    """Run `cmd` in its own process group, so a timeout also stops the workers torchrun started."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _files(run: Path) -> list[str]:
    """The files of a run directory; checkpoints/ by count only (which one is best depends on the run, and
    each process saves its own RNG state there)."""
    files = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file() and p.parts[len(run.parts)] != "checkpoints")
    return files + [f"{len(list((run / 'checkpoints').glob('*/.complete')))} complete checkpoints"]


def _scores(run: Path) -> dict[str, float]:
    """Every number of metrics.json but the per-label details, by its dotted path."""
    out = {}

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                if key != "per_label":
                    walk(value, f"{path}.{key}" if path else key)
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            out[path] = float(node)
    walk(json.loads((run / "metrics.json").read_text()), "")
    return out


def test_torchrun_two_processes_train_one_run(tiny_dataset_dir, tiny_run_dir, tmp_path):
    """The run of `tiny_run_dir` (one process, batch 8), again under torchrun with 2 processes of batch 4:
    the same global batch, so the same steps, epochs and checkpoints."""
    tree = tiny_run_tree(tiny_dataset_dir, tmp_path, name=tiny_run_dir.name)
    tree["train"]["batch_size"] = 4
    config = tmp_path / "tiny-2x4.yaml"
    config.write_text(yaml.safe_dump(tree), encoding="utf-8")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "trainer", "train", str(config)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = run_group(cmd, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / tiny_run_dir.name
    meta = json.loads((run / "meta.json").read_text())
    assert meta["world_size"] == 2 and meta["status"] == "completed"
    assert (run / "model" / "model.safetensors").is_file()
    steps = Counter(json.loads(line)["step"] for line in (run / "train_log.jsonl").read_text().splitlines()
                    if "loss" in json.loads(line))
    assert steps and max(steps.values()) == 1          # each training log row written once, not per rank
    assert sum(line.startswith("test (") for line in proc.stdout.splitlines()) == 1   # the summary printed once

    # the same run directory as one process writes: the same files, the same metrics within a tolerance
    # (the two processes see the same examples per step, but in other batches and with other dropout)
    assert _files(run) == _files(tiny_run_dir)
    one, two = _scores(tiny_run_dir), _scores(run)
    assert one.keys() == two.keys()
    for key in one:
        if "f1" in key or "precision" in key or "recall" in key or "accuracy" in key:
            assert abs(one[key] - two[key]) <= 0.1, (key, one[key], two[key])   # seen: <= 0.04
        elif key.endswith("n_examples"):
            assert one[key] == two[key], key
