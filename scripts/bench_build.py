"""Benchmark `trainer data build` on the full Reuters-21578 corpus (topics + regions, near-dup detection).

    flock /tmp/trainer-cpu.lock python scripts/bench_build.py [--scraped-pages 3000]

Needs the archive in $TRAINER_DATA_MIRROR (or --archive). Prints documents/s, wall time, the time
of each build stage and peak memory (ru_maxrss); with --scraped-pages N also pages/s through the
builder for N synthetic scraped pages. Target: the Reuters build under 30 s on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from trainer.config import load_config
from trainer.data.build import build_dataset
from trainer.data.config import DataConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "data"


def peak_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024  # bytes on macOS, KiB on Linux


def timed_build(config: Path, overrides: list[str]) -> tuple[float, dict]:
    cfg = load_config(config, DataConfig, overrides)
    start = time.perf_counter()
    manifest = build_dataset(cfg, config_path=config).manifest
    return time.perf_counter() - start, manifest


def report(name: str, seconds: float, manifest: dict, unit: str = "documents") -> None:
    read = manifest["accounting"]["read"]
    print(f"{name}: {read} {unit} read, {manifest['accounting']['kept']} kept, wall {seconds:.2f} s, "
          f"{read / seconds:,.0f} {unit}/s, peak RSS {peak_mib():,.0f} MiB")
    print("  stages: " + ", ".join(f"{s['stage']} {s['seconds']:.2f}s" for s in manifest["stages"]))
    print(f"  counts {manifest['counts']}, duplicate groups {manifest['dedup']['groups']}, "
          f"labels " + ", ".join(f"{c} {len(v)}" for c, v in manifest["labels"].items()))


def bench_scraped(pages: int, out: Path) -> None:
    from synthetic_pages import write_pages
    with tempfile.TemporaryDirectory() as tmp:
        write_pages(tmp, pages, "sputnik", seed=0)
        seconds, manifest = timed_build(CONFIGS / "scraped.yaml", [f"source.path={tmp}", f"output={out / 'scraped'}"])
    report("scraped", seconds, manifest, unit="pages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", help="reuters21578.tar.gz (default: the mirror's copy)")
    parser.add_argument("--scraped-pages", type=int, default=0, help="also build N synthetic scraped pages")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"output={Path(tmp) / 'reuters'}"] + ([f"source.path={args.archive}"] if args.archive else [])
        seconds, manifest = timed_build(CONFIGS / "reuters-topics.yaml", overrides)
        print(f"cpus available: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}")
        report("reuters", seconds, manifest)
        if args.scraped_pages:
            bench_scraped(args.scraped_pages, Path(tmp))


if __name__ == "__main__":
    main()
