"""Benchmark `trainer data build` on the full Reuters-21578 corpus (topics + regions, near-dup detection).

    flock /tmp/trainer-cpu.lock python scripts/bench_build.py [--scraped-pages 3000] [--huge-mb 48 [--skip-reuters]]
    flock /tmp/trainer-cpu.lock python scripts/bench_build.py --pages 1000000 [--engines local,ray:1,ray:2]

Needs the archive in $TRAINER_DATA_MIRROR (or --archive). Prints documents/s, wall time, the time
of each build stage and peak memory (ru_maxrss); with --scraped-pages N also pages/s through the
builder for N synthetic scraped pages. Target: the Reuters build under 30 s on 2 cores.

--pages N: the scaling run. N synthetic scraped pages (trainer/data/synthetic.py, one outlet) are
generated once into --pages-dir (default data/raw/bench-pages-N, kept for the next run), then built
with configs/data/scraped.yaml by each engine in --engines (`local`, `ray:W` = Ray started in-process
with W workers), each in a fresh process. Printed per engine: pages/s, wall time, the build process's
peak RSS, the peak PSS summed over it and every process it started (Ray's raylet and workers), and the
time of each part of the build (`timings` in manifest.json; on Ray, read/label/minhash/spill are
summed over the workers, phase1_wall is their wall time).

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
    from trainer.data.synthetic import write_pages
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


# ---- scaling: N pages, one engine per fresh process -------------------------------------------------
def pages_dir(n: int, folder: str | None) -> Path:
    """The folder of N generated pages, generated on first use (a `.complete` file beside it marks it done)."""
    from trainer.data.synthetic import write_pages
    root = Path(folder) if folder else Path(__file__).resolve().parents[1] / "data" / "raw" / f"bench-pages-{n}"
    done = root.with_name(root.name + ".complete")
    if not done.exists():
        start = time.perf_counter()
        write_pages(root / "sputnik", n, "sputnik", seed=0, keep=False)
        done.write_text(str(n))
        print(f"generated {n:,} pages in {root} ({time.perf_counter() - start:.0f} s)", flush=True)
    return root


class PeakMemory:
    """Peak of the PSS summed over this process and all its descendants, sampled every `every` s."""

    def __init__(self, every: float = 1.0):
        import threading
        self.peak, self.every = 0, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        import psutil
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_full_info().pss
            except (psutil.Error, OSError):
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def pages_child(folder: Path, engine: str, out: Path) -> None:
    """(In a fresh process.) Build the pages with one engine; print one JSON line of figures."""
    name, _, workers = engine.partition(":")
    overrides = [f"source.path={folder}", f"output={out}"]
    if name != "local":
        overrides += [f"build.engine={name}"] + ([f"build.workers={workers}"] if workers else [])
    cfg = load_config(CONFIGS / "scraped.yaml", DataConfig, overrides)
    with PeakMemory() as tree:
        start = time.perf_counter()
        manifest = build_dataset(cfg).manifest
        seconds = time.perf_counter() - start
    print("RESULT " + json.dumps({
        "engine": engine, "seconds": seconds, "read": manifest["accounting"]["read"],
        "kept": manifest["accounting"]["kept"], "peak_rss_mib": peak_mib(), "peak_tree_pss_mib": tree.peak / 2**20,
        "timings": manifest.get("timings", {}), "dedup": {k: manifest["dedup"][k] for k in ("groups", "near_links")},
        "stages": {s["stage"]: s["seconds"] for s in manifest["stages"]}}), flush=True)


def bench_pages(n: int, engines: list[str], folder: str | None) -> None:
    import shutil
    root = pages_dir(n, folder)
    out = Path(tempfile.mkdtemp(prefix=f"bench-pages-{n}-")) / "dataset"   # ours alone, removed after each build
    print(f"{n:,} pages in {root}; cpus available: {len(os.sched_getaffinity(0))}", flush=True)
    for engine in engines:
        proc = subprocess.run([sys.executable, __file__, "--pages-child", str(root), "--engine", engine,
                               "--out", str(out)], capture_output=True, text=True)
        shutil.rmtree(out, ignore_errors=True)   # the result is in the child's output; the next build starts clean
        lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
        if proc.returncode or not lines:
            print(f"{engine}: failed\n{proc.stderr[-3000:]}")
            continue
        r = json.loads(lines[-1][len("RESULT "):])
        print(f"{engine:>7}: {r['read']:,} pages, {r['kept']:,} kept, wall {r['seconds']:.1f} s, "
              f"{r['read'] / r['seconds']:,.0f} pages/s, peak RSS {r['peak_rss_mib']:,.0f} MiB (build process), "
              f"peak PSS {r['peak_tree_pss_mib']:,.0f} MiB (with the processes it started); "
              f"duplicate groups {r['dedup']['groups']}")
        print("         timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in r["timings"].items()), flush=True)
    shutil.rmtree(out.parent, ignore_errors=True)   # the mkdtemp folder: created here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archive", help="reuters21578.tar.gz (default: the mirror's copy)")
    parser.add_argument("--scraped-pages", type=int, default=0, help="also build N synthetic scraped pages")
    parser.add_argument("--huge-mb", type=float, default=0, help="also build one document of this many MB")
    parser.add_argument("--regions", action="store_true", help="--huge-mb: label regions too (text fallback)")
    parser.add_argument("--skip-reuters", action="store_true", help="only the other benchmarks")
    parser.add_argument("--huge-child", help=argparse.SUPPRESS)   # the input file, built by the parent
    parser.add_argument("--pages", type=int, default=0, help="the scaling run: build N synthetic pages per engine")
    parser.add_argument("--engines", default="local,ray:1,ray:2", help="--pages: engines to run, comma-separated")
    parser.add_argument("--pages-dir", help="--pages: folder of the generated pages (default data/raw/bench-pages-N)")
    parser.add_argument("--pages-child", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pages_child:
        pages_child(Path(args.pages_child), args.engine, Path(args.out))
        return
    if args.pages:
        bench_pages(args.pages, args.engines.split(","), args.pages_dir)
        return
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
