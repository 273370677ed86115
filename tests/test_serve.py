"""`trainer serve`: a real uvicorn server on a free loopback port, called over HTTP."""
from __future__ import annotations

import json
import socket

import httpx
import pytest
import uvicorn

from trainer.serving.predictor import Predictor
from trainer.serving.http import PAGE_KINDS, create_app, serving_in_thread

pytestmark = pytest.mark.integration   # trains tiny models / serves / spawns processes

MAX_BODY = 4096
MAX_TEXTS = 4


@pytest.fixture(scope="module")
def server(tiny_run_dir):
    app = create_app(Predictor.load(tiny_run_dir), max_body_bytes=MAX_BODY, max_texts=MAX_TEXTS)
    with serving_in_thread(app) as url, httpx.Client(base_url=url.rstrip("/"), timeout=30) as client:
        yield client


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
                                                  threshold=0.2)[0]["topics"]
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


def test_serve_page_names_the_run_and_loads_nothing_from_elsewhere(server, tiny_run_dir):
    response = server.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<form" in page and "fetch(" in page and f"<title>{tiny_run_dir.name} " in page
    import re
    data = json.loads(re.search(r'<script id="trainer-data" type="application/json">(.*?)</script>', page, re.S)[1])
    assert data["run"] == tiny_run_dir.name and data["targets"]["topics"]["labels"] == _labels(tiny_run_dir)
    assert data["max_bytes"] == MAX_BODY
    # self-contained: no script, stylesheet, image or font from another place
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page)
    assert "http://" not in page and "https://" not in page and "@import" not in page


def test_serve_labels_and_health_name_the_run(server, tiny_run_dir):
    assert server.get("/labels").json()["run"] == tiny_run_dir.name
    assert server.get("/health").json()["run"] == tiny_run_dir.name


def test_serve_predict_file_reads_a_page_like_trainer_predict(server, tiny_run_dir, tmp_path):
    page = tmp_path / "saved.html"
    page.write_text("<html><head><title>Crude output</title></head><body><article><h1>Crude output falls</h1><p>"
                    + "Oil prices rose as OPEC cut crude output by barrels per day. " * 6 + "</p></article></body></html>",
                    encoding="utf-8")
    response = server.post("/predict-file", params={"name": "saved.html", "top_k": 3}, content=page.read_bytes())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["articles"][0]["title"] == "Crude output falls" and body["articles"][0]["kind"] == "HTML"
    local = Predictor.load(tiny_run_dir).predict_articles([page], top_k=3)[0]["topics"]
    assert body["predictions"][0]["labels"] == local["labels"]
    assert body["predictions"][0]["scores"] == pytest.approx(local["scores"], abs=1e-5)


def test_serve_predict_file_refuses_bad_files_with_a_reason(server):
    pdf = server.post("/predict-file", params={"name": "paper.pdf"}, content=b"%PDF-1.4")
    # the reason names every page ending the reader table lists
    assert pdf.status_code == 415 and pdf.json()["detail"].endswith(", ".join(PAGE_KINDS)) and ".html" in PAGE_KINDS
    empty = server.post("/predict-file", params={"name": "page.txt"}, content=b"  \n")
    assert empty.status_code == 422 and "empty" in empty.json()["detail"]
    big = server.post("/predict-file", params={"name": "page.txt"}, content=b"x" * (MAX_BODY + 1))
    assert big.status_code == 413
    nameless = server.post("/predict-file", content=b"text")
    assert nameless.status_code == 422


def test_serve_cli_binds_loopback_by_default(tiny_run_dir, monkeypatch):
    from typer.testing import CliRunner

    from trainer.cli import app
    from trainer.serving import http
    bound, checked = {}, {}
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kw: bound.update(host=host, port=port))
    monkeypatch.setattr(http, "check_address", lambda host, port: checked.update(host=host, port=port))
    result = CliRunner().invoke(app, ["serve", str(tiny_run_dir)])
    assert result.exit_code == 0, result.output
    assert bound == {"host": "127.0.0.1", "port": 8000} == checked
    assert "http://127.0.0.1:8000/" in result.output


def test_serve_busy_port_is_reported_before_the_model_loads(tiny_run_dir, monkeypatch):
    """Another server on the port: one line naming --port and a free one, no uvicorn start, no traceback."""
    from typer.testing import CliRunner

    from trainer.cli import app
    from trainer.serving import predictor as predictor_module
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: pytest.fail("uvicorn started on a busy port"))
    monkeypatch.setattr(predictor_module.Predictor, "load", lambda *a, **kw: pytest.fail("model loaded first"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", str(tiny_run_dir), "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.output and "--port" in result.output
    assert "Traceback" not in result.output and "startup complete" not in result.output


def test_serve_two_target_model_answers_per_target(two_target_predictor):
    from fastapi.testclient import TestClient
    client = TestClient(create_app(two_target_predictor))
    labels = client.get("/labels").json()
    assert set(labels["targets"]) == {"topics", "regions"} and labels["run"] == "two-targets"
    [answer] = client.post("/predict", json={"texts": ["corn exports from Tokyo"]}).json()["predictions"]
    assert answer["topics"]["labels"] == ["grain"] and answer["regions"]["labels"] == ["Eastern Asia"]


def test_serve_non_finite_threshold_is_422_not_500(server):
    for raw in (b'{"texts": ["oil"], "threshold": NaN}', b'{"texts": ["oil"], "threshold": Infinity}'):
        response = server.post("/predict", content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text


def test_serve_api_docs_are_off_unless_asked(server, tiny_run_dir):
    from fastapi.testclient import TestClient
    assert server.get("/docs").status_code == 404 and server.get("/openapi.json").status_code == 404
    with TestClient(create_app(Predictor.load(tiny_run_dir), api_docs=True)) as client:
        assert client.get("/openapi.json").status_code == 200
