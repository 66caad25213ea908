"""Articles to score: .txt files, folders of them, the project's JSONL, or FNC-1 CSV pairs.

FNC-1 inputs are a stances CSV (``Headline,Body ID[,Stance]``) and a bodies
CSV (``Body ID,articleBody``), named together; each row is one (headline,
body) pair to score, in file order, ahead of any other input.

A folder is searched recursively; if it holds files named ``article<ID>.txt``
(the SemEval layout, where label files are .txt too) only those are taken,
otherwise every ``.txt`` file. An article's id is ``<ID>`` for
``article<ID>.txt`` and the file stem otherwise. Text is decoded as UTF-8
without newline translation, so offsets index the file as stored.

Every bad input stops the run with a :class:`~framelab.errors.DataError`
naming the file (and line where one applies): a missing path, a folder with
no ``.txt`` file, a file type other than ``.txt``/``.jsonl``, a binary or
non-UTF-8 file, a JSONL problem, an empty input, an id seen twice or an id
with a TAB, newline or other control character. So do two that would
otherwise fail late: a name that is not UTF-8 (every output format writes
the source path or the id taken from it as UTF-8, so it would fail after
scoring), and anything but a regular file, named or found in a folder
(reading a named pipe waits for a writer forever, holding the output's
lock). With ``--on-error skip`` these are left out and listed like any
other bad input.

:func:`check_inputs` makes that pass over every file before any model is
loaded (keeping ids, not texts), and with ``skip`` leaves bad files out and
returns their problems (``framelab score --on-error skip``).

:func:`standard_input` stands for ``-`` among the inputs: standard input,
read once into a temporary ``stdin.txt`` (article id ``stdin``), whose
articles carry the source ``-`` and whose problems name ``standard input``.

Article ids are passed on unchanged (``../x`` and ``a/b`` included): the
writers use fixed file names and no scoring code path builds a path from an
id, so an id cannot point outside the output.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from framelab.errors import DataError, Problem, ProblemLog
from framelab.readers import read_jsonl
from framelab.readers.common import decode_file, id_problem, is_empty_text, walk_files
from framelab.readers.stance import read_fnc1_pair_inputs
from framelab.types import Article

_SEMEVAL_NAME = re.compile(r"^article(\d+)\.txt$")

#: How much of a .txt file is checked for NUL bytes: enough to catch images,
#: archives and UTF-16 text, which all carry NULs in their first bytes.
_BINARY_PROBE = 8192

#: What ``-`` stands for: standard input's temporary file, the ``source`` its articles carry, the name problems give.
STDIN_SOURCE = "-"
STDIN_NAME = "standard input"
_stdin_files: set[Path] = set()

_TXT_HINT = "give UTF-8 .txt files, folders of them, .jsonl files, or FNC-1 stances and bodies .csv files"


def article_id_for(path: Path) -> str:
    """The article id a .txt file stands for."""
    match = _SEMEVAL_NAME.match(path.name)
    return match.group(1) if match else path.stem


def _suffix(path: Path) -> str:
    # "NOTES.TXT" from a Windows export is still a text file.
    return path.suffix.lower()


def _shown(path: Path) -> str:
    """``path`` as messages and outputs show it: bytes of a name that are not UTF-8 as ``\\xe9`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _check_path(path: Path) -> None:
    """Refuse a path whose name is not UTF-8, or that is not a regular file, before anything opens it."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(
            Problem(
                _shown(path),
                None,
                "the file name is not valid UTF-8: its id and source path could not be written in any output format",
                "rename the file (or its folder) to a UTF-8 name",
            )
        ) from None
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise DataError(
            Problem(str(path), None, f"cannot read file: {exc.strerror or exc}", "check the path and its permissions")
        ) from None
    if not stat.S_ISREG(mode):
        raise DataError(
            Problem(
                str(path),
                None,
                "is not a regular file (a named pipe, socket or device): reading it could wait forever",
                "give regular files; to score a stream, pipe it into `framelab score -`",
            )
        )


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """The files named by ``inputs`` (files as given, folders expanded).

    Raises :class:`DataError` for a path that does not exist and for a folder
    without any ``.txt`` file, which would otherwise score nothing silently.
    A named pipe or other special file is kept here and refused when read
    (:func:`_check_path`), so that ``--on-error skip`` leaves out only it.
    """
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            texts = [p for p in walk_files(path) if _suffix(p) == ".txt"]
            if not texts:
                raise DataError(
                    Problem(
                        _shown(path),
                        None,
                        "folder holds no .txt file to score",
                        "give a folder of UTF-8 .txt articles, or name .jsonl files directly",
                    )
                )
            semeval = [p for p in texts if _SEMEVAL_NAME.match(p.name)]
            files.extend(semeval or texts)
        elif path.exists():
            files.append(path)
        else:
            raise DataError(
                Problem(_shown(path), None, "no such file or folder", "check the path given to framelab score")
            )
    return files


def _read_text(path: Path) -> Article:
    """One .txt article; binary, non-UTF-8, unreadable and empty files are refused."""
    try:
        with path.open("rb") as handle:
            head = handle.read(_BINARY_PROBE)
    except OSError as exc:
        raise DataError(
            Problem(
                str(path),
                None,
                f"cannot read file: {exc.strerror or exc}",
                "check that the file exists and is readable",
            )
        ) from None
    if b"\x00" in head:
        raise DataError(
            Problem(
                str(path),
                None,
                "is a binary file (or UTF-16 text), not a UTF-8 text article",
                f"{_TXT_HINT}; re-save UTF-16 text as UTF-8",
            )
        )
    log = ProblemLog(strict=True)
    text = decode_file(path, log, "article")
    log.raise_if_any()
    assert text is not None  # decode_file logged a problem otherwise, and raise_if_any raised
    if is_empty_text(text):
        raise DataError(Problem(str(path), None, "article is empty", "remove the file or restore its text"))
    article_id = article_id_for(path)
    why = id_problem(article_id)
    if why is not None:
        raise DataError(Problem(str(path), None, f"{why} (taken from the file name)", "rename the file"))
    return Article(id=article_id, text=text, source=STDIN_SOURCE if path in _stdin_files else str(path))


def _read_jsonl(path: Path) -> list[Article]:
    """Every article of one JSONL file; any problem in it stops the run."""
    log = ProblemLog(strict=True)
    articles = read_jsonl(path, log=log)
    log.raise_if_any()
    if not articles:
        raise DataError(
            Problem(
                str(path),
                None,
                "JSONL file holds no article",
                "give one JSON object per line with at least id and text",
            )
        )
    return articles


def _read_file(path: Path) -> list[Article]:
    _check_path(path)
    suffix = _suffix(path)
    if suffix == ".jsonl":
        return _read_jsonl(path)
    if suffix == ".txt" or not suffix:
        return [_read_text(path)]
    raise DataError(Problem(str(path), None, f"unsupported input type '{path.suffix}'", _TXT_HINT))


def _check_new(articles: list[Article], path: Path, seen: dict[str, str]) -> None:
    for article in articles:
        if article.id in seen:
            raise DataError(
                Problem(
                    str(path),
                    None,
                    f"article id {article.id!r} was already read from {seen[article.id]}",
                    "give each article a unique id or file name",
                )
            )
        seen[article.id] = str(path)


@dataclass
class CheckedInputs:
    """What :func:`checked_inputs` found: the files to score, the problems of those left out, and the ids of the
    articles the files hold, in reading order."""

    files: list[Path]
    problems: list[Problem]
    ids: list[str]


def check_inputs(inputs: list[str | Path], *, skip: bool = False) -> tuple[list[Path], list[Problem]]:
    """:func:`checked_inputs`'s files and problems."""
    checked = checked_inputs(inputs, skip=skip)
    return checked.files, checked.problems


def checked_inputs(inputs: list[str | Path], *, skip: bool = False) -> CheckedInputs:
    """Read every input once, as :func:`iter_articles` will, keeping only ids: the files to score, the
    problems of those left out and the ids of the articles to score (whose count sizes the progress bar).

    Strict (``skip=False``): the first bad file raises :class:`DataError`.
    ``skip=True`` (``--on-error skip``): a bad file (or path) is left out and
    its problems returned; a file repeating an id already read is left out
    whole. Raises when no file is left.
    """
    files: list[Path] = []
    problems: list[Problem] = []
    for item in inputs:
        try:
            files.extend(expand_inputs([item]))
        except DataError as exc:
            if not skip:
                raise
            problems.extend(exc.problems)
    seen: dict[str, str] = {}
    good: list[Path] = []
    tables = [p for p in files if _suffix(p) == ".csv"]
    if tables:
        # FNC-1 stances and bodies files are read together: the rows of one refer to the other.
        try:
            _check_new(_read_fnc1_csv(tables), tables[0], seen)
            good.extend(tables)
        except DataError as exc:
            if not skip:
                raise
            problems.extend(exc.problems)
    for path in (p for p in files if _suffix(p) != ".csv"):
        try:
            found = _read_file(path)
            _check_new(found, path, dict(seen))
        except DataError as exc:
            if not skip:
                raise
            problems.extend(exc.problems)
            continue
        _check_new(found, path, seen)
        good.append(path)
    if not good:
        raise DataError(problems or Problem(", ".join(map(str, inputs)), None, "no input to score", _TXT_HINT))
    return CheckedInputs(good, problems, list(seen))


def _read_fnc1_csv(files: list[Path]) -> list[Article]:
    """FNC-1 stances and bodies CSV files as (headline, body) pairs in file order; any problem stops the run."""
    for path in files:
        _check_path(path)
    log = ProblemLog(strict=True)
    articles = read_fnc1_pair_inputs(files, log)
    log.raise_if_any()
    if not articles:
        raise DataError(
            Problem(str(files[0]), None, "FNC-1 stances file holds no row", "give at least one Headline,Body ID row")
        )
    return articles


def iter_articles(inputs: list[str | Path]) -> Iterator[Article]:
    """Yield every input article once, checking ids are unique.

    Files are read one at a time, so memory does not grow with the number of
    files (a JSONL file is read whole). Ids are yielded exactly as given.
    """
    seen: dict[str, str] = {}
    files = expand_inputs(inputs)
    tables = [p for p in files if _suffix(p) == ".csv"]
    if tables:
        articles = _read_fnc1_csv(tables)
        _check_new(articles, tables[0], seen)
        yield from articles
    for path in (p for p in files if _suffix(p) != ".csv"):
        articles = _read_file(path)
        _check_new(articles, path, seen)
        yield from articles


@contextmanager
def standard_input(inputs: list[str]) -> Iterator[list[str]]:
    """``inputs`` with ``-`` replaced by a temporary ``stdin.txt`` holding standard input.

    Its article has the id ``stdin`` and the source ``-``; a problem found in it names ``standard input``, not
    the temporary file, which is gone once the block ends.
    """
    if STDIN_SOURCE not in inputs:
        yield inputs
        return
    if inputs.count(STDIN_SOURCE) > 1:
        raise ValueError("'-' (standard input) can be given once")
    with tempfile.TemporaryDirectory(prefix="framelab-stdin-") as folder:
        path = Path(folder) / "stdin.txt"
        # Bytes as given: offsets must index the text exactly as it arrived (no newline translation).
        path.write_bytes(sys.stdin.buffer.read())
        _stdin_files.add(path)
        try:
            yield [str(path) if name == STDIN_SOURCE else name for name in inputs]
        except DataError as exc:
            raise DataError([_named(p, str(path)) for p in exc.problems]) from None
        finally:
            _stdin_files.discard(path)


def _named(problem: Problem, temporary: str) -> Problem:
    """``problem`` with standard input's temporary file named ``standard input``."""
    return replace(
        problem,
        path=problem.path.replace(temporary, STDIN_NAME),
        message=problem.message.replace(temporary, STDIN_NAME),
    )
