"""The ``GET /docs`` page: the OpenAPI document of :mod:`framelab.serve.openapi` drawn as HTML, all on this server.

No script and nothing fetched from elsewhere (it works offline and under the app's Content-Security-Policy):
each endpoint with its parameters, request body and responses, each schema with its fields, and the
examples the models carry. This module turns the document into plain records; the Jinja2 template
``templates/docs.html.j2`` holds the markup, rendered with autoescape on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

#: Autoescape on: every text of the document is escaped where the template prints it.
_ENV = Environment(
    loader=PackageLoader("framelab.serve", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
_CODE = re.compile(r"`([^`]+)`")


@dataclass
class Row:
    """A line of a table: a name, its type (markup: links to schemas), whether required, and what it is."""

    name: str
    type: Markup
    required: bool = False
    description: Markup = Markup()


@dataclass
class Operation:
    """One method of one path."""

    method: str
    path: str
    summary: str
    open: bool
    parameters: list[Row] = field(default_factory=list)
    body: Markup | None = None
    responses: list[Row] = field(default_factory=list)


@dataclass
class Schema:
    """One schema of ``components/schemas``: its fields (an object), or its type (anything else), and examples."""

    name: str
    description: Markup
    type: Markup | None
    fields: list[Row]
    examples: list[str]


def prose(text: str | None) -> Markup:
    """``text`` escaped, each Markdown code span (text between single backticks) drawn as ``<code>``."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(text or ""))))


def _code(value: object) -> Markup:
    return Markup("<code>{}</code>").format(json.dumps(value, ensure_ascii=False))


def type_of(schema: dict) -> Markup:
    """A JSON schema in a few words: ``list of <a>Article</a>``, ``string | null``, ``object of string → number``."""
    if "$ref" in schema:
        return Markup('<a href="#schema-{0}">{0}</a>').format(schema["$ref"].rsplit("/", 1)[-1])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return Markup(" | ").join(type_of(s) for s in schema[key])
    if "const" in schema:
        return _code(schema["const"])
    if "enum" in schema:
        return Markup(" | ").join(_code(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        text = Markup("list of {}").format(type_of(schema.get("items", {})))
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = Markup("object of string → {}").format(type_of(schema["additionalProperties"]))
    else:
        text = escape(kind if isinstance(kind, str) else " | ".join(kind))
    limits = [f"at least {schema[k]}" for k in ("minItems", "minLength") if k in schema]
    return text + (f" ({', '.join(limits)})" if limits else "")


def _operation(path: str, method: str, op: dict) -> Operation:
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    responses = []
    for status, answer in op.get("responses", {}).items():
        kinds = [
            Markup("{}: {}").format(media, type_of(c.get("schema", {})))
            for media, c in answer.get("content", {}).items()
        ]
        responses.append(Row(status, Markup("<br>").join(kinds), description=prose(answer.get("description"))))
    return Operation(
        method=method.upper(),
        path=path,
        summary=op.get("summary", ""),
        open=not op.get("security"),
        parameters=[
            Row(p["name"], type_of(p.get("schema", {})), p.get("required", False), prose(p.get("description")))
            for p in op.get("parameters", [])
        ],
        body=type_of(body["schema"]) if body else None,
        responses=responses,
    )


def _schema(name: str, schema: dict) -> Schema:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    return Schema(
        name=name,
        description=prose(schema.get("description")),
        type=None if properties else type_of(schema),
        fields=[Row(k, type_of(v), k in required, prose(v.get("description"))) for k, v in properties.items()],
        examples=[json.dumps(e, indent=2, ensure_ascii=False) for e in schema.get("examples", [])],
    )


def docs_page(document: dict) -> str:
    """The page of ``document`` (an OpenAPI 3.1 document as :func:`framelab.serve.openapi.openapi` makes it)."""
    operations = [_operation(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    schemas = [_schema(name, s) for name, s in document["components"]["schemas"].items()]
    return _ENV.get_template("docs.html.j2").render(
        info=document["info"],
        info_description=prose(document["info"].get("description")),
        operations=operations,
        schemas=schemas,
    )
