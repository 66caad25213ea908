"""Articles to score: .txt files, folders of them, or the project's JSONL.

A folder is searched recursively; if it holds files named ``article<ID>.txt``
(the SemEval layout, where label files are .txt too) only those are taken,
otherwise every ``.txt`` file. An article's id is ``<ID>`` for
``article<ID>.txt`` and the file stem otherwise. Text is decoded as UTF-8
without newline translation, so offsets index the file as stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from framelab.errors import DataError, Problem, ProblemLog
from framelab.readers import read_jsonl
from framelab.readers.common import decode_file, walk_files
from framelab.types import Article

_SEMEVAL_NAME = re.compile(r"^article(\d+)\.txt$")


def article_id_for(path: Path) -> str:
    """The article id a .txt file stands for."""
    match = _SEMEVAL_NAME.match(path.name)
    return match.group(1) if match else path.stem


def expand_inputs(inputs: list[str | Path]) -> list[Path]:
    """The files named by ``inputs`` (files as given, folders expanded)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            texts = [p for p in walk_files(path) if p.suffix == ".txt"]
            semeval = [p for p in texts if _SEMEVAL_NAME.match(p.name)]
            files.extend(semeval or texts)
        elif path.is_file():
            files.append(path)
        else:
            raise DataError(Problem(str(path), None, "no such file or folder", "check the path given to framelab score"))
    return files


def _read_text(path: Path) -> Article:
    log = ProblemLog(strict=True)
    head = path.read_bytes()[:8192]
    if b"\x00" in head:
        raise DataError(Problem(str(path), None, "is a binary file, not a text article", "give .txt (UTF-8) or .jsonl files"))
    text = decode_file(path, log, "article")
    log.raise_if_any()
    return Article(id=article_id_for(path), text=text, source=str(path))


def iter_articles(inputs: list[str | Path]) -> Iterator[Article]:
    """Yield every input article once, checking ids are unique.

    Files are read one at a time, so memory does not grow with the corpus.
    """
    seen: dict[str, str] = {}
    for path in expand_inputs(inputs):
        if path.suffix == ".jsonl":
            log = ProblemLog(strict=True)
            articles = read_jsonl(path, log=log)
            log.raise_if_any()
        elif path.suffix == ".txt" or not path.suffix:
            articles = [_read_text(path)]
        else:
            raise DataError(Problem(str(path), None, f"unsupported input type '{path.suffix}'", "give .txt files, a folder of them, or .jsonl"))
        for article in articles:
            if article.id in seen:
                raise DataError(Problem(str(path), None, f"article id {article.id!r} was already read from {seen[article.id]}", "give each article a unique id or file name"))
            seen[article.id] = str(path)
            yield article
