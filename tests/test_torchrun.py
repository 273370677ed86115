"""Two CPU processes under torchrun (gloo): one run directory, written by rank 0 only."""
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

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


def test_torchrun_two_processes_train_one_run(tiny_dataset_dir, tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "trainer", "train", str(REPO / "configs" / "test-tiny.yaml"),
           f"data.dataset={tiny_dataset_dir}", "data.build=null", f"output.dir={tmp_path}", "train.threads=1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = run_group(cmd, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "test-tiny"
    meta = json.loads((run / "meta.json").read_text())
    assert meta["world_size"] == 2 and meta["status"] == "completed"
    assert (run / "model" / "model.safetensors").is_file()
    steps = Counter(json.loads(line)["step"] for line in (run / "train_log.jsonl").read_text().splitlines()
                    if "loss" in json.loads(line))
    assert steps and max(steps.values()) == 1          # each training log row written once, not per rank
    assert sum(line.startswith("test (") for line in proc.stdout.splitlines()) == 1   # the summary printed once
