"""Dynamic batching in `trainer serve`: each request gets its own answer, concurrent requests share model calls,
and the bounds (texts per call, texts waiting) hold."""
from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from trainer.serving.batching import Busy, MicroBatcher
from trainer.serving.http import create_app, serving_in_thread
from trainer.serving.predictor import Predictor


class EchoPredictor:
    """predict_many answers each text with itself and the request's options, after `delay` seconds; it
    records the texts of every call and can be held until released."""

    def __init__(self, delay: float = 0.05):
        self.delay, self.calls = delay, []
        self.release = threading.Event()
        self.release.set()

    def predict_many(self, requests):
        self.release.wait(10)
        self.calls.append([t for texts, *_ in requests for t in texts])
        time.sleep(self.delay)
        return [[{"text": t, "top_k": k, "threshold": th} for t in texts] for texts, k, th, *_ in requests]


def test_batcher_answers_each_request_with_its_own_rows():
    fake = EchoPredictor()
    batcher = MicroBatcher(fake, max_batch=64, wait_ms=20)
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(lambda i=i: batcher.submit([f"text {i}", f"more {i}"], top_k=i).result(10))
                   for i in range(8)]
        results = [f.result() for f in futures]
    batcher.close()
    for i, result in enumerate(results):
        assert result == [{"text": f"text {i}", "top_k": i, "threshold": None},
                          {"text": f"more {i}", "top_k": i, "threshold": None}]
    assert len(fake.calls) < 8                       # concurrent requests shared model calls
    assert batcher.stats.requests == 8 and batcher.stats.texts == 16 and batcher.stats.most_requests > 1


def test_batcher_never_passes_max_batch_texts():
    fake = EchoPredictor(delay=0.01)
    fake.release.clear()                             # let requests pile up first
    batcher = MicroBatcher(fake, max_batch=4, wait_ms=50)
    futures = [batcher.submit([f"a{i}", f"b{i}", f"c{i}"]) for i in range(6)]
    fake.release.set()
    assert [f.result(10)[0]["text"] for f in futures] == [f"a{i}" for i in range(6)]
    batcher.close()
    assert fake.calls and max(len(c) for c in fake.calls) <= 4
    assert sorted(t for c in fake.calls for t in c) == sorted(f"{x}{i}" for i in range(6) for x in "abc")


def test_batcher_refuses_past_max_pending_and_recovers():
    fake = EchoPredictor()
    fake.release.clear()
    batcher = MicroBatcher(fake, max_batch=4, wait_ms=0, max_pending=8)
    futures = [batcher.submit(["x", "y"]) for _ in range(4)]     # 8 texts waiting
    with pytest.raises(Busy, match="at most 8"):
        batcher.submit(["one too many"])
    fake.release.set()
    for f in futures:
        f.result(10)
    assert batcher.pending == 0
    assert batcher.submit(["fits again"]).result(10)[0]["text"] == "fits again"
    batcher.close()


def test_batcher_passes_a_failure_to_every_waiting_request():
    class Failing:
        def predict_many(self, requests):
            raise RuntimeError("model exploded")
    batcher = MicroBatcher(Failing(), wait_ms=0)
    future = batcher.submit(["x"])
    with pytest.raises(RuntimeError, match="exploded"):
        future.result(10)
    assert batcher.pending == 0
    batcher.close()


def test_predict_many_equals_predict_per_request(tiny_run_dir):
    p = Predictor.load(tiny_run_dir)
    requests = [(["oil prices in Tokyo", "  "], None, None), (["wheat harvest"], 2, None),
                (["net profit rose", "trade deficit"], None, 0.3)]
    assert p.predict_many(requests) == [p.predict(*r) for r in requests]


@pytest.fixture
def serve_app():
    """Start an app on a free loopback port; yield a function that does it and returns a client; stop them."""
    with contextlib.ExitStack() as stack:
        def start(app):
            url = stack.enter_context(serving_in_thread(app))
            return stack.enter_context(httpx.Client(base_url=url.rstrip("/"), timeout=30))
        yield start


TEXTS = ["oil prices in Tokyo", "net profit rose in Paris", "wheat harvest and corn exports", "trade deficit widened",
         "dividend per share", "crude refinery output", "import tariffs", "soybean crop in Chicago"]


def test_serve_batched_concurrent_requests_get_their_own_answers(tiny_run_dir, serve_app):
    predictor = Predictor.load(tiny_run_dir)
    app = create_app(predictor, batching={"max_batch": 64, "wait_ms": 20})
    client = serve_app(app)
    cases = [([TEXTS[i % 8]], {"top_k": 1 + i % 3} if i % 2 else {"threshold": 0.3}) for i in range(24)]

    def call(case):
        texts, options = case
        response = client.post("/predict", json={"texts": texts, **options})
        assert response.status_code == 200, response.text
        return response.json()["predictions"]

    with ThreadPoolExecutor(8) as pool:
        served = list(pool.map(call, cases))
    for (texts, options), got in zip(cases, served):
        expected = [predictor.wire(r) for r in predictor.predict(texts, **options)]   # the wire format
        assert [r["labels"] for r in got] == [r["labels"] for r in expected]
        assert got[0]["scores"] == pytest.approx(expected[0]["scores"], abs=1e-5)
    stats = client.get("/health").json()["batching"]
    assert stats["requests"] == 24 and stats["batches"] < 24 and stats["largest_batch"] <= 64


def test_serve_batched_keeps_the_request_bounds(tiny_run_dir, serve_app):
    client = serve_app(create_app(Predictor.load(tiny_run_dir), max_texts=4, max_body_bytes=4096,
                                  batching={"max_batch": 8, "wait_ms": 1}))
    assert client.post("/predict", json={"texts": ["oil"] * 5}).status_code == 413
    assert client.post("/predict", json={"texts": ["x" * 5000]}).status_code == 413
    assert client.post("/predict", json={"texts": ["oil", " "]}).status_code == 422
    assert client.post("/predict", json={"texts": ["oil"] * 4}).status_code == 200


def test_serve_busy_is_503(serve_app, tiny_run_dir):
    real = Predictor.load(tiny_run_dir)

    class Held(EchoPredictor):
        spec, problem, labels, targets, thresholds = real.spec, real.problem, real.labels, real.targets, real.thresholds
        gazetteer_only = real.gazetteer_only

    held = Held()
    held.release.clear()
    client = serve_app(create_app(held, max_texts=2, batching={"max_batch": 2, "wait_ms": 0, "max_pending": 4}))
    with ThreadPoolExecutor(4) as pool:
        waiting = [pool.submit(client.post, "/predict", json={"texts": ["a", "b"]}) for _ in range(2)]
        time.sleep(0.5)                                              # both requests are queued now
        busy = client.post("/predict", json={"texts": ["c"]})
        held.release.set()
        assert all(f.result().status_code == 200 for f in waiting)
    assert busy.status_code == 503 and "retry" in busy.json()["detail"]


def test_serve_cli_passes_runtime_and_batching(tiny_run_dir, monkeypatch):
    import uvicorn as uv
    from typer.testing import CliRunner

    from trainer.cli import app as cli
    seen = {}
    monkeypatch.setattr(uv, "run", lambda app, host, port, **kw: seen.update(app=app, host=host))
    # above the default (64) and the largest valid request (64 texts, which a smaller value is raised to): only
    # a flag that reaches the batcher gives 200
    result = CliRunner().invoke(cli, ["serve", str(tiny_run_dir), "--batching", "--max-batch", "200",
                                      "--batch-wait-ms", "3"])
    assert result.exit_code == 0, result.output
    batcher = seen["app"].state.batcher
    assert batcher.max_batch == 200 and batcher.wait == pytest.approx(0.003)
    batcher.close()
    result = CliRunner().invoke(cli, ["serve", str(tiny_run_dir), "--max-batch", "16"])
    batcher = seen["app"].state.batcher
    assert result.exit_code == 0 and batcher.max_batch == 64     # raised: the largest valid request fits
    batcher.close()
    result = CliRunner().invoke(cli, ["serve", str(tiny_run_dir)])   # on by default, with the default sizes
    assert result.exit_code == 0 and seen["app"].state.batcher.max_batch == 64
    seen["app"].state.batcher.close()
    result = CliRunner().invoke(cli, ["serve", str(tiny_run_dir), "--no-batching"])
    assert result.exit_code == 0 and seen["app"].state.batcher is None
    result = CliRunner().invoke(cli, ["serve", str(tiny_run_dir), "--runtime", "onnx"])
    assert result.exit_code == 1 and "trainer export" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["serve", str(tiny_run_dir), "--max-batch", "0"])
    assert result.exit_code == 1 and "--max-batch" in result.output
