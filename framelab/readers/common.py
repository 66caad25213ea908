"""Helpers shared by the corpus readers: decoding, label files, label checks.

Rules every reader follows:

* Files are opened in binary and decoded as UTF-8 by us, so newlines are
  never translated: a CRLF file keeps its ``\\r\\n`` and offsets index the
  text exactly as stored.  A file that is not UTF-8 is reported with its
  byte offset and skipped.
* Article texts keep a leading byte-order mark (U+FEFF) as character 0,
  because the PTC and SemEval-2023 offsets count it (see
  :mod:`framelab.readers.ptc`).  Label files, label lists and JSONL files
  have a leading BOM removed: there it is never part of the data.
* Label files are split on ``\\n``; a trailing ``\\r`` is removed from each
  line, blank lines are skipped, fields are TAB-separated and stripped of
  surrounding spaces (technique names such as ``Name_Calling,Labeling``
  contain commas, never tabs).  Line numbers are 1-based.
* Every defect goes to the :class:`~framelab.errors.ProblemLog` and the
  offending record (label line, span, article) is skipped; readers never
  raise part-way through a corpus.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Container, Iterator, Mapping
from pathlib import Path

from framelab.errors import DataError, Problem, ProblemLog
from framelab.types import Article, Span

BOM = "\ufeff"

#: What an article id may look like in ``article<ID>.txt`` names.  No hyphen
#: or dot, so ``article1-labels-subtask-3.txt`` is never taken for a text.
ID_PATTERN = r"[0-9A-Za-z_]+"

UNKNOWN_LABEL_HINT = "add it to the label list or map it with `label_map` in the data config"
UNKNOWN_FRAME_HINT = "add it to the frame list (`frames`) in the data config"

_INT_RE = re.compile(r"-?[0-9]+")


def id_problem(article_id: str) -> str | None:
    """Why ``article_id`` cannot be used as an article id, or ``None`` if it can.

    Ids are written into TAB-separated files (the SemEval-2023 label and
    prediction files) and compared after label files are stripped of spaces,
    so an id must be non-empty, hold no control character (TAB, CR, LF, …)
    or line separator, and not start or end with whitespace.  Anything else,
    ``/`` and ``..`` included, is fine: the readers and ``framelab score``
    never build a file name from an id.
    """
    if not article_id.strip():
        return "article id is empty"
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in article_id):
        return f"article id {article_id!r} contains a control character (TAB, newline, …)"
    if article_id != article_id.strip():
        return f"article id {article_id!r} starts or ends with whitespace"
    return None


def corpus_folder(root: Path, corpus: str) -> Path:
    """``root``, refused with a clear error unless it is a folder (``corpus`` names the format in the message)."""
    if not root.is_dir():
        raise DataError(
            Problem(
                str(root),
                None,
                f"{corpus} corpus folder not found",
                "point the data config at the folder holding article<ID>.txt files",
            )
        )
    return root


def walk_files(root: Path) -> Iterator[Path]:
    """Every file under ``root``, recursively, in sorted order.

    Hidden folders (``.git``, ``.ipynb_checkpoints``) and ``__pycache__`` are
    skipped.
    """
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            yield Path(folder) / name


def decode_file(path: Path, log: ProblemLog, what: str = "file") -> str | None:
    """The file's text, decoded as UTF-8 without newline translation.

    Returns ``None`` after logging a problem when the file cannot be read or
    is not UTF-8.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        log.add(
            path,
            None,
            f"cannot read {what}: {exc.strerror or exc}",
            "check that the file exists and is readable",
        )
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        log.add(
            path,
            line,
            f"{what} is not valid UTF-8: byte 0x{data[exc.start]:02x} at byte offset {exc.start}",
            "re-save the file as UTF-8",
        )
        return None


def read_label_rows(path: Path, log: ProblemLog) -> list[tuple[int, list[str]]] | None:
    """The non-blank lines of a TAB-separated label file as ``(line, fields)``.

    A leading BOM and each line's trailing ``\\r`` are removed and fields are
    stripped of spaces.  ``None`` (after logging) if the file is unreadable.
    """
    text = decode_file(path, log, "label file")
    if text is None:
        return None
    if text.startswith(BOM):
        text = text[1:]
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        rows.append((number, [f.strip() for f in line.split("\t")]))
    return rows


def parse_int(value: str) -> int | None:
    """``value`` as an int if it is a plain (optionally negative) ASCII integer."""
    value = value.strip()
    return int(value) if _INT_RE.fullmatch(value) else None


def parse_offsets(
    start: str, end: str, *, log: ProblemLog, path: str | Path, line: int | None
) -> tuple[int, int] | None:
    """Parse ``start``/``end`` and check ``0 <= start < end``; log and return ``None`` otherwise.

    The upper bound (article length) is checked later by :func:`check_span`.
    """
    s, e = parse_int(start), parse_int(end)
    if s is None or e is None:
        bad = start if s is None else end
        log.add(
            path,
            line,
            f"offset {bad!r} is not an integer",
            "offsets must be whole character positions, e.g. 120",
        )
        return None
    return check_bounds(s, e, log=log, path=path, line=line)


def check_bounds(s: int, e: int, *, log: ProblemLog, path: str | Path, line: int | None) -> tuple[int, int] | None:
    """Check ``0 <= s < e``; log and return ``None`` otherwise."""
    if s < 0 or e < 0:
        log.add(
            path,
            line,
            f"span {s}–{e} has a negative offset",
            "offsets count characters from 0",
        )
        return None
    if s >= e:
        log.add(
            path,
            line,
            f"span {s}–{e} is reversed or empty (start must be less than end)",
            "check the order of the start and end columns",
        )
        return None
    return s, e


def check_span(
    span: Span,
    article_id: str,
    length: int,
    *,
    log: ProblemLog,
    path: str | Path,
    line: int | None,
) -> bool:
    """Whether ``span`` fits inside an article of ``length`` characters (logs if not)."""
    if span.end > length:
        log.add(
            path,
            line,
            f"span {span.start}–{span.end} lies beyond the end of article {article_id} ({length} characters)",
            "check that the labels belong to this article and were computed on the file as stored "
            "(UTF-8, same newlines)",
        )
        return False
    return True


def check_label(
    name: str,
    *,
    labels: Container[str] | None,
    label_map: Mapping[str, str | None] | None,
    log: ProblemLog,
    path: str | Path,
    line: int | None,
    kind: str = "technique",
) -> str | None:
    """The project name for corpus label ``name``, or ``None`` to drop it.

    ``label_map`` is applied first (corpus name → project name; a name mapped
    to ``""`` or ``None`` is dropped silently).  Then, if ``labels`` is given
    and the name is not in it, a problem naming ``path`` and ``line`` is
    logged and ``None`` returned.  ``kind`` only words the message
    ("technique", "frame").
    """
    final = name
    if label_map is not None and name in label_map:
        mapped = label_map[name]
        if not mapped:
            return None
        final = mapped
    if labels is not None and final not in labels:
        shown = f"{final!r} (mapped from {name!r})" if final != name else repr(final)
        hint = UNKNOWN_FRAME_HINT if kind == "frame" else UNKNOWN_LABEL_HINT
        log.add(path, line, f"unknown {kind} {shown}", hint)
        return None
    return final


def split_names(field: str) -> list[str]:
    """Comma-separated names (SemEval frames / paragraph techniques), blanks dropped."""
    return [n.strip() for n in field.split(",") if n.strip()]


def read_label_list(path: Path) -> list[str]:
    """Label names from ``path``, one per line, in file order.

    Blank lines are ignored and surrounding whitespace removed.  A duplicate
    name, an unreadable or non-UTF-8 file raises :class:`DataError` naming
    the file and line.
    """
    path = Path(path)
    log = ProblemLog(strict=True)
    text = decode_file(path, log, "label list")
    if text is None:
        raise DataError(log.problems)
    if text.startswith(BOM):
        text = text[1:]
    names: list[str] = []
    first_line: dict[str, int] = {}
    problems: list[Problem] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        name = raw.strip()
        if not name:
            continue
        if name in first_line:
            problems.append(
                Problem(
                    str(path),
                    number,
                    f"label {name!r} listed twice (first on line {first_line[name]})",
                    "remove the duplicate line",
                )
            )
            continue
        first_line[name] = number
        names.append(name)
    if problems:
        raise DataError(problems)
    return names


def titled(title: str | None, text: str) -> str:
    """The text scored for an article with a title: ``title + "\\n\\n" + text``, the sample corpus's layout (a
    title is the article's first line), so offsets index that joined text; ``text`` alone without one."""
    return text if title is None else f"{title}\n\n{text}"


def is_empty_text(text: str) -> bool:
    """Whether an article has no content (empty, whitespace or a lone BOM)."""
    return not text.replace(BOM, "").strip()


def load_articles(texts: Mapping[str, list[Path]], log: ProblemLog) -> dict[str, tuple[Path, str]]:
    """Decode the article files found, id → (path, text).

    An id found in several files is reported (the first path in sorted order
    is kept); non-UTF-8 and empty articles are reported and skipped.
    """
    out: dict[str, tuple[Path, str]] = {}
    for aid in sorted(texts):
        paths = sorted(texts[aid])
        for extra in paths[1:]:
            log.add(
                extra,
                None,
                f"article {aid} appears twice (also {paths[0]})",
                "remove one copy, or read the folders as separate corpora",
            )
        text = decode_file(paths[0], log, "article")
        if text is None:
            continue
        if is_empty_text(text):
            log.add(
                paths[0],
                None,
                f"article {aid} is empty",
                "remove the file or its labels, or restore its text",
            )
            continue
        out[aid] = (paths[0], text)
    return out


def finish(articles: list[Article]) -> list[Article]:
    """Sort articles by id and each article's spans."""
    for article in articles:
        article.spans.sort()
    return sorted(articles, key=lambda a: a.id)
