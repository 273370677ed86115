"""Benchmark `trainer data build` on the full Reuters-21578 corpus (topics + regions, near-dup detection).

    flock /tmp/trainer-cpu.lock python scripts/bench_build.py [--scraped-pages 3000] [--huge-mb 48 [--skip-reuters]]

Needs the archive in $TRAINER_DATA_MIRROR (or --archive). Prints documents/s, wall time, the time
of each build stage and peak memory (ru_maxrss); with --scraped-pages N also pages/s through the
builder for N synthetic scraped pages. Target: the Reuters build under 30 s on 2 cores.

--huge-mb MB builds a JSONL input holding one document of MB megabytes (random words) among 60
ordinary ones, in a fresh process so that its peak RSS is its own: the work per document must stay
bounded (near-duplicate detection shingles a capped prefix; see trainer/data/dedup.py).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
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


def write_huge_input(path: Path, megabytes: float, seed: int = 0) -> None:
    """One JSONL document of about `megabytes` MB of random words, then 60 ordinary documents."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(50_000)]
    target, words = int(megabytes * 1e6), []
    size = 0
    while size < target:
        chunk = rng.choices(vocab, k=100_000)
        words.append(" ".join(chunk))
        size += len(words[-1]) + 1
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"id": "huge", "text": " ".join(words), "topics": ["earn"]}) + "\n")
        for i in range(60):
            body = " ".join(rng.choices(vocab, k=200))
            fh.write(json.dumps({"id": f"d{i}", "text": body, "topics": [["earn"], ["acq"]][i % 2]}) + "\n")


def bench_huge(src: Path, regions: bool) -> None:
    """(In a fresh process.) Build `src`, print the build time and this process's peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(None, DataConfig, tree={
            "source": {"kind": "jsonl", "path": str(src), "columns": {"id": "id", "topics": "topics"}},
            "labels": {"region": {} if regions else None}, "output": str(Path(tmp) / "out")})
        start = time.perf_counter()
        manifest = build_dataset(cfg).manifest
        seconds = time.perf_counter() - start
    print(f"huge document, input {src.stat().st_size / 1e6:.1f} MB ({'with' if regions else 'no'} region labels): "
          f"build {seconds:.2f} s, peak RSS {peak_mib():,.0f} MiB; kept {manifest['accounting']['kept']} "
          f"of {manifest['accounting']['read']}")
    print("  stages: " + ", ".join(f"{s['stage']} {s['seconds']:.2f}s" for s in manifest["stages"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", help="reuters21578.tar.gz (default: the mirror's copy)")
    parser.add_argument("--scraped-pages", type=int, default=0, help="also build N synthetic scraped pages")
    parser.add_argument("--huge-mb", type=float, default=0, help="also build one document of this many MB")
    parser.add_argument("--regions", action="store_true", help="--huge-mb: label regions too (text fallback)")
    parser.add_argument("--skip-reuters", action="store_true", help="only the other benchmarks")
    parser.add_argument("--huge-child", help=argparse.SUPPRESS)   # the input file, built by the parent
    args = parser.parse_args()
    if args.huge_child:
        bench_huge(Path(args.huge_child), args.regions)
        return
    if args.huge_mb:   # the build in a fresh process: its peak RSS is the build's alone
        with tempfile.TemporaryDirectory() as tmp:
            write_huge_input(Path(tmp) / "huge.jsonl", args.huge_mb)
            subprocess.run([sys.executable, __file__, "--huge-child", str(Path(tmp) / "huge.jsonl")]
                           + (["--regions"] if args.regions else []), check=True)
    if args.skip_reuters:
        if args.scraped_pages:
            with tempfile.TemporaryDirectory() as tmp:
                bench_scraped(args.scraped_pages, Path(tmp))
        return
    with tempfile.TemporaryDirectory() as tmp:
        overrides = [f"output={Path(tmp) / 'reuters'}"] + ([f"source.path={args.archive}"] if args.archive else [])
        seconds, manifest = timed_build(CONFIGS / "reuters-topics.yaml", overrides)
        print(f"cpus available: {len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}")
        report("reuters", seconds, manifest)
        if args.scraped_pages:
            bench_scraped(args.scraped_pages, Path(tmp))


if __name__ == "__main__":
    main()
