"""Stance corpora: SemEval-2016 Task 6 and FNC-1.

SemEval-2016 Task 6: a tab-separated file (or a folder of them) with the header
``ID<TAB>Target<TAB>Tweet<TAB>Stance``; stances FAVOR / AGAINST / NONE become
``favor`` / ``against`` / ``none``. The official files are not UTF-8 (they are
Windows-1252 / latin-1), so a file that does not decode as UTF-8 is read as
Windows-1252, falling back to latin-1, which never fails.

FNC-1: a folder with ``*stances*.csv`` (``Headline,Body ID,Stance``) and
``*bodies*.csv`` (``Body ID,articleBody``). Each (headline, body) pair becomes
one article with id ``<Body ID>#<row>``, the body as text and the headline as
the stance target; stances are agree / disagree / discuss / unrelated. Ids
share the part before ``#`` with every other pair of the same body, and the
dataset split keeps such groups together, so no body is in two splits.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from framelab.errors import DataError, Problem, ProblemLog
from framelab.readers.common import id_problem, is_empty_text, walk_files
from framelab.types import Article

SEMEVAL2016_STANCES = {"FAVOR": "favor", "AGAINST": "against", "NONE": "none"}
FNC1_STANCES = ("agree", "disagree", "discuss", "unrelated")


def _decode_lenient(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")


def _files(path: Path, pattern: str) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(Problem(str(path), None, "no such file or folder", "check data.path"))
    return [p for p in walk_files(path) if p.match(pattern)]


def read_semeval2016(path: Path, *, log: ProblemLog, labels=None, label_map=None, frames=None) -> list[Article]:
    """Read SemEval-2016 Task 6 stance files (see module docstring)."""
    articles: dict[str, Article] = {}
    files = _files(Path(path), "*.txt") or _files(Path(path), "*.csv")
    for file in files:
        lines = _decode_lenient(file).replace("\r\n", "\n").split("\n")
        header = lines[0].split("\t") if lines else []
        if [h.strip().lower() for h in header[:4]] != ["id", "target", "tweet", "stance"]:
            log.add(file, 1, "header is not ID<TAB>Target<TAB>Tweet<TAB>Stance", "give SemEval-2016 Task 6 files")
            continue
        for number, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 4:
                log.add(file, number, f"expected 4 tab-separated fields, found {len(fields)}", "fix or remove the line")
                continue
            article_id, target, text, stance = (f.strip() for f in fields)
            label = SEMEVAL2016_STANCES.get(stance.upper())
            if label is None:
                log.add(file, number, f"unknown stance {stance!r}", "use FAVOR, AGAINST or NONE")
                continue
            why = id_problem(article_id)
            if why is not None:
                log.add(file, number, why, "give every row an ID of visible characters")
                continue
            if article_id in articles:
                log.add(file, number, f"id {article_id} appears twice", "give every row a unique ID")
                continue
            if is_empty_text(text):
                log.add(file, number, "empty text", "remove the line")
                continue
            articles[article_id] = Article(article_id, text, stance_target=target, stance=label, source=f"{file}:{number}")
    if not files:
        log.add(path, None, "holds no SemEval-2016 stance file", "point data.path at the .txt file(s)")
    return sorted(articles.values(), key=lambda a: a.id)


def _csv_rows(file: Path, log: ProblemLog, header: list[str]) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(_decode_lenient(file), newline=""))
    rows = list(reader)
    if not rows or [h.strip() for h in rows[0]] != header:
        log.add(file, 1, f"header is not {','.join(header)}", "give the FNC-1 CSV files unchanged")
        return []
    # csv rows may span several lines (bodies hold newlines); report row numbers.
    return [(i, row) for i, row in enumerate(rows[1:], start=2)]


def read_fnc1(path: Path, *, log: ProblemLog, labels=None, label_map=None, frames=None) -> list[Article]:
    """Read FNC-1 stances and bodies (see module docstring)."""
    path = Path(path)
    stance_files = _files(path, "*stances*.csv")
    body_files = _files(path, "*bodies*.csv")
    if not stance_files or not body_files:
        raise DataError(Problem(str(path), None, "needs a *stances*.csv and a *bodies*.csv file", "point data.path at the FNC-1 folder"))
    bodies: dict[str, str] = {}
    for file in body_files:
        for number, row in _csv_rows(file, log, ["Body ID", "articleBody"]):
            if len(row) != 2:
                log.add(file, number, f"expected 2 fields, found {len(row)}", "fix the row")
                continue
            bodies[row[0].strip()] = row[1]
    articles: list[Article] = []
    for file in stance_files:
        for number, row in _csv_rows(file, log, ["Headline", "Body ID", "Stance"]):
            if len(row) != 3:
                log.add(file, number, f"expected 3 fields, found {len(row)}", "fix the row")
                continue
            headline, body_id, stance = row[0], row[1].strip(), row[2].strip().lower()
            if stance not in FNC1_STANCES:
                log.add(file, number, f"unknown stance {row[2]!r}", f"use one of {', '.join(FNC1_STANCES)}")
                continue
            if body_id not in bodies:
                log.add(file, number, f"body {body_id} is not in the bodies file", "give the matching bodies CSV")
                continue
            why = id_problem(f"{body_id}#{number}")
            if why is not None or is_empty_text(bodies[body_id]):
                log.add(file, number, f"body {body_id!r}: {why or 'the body text is empty'}", "give every body an ID of visible characters and a text")
                continue
            articles.append(Article(f"{body_id}#{number}", bodies[body_id], stance_target=headline, stance=stance, source=f"{file}:{number}"))
    return sorted(articles, key=lambda a: a.id)
