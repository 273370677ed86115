"""Labelling a crawl with `trainer predict`: pages/s and peak memory per engine (local, ray).

    python scripts/bench_crawl.py --run runs/reuters-topics-tfidf                 # 1M pages as JSONL
    python scripts/bench_crawl.py --run runs/reuters-topics-tfidf --pages 20000 --input folder
    python scripts/bench_crawl.py --run runs/quickstart --pages 2000 --engines local

Writes N synthetic pages (trainer/data/synthetic.py: one outlet's layout; as a JSONL of {"id", "title", "body"}
or a folder of scraped page files), then per engine runs `trainer predict RUN INPUT --output OUT --engine E` as a
subprocess and prints pages/s (rows / wall seconds, the model load and Ray's start included) and the peak memory:
  tree_rss   the largest sum of RSS over the command's process tree (Ray's raylet, GCS and workers included),
             sampled every 0.2 s: an upper bound, shared pages (the object store) count once per process
  max_rss    the command's peak RSS, its reaped children's included (wait4's rusage, as /usr/bin/time -v reports)
Both engines' outputs are compared (same bytes). Target (issue 25): peak RSS <= 1.5 GiB.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

GIB = 1 << 30


def write_jsonl(path: Path, n: int, seed: int = 0) -> None:
    from trainer.data.synthetic import _headline, _page   # the same page generator as write_pages, as text
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for k in range(n):
            page = _page(rng, Path(f"{k:07d}"))
            fh.write(json.dumps({"id": f"p{k:07d}", "title": _headline(rng), "body": "\n\n".join(page.paragraphs)},
                                ensure_ascii=False) + "\n")


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_engine(run: str, inputs: list[str], out: Path, engine: str, batch_size: int) -> dict:
    cmd = [sys.executable, "-m", "trainer.cli", "predict", run, *inputs, "--output", str(out), "--overwrite", "--restart",
           "--engine", engine, "--batch-size", str(batch_size)]
    env = {**os.environ, "RAY_worker_niceness": str(os.nice(0))}
    err_path = out.with_suffix(".stderr")
    start = time.perf_counter()
    with open(err_path, "w") as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err_file, env=env)
    peak, finished = [0], threading.Event()

    def sample():
        ps = psutil.Process(proc.pid)
        while not finished.is_set():
            peak[0] = max(peak[0], tree_rss(ps))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)   # this child's own rusage (not the earlier engines')
    seconds = time.perf_counter() - start
    finished.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{engine}: trainer predict failed: {err_path.read_text().strip()[-2000:]}")
    rows = sum(1 for _ in open(out, "rb"))
    return {"engine": engine, "rows": rows, "seconds": round(seconds, 1), "pages_per_s": round(rows / seconds, 1),
            "tree_rss_gib": round(peak[0] / GIB, 3),
            "max_rss_gib": round(usage.ru_maxrss * 1024 / GIB, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="run directory to label with")
    ap.add_argument("--pages", type=int, default=1_000_000)
    ap.add_argument("--input", choices=("jsonl", "folder"), default="jsonl")
    ap.add_argument("--engines", default="local,ray")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--workdir", help="where the pages and outputs go (default: a temporary folder, removed)")
    args = ap.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-crawl-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        if args.input == "jsonl":
            src = work / f"pages-{args.pages}.jsonl"
            if not src.exists():
                write_jsonl(src, args.pages)
            inputs = ["--input", str(src)]
        else:
            from trainer.data.synthetic import write_pages
            src = work / f"pages-{args.pages}"
            if not src.exists():
                write_pages(src, args.pages, keep=False)
            inputs = [str(src)]
        print(f"{args.pages} synthetic pages ({args.input}) written in {time.perf_counter() - start:.1f} s; "
              f"cpus {os.cpu_count()}, load {os.getloadavg()[0]:.2f}", flush=True)
        results = []
        for engine in args.engines.split(","):
            out = work / f"out-{engine}.jsonl"
            result = run_engine(args.run, inputs, out, engine, args.batch_size)
            results.append(result)
            print(json.dumps(result), flush=True)
        outs = {r["engine"]: (work / f"out-{r['engine']}.jsonl").read_bytes() for r in results}
        if len(outs) > 1:
            print("outputs identical across engines:", len(set(outs.values())) == 1)
        print(f"load after: {os.getloadavg()[0]:.2f}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
