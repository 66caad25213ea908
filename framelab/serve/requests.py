"""The body of ``POST /score``, validated into articles with the model of :mod:`framelab.serve.schema`.

A body is one article object (:class:`framelab.serve.schema.Article`, which says what each field takes)
or a non-empty list of them::

    {"id": "a1", "title": "Headline", "text": "Body text…", "target": "carbon tax"}

Beyond what one article's model checks, a body's ids must be unique (an article without one is
numbered by its position, ``"0"``, ``"1"``, … as :func:`framelab.load` numbers texts), a ``title``
is scored as ``title + "\\n\\n" + text`` (the layout of the sample corpus, so offsets index that
joined text), an article with several targets is scored once per target (its records appear once
per target, in order), and a target given when no loaded model is a stance model is an unknown
target (422), and so is an article without one when a stance model is loaded.

Any key the model does not name is refused with the list of those it does (it is probably a
misspelling). Every problem is a :class:`RequestProblem` naming the field (``[2].text`` for the
third article of a list) and the HTTP status to answer with; pydantic's errors are reworded here,
the model's own checks carry their wording.

Before any field is read, the body must be declared ``application/json``
(415 otherwise: a web page may send ``text/plain`` or a form anywhere
without asking first, but not JSON) and be UTF-8 JSON nested at most
:data:`MAX_DEPTH` deep (400), whose strings hold no lone surrogate (422: an
unpaired ``\\ud800``-``\\udfff`` escape is no character and cannot be written
back out). No field takes a number, so however many digits one has it is
refused as a number (422), never converted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from framelab.readers.common import titled
from framelab.serve import schema
from framelab.serve.schema import REFUSED
from framelab.types import Article

#: Halves of a UTF-16 pair left alone: ``json`` decodes an unpaired ``\\ud800`` escape into one.
_SURROGATE = re.compile("[\ud800-\udfff]")
#: Deepest nesting of lists and objects a body may have: a list of articles holding lists of targets is 3.
MAX_DEPTH = 16
#: Digits beyond which a JSON integer is kept as a float: ``int()`` refuses more than 4,300 (a ValueError).
_INT_DIGITS = 1000


@dataclass
class RequestProblem(Exception):
    """Why a request is refused: HTTP ``status``, a message and the field at fault."""

    status: int
    error: str
    field: str | None = None

    def body(self) -> dict:
        return {"error": self.error, "field": self.field}


def check_media_type(content_type: str | None) -> None:
    """Refuse (415) a body not declared as UTF-8 JSON by its ``Content-Type`` header."""
    media, _, parameters = (content_type or "").partition(";")
    if media.strip().lower() != "application/json":
        given = f"'{content_type}'" if content_type else "none"
        raise RequestProblem(
            415, f"send the articles as JSON with 'Content-Type: application/json' (the request has {given})"
        )
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise RequestProblem(415, f"the body must be UTF-8 JSON, not {value.strip()}: send charset=utf-8")


def _integer(digits: str) -> int | float:
    # No field takes a number: one too long for int() becomes a float, refused later as a number, field named.
    return int(digits) if len(digits) <= _INT_DIGITS else float(digits)


def decode_body(raw: bytes) -> Any:
    """The JSON value of a request body; 400 for anything that is not UTF-8 JSON or nests too deep."""
    if not raw.strip():
        raise RequestProblem(400, "the request body is empty: send an article as JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestProblem(400, "the request body is not UTF-8 text: send JSON") from None
    try:
        value = json.loads(text, parse_int=_integer)
    except json.JSONDecodeError as exc:
        raise RequestProblem(400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise RequestProblem(400, _too_deep()) from None
    _check_tree(value)
    return value


def _too_deep() -> str:
    return f"the JSON nests lists and objects more than {MAX_DEPTH} deep: send an article or a list of articles"


def _check_tree(value: Any) -> None:
    """Refuse nesting beyond :data:`MAX_DEPTH` (400) and a lone surrogate in any key or string (422), field named."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                raise RequestProblem(
                    422,
                    "a string holds a lone surrogate (an unpaired \\ud800-\\udfff escape): send valid Unicode",
                    where or None,
                )
            continue
        if not isinstance(node, (list, dict)):
            continue
        if depth >= MAX_DEPTH:
            raise RequestProblem(400, _too_deep(), where or None)
        children = []
        for key, child in enumerate(node) if isinstance(node, list) else node.items():
            if isinstance(key, int):
                path = f"{where}[{key}]"
            else:
                # A key with a lone surrogate is named with it escaped: the error itself must be valid UTF-8.
                path = f"{where}.{key}" if where else key
                if _SURROGATE.search(key):
                    field = path.encode("utf-8", "backslashreplace").decode("utf-8")
                    raise RequestProblem(422, "a key holds a lone surrogate: send valid Unicode", field)
            children.append((child, path, depth + 1))
        stack.extend(reversed(children))  # in document order: the first problem in the body is the one named


def _json_type(value: Any) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _field(where: str, loc: tuple[int | str, ...]) -> str | None:
    """``loc`` of a pydantic error inside the article at ``where`` (``[2]``, or empty for a lone article)."""
    path = where
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or None


def _message(error: ErrorDetails) -> str:
    """The wording of one pydantic error on an article: the model's own for its checks, these for pydantic's."""
    kind, loc, value = error["type"], error["loc"], error["input"]
    key = loc[0] if loc else None
    if kind == REFUSED:
        return error["msg"]
    if kind == "model_type":
        return f"an article must be a JSON object with 'text', not {_json_type(value)}"
    if kind == "missing" or (kind == "string_type" and value is None and len(loc) == 1):
        return f"'{key}' is required"
    if kind == "string_type" and key in ("target", "targets"):
        return f"a stance target must be a string, not {_json_type(value)}"
    if kind == "string_type":
        return f"'{key}' must be a string, not {_json_type(value)}"
    if kind == "string_too_short":
        return f"{key} is empty"
    if key == "targets":
        return f"'targets' must be a non-empty list of strings, not {_json_type(value)}"
    return f"'{key}': {error['msg']}"


def _optional(error: ErrorDetails) -> bool:
    field = schema.Article.model_fields.get(str(error["loc"][0])) if error["loc"] else None
    return field is not None and not field.is_required()


def _validated(item: Any, where: str) -> schema.Article:
    """``item`` as a :class:`~framelab.serve.schema.Article`; its first problem as a 422 naming the field: an
    unknown key before any other, then a required field's, then the others' in the model's order."""
    try:
        return schema.Article.model_validate(item)
    except ValidationError as exc:
        errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        fields = ", ".join(schema.Article.model_fields)
        raise RequestProblem(
            422, f"unknown field '{unknown[0]}'; an article has {fields}", _field(where, (unknown[0],))
        ) from None
    first = min(errors, key=_optional)
    raise RequestProblem(422, _message(first), _field(where, first["loc"])) from None


def parse_articles(body: Any, *, takes_target: bool, max_articles: int) -> list[Article]:
    """The articles to score, one per (article, target); ``takes_target``: whether a loaded model is a stance model."""
    many = isinstance(body, list)
    items = body if many else [body]
    if many and not items:
        raise RequestProblem(422, "the list of articles is empty")
    if len(items) > max_articles:
        raise RequestProblem(413, f"{len(items)} articles in one request; the limit is {max_articles}: split the list")
    articles: list[Article] = []
    seen: set[str] = set()
    for n, item in enumerate(items):
        where = f"[{n}]" if many else ""
        given = _validated(item, where)
        article_id = str(n) if given.id is None else given.id
        if article_id in seen:
            raise RequestProblem(
                422, f"article id {article_id!r} appears twice in this request", _field(where, ("id",))
            )
        seen.add(article_id)
        targets = given.stance_targets()
        if targets != [None] and not takes_target:
            raise RequestProblem(
                422,
                "unknown target: no loaded model is a stance model, so no article takes a target",
                _field(where, ("target" if given.target is not None else "targets",)),
            )
        if targets == [None] and takes_target:
            raise RequestProblem(
                422, "a stance model is loaded: give the article a 'target' (or 'targets')", _field(where, ("target",))
            )
        text = given.text if given.title is None else titled(given.title, given.text)
        articles += [Article(article_id, text, stance_target=target) for target in targets]
    return articles
