"""`trainer serve`: a real uvicorn server on a free loopback port, called over HTTP."""
from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from trainer.serving.predictor import Predictor
from trainer.serving.http import create_app

pytestmark = pytest.mark.integration   # trains tiny models / serves / spawns processes

MAX_BODY = 4096
MAX_TEXTS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_run_dir):
    app = create_app(Predictor.load(tiny_run_dir), max_body_bytes=MAX_BODY, max_texts=MAX_TEXTS)
    config = uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    with httpx.Client(base_url=f"http://127.0.0.1:{config.port}", timeout=30) as client:
        yield client
    srv.should_exit = True
    thread.join(timeout=10)


def _labels(run_dir):
    from trainer.contracts import read_spec
    return list(read_spec(run_dir / "model").primary.labels)


def test_serve_health(server):
    response = server.get("/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_serve_labels_lists_the_models_labels(server, tiny_run_dir):
    body = server.get("/labels").json()
    assert body["labels"] == _labels(tiny_run_dir) and body["problem"] == "multi_label"


def test_serve_predict_texts(server, tiny_run_dir):
    response = server.post("/predict", json={"texts": ["oil prices in Tokyo", "net profit rose"], "top_k": 2})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == 2
    assert all(len(p["scores"]) == 2 and set(p["scores"]) <= set(_labels(tiny_run_dir)) for p in predictions)


def test_serve_predict_articles_match_predictor(server, tiny_run_dir):
    article = {"title": "Oil prices climb", "body": "Crude output fell as OPEC cut supply."}
    served = server.post("/predict", json={"articles": [article], "threshold": 0.2}).json()["predictions"][0]
    local = Predictor.load(tiny_run_dir).predict(["Oil prices climb\n\nCrude output fell as OPEC cut supply."],
                                                  threshold=0.2)[0]
    assert served["labels"] == local["labels"]
    assert served["scores"] == pytest.approx(local["scores"], abs=1e-5)


def test_serve_too_many_texts_is_413(server):
    response = server.post("/predict", json={"texts": ["oil"] * (MAX_TEXTS + 1)})
    assert response.status_code == 413 and str(MAX_TEXTS) in response.json()["detail"]


def test_serve_declared_large_body_is_413(server):
    response = server.post("/predict", json={"texts": ["x" * (MAX_BODY + 10)]})
    assert response.status_code == 413


def test_serve_streamed_large_body_is_413(server):
    def chunks():   # no Content-Length: chunked transfer, counted as it arrives
        yield b'{"texts": ["'
        for _ in range(MAX_BODY // 512 + 2):
            yield b"x" * 512
        yield b'"]}'
    response = server.post("/predict", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_serve_invalid_json_is_422(server):
    response = server.post("/predict", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_serve_schema_mismatch_is_422(server):
    assert server.post("/predict", json={"texts": "not a list"}).status_code == 422
    assert server.post("/predict", json={"texts": ["a"], "articles": [{"body": "b"}]}).status_code == 422
    assert server.post("/predict", json={"texts": ["a"], "top_k": 0}).status_code == 422


def test_serve_empty_text_is_422_naming_it(server):
    response = server.post("/predict", json={"texts": ["oil", "  "]})
    assert response.status_code == 422
    assert "texts[1] is empty" in json.dumps(response.json())


def test_serve_form_page(server):
    response = server.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<form" in response.text and "fetch(" in response.text


def test_serve_cli_binds_loopback_by_default(tiny_run_dir, monkeypatch):
    import uvicorn
    from typer.testing import CliRunner

    from trainer.cli import app
    bound = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: bound.update(host=host, port=port))
    result = CliRunner().invoke(app, ["serve", str(tiny_run_dir)])
    assert result.exit_code == 0, result.output
    assert bound == {"host": "127.0.0.1", "port": 8000}


def test_serve_non_finite_threshold_is_422_not_500(server):
    for raw in (b'{"texts": ["oil"], "threshold": NaN}', b'{"texts": ["oil"], "threshold": Infinity}'):
        response = server.post("/predict", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text


def test_serve_api_docs_are_off_unless_asked(server, tiny_run_dir):
    from fastapi.testclient import TestClient
    assert server.get("/docs").status_code == 404 and server.get("/openapi.json").status_code == 404
    with TestClient(create_app(Predictor.load(tiny_run_dir), api_docs=True)) as client:
        assert client.get("/openapi.json").status_code == 200
