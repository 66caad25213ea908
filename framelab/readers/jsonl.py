"""The project's own corpus format: JSON Lines, one article per line.

Format
------

A UTF-8 text file; each non-blank line is one JSON object::

    {"id": "123",
     "text": "Full article text, newlines (\\r\\n too) and unicode as is.",
     "spans": [{"start": 0, "end": 11, "label": "Loaded_Language"}],
     "frames": ["Economic", "Political"],
     "genre": "opinion",
     "stance": {"target": "carbon tax", "label": "against"},
     "line_labels": {"3": ["Doubt"], "5": []},
     "source": "data/raw/article123.txt"}

* ``id`` (string) and ``text`` (string, not empty or whitespace only) are
  required; every other key is optional and may be ``null``.  An id may
  hold any visible character (``/`` and ``..`` too: no reader or writer
  makes a file name from an id) but no TAB, newline or other control character and no leading or
  trailing whitespace, because ids are written into TAB-separated files.
* ``spans``: character offsets into ``text`` exactly as stored in the JSON
  string (Python ``str`` indices, i.e. code points; start inclusive, end
  exclusive, ``0 <= start < end <= len(text)``); ``label`` goes through
  ``label_map`` then the ``labels`` list.
* ``frames``: list of frame names, checked against the ``frames`` list;
  ``null``/absent means "not annotated", ``[]`` means "no frame".
* ``genre``: a string.
* ``stance``: ``{"target": str, "label": str}`` → ``Article.stance_target``
  and ``Article.stance`` (either key may be left out or ``null``).
* ``line_labels``: 1-based line number (a JSON object key, so a string of
  digits) → technique names; lines are ``text.split("\\n")``.
* ``source``: where the text originally came from, for messages; when
  absent the reader sets ``"<jsonl path>:<line>"``.
* Any other key is a problem (it is probably a misspelling), the record is
  kept without it.

:func:`write_jsonl` writes exactly these keys, leaving out those whose value
is ``None`` (``spans`` is always written), with ``ensure_ascii=False`` so
text stays readable; JSON escapes ``\\r`` and ``\\n`` inside strings, so one
article stays on one line and CRLF text survives.  ``read_jsonl`` of a
written file gives back equal :class:`~framelab.types.Article` objects (same
order when they were written sorted by id, as readers return them).

Problems (logged, never raised part-way): a line that is not valid JSON or
not an object, a missing/ill-typed ``id`` or ``text``, an unusable id, an
empty text, an id seen on an earlier line (the later line is skipped),
ill-typed optional fields (the field is dropped), and per span: wrong
shape, non-integer or out-of-range offsets, unknown labels (the span is
dropped).  A leading BOM on the file's first line is ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framelab.errors import DataError, Problem, ProblemLog
from framelab.output import AtomicFile
from framelab.readers.common import (
    BOM,
    check_bounds,
    check_label,
    check_span,
    finish,
    id_problem,
    is_empty_text,
)
from framelab.types import Article, Span

KEYS = ("id", "text", "spans", "frames", "genre", "stance", "line_labels", "source")


def _is_int(value: Any) -> bool:
    """Whether ``value`` is a JSON integer (``true``/``false`` are not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _str_list(value: Any) -> bool:
    """Whether ``value`` is a list of strings."""
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def article_to_json(article: Article) -> dict[str, Any]:
    """The JSONL record for ``article`` (``None`` fields left out)."""
    record: dict[str, Any] = {
        "id": article.id,
        "text": article.text,
        "spans": [{"start": s.start, "end": s.end, "label": s.label} for s in article.spans],
    }
    if article.frames is not None:
        record["frames"] = list(article.frames)
    if article.genre is not None:
        record["genre"] = article.genre
    if article.stance is not None or article.stance_target is not None:
        stance: dict[str, str] = {}
        if article.stance_target is not None:
            stance["target"] = article.stance_target
        if article.stance is not None:
            stance["label"] = article.stance
        record["stance"] = stance
    if article.line_labels is not None:
        record["line_labels"] = {str(k): list(v) for k, v in sorted(article.line_labels.items())}
    if article.source is not None:
        record["source"] = article.source
    return record


def write_jsonl(articles: Iterable[Article], path: Path) -> int:
    """Write ``articles`` to ``path`` atomically; returns how many were written.

    The file is written to a temporary file in the same folder, fsynced and
    then moved into place (:class:`framelab.output.AtomicFile`), so readers
    never see a half-written corpus.
    """
    count = 0
    with AtomicFile(Path(path), newline="\n") as out:
        for article in articles:
            out.handle.write(json.dumps(article_to_json(article), ensure_ascii=False))
            out.handle.write("\n")
            count += 1
    return count


@dataclass(frozen=True)
class _Line:
    """One JSONL line being read: where problems go and the lists its names are checked against."""

    path: Path
    number: int
    log: ProblemLog
    labels: list[str] | None
    label_map: dict[str, str] | None
    frames: list[str] | None

    def bad(self, message: str, hint: str = "") -> None:
        """Log a problem on this line."""
        self.log.add(self.path, self.number, message, hint)

    def technique(self, name: str) -> str | None:
        """The project name of technique ``name``, or ``None`` to drop it (logged when unknown)."""
        return check_label(
            name,
            labels=self.labels,
            label_map=self.label_map,
            log=self.log,
            path=self.path,
            line=self.number,
        )


def _id_and_text(obj: dict[str, Any], at: _Line) -> tuple[str, str] | None:
    """The record's id and text, or ``None`` (logged) when either is unusable."""
    aid, text = obj.get("id"), obj.get("text")
    if not isinstance(aid, str) or not aid:
        at.bad("record has no string 'id'", 'every line needs "id": "<string>"')
        return None
    why = id_problem(aid)
    if why is not None:
        at.bad(why, "use an id of visible characters without TABs or newlines")
        return None
    if not isinstance(text, str):
        at.bad(
            f"article {aid} has no string 'text'",
            'every line needs "text": "<article text>"',
        )
        return None
    if is_empty_text(text):
        at.bad(f"article {aid} is empty", "remove the line or restore its text")
        return None
    return aid, text


def _check_keys(obj: dict[str, Any], aid: str, at: _Line) -> None:
    """Log keys outside :data:`KEYS`; they are most likely misspelt."""
    extra = sorted(set(obj) - set(KEYS))
    if extra:
        at.bad(
            f"article {aid}: unknown key(s) {', '.join(map(repr, extra))} ignored",
            f"allowed keys: {', '.join(KEYS)}",
        )


def _source(value: Any, aid: str, at: _Line) -> str:
    """The ``source`` field, or ``"<path>:<line>"`` when it is absent or not a string."""
    if value is not None and not isinstance(value, str):
        at.bad(f"article {aid}: 'source' must be a string")
    return value if isinstance(value, str) else f"{at.path}:{at.number}"


def _span(item: Any, index: int, aid: str, text: str, at: _Line) -> Span | None:
    """Span ``item`` of the record, or ``None`` when it is malformed, misplaced or its label dropped."""
    if not (
        isinstance(item, dict)
        and _is_int(item.get("start"))
        and _is_int(item.get("end"))
        and isinstance(item.get("label"), str)
    ):
        at.bad(
            f"article {aid}: span #{index} {json.dumps(item, ensure_ascii=False)[:80]} "
            "is not {start: int, end: int, label: str}",
            "offsets must be integers and the label a string",
        )
        return None
    if check_bounds(item["start"], item["end"], log=at.log, path=at.path, line=at.number) is None:
        return None
    label = at.technique(item["label"])
    if label is None:
        return None
    span = Span(item["start"], item["end"], label)
    return span if check_span(span, aid, len(text), log=at.log, path=at.path, line=at.number) else None


def _spans(value: Any, aid: str, text: str, at: _Line) -> list[Span]:
    """The usable spans of the ``spans`` field (in record order)."""
    if value is not None and not isinstance(value, list):
        at.bad(
            f"article {aid}: 'spans' must be a list",
            'use "spans": [{"start": 0, "end": 5, "label": "..."}]',
        )
        return []
    spans = (_span(item, i, aid, text, at) for i, item in enumerate(value or []))
    return [span for span in spans if span is not None]


def _frames(value: Any, aid: str, at: _Line) -> list[str] | None:
    """The known frames of the ``frames`` field; ``None`` when absent or ill-typed."""
    if value is None:
        return None
    if not _str_list(value):
        at.bad(f"article {aid}: 'frames' must be a list of strings or null")
        return None
    kept: list[str] = []
    for name in value:
        frame = check_label(
            name,
            labels=at.frames,
            label_map=None,
            log=at.log,
            path=at.path,
            line=at.number,
            kind="frame",
        )
        if frame is not None:
            kept.append(frame)
    return kept


def _genre(value: Any, aid: str, at: _Line) -> str | None:
    """The ``genre`` field, or ``None`` when absent or not a string."""
    if value is not None and not isinstance(value, str):
        at.bad(f"article {aid}: 'genre' must be a string or null")
        return None
    return value


def _stance(value: Any, aid: str, at: _Line) -> tuple[str | None, str | None]:
    """The ``stance`` field as (target, label); both ``None`` when absent or ill-typed."""
    if value is None:
        return None, None
    if (
        isinstance(value, dict)
        and set(value) <= {"target", "label"}
        and all(v is None or isinstance(v, str) for v in value.values())
    ):
        return value.get("target"), value.get("label")
    at.bad(f'article {aid}: \'stance\' must be {{"target": str, "label": str}} or null')
    return None, None


def _line_labels(value: Any, aid: str, text: str, at: _Line) -> dict[int, list[str]] | None:
    """The usable entries of the ``line_labels`` field; ``None`` when absent or not an object."""
    if value is None:
        return None
    if not isinstance(value, dict):
        at.bad(f"article {aid}: 'line_labels' must be an object mapping line numbers to lists of names")
        return None
    line_labels: dict[int, list[str]] = {}
    n_lines = text.count("\n") + 1
    for key, names in value.items():
        if not (key.isascii() and key.isdigit() and int(key) >= 1) or not _str_list(names):
            at.bad(f"article {aid}: line_labels entry {key!r} must map a line number ≥ 1 to a list of names")
            continue
        if int(key) > n_lines:
            at.bad(f"article {aid}: line {key} lies beyond the end of the article ({n_lines} lines)")
            continue
        techniques = (at.technique(name) for name in names)
        line_labels[int(key)] = [t for t in techniques if t is not None]
    return line_labels


def _record(obj: dict[str, Any], at: _Line) -> Article | None:
    """The article of one JSONL object, or ``None`` (logged) when its id or text is unusable."""
    found = _id_and_text(obj, at)
    if found is None:
        return None
    aid, text = found
    _check_keys(obj, aid, at)
    source = _source(obj.get("source"), aid, at)
    spans = _spans(obj.get("spans"), aid, text, at)
    frames = _frames(obj.get("frames"), aid, at)
    genre = _genre(obj.get("genre"), aid, at)
    stance_target, stance = _stance(obj.get("stance"), aid, at)
    line_labels = _line_labels(obj.get("line_labels"), aid, text, at)
    return Article(
        id=aid,
        text=text,
        spans=spans,
        frames=frames,
        genre=genre,
        stance_target=stance_target,
        stance=stance,
        line_labels=line_labels,
        source=source,
    )


def _read_bytes(path: Path) -> bytes:
    """The JSONL file's bytes; raises :class:`DataError` when it is missing or unreadable."""
    if not path.is_file():
        raise DataError(
            Problem(
                str(path),
                None,
                "JSONL corpus file not found",
                "point the data config at a .jsonl file",
            )
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(
            Problem(
                str(path),
                None,
                f"cannot read JSONL file: {exc.strerror or exc}",
                "check that the file is readable",
            )
        ) from None


def _json_object(chunk: bytes, offset: int, path: Path, number: int, log: ProblemLog) -> dict[str, Any] | None:
    """Line ``number`` (starting at byte ``offset``) as a JSON object; ``None`` when blank or bad (logged)."""
    try:
        raw = chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        log.add(
            path,
            number,
            f"line is not valid UTF-8: byte 0x{chunk[exc.start]:02x} at byte offset {offset + exc.start}",
            "re-save the file as UTF-8",
        )
        return None
    if number == 1 and raw.startswith(BOM):
        raw = raw[1:]
    if not raw.strip():
        return None
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        log.add(
            path,
            number,
            f"not valid JSON: {exc.msg} at column {exc.colno}",
            "each line must be one complete JSON object",
        )
        return None
    if not isinstance(obj, dict):
        log.add(
            path,
            number,
            f"expected a JSON object, found {type(obj).__name__}",
            "each line must be one JSON object",
        )
        return None
    # An escape such as \ud800 decodes to a lone surrogate, which no output can encode: refuse it here, naming the line.
    if "\\ud" in raw.lower():
        try:
            json.dumps(obj, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            log.add(
                path,
                number,
                f"a string holds a lone surrogate (U+{ord(exc.object[exc.start]):04X}, "
                "from a \\u escape): not Unicode text",
                "fix or remove the escape; a character outside the BMP is written as a pair such as \\ud83d\\ude80",
            )
            return None
    return obj


def read_jsonl(
    path: Path,
    *,
    log: ProblemLog,
    labels: list[str] | None = None,
    label_map: dict[str, str] | None = None,
    frames: list[str] | None = None,
) -> list[Article]:
    """Read a JSONL corpus (format in the module docstring), sorted by id."""
    path = Path(path)
    data = _read_bytes(path)
    first_line: dict[str, int] = {}
    out: list[Article] = []
    position = 0
    for number, chunk in enumerate(data.split(b"\n"), start=1):
        offset, position = position, position + len(chunk) + 1
        obj = _json_object(chunk, offset, path, number, log)
        if obj is None:
            continue
        article = _record(obj, _Line(path, number, log, labels, label_map, frames))
        if article is None:
            continue
        if article.id in first_line:
            log.add(
                path,
                number,
                f"article {article.id} appears twice (first on line {first_line[article.id]})",
                "remove or rename one of them",
            )
            continue
        first_line[article.id] = number
        out.append(article)
    return finish(out)
