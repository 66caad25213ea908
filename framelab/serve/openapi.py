"""The OpenAPI 3.1 document of ``framelab serve``, served at ``GET /openapi.json`` and drawn at ``GET /docs``.

Every schema in it is generated from the models of :mod:`framelab.serve.schema` (their JSON schemas'
``$defs``, moved under ``components/schemas``); this module adds only what HTTP says about them:
paths, status codes, media types, the bearer token and this server's limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from framelab import __version__
from framelab.serve import schema

if TYPE_CHECKING:
    from framelab.serve.app import ServeSettings

#: Where the document keeps the models' schemas; every ``$ref`` points there.
COMPONENTS = "#/components/schemas/{model}"
#: The models the endpoints name; the models they hold (Article, records, …) come along.
MODELS: tuple[type[BaseModel], ...] = (
    schema.ScoreRequest,
    schema.ScoreResponse,
    schema.Health,
    schema.Models,
    schema.Error,
)
#: Why each error status is answered.
WHY = {
    400: "malformed or too deeply nested JSON, a body that is not UTF-8, an unknown format, or a Host header "
    "the server does not answer to",
    401: "missing or wrong bearer token (only when the server has one)",
    413: "body over the size limit, or too many articles in one request",
    415: "a body not sent as Content-Type: application/json (UTF-8)",
    422: "wrong types, empty or binary text, a lone surrogate, bad or duplicate id, unknown field, "
    "unknown or missing stance target",
    503: "queue full: retry after the Retry-After header's seconds",
    504: "not scored within the per-request time limit",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}


def ref(model: type[BaseModel]) -> dict:
    """A reference to ``model``'s schema in the document."""
    return {"$ref": COMPONENTS.format(model=model.__name__)}


def _plain(value: Any) -> Any:
    """``value`` with each description on one line, its docstring code marks (two backticks) made Markdown's (one)."""
    if isinstance(value, dict):
        return {
            k: " ".join(v.replace("``", "`").split()) if k == "description" and isinstance(v, str) else _plain(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def component_schemas() -> dict[str, dict]:
    """The JSON schema of every model the endpoints name, and of the models they hold, by model name."""
    _, top = models_json_schema([(m, "validation") for m in MODELS], ref_template=COMPONENTS)
    return _plain(top["$defs"])


def _json(model: type[BaseModel], description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref(model)}}}


def _errors(*codes: int) -> dict:
    out = {str(c): _json(schema.Error, WHY[c]) for c in codes}
    for code in {503, 504} & set(codes):
        out[str(code)]["headers"] = _RETRY_AFTER
    return out


def _score(bearer: list) -> dict:
    return {
        "summary": "Score one article or a list",
        "security": bearer,
        "parameters": [
            {
                "name": "format",
                "in": "query",
                "required": False,
                "schema": TypeAdapter(schema.Format).json_schema() | {"default": schema.FORMATS[0]},
                "description": "json: a list of records; "
                "jsonl: the bytes framelab score --format jsonl writes; html: the HTML view",
            }
        ],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref(schema.ScoreRequest)}}},
        "responses": {
            "200": {
                "description": "the records of every article (each article's units, then the article)",
                "content": {
                    "application/json": {"schema": ref(schema.ScoreResponse)},
                    "application/x-ndjson": {"schema": {"type": "string", "description": "one record a line"}},
                    "text/html": {"schema": {"type": "string"}},
                },
            },
            **_errors(400, 401, 413, 415, 422, 503, 504),
        },
    }


def _page(summary: str) -> dict:
    return {"get": {"summary": summary, "security": [], "responses": {"200": {"description": "HTML page"}}}}


def openapi(settings: ServeSettings) -> dict:
    """The document, with this server's limits in its description."""
    bearer = [{"bearer": []}] if settings.token else []
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "framelab serve",
            "version": __version__,
            "description": "Scores news articles with saved framelab models: "
            "framing, persuasion techniques (units and spans) and stance. "
            f"Limits: body {settings.max_body_bytes} bytes, {settings.max_articles} articles a request, "
            f"queue {settings.queue_limit} requests, "
            f"{settings.timeout_s:g} s a request.",
        },
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/score": {"post": _score(bearer)},
            "/models": {
                "get": {
                    "summary": "The loaded models: task, labels, thresholds, base model, dev figures",
                    "security": bearer,
                    "responses": {"200": _json(schema.Models, "the models"), **_errors(401)},
                }
            },
            "/health": {
                "get": {
                    "summary": "Liveness, the queue and the batcher's counts",
                    "security": [],
                    "responses": {"200": _json(schema.Health, "ok")},
                }
            },
            "/": _page("The page: paste or upload an article, see it highlighted"),
            "/docs": _page("This document, drawn as a page"),
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                }
            },
        },
    }
