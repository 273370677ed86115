"""Kill a real `trainer train` with SIGKILL at chosen moments, resume it (`train.resume=true`) and compare it with
the uninterrupted run: test micro-F1 and the largest per-document score difference in predictions.jsonl.

    export TRAINER_DATA_MIRROR=/work/shared/data
    flock /tmp/trainer-cpu.lock python scripts/check_resume.py configs/test-tiny.yaml \
        train.max_steps=300 train.eval_every=20 train.logging_steps=10 \
        --kill saved:100 --kill step:130 --kill saving:120 [--nproc 2] [--json out.json]

A kill point is MOMENT:STEP, the moment of optimizer step STEP at which the training process stops and waits
for the SIGKILL (so the kill lands exactly there, however busy the machine):
  step:N     after optimizer step N, before its logging, evaluation and checkpoint
  saved:N    right after checkpoint-N is complete (its `.complete` marker written)
  saving:N   while checkpoint-N is being written (model weights written; optimizer, RNG, state not yet)
The training process is the CLI's `train` command with one callback added that waits at the kill point; with
--nproc 2 under torchrun (every rank waits there; the whole process group is killed). The machinery is
trainer/verification/kill_resume.py; tests/test_resume.py and tests/test_torchrun.py use the same functions.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from trainer.verification.kill_resume import KillPoint, compare, kill_and_resume, train_run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--kill", action="append", default=[], type=KillPoint.parse, help="MOMENT:STEP (repeat)")
    parser.add_argument("--nproc", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from trainer.config import RunConfig, load_config
    cwd = Path.cwd()
    straight_name = "resume-check-straight"
    train_run(args.config, [*args.overrides, f"output.name={straight_name}"], cwd, args.nproc)
    straight = Path(load_config(args.config, RunConfig, [*args.overrides, f"output.name={straight_name}"]).output.dir) \
        / straight_name
    rows = []
    for point in args.kill:
        resumed, _ = kill_and_resume(args.config, args.overrides, point, f"resume-check-{point.moment}-{point.step}",
                                     cwd, args.nproc)
        from trainer import contracts
        row = {"kill": str(point), "resumed_from": contracts.read_meta(resumed)["resumed_from"],
               **compare(straight, resumed)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
