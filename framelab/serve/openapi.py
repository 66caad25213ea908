"""The OpenAPI 3.1 description of ``framelab serve``, served at ``GET /openapi.json``."""

from __future__ import annotations

from framelab import __version__

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict:
    why = {
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
    return {str(c): {"description": why[c], "content": {"application/json": {"schema": _ERROR}}} for c in codes}


def openapi(settings) -> dict:
    """The description, with this server's limits in the texts."""
    article = {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {
            "text": {
                "type": "string",
                "minLength": 1,
                "description": "the article; no NUL or other control character besides TAB, LF, VT, FF, CR",
            },
            "title": {
                "type": "string",
                "description": "scored as title + '\\n\\n' + text (offsets index that joined text)",
            },
            "id": {
                "type": "string",
                "description": "unique in the request; default: the article's position ('0', '1', …)",
            },
            "target": {
                "type": "string",
                "description": "stance target (only when a stance model is loaded, and then required, or targets)",
            },
            "targets": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
                "description": "several stance targets: the article is scored once per target",
            },
        },
    }
    record = {
        "type": "object",
        "description": "one record of `framelab score --format jsonl`: "
        "a unit (type 'unit': article_id, unit, index, start, end, line, text, predictions) "
        "or an article (type 'article': article_id, source (null over HTTP), length, units, predictions); "
        "predictions are keyed by model name, "
        "each with task, labels, scores and, where the model gives them, target and spans",
        "required": ["type", "article_id", "predictions"],
        "properties": {
            "type": {"enum": ["unit", "article"]},
            "article_id": {"type": "string"},
            "predictions": {"type": "object"},
        },
    }
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
            "schemas": {
                "Article": article,
                "Record": record,
                "Error": {
                    "type": "object",
                    "required": ["error", "field"],
                    "properties": {
                        "error": {"type": "string"},
                        "field": {"type": ["string", "null"], "description": "the field at fault, e.g. [2].text"},
                    },
                },
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/score": {
                "post": {
                    "summary": "Score one article or a list",
                    "security": bearer,
                    "parameters": [
                        {
                            "name": "format",
                            "in": "query",
                            "required": False,
                            "schema": {"enum": ["json", "jsonl", "html"], "default": "json"},
                            "description": "json: a list of records; "
                            "jsonl: the bytes framelab score --format jsonl writes; html: the HTML view",
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Article"},
                                        {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": {"$ref": "#/components/schemas/Article"},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "the records of every article (each article's units, then the article)",
                            "content": {
                                "application/json": {
                                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Record"}}
                                },
                                "application/x-ndjson": {"schema": {"type": "string"}},
                                "text/html": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(400, 401, 413, 415, 422, 503, 504),
                    },
                }
            },
            "/models": {
                "get": {
                    "summary": "The loaded models: task, labels, thresholds, base model, dev figures",
                    "security": bearer,
                    "responses": {
                        "200": {
                            "description": "the models",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        },
                        **_errors(401),
                    },
                }
            },
            "/health": {
                "get": {
                    "summary": "Liveness, the queue and the batcher's counts",
                    "security": [],
                    "responses": {
                        "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}
                    },
                }
            },
            "/": {
                "get": {
                    "summary": "The page: paste or upload an article, see it highlighted",
                    "security": [],
                    "responses": {"200": {"description": "HTML page"}},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This description",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }
