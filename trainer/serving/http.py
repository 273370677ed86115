"""`trainer serve RUN_DIR`: a small HTTP API (FastAPI + uvicorn) around `Predictor`, and a page.

    POST /predict       {"texts": [...]} or {"articles": [{"title": ..., "body": ...}]}, optional top_k, threshold
                        -> {"predictions": [{"labels": [...], "scores": {label: prob}}, ...]}
                        (a model with several targets: {"predictions": [{"topics": {...}, "regions": {...}}]})
    POST /predict-file?name=page.html   the raw bytes of one saved page (.txt or .html), read by the readers
                        `trainer predict` uses, cleaned as the model's dataset was (&outlet=NAME: the page's
                        outlet; default: found from the page) -> {"articles": [{"title", "text", "kind",
                        "cleaning": "outlet:NAME" or "generic"}], "predictions": [...]}
    GET  /health        -> {"status": "ok", ...}
    GET  /labels        -> {"run", "labels", "problem", "thresholds", "targets": {name: {labels, problem, thresholds}}}
                        (a target combined with the gazetteer also lists its "gazetteer_only" labels, which
                        its answers mark the same way: "gazetteer_only": [the answer's labels among them])
    GET  /              a self-contained page (no external resources): the run, its labels, a text box and a
                        file drop, score bars per target

Limits: a request body over `max_body_bytes` (1 MiB) or more than `max_texts` (64) texts -> 413;
invalid JSON or a body not matching the schema -> 422; an empty (whitespace-only) text -> 422 naming
which one, since it carries nothing to classify; more than `max_pending` texts waiting -> 503.
Binds 127.0.0.1 unless told otherwise.

Batching (`trainer serve`, on by default; `--no-batching` turns it off): concurrent requests are scored
together by one worker (`trainer.serving.batching.MicroBatcher`: a short wait window, at most `max_batch`
texts per model call, length-sorted forward passes). On the quiet 2-core reference machine it answered 8
concurrent clients at 1.65x the requests/s of scoring each request on its own, with a lower p99
(scripts/bench_serve.py). Under heavy load from other jobs it lost: bf16 kernels are compiled per input shape
and batches bring more shapes; `--no-batching` is the choice there. `create_app` itself batches only when
given `batching`.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import threading
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trainer.data import reader_kinds
from trainer.data.article import join_title_body
from trainer.errors import ConfigError, TrainerError
from trainer.serving.predictor import wire_record

MAX_BODY_BYTES = 1 << 20
MAX_TEXTS = 64
PAGE_KINDS = reader_kinds.PAGE_SUFFIXES     # file ending of an uploaded page -> its reader kind
DEFAULT_BATCHING = {"max_batch": 64, "wait_ms": 2.0, "max_pending": 1024}   # `trainer serve`'s defaults


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
    explain: bool = False      # a combined target (head + gazetteer) also shows each part's answer

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


def run_name_of(predictor) -> str:
    """The run directory's name (the model lives in RUN/model/), else the model folder's."""
    model_dir = getattr(predictor, "model_dir", None)
    if model_dir is None:
        return "model"
    model_dir = Path(model_dir).resolve()
    return model_dir.parent.name if model_dir.name == "model" else model_dir.name


def page_html(run_name: str, info: dict, max_body_bytes: int) -> str:
    """The page at `/`: the template with the run's name and its labels filled in (as text and as JSON)."""
    import html
    template = resources.files("trainer").joinpath("resources/serve_page.html").read_text(encoding="utf-8")
    data = json.dumps({**info, "max_bytes": max_body_bytes}, ensure_ascii=False)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")   # safe inside <script>
    return (template.replace("__RUN_NAME__", html.escape(run_name)).replace("__MAX_KB__", str(max_body_bytes // 1024))
            .replace("__ACCEPT__", ",".join(PAGE_KINDS)).replace("__DATA__", data))


def read_page(data: bytes, name: str, cleaning=None, outlet: str | None = None) -> list:
    """Articles (or rejects) from one uploaded page, through the readers `trainer predict` uses and cleaned as
    the model's dataset was (`cleaning`, `outlet`: see read_raw); the file name's extension picks the reader
    (.txt: scraped page text, .html: HTML)."""
    from trainer.serving.inputs import read_raw
    suffix = Path(name).suffix.lower()
    if suffix not in PAGE_KINDS:
        raise HTTPException(415, f"{name}: send a saved page as {', '.join(PAGE_KINDS)}")
    with tempfile.TemporaryDirectory(prefix="trainer-page-") as folder:
        path = Path(folder) / f"page{suffix}"
        path.write_bytes(data)
        return read_raw(path, PAGE_KINDS[suffix], cleaning, outlet)


def create_app(predictor, max_body_bytes: int = MAX_BODY_BYTES, max_texts: int = MAX_TEXTS,
               api_docs: bool = False, run_name: str | None = None, batching: dict | None = None) -> FastAPI:
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

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, exc: RequestValidationError):
        # FastAPI's default echoes each bad input back, and a NaN or Infinity cannot be written as JSON (500)
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        return JSONResponse({"detail": detail}, status_code=422)
    app.state.batcher = batcher
    lock = threading.Lock()   # one forward pass at a time: parallel ones only fight over the CPU cores

    def wire(prediction: dict) -> dict:   # a one-target model's answer at the top level, as it always was
        return wire_record(prediction, predictor.spec.target_names)

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
                predictions = predictor.predict(texts, top_k=request.top_k, threshold=request.threshold,
                                                explain=request.explain)
            return {"predictions": [wire(p) for p in predictions]}
    else:
        @app.post("/predict")
        async def predict_batched(request: PredictRequest):
            texts = checked_inputs(request)
            try:
                future = batcher.submit(texts, request.top_k, request.threshold, request.explain)
            except Busy as exc:
                raise HTTPException(503, str(exc), headers={"Retry-After": "1"}) from None
            return {"predictions": [wire(p) for p in await asyncio.wrap_future(future)]}

    @app.post("/predict-file")
    async def predict_file(request: Request,
                           name: str = Query(..., min_length=1, description="The file's name; .txt or .html picks "
                                                                            "the reader"),
                           top_k: int | None = Query(None, ge=1),
                           outlet: str | None = Query(None, min_length=1, description="The page's outlet (one the "
                                                      "model's dataset learned); default: found from the page")):
        data = await request.body()   # BodySizeLimit answers 413 past max_body_bytes
        if not data.strip():
            raise HTTPException(422, f"{name} is empty: send a saved page with an article in it")
        from trainer.data.article import Rejected
        try:
            items = await run_in_threadpool(read_page, data, name, getattr(predictor, "cleaning", None), outlet)
        except TrainerError as exc:   # a reader's own complaint about the file: the client's to fix
            raise HTTPException(422, f"{name}: {exc}") from None
        articles = [a for a in items if not isinstance(a, Rejected)][:max_texts]
        if not articles:
            reason = items[0].reason if items else "no article found"
            raise HTTPException(422, f"{name}: no article could be read ({reason})")

        def run():
            with lock:
                return predictor.predict([a.text for a in articles], top_k=top_k, tags=[a.tags for a in articles])
        predictions = await run_in_threadpool(run)
        kind = PAGE_KINDS[Path(name).suffix.lower()]
        return {"articles": [{"title": a.title, "text": a.body, "kind": reader_kinds.BY_KIND[kind].name,
                              "cleaning": a.meta.get("cleaning", "generic")} for a in articles],
                "predictions": [wire(p) for p in predictions]}

    @app.get("/health")
    def health():
        return {"status": "ok", "run": shown_name, "model_type": predictor.spec.model_type, "problem": predictor.problem,
                "n_labels": len(predictor.labels), "targets": predictor.spec.target_names,
                "batching": batcher.stats.to_dict() if batcher is not None else None}

    def targets() -> dict:
        only = predictor.gazetteer_only
        return {t.name: {"labels": list(t.labels), "problem": t.problem,
                         "thresholds": predictor.thresholds[t.name].kind if t.multi_label else None,
                         "at_least_one": bool(t.multi_label and predictor.thresholds[t.name].at_least_one),
                         **({"gazetteer_only": list(only[t.name])} if t.name in only else {})}
                for t in predictor.targets}

    @app.get("/labels")
    def labels():
        all_targets = targets()
        primary = all_targets[predictor.spec.primary.name]
        return {"run": shown_name, **primary, "targets": all_targets}

    shown_name = run_name or run_name_of(predictor)
    page = page_html(shown_name, {"run": shown_name, "model_type": predictor.spec.model_type, "targets": targets()},
                     max_body_bytes)

    @app.get("/", response_class=HTMLResponse)
    def form():
        return page

    return app


def check_address(host: str, port: int) -> None:
    """Fail with the option to change, before the model loads, when the server could not listen on host:port
    (uvicorn would report "startup complete" and only then `[Errno 98] address already in use`)."""
    import errno
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host!r}: not an address to listen on ({exc.strerror}); use 127.0.0.1 (this "
                          "machine only) or 0.0.0.0 (every interface)") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn does: TIME_WAIT is no obstacle
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} on {host} is already in use (another server is listening there); "
                                  f"choose a free port with --port, e.g. --port {free_port(host)}") from None
            if exc.errno == errno.EACCES:
                raise ConfigError(f"port {port} on {host}: permission denied (ports below 1024 need privileges); "
                                  "choose another with --port, e.g. --port 8000") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(f"--host {host!r} is not an address of this machine; use 127.0.0.1 or 0.0.0.0") from None
            raise ConfigError(f"cannot listen on {host}:{port} ({exc.strerror}); check --host and --port") from None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the system's pick)."""
    import socket
    family = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0][0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving_in_thread(app, host: str = "127.0.0.1", start_timeout: float = 30.0):
    """Serve `app` with uvicorn on a free port of `host`, in a daemon thread; yield its base URL
    (`http://HOST:PORT/`) once it accepts connections, stop it when the block ends. For notebooks, tests
    and benchmarks that need a real HTTP server beside their own code."""
    import time

    import uvicorn
    config = uvicorn.Config(app, host=host, port=free_port(host), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on {host}:{config.port}")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{config.port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, api_docs: bool = False,
          on_ready=None, batching: dict | None = None, **predictor_options) -> None:
    """Check the address, load the run's model and serve it until interrupted (`on_ready(url)` is called
    just before the server starts). `batching`: see `create_app` (None: off)."""
    import uvicorn

    from trainer.serving.predictor import Predictor

    check_address(host, port)
    app = create_app(Predictor.load(run_dir, **predictor_options), api_docs=api_docs, batching=batching)
    if on_ready is not None:
        shown = f"[{host}]" if ":" in host else host
        on_ready(f"http://{shown}:{port}/")
    uvicorn.run(app, host=host, port=port, log_level="info")
