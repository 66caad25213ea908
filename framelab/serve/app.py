"""The Starlette application of ``framelab serve``.

Endpoints (described at ``GET /openapi.json``, from the models of :mod:`framelab.serve.schema`, and drawn at
``GET /docs``):

- ``POST /score``: one article or a list (:mod:`framelab.serve.requests`) → the
  records ``framelab score --format jsonl`` writes, as a JSON list (default),
  as JSON Lines (``?format=jsonl``) or as the HTML view (``?format=html``);
- ``GET /``: the page (paste or upload an article, see it highlighted);
  its script and style are served by the app under ``/static/``;
- ``GET /health``: liveness and the batcher's counts;
- ``GET /models``: labels, thresholds, base model and dev figures of each loaded model;
- ``GET /docs``: the API document as a page (:mod:`framelab.serve.docs`), served from here like the rest.

Errors are JSON ``{"error": "...", "field": ...}``: 400 (malformed JSON,
JSON nested too deep, body not UTF-8, unknown ``format``, a ``Host`` header
not in ``allowed_hosts``), 401 (missing or wrong bearer token), 404, 405,
413 (body over ``max_body_bytes``, or more than ``max_articles`` articles),
415 (a body not sent as ``Content-Type: application/json``),
422 (wrong types, empty or binary text, a lone surrogate, bad or duplicate id,
unknown field, unknown or missing stance target), 503 with ``Retry-After``
(queue full), 504 (not scored within ``timeout_s``; the rest of its work is
dropped, :mod:`framelab.serve.batcher`), 500 (a bug: the message says so).

With a token set, every endpoint except the page, its static files,
``/health``, ``/openapi.json`` and ``/docs`` needs ``Authorization: Bearer <token>``;
the token is compared with :func:`hmac.compare_digest`. No endpoint reads
or writes a file named by the client: the static files are read once at
start from the package, under fixed names.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import os
import socket
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from framelab.models.card import headline_metrics
from framelab.models.folder import base_model_name
from framelab.score.scorer import load_predictors, model_labels
from framelab.serve.batcher import Batcher, QueueFull
from framelab.serve.docs import docs_page
from framelab.serve.openapi import openapi
from framelab.serve.render import html_page, jsonl, records
from framelab.serve.requests import RequestProblem, check_media_type, decode_body, parse_articles
from framelab.serve.schema import FORMATS
from framelab.tasks import get_task

#: Environment variable holding the bearer token (``--token`` wins).
TOKEN_ENV = "FRAMELAB_SERVE_TOKEN"
#: Environment variable through which ``--workers N`` hands the settings to each worker process.
SETTINGS_ENV = "FRAMELAB_SERVE_SETTINGS"

#: The page and every header: nothing from elsewhere, no inline script.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
#: Paths open without the token: the page, its files, liveness and the API description (none holds a model's output).
OPEN_PATHS = {"/", "/health", "/openapi.json", "/docs", "/static/page.js", "/static/page.css"}
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}


@dataclass
class ServeSettings:
    """How ``framelab serve`` runs; every field is a command-line option."""

    model_dirs: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    #: Bearer token; None: none needed (loopback only).
    token: str | None = None
    #: Most articles in one forward pass (1: batching off).
    max_batch: int = 32
    #: How long the first request of a batch waits for others, in milliseconds.
    batch_wait_ms: float = 5.0
    #: Requests waiting beyond the one batch being scored; more are answered 503.
    queue_limit: int = 64
    #: Largest request body, in bytes (413 beyond).
    max_body_bytes: int = 1 << 20
    #: Most articles in one request (413 beyond).
    max_articles: int = 64
    #: Seconds a request may wait for its results (queue and forward pass; 504 beyond).
    timeout_s: float = 30.0
    #: Texts per forward pass inside :func:`score_chunk` (units of a batch of articles).
    batch_size: int = 16
    #: Seconds a client is told to wait after a 503.
    retry_after_s: int = 1
    #: Host names a request's ``Host`` header may give (Starlette's host patterns: ``*.example.org``, ``*``);
    #: None: any (an application built in Python). ``framelab serve`` always sets them: ``--allowed-hosts``,
    #: else :func:`default_allowed_hosts`, so that a page on another site cannot reach the server under a
    #: name of its own pointed at this machine (DNS rebinding).
    allowed_hosts: list[str] | None = None


def problem(status: int, error: str, field: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "field": field}, status_code=status, headers=headers)


#: Where a wildcard address listens: every interface, under names the server cannot know.
_EVERY_ADDRESS = ("0.0.0.0", "::", "[::]")


def default_allowed_hosts(host: str) -> list[str]:
    """The ``Host`` names a server bound to ``host`` answers to when ``--allowed-hosts`` is not given.

    The bound name itself, plus ``localhost`` and ``127.0.0.1`` on loopback;
    on every address (``0.0.0.0``, ``::``) this machine's names and the
    loopback ones: any other name (an address, a proxy's) must be listed.
    """
    loopback = ["localhost", "127.0.0.1"]
    if host in _EVERY_ADDRESS:
        names = [socket.gethostname(), socket.getfqdn(), *loopback, "[::1]"]
    else:
        bare = host.strip("[]")
        try:
            address = ipaddress.ip_address(bare)
        except ValueError:
            address = None
        names = [f"[{bare}]" if address is not None and address.version == 6 else host]
        if host == "localhost" or (address is not None and address.is_loopback):
            names += loopback
    return list(dict.fromkeys(n.lower() for n in names if n))


class HostCheck(TrustedHostMiddleware):
    """Starlette's check of the ``Host`` header, its refusal answered in this server's JSON form."""

    _PASSED = "framelab.host_passed"

    def __init__(self, app: ASGIApp, allowed_hosts: list[str]):
        super().__init__(self._passed, allowed_hosts=allowed_hosts, www_redirect=False)
        self.inner = app

    async def _passed(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[self._PASSED] = True
        await self.inner(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def refuse_in_json(message) -> None:
            if scope.get(self._PASSED):
                await send(message)
            elif message["type"] == "http.response.start":  # Starlette's plain-text 400, replaced
                host = Headers(scope=scope).get("host")
                named = f"the Host header {host!r} does not name this server" if host else "the request has no Host"
                await problem(400, f"{named}: start the server with --allowed-hosts listing the names clients use")(
                    scope, receive, send
                )

        await super().__call__(scope, receive, refuse_in_json)


class Guard:
    """ASGI middleware: the bearer token and the security headers of every response."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self.token = token.encode("utf-8") if token else None

    def _allowed(self, scope: Scope) -> bool:
        if self.token is None or scope["path"] in OPEN_PATHS:
            return True
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, given = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self.token)
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        if not self._allowed(scope):
            response = problem(
                401,
                "missing or wrong bearer token: send 'Authorization: Bearer <token>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def _dev_figures(model_dir: Path) -> list[dict]:
    path = Path(model_dir) / "dev_metrics.json"
    if not path.is_file():
        return []
    try:
        return headline_metrics(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError):
        return []


def describe_models(predictors: list) -> list[dict]:
    """What ``GET /models`` says of each loaded model (read once, at start)."""
    out = []
    for p in predictors:
        meta, task = p.meta, get_task(p.meta.task)
        out.append(
            {
                "name": p.name,
                "task": meta.task,
                "unit": None if task.windowed else meta.unit,
                "article_level": meta.article_level,
                "multi_label": meta.multi_label,
                "takes_target": task.has_target,
                "labels": list(meta.labels),
                "thresholds": None if meta.thresholds is None else [float(t) for t in meta.thresholds],
                "base_model": base_model_name(meta.base_model),
                "framelab_version": meta.framelab_version,
                "dev_metrics": _dev_figures(p.model_dir),
            }
        )
    return out


def _static_files() -> dict[str, bytes]:
    folder = resources.files("framelab.serve") / "static"
    return {name: (folder / name).read_bytes() for name in STATIC}


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as its declared or counted length passes ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise RequestProblem(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise RequestProblem(413, f"the body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestProblem(413, f"the body passes the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(settings: ServeSettings, predictors: list | None = None) -> Starlette:
    """The application for ``settings``; ``predictors`` (already loaded) or the settings' model folders, loaded now."""
    if predictors is None:
        predictors = load_predictors(settings.model_dirs, batch_size=settings.batch_size, split_workers=1)
    if not predictors:
        raise ValueError("framelab serve needs at least one --model")
    batcher = Batcher(
        predictors, max_batch=settings.max_batch, wait_s=settings.batch_wait_ms / 1000, queue_limit=settings.queue_limit
    )
    models = describe_models(predictors)
    labels = model_labels(predictors)
    takes_target = any(m["takes_target"] for m in models)
    static = _static_files()
    document = openapi(settings)
    docs = docs_page(document)

    async def score(request: Request) -> Response:
        fmt = request.query_params.get("format", "json")
        try:
            if fmt not in FORMATS:
                raise RequestProblem(400, f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}", "format")
            check_media_type(request.headers.get("content-type"))
            body = decode_body(await _read_body(request, settings.max_body_bytes))
            articles = parse_articles(body, takes_target=takes_target, max_articles=settings.max_articles)
        except RequestProblem as p:
            return problem(p.status, p.error, p.field)
        try:
            results = await batcher.score(articles, settings.timeout_s)
        except QueueFull:
            return problem(
                503,
                f"the queue is full ({settings.queue_limit} requests waiting); retry later",
                headers={"Retry-After": str(settings.retry_after_s)},
            )
        except TimeoutError:
            return problem(
                504,
                f"not scored within {settings.timeout_s:g} s; retry later or send fewer articles",
                headers={"Retry-After": str(settings.retry_after_s)},
            )
        except ValueError as exc:
            return problem(422, str(exc))
        if fmt == "html":
            return Response(html_page(results, labels), media_type="text/html; charset=utf-8")
        if fmt == "jsonl":
            return Response(jsonl(results), media_type="application/x-ndjson; charset=utf-8")
        return JSONResponse(records(results))

    async def page(request: Request) -> Response:
        return Response(static["index.html"], media_type=STATIC["index.html"])

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC or name == "index.html":
            return problem(404, "no such file")
        return Response(static[name], media_type=STATIC[name])

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "models": [m["name"] for m in models],
                "waiting": batcher.waiting,
                "queue_limit": settings.queue_limit,
                **asdict(batcher.stats),
            }
        )

    async def list_models(request: Request) -> Response:
        return JSONResponse(
            {
                "models": models,
                "max_batch": settings.max_batch,
                "max_articles": settings.max_articles,
                "max_body_bytes": settings.max_body_bytes,
            }
        )

    async def describe(request: Request) -> Response:
        return JSONResponse(document)

    async def describe_page(request: Request) -> Response:
        return Response(docs, media_type="text/html; charset=utf-8")

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        error = (
            exc.detail
            if isinstance(exc, HTTPException)
            else f"internal error ({type(exc).__name__}); this is a bug in framelab serve"
        )
        return problem(status, error, headers=getattr(exc, "headers", None))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/static/{name}", asset, methods=["GET"]),
        Route("/score", score, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/models", list_models, methods=["GET"]),
        Route("/openapi.json", describe, methods=["GET"]),
        Route("/docs", describe_page, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: http_error, Exception: http_error}
    )
    if settings.allowed_hosts is not None:
        app.add_middleware(HostCheck, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(Guard, token=settings.token)
    app.state.batcher = batcher
    app.state.settings = settings
    return app


def from_environment() -> Starlette:
    """The application of one ``--workers N`` process: settings from :data:`SETTINGS_ENV`, the token from
    :data:`TOKEN_ENV`."""
    raw = json.loads(os.environ[SETTINGS_ENV])
    settings = ServeSettings(**raw)
    settings.token = os.environ.get(TOKEN_ENV) or None
    return create_app(settings)
