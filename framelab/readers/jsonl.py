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
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from framelab.errors import DataError, Problem, ProblemLog
from framelab.readers.common import (
    BOM,
    check_bounds,
    check_label,
    check_span,
    id_problem,
    is_empty_text,
)
from framelab.types import Article, Span

KEYS = ("id", "text", "spans", "frames", "genre", "stance", "line_labels", "source")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str_list(value: Any) -> bool:
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

    The file is written to a temporary file in the same folder, flushed and
    then moved into place with :func:`os.replace`, so readers never see a
    half-written corpus.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            for article in articles:
                out.write(json.dumps(article_to_json(article), ensure_ascii=False))
                out.write("\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return count


def _record(
    obj: dict[str, Any],
    *,
    path: Path,
    line: int,
    log: ProblemLog,
    labels: list[str] | None,
    label_map: dict[str, str] | None,
    frames: list[str] | None,
) -> Article | None:
    def bad(message: str, hint: str = "") -> None:
        log.add(path, line, message, hint)

    aid, text = obj.get("id"), obj.get("text")
    if not isinstance(aid, str) or not aid:
        bad("record has no string 'id'", 'every line needs "id": "<string>"')
        return None
    why = id_problem(aid)
    if why is not None:
        bad(why, "use an id of visible characters without TABs or newlines")
        return None
    if not isinstance(text, str):
        bad(
            f"article {aid} has no string 'text'",
            'every line needs "text": "<article text>"',
        )
        return None
    if is_empty_text(text):
        bad(f"article {aid} is empty", "remove the line or restore its text")
        return None
    extra = sorted(set(obj) - set(KEYS))
    if extra:
        bad(
            f"article {aid}: unknown key(s) {', '.join(map(repr, extra))} ignored",
            f"allowed keys: {', '.join(KEYS)}",
        )

    article = Article(id=aid, text=text)
    article.source = obj["source"] if isinstance(obj.get("source"), str) else f"{path}:{line}"
    if obj.get("source") is not None and not isinstance(obj.get("source"), str):
        bad(f"article {aid}: 'source' must be a string")

    spans = obj.get("spans")
    if spans is not None and not isinstance(spans, list):
        bad(
            f"article {aid}: 'spans' must be a list",
            'use "spans": [{"start": 0, "end": 5, "label": "..."}]',
        )
        spans = None
    for i, item in enumerate(spans or []):
        if not (isinstance(item, dict) and _is_int(item.get("start")) and _is_int(item.get("end")) and isinstance(item.get("label"), str)):
            bad(
                f"article {aid}: span #{i} {json.dumps(item, ensure_ascii=False)[:80]} is not {{start: int, end: int, label: str}}",
                "offsets must be integers and the label a string",
            )
            continue
        if check_bounds(item["start"], item["end"], log=log, path=path, line=line) is None:
            continue
        label = check_label(
            item["label"],
            labels=labels,
            label_map=label_map,
            log=log,
            path=path,
            line=line,
        )
        if label is None:
            continue
        span = Span(item["start"], item["end"], label)
        if check_span(span, aid, len(text), log=log, path=path, line=line):
            article.spans.append(span)

    value = obj.get("frames")
    if value is not None:
        if not _str_list(value):
            bad(f"article {aid}: 'frames' must be a list of strings or null")
        else:
            kept: list[str] = []
            for name in value:
                frame = check_label(
                    name,
                    labels=frames,
                    label_map=None,
                    log=log,
                    path=path,
                    line=line,
                    kind="frame",
                )
                if frame is not None:
                    kept.append(frame)
            article.frames = kept

    value = obj.get("genre")
    if value is not None:
        if isinstance(value, str):
            article.genre = value
        else:
            bad(f"article {aid}: 'genre' must be a string or null")

    value = obj.get("stance")
    if value is not None:
        if isinstance(value, dict) and set(value) <= {"target", "label"} and all(v is None or isinstance(v, str) for v in value.values()):
            article.stance_target = value.get("target")
            article.stance = value.get("label")
        else:
            bad(f'article {aid}: \'stance\' must be {{"target": str, "label": str}} or null')

    value = obj.get("line_labels")
    if value is not None:
        if not isinstance(value, dict):
            bad(f"article {aid}: 'line_labels' must be an object mapping line numbers to lists of names")
        else:
            line_labels: dict[int, list[str]] = {}
            n_lines = text.count("\n") + 1
            for key, names in value.items():
                if not (key.isascii() and key.isdigit() and int(key) >= 1) or not _str_list(names):
                    bad(f"article {aid}: line_labels entry {key!r} must map a line number ≥ 1 to a list of names")
                    continue
                if int(key) > n_lines:
                    bad(f"article {aid}: line {key} lies beyond the end of the article ({n_lines} lines)")
                    continue
                kept = []
                for name in names:
                    tech = check_label(
                        name,
                        labels=labels,
                        label_map=label_map,
                        log=log,
                        path=path,
                        line=line,
                    )
                    if tech is not None:
                        kept.append(tech)
                line_labels[int(key)] = kept
            article.line_labels = line_labels
    return article


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
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(
            Problem(
                str(path),
                None,
                f"cannot read JSONL file: {exc.strerror or exc}",
                "check that the file is readable",
            )
        ) from None
    first_line: dict[str, int] = {}
    out: list[Article] = []
    position = 0
    for number, chunk in enumerate(data.split(b"\n"), start=1):
        at, position = position, position + len(chunk) + 1
        try:
            raw = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            log.add(
                path,
                number,
                f"line is not valid UTF-8: byte 0x{chunk[exc.start]:02x} at byte offset {at + exc.start}",
                "re-save the file as UTF-8",
            )
            continue
        if number == 1 and raw.startswith(BOM):
            raw = raw[1:]
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            log.add(
                path,
                number,
                f"not valid JSON: {exc.msg} at column {exc.colno}",
                "each line must be one complete JSON object",
            )
            continue
        if not isinstance(obj, dict):
            log.add(
                path,
                number,
                f"expected a JSON object, found {type(obj).__name__}",
                "each line must be one JSON object",
            )
            continue
        article = _record(
            obj,
            path=path,
            line=number,
            log=log,
            labels=labels,
            label_map=label_map,
            frames=frames,
        )
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
    for article in out:
        article.spans.sort()
    return sorted(out, key=lambda a: a.id)
