"""The body of ``POST /score``, checked field by field into articles.

A body is one article object or a non-empty list of them::

    {"id": "a1", "title": "Headline", "text": "Body text…", "target": "carbon tax"}

- ``text`` (required): a non-empty string with no NUL or other control
  character besides TAB, LF, CR, VT and FF (binary data sent as text is refused);
- ``id`` (optional): a string usable as an article id (no TAB, newline or
  other control character, no surrounding whitespace); default: the
  article's position in the body, ``"0"``, ``"1"``, … as :func:`framelab.load`
  numbers texts; ids must be unique within a body;
- ``title`` (optional): a string; the scored text is then
  ``title + "\\n\\n" + text``, the layout of the sample corpus (a title
  line, a blank line, the body), so offsets index that joined text;
- ``target`` (optional string) or ``targets`` (optional list of strings):
  stance targets. An article with several targets is scored once per
  target (its records appear once per target, in order). A target given
  when no loaded model is a stance model is an unknown target (422), and
  so is an article without one when a stance model is loaded.

Any other key is refused (it is probably a misspelling). Every problem is a
:class:`RequestProblem` naming the field (``[2].text`` for the third
article of a list) and the HTTP status to answer with.

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

from framelab.readers.common import id_problem, is_empty_text, titled
from framelab.types import Article

KEYS = ("id", "title", "text", "target", "targets")

#: C0 controls other than TAB, LF, VT, FF and CR, and DEL: what binary data decoded as text is full of.
_BINARY = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
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


def _string(item: dict, key: str, where: str, *, required: bool = False) -> str | None:
    value = item.get(key)
    if value is None:
        if required:
            raise RequestProblem(422, f"'{key}' is required", f"{where}{key}")
        return None
    if not isinstance(value, str):
        raise RequestProblem(422, f"'{key}' must be a string, not {_json_type(value)}", f"{where}{key}")
    return value


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


def _text(value: str, field: str) -> str:
    if _BINARY.search(value):
        raise RequestProblem(422, "text holds NUL or other control characters: it looks binary; send plain text", field)
    return value


def _targets(item: dict, where: str) -> list[str | None]:
    single, many = item.get("target"), item.get("targets")
    if single is not None and many is not None:
        raise RequestProblem(422, "give 'target' or 'targets', not both", f"{where}targets")
    if single is not None:
        many, key = [single], "target"
    elif many is not None:
        key = "targets"
        if not isinstance(many, list) or not many:
            raise RequestProblem(
                422, f"'targets' must be a non-empty list of strings, not {_json_type(many)}", f"{where}targets"
            )
    else:
        return [None]
    for n, target in enumerate(many):
        field = f"{where}{key}" + (f"[{n}]" if key == "targets" else "")
        if not isinstance(target, str):
            raise RequestProblem(422, f"a stance target must be a string, not {_json_type(target)}", field)
        if not target.strip() or _BINARY.search(target):
            raise RequestProblem(422, "a stance target must be visible text", field)
    return list(many)


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
        where = f"[{n}]." if many else ""
        if not isinstance(item, dict):
            raise RequestProblem(
                422, f"an article must be a JSON object with 'text', not {_json_type(item)}", f"[{n}]" if many else None
            )
        unknown = sorted(set(item) - set(KEYS))
        if unknown:
            raise RequestProblem(
                422, f"unknown field '{unknown[0]}'; an article has {', '.join(KEYS)}", f"{where}{unknown[0]}"
            )
        text = _text(_string(item, "text", where, required=True), f"{where}text")
        if is_empty_text(text):
            raise RequestProblem(422, "text is empty", f"{where}text")
        title = _string(item, "title", where)
        if title is not None:
            text = titled(_text(title, f"{where}title"), text)
        article_id = _string(item, "id", where)
        if article_id is None:
            article_id = str(n)
        elif (why := id_problem(article_id)) is not None:
            raise RequestProblem(422, why, f"{where}id")
        if article_id in seen:
            raise RequestProblem(422, f"article id {article_id!r} appears twice in this request", f"{where}id")
        seen.add(article_id)
        targets = _targets(item, where)
        if targets != [None] and not takes_target:
            raise RequestProblem(
                422,
                "unknown target: no loaded model is a stance model, so no article takes a target",
                f"{where}{'target' if 'target' in item else 'targets'}",
            )
        if targets == [None] and takes_target:
            raise RequestProblem(
                422, "a stance model is loaded: give the article a 'target' (or 'targets')", f"{where}target"
            )
        articles += [Article(article_id, text, stance_target=target) for target in targets]
    return articles
