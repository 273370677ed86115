"""`trainer serve RUN_DIR`: a small HTTP API (FastAPI + uvicorn) around `Predictor`.

    POST /predict   {"texts": [...]} or {"articles": [{"title": ..., "body": ...}]}, optional top_k, threshold
                    -> {"predictions": [{"labels": [...], "scores": {label: prob}}, ...]}
    GET  /health    -> {"status": "ok", ...}
    GET  /labels    -> {"labels": [...], "problem": ..., "thresholds": kind}
    GET  /          a form to paste an article and see its labels

Limits: a request body over `max_body_bytes` (1 MiB) or more than `max_texts` (64) texts -> 413;
invalid JSON or a body not matching the schema -> 422; an empty (whitespace-only) text -> 422 naming
which one, since it carries nothing to classify; more than `max_pending` texts waiting -> 503.
Binds 127.0.0.1 unless told otherwise.

Batching (`trainer serve --batching`): concurrent requests are scored together by one worker
(`trainer.serving.batching.MicroBatcher`: a short wait window, at most `max_batch` texts per model call,
length-sorted forward passes). Off (the default), each request is scored on its own, one at a time: on
the 2-core reference machine batching did not pay (scripts/bench_serve.py): bf16 kernels are compiled per
input shape, and batches bring many new shapes; ONNX Runtime's fp32 forward is compute-bound already.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainer.data.article import join_title_body

MAX_BODY_BYTES = 1 << 20
MAX_TEXTS = 64
DEFAULT_BATCHING = {"max_batch": 64, "wait_ms": 2.0, "max_pending": 1024}   # `trainer serve`'s defaults
# The form: paste an article, see its labels. Plain JS fetch; results set via textContent (no HTML injection).
FORM_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>trainer: label an article</title>
<style>body{font-family:sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}
input,textarea{width:100%;box-sizing:border-box;margin:.3rem 0}textarea{height:16rem}
li{margin:.2rem 0}.on{font-weight:bold}#error{color:#b00}</style></head>
<body><h1>Label an article</h1>
<form id="f"><label>Title<input id="title" name="title"></label>
<label>Body<textarea id="body" name="body"></textarea></label>
<button type="submit">Predict</button></form>
<p id="error"></p><h2>Labels</h2><p id="labels"></p><h2>Scores</h2><ol id="scores"></ol>
<script>
document.getElementById("f").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("error"), list = document.getElementById("scores");
  error.textContent = ""; list.replaceChildren();
  const article = {title: document.getElementById("title").value, body: document.getElementById("body").value};
  const response = await fetch("predict", {method: "POST", headers: {"Content-Type": "application/json"},
                                           body: JSON.stringify({articles: [article], top_k: 10})});
  const data = await response.json();
  if (!response.ok) {
    error.textContent = typeof data.detail === "string" ? data.detail : data.detail.map(d => d.msg).join("; ");
    return;
  }
  const result = data.predictions[0];
  document.getElementById("labels").textContent = result.labels.join(", ") || "(none over threshold)";
  for (const [label, score] of Object.entries(result.scores)) {
    const item = document.createElement("li");
    item.textContent = label + ": " + score.toFixed(3);
    if (result.labels.includes(label)) item.className = "on";
    list.appendChild(item);
  }
});
</script></body></html>
"""


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = ""
    body: str = ""


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    texts: list[str] | None = None
    articles: list[ArticleIn] | None = None
    top_k: int | None = Field(None, ge=1)
    threshold: float | None = Field(None, ge=0, le=1)

    @model_validator(mode="after")
    def _one_input(self):
        if (self.texts is None) == (self.articles is None):
            raise ValueError("give exactly one of \"texts\" (a list of strings) or \"articles\" "
                             "(a list of {\"title\", \"body\"})")
        return self

    @field_validator("texts")
    @classmethod
    def _texts_not_empty(cls, texts):
        for i, text in enumerate(texts or []):
            if not text.strip():
                raise ValueError(f"texts[{i}] is empty: send non-blank text")
        return texts

    @field_validator("articles")
    @classmethod
    def _articles_not_empty(cls, articles):
        for i, a in enumerate(articles or []):
            if not (a.title.strip() or a.body.strip()):
                raise ValueError(f"articles[{i}] has neither title nor body: send non-blank text")
        return articles

    def inputs(self) -> list[str]:
        if self.texts is not None:
            return self.texts
        return [join_title_body(a.title, a.body) for a in self.articles]


class BodySizeLimit:
    """ASGI middleware: 413 when the declared Content-Length, or the bytes actually received, pass the limit.

    Checking the received bytes too covers chunked uploads and clients that understate Content-Length.
    """

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _too_large(self.max_bytes)(scope, receive, send)
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI re-raises HTTPException from body reading; its handler answers 413
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)


def _too_large(max_bytes: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body over {max_bytes} bytes"}, status_code=413)


def create_app(predictor, max_body_bytes: int = MAX_BODY_BYTES, max_texts: int = MAX_TEXTS,
               api_docs: bool = False, batching: dict | None = None) -> FastAPI:
    """The app. `api_docs`: also serve /docs, /redoc and /openapi.json (off by default: Swagger UI loads its
    scripts from a CDN, which an offline browser cannot reach, and the schema is not needed to call the API).
    `batching`: None scores each request on its own; a dict (max_batch, wait_ms, max_pending) batches
    concurrent requests (`MicroBatcher`)."""
    from trainer.serving.batching import Busy, MicroBatcher

    batcher = None
    if batching is not None:
        settings = {**DEFAULT_BATCHING, **batching}
        settings["max_batch"] = max(settings["max_batch"], max_texts)   # any valid request fits in one batch
        settings["max_pending"] = max(settings["max_pending"], settings["max_batch"])
        batcher = MicroBatcher(predictor, **settings)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        if batcher is not None:
            batcher.close()

    docs = {} if api_docs else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title="trainer", summary="Topic/region labels for news articles", lifespan=lifespan, **docs)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.state.batcher = batcher
    lock = threading.Lock()   # one forward pass at a time: parallel ones only fight over the CPU cores

    def checked_inputs(request: PredictRequest) -> list[str]:
        texts = request.inputs()
        if len(texts) > max_texts:
            raise HTTPException(413, f"{len(texts)} texts in one request; send at most {max_texts}")
        return texts

    if batcher is None:
        @app.post("/predict")
        def predict(request: PredictRequest):
            texts = checked_inputs(request)
            with lock:
                predictions = predictor.predict(texts, top_k=request.top_k, threshold=request.threshold)
            return {"predictions": predictions}
    else:
        @app.post("/predict")
        async def predict_batched(request: PredictRequest):
            texts = checked_inputs(request)
            try:
                future = batcher.submit(texts, request.top_k, request.threshold)
            except Busy as exc:
                raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from None
            return {"predictions": await asyncio.wrap_future(future)}

    @app.get("/health")
    def health():
        return {"status": "ok", "model_type": predictor.spec.model_type, "problem": predictor.problem,
                "n_labels": len(predictor.labels), "targets": predictor.spec.target_names,
                "batching": batcher.stats.to_dict() if batcher is not None else None}

    @app.get("/labels")
    def labels():
        targets = {t.name: {"labels": list(t.labels), "problem": t.problem,
                            "thresholds": predictor.thresholds[t.name].kind if t.multi_label else None}
                   for t in predictor.targets}
        primary = targets[predictor.spec.primary.name]
        return {**primary, "targets": targets}

    @app.get("/", response_class=HTMLResponse)
    def form():
        return FORM_HTML

    return app


def serve(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, api_docs: bool = False,
          batching: dict | None = None, **predictor_options) -> None:
    """Load the run's model and serve it until interrupted. `batching`: see `create_app` (None: off)."""
    import uvicorn

    from trainer.serving.predictor import Predictor

    app = create_app(Predictor.load(run_dir, **predictor_options), api_docs=api_docs, batching=batching)
    uvicorn.run(app, host=host, port=port, log_level="info")
