"""`trainer serve` under concurrent load: the unbatched server (baseline) against dynamic batching, same run,
same requests, one script run. Loopback only; bounded in requests and in time.

    flock /tmp/trainer-cpu.lock python scripts/bench_serve.py --run runs/reuters-topics-minilm

Each server is started as its own process (`python -m trainer serve RUN --port P ...` on 127.0.0.1), warmed
up, then `--clients` threads (8) each send one short news text per request (a Reuters test story's title and
first sentences, --chars characters at most) until `--requests` requests (1,000) are answered or `--seconds`
pass. Printed per server: requests/s, p50 / p99 latency, errors (any non-200 answer or failed request), the
server's resident memory before and after the load, and the batcher's statistics.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


def short_texts(archive: str | None, n: int, chars: int) -> list[str]:
    from trainer.data.config import SourceConfig
    from trainer.data.readers import read_articles
    out = []
    for a in read_articles(SourceConfig(kind="reuters", path=archive, download=False)):
        if getattr(a, "split", None) == "test" and a.text.strip():
            out.append(a.text[:chars].rsplit(" ", 1)[0] if len(a.text) > chars else a.text)
            if len(out) == n:
                break
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_server(run: str, port: int, extra: list[str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "trainer", "serve", run, "--host", "127.0.0.1", "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    import httpx
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start within 120 s")


def load(port: int, texts: list[str], clients: int, requests: int, seconds: float) -> dict:
    """`clients` threads, one request in flight each, until `requests` are answered or `seconds` pass."""
    import httpx
    latencies, errors, lock = [], [], threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + seconds

    def client():
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                started = time.perf_counter()
                try:
                    response = http.post("/predict", json={"texts": [texts[i % len(texts)]]})
                    ok = response.status_code == 200 and len(response.json()["predictions"]) == 1
                except httpx.HTTPError as exc:
                    ok, response = False, exc
                elapsed = time.perf_counter() - started
                with lock:
                    (latencies if ok else errors).append(elapsed if ok else repr(response)[:200])

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    lat = np.asarray(latencies) * 1000
    return {"requests": len(latencies) + len(errors), "ok": len(latencies), "errors": len(errors),
            "error_examples": errors[:3], "seconds": round(wall, 2), "requests_per_s": len(latencies) / wall,
            "p50_ms": float(np.percentile(lat, 50)) if len(lat) else float("nan"),
            "p99_ms": float(np.percentile(lat, 99)) if len(lat) else float("nan")}


def bench_server(name: str, run: str, extra: list[str], texts: list[str], args) -> dict:
    import httpx
    port = free_port()
    proc = start_server(run, port, extra)
    try:
        before = rss_mib(proc.pid)
        load(port, texts, args.clients, args.warmup, args.seconds)          # warm-up: kernels per input shape
        result = load(port, texts, args.clients, args.requests, args.seconds)
        result.update(rss_before_mib=before, rss_after_mib=rss_mib(proc.pid), server_args=extra)
        result["batching"] = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json().get("batching")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"  {name:24} {result['requests_per_s']:7.1f} req/s  p50 {result['p50_ms']:6.0f} ms  p99 "
          f"{result['p99_ms']:6.0f} ms  errors {result['errors']}", flush=True)
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True, help="run directory to serve")
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--requests", type=int, default=1000, help="timed requests per server (at most)")
    p.add_argument("--warmup", type=int, default=200, help="untimed requests first")
    p.add_argument("--seconds", type=float, default=180, help="time limit of each load phase")
    p.add_argument("--chars", type=int, default=300, help="characters per text (short news)")
    p.add_argument("--onnx", action="store_true", help="also serve the run's ONNX export (batched); needs "
                                                       "`trainer export RUN --format onnx` first")
    p.add_argument("--reuters", default=None)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    if not (1 <= a.clients <= 64 and 1 <= a.requests <= 20000 and 0 < a.seconds <= 900):
        p.error("keep the load bounded: 1-64 clients, 1-20000 requests, 0-900 s")

    from trainer import hardware
    texts = short_texts(a.reuters, 500, a.chars)
    servers = {"unbatched (baseline)": ["--no-batching"], "batched": ["--batching"]}
    if a.onnx:
        servers["unbatched, onnx"] = ["--no-batching", "--runtime", "onnx"]
        servers["batched, onnx"] = ["--batching", "--runtime", "onnx"]
    print(f"{a.clients} clients x one text ({np.mean([len(t) for t in texts]):.0f} chars on average), "
          f"{a.requests} requests per server; {hardware.cpu_model()}, {hardware.cores_available()} cores, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    results = {name: bench_server(name, a.run, extra, texts, a) for name, extra in servers.items()}
    base = results["unbatched (baseline)"]
    print(f"\n{'server':24} {'req/s':>7} {'x base':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'RSS MiB before/after':>21}"
          f"  batches (mean requests each)")
    for name, r in results.items():
        b = r.get("batching") or {}
        batches = f"{b.get('batches', '')} ({b.get('mean_requests_per_batch', '')})" if b else "-"
        print(f"{name:24} {r['requests_per_s']:7.1f} {r['requests_per_s'] / base['requests_per_s']:6.2f}x "
              f"{r['p50_ms']:7.0f} {r['p99_ms']:7.0f} {r['errors']:6d} {r['rss_before_mib']:10.0f} / {r['rss_after_mib']:<8.0f}"
              f"  {batches}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    if a.json:
        a.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
