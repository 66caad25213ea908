"""Stance corpora: SemEval-2016 Task 6 and FNC-1.

SemEval-2016 Task 6: a tab-separated file (or a folder of them) with the header
``ID<TAB>Target<TAB>Tweet<TAB>Stance``; stances FAVOR / AGAINST / NONE become
``favor`` / ``against`` / ``none``. The official files are not UTF-8 (they are
Windows-1252 / latin-1), so a file that does not decode as UTF-8 is read as
Windows-1252, falling back to latin-1, which never fails.

FNC-1: a folder with ``*stances*.csv`` (``Headline,Body ID,Stance``) and
``*bodies*.csv`` (``Body ID,articleBody``). Each body becomes one article
(id = Body ID), read and cut into sentences once; its headlines ride along as
:class:`~framelab.types.StancePair` records (stances agree / disagree /
discuss / unrelated), which ``framelab data`` stores in a ``pairs`` table
that names the body. Problems name the file, the CSV row (header = row 1) and
the line the row starts on.

FNC-1 pairs many headlines with one body and one headline with many bodies, so
a split by body alone shares every headline between train and dev. Splits and
folds are therefore drawn by *story* (:func:`fnc1_stories`): the connected
components of the bipartite headline–body graph whose edges are the related
pairs (agree / disagree / discuss). A story's headlines and bodies all land on
one side; an unrelated pair whose headline and body land on different sides
is dropped from both (:func:`place_headlines`), since keeping it would show
one side's headline or body to the other.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framelab.errors import DataError, Problem, ProblemLog
from framelab.readers.common import id_problem, is_empty_text, walk_files
from framelab.types import Article, StancePair

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
            articles[article_id] = Article(
                article_id, text, stance_target=target, stance=label, source=f"{file}:{number}"
            )
    if not files:
        log.add(path, None, "holds no SemEval-2016 stance file", "point data.path at the .txt file(s)")
    return sorted(articles.values(), key=lambda a: a.id)


def _csv_rows(file: Path, log: ProblemLog, header: list[str], optional: int = 0) -> list[tuple[int, int, list[str]]]:
    """``(record number, first line, fields)`` of every row after the header (the header is record 1).

    A leading BOM and CRLF line ends are accepted; bodies may span several
    lines, so rows are named by record number and the line they start on.
    The last ``optional`` header columns may be missing (an unlabelled test file).
    """
    reader = csv.reader(io.StringIO(_decode_lenient(file), newline=""))
    rows: list[tuple[int, int, list[str]]] = []
    first_line = 1
    for number, row in enumerate(reader, start=1):
        rows.append((number, first_line, row))
        first_line = reader.line_num + 1
    got = [h.strip() for h in rows[0][2]] if rows else []
    if not any(got == header[: len(header) - k] for k in range(optional + 1)):
        log.add(file, 1, f"row 1: header is not {','.join(header)}", "give the FNC-1 CSV files unchanged")
        return []
    return rows[1:]


def read_fnc1_bodies(files: list[Path], log: ProblemLog) -> dict[str, tuple[str, str]]:
    """Body ID → (text, ``file:line``) from FNC-1 bodies files.

    A Body ID given twice with the same text is kept once and counted as a
    warning; with another text it is an error.
    """
    bodies: dict[str, tuple[str, str]] = {}
    for file in files:
        for number, line, row in _csv_rows(file, log, ["Body ID", "articleBody"]):
            if len(row) != 2:
                log.add(
                    file,
                    line,
                    f"row {number}: expected 2 fields (Body ID, articleBody), found {len(row)}",
                    "fix the row",
                )
                continue
            body_id, text = row[0].strip(), row[1]
            why = id_problem(body_id) or ("empty articleBody" if is_empty_text(text) else None)
            if why is not None:
                log.add(
                    file, line, f"row {number}: {why}", "give every body a Body ID of visible characters and a text"
                )
                continue
            if body_id in bodies:
                if bodies[body_id][0] != text:
                    log.add(
                        file,
                        line,
                        f"row {number}: Body ID {body_id} appears again with another text "
                        f"(first at {bodies[body_id][1]})",
                        "give every body a unique Body ID",
                    )
                else:
                    log.warn(file, line, f"row {number}: Body ID {body_id} repeated with the same text (kept once)")
                continue
            bodies[body_id] = (text, f"{file}:{line}")
    return bodies


def read_fnc1_stances(
    files: list[Path], bodies: dict, log: ProblemLog, *, labelled: bool = True
) -> list[tuple[str, StancePair]]:
    """``(Body ID, pair)`` for every row of FNC-1 stances files, in file order.

    ``labelled``: the Stance column is required (training data); otherwise it
    may be absent (the competition's unlabelled test file). A repeated
    (headline, Body ID) row is kept and counted as a warning, since the
    official training file has such rows.
    """
    pairs: list[tuple[str, StancePair]] = []
    seen: dict[tuple[str, str], str] = {}
    for file in files:
        for number, line, row in _csv_rows(file, log, ["Headline", "Body ID", "Stance"], optional=0 if labelled else 1):
            where = f"row {number}"
            if len(row) not in ((3,) if labelled else (2, 3)):
                log.add(
                    file,
                    line,
                    f"{where}: expected {'3' if labelled else '2 or 3'} fields (Headline, Body ID, Stance), "
                    f"found {len(row)}",
                    "fix the row",
                )
                continue
            headline, body_id = row[0], row[1].strip()
            stance = row[2].strip().lower() if len(row) == 3 and row[2].strip() else None
            if not headline.strip():
                log.add(file, line, f"{where}: empty headline", "fix or remove the row")
                continue
            if (labelled or stance is not None) and stance not in FNC1_STANCES:
                log.add(
                    file,
                    line,
                    f"{where}: unknown stance {row[2] if len(row) == 3 else ''!r}",
                    f"use one of {', '.join(FNC1_STANCES)}",
                )
                continue
            if body_id not in bodies:
                log.add(
                    file,
                    line,
                    f"{where}: Body ID {body_id!r} is not in the bodies file",
                    "give the matching bodies CSV",
                )
                continue
            key = (headline, body_id)
            if key in seen:
                log.warn(file, line, f"{where}: headline and Body ID {body_id} repeat {seen[key]} (kept)")
            seen.setdefault(key, f"{file}:{line}")
            pairs.append((body_id, StancePair(len(pairs), number, headline, stance, f"{file}:{line}")))
    return pairs


def read_fnc1(path: Path, *, log: ProblemLog, labels=None, label_map=None, frames=None) -> list[Article]:
    """Read FNC-1 stances and bodies (see module docstring): one article per body, its headlines as ``pairs``."""
    path = Path(path)
    stance_files = _files(path, "*stances*.csv")
    body_files = _files(path, "*bodies*.csv")
    if not stance_files or not body_files:
        raise DataError(
            Problem(
                str(path), None, "needs a *stances*.csv and a *bodies*.csv file", "point data.path at the FNC-1 folder"
            )
        )
    bodies = read_fnc1_bodies(body_files, log)
    by_body: dict[str, list[StancePair]] = {}
    for body_id, pair in read_fnc1_stances(stance_files, bodies, log):
        by_body.setdefault(body_id, []).append(pair)
    return [
        Article(body_id, text, source=source, pairs=by_body.get(body_id, []))
        for body_id, (text, source) in sorted(bodies.items())
    ]


def read_fnc1_pair_inputs(files: list[Path], log: ProblemLog) -> list[Article]:
    """FNC-1 CSV files to score: bodies files and stances files (the Stance column optional), told apart by
    their header.

    One article per (headline, body) row, in file order: id ``<Body ID>#<row>``,
    the body as text (one string per body, shared), the headline as target.
    """
    heads = {
        f: [h.strip() for h in next(csv.reader([_decode_lenient(f).split("\n", 1)[0].rstrip("\r")]), [])] for f in files
    }
    body_files = [f for f, h in heads.items() if h[:1] == ["Body ID"]]
    stance_files = [f for f, h in heads.items() if h[:1] == ["Headline"]]
    for f in files:
        if f not in body_files and f not in stance_files:
            log.add(
                f,
                1,
                "row 1: header is neither Headline,Body ID[,Stance] nor Body ID,articleBody",
                "give FNC-1 stances and bodies CSV files",
            )
    if not body_files or not stance_files:
        log.add(
            files[0],
            None,
            "FNC-1 inputs need a stances CSV (Headline,Body ID[,Stance]) and a bodies CSV (Body ID,articleBody)",
            "give both files",
        )
        return []
    bodies = read_fnc1_bodies(body_files, log)
    pairs = read_fnc1_stances(stance_files, bodies, log, labelled=False)
    return [
        Article(f"{body_id}#{p.row}", bodies[body_id][0], stance_target=p.headline, stance=p.stance, source=p.source)
        for body_id, p in pairs
    ]


@dataclass
class Stories:
    """The FNC-1 stories of a list of pairs (see the module docstring): which story each pair's headline and body is in.

    Every body belongs to one story, and so does every headline; a headline or
    body with no related pair is a story of its own.
    """

    #: Story of each pair's headline, and of each pair's body (indices into ``names``).
    of_headline: np.ndarray
    of_body: np.ndarray
    #: ``story-<smallest Body ID>`` for a story that holds bodies, ``headline-<n>`` for a lone headline.
    names: list[str]

    def body_story_names(self) -> list[str]:
        """Each pair's group: the name of its body's story (an unrelated pair joins two stories; its body's counts)."""
        return [self.names[s] for s in self.of_body]

    def sizes(self) -> dict[str, int]:
        """Pairs per story that holds bodies (a pair counted in its body's story); lone headlines have none."""
        return dict(Counter(self.body_story_names()))


def fnc1_stories(headlines: Sequence[str], body_ids: Sequence[str], related: Sequence[bool]) -> Stories:
    """The stories of pairs given as parallel lists: the connected components over the related pairs (union–find)."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(node: tuple[str, str]) -> tuple[str, str]:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for headline, body, rel in zip(headlines, body_ids, related):
        a, b = root(("h", headline)), root(("b", body))
        if rel and a != b:
            parent[a] = b
    head_roots = [root(("h", h)) for h in headlines]
    body_roots = [root(("b", b)) for b in body_ids]
    smallest: dict[tuple[str, str], str] = {}
    for r, body in zip(body_roots, body_ids):
        smallest[r] = min(smallest.get(r, body), body)
    names = [f"story-{smallest[r]}" for r in sorted(smallest, key=lambda r: smallest[r])]
    lone = sorted({r for r in head_roots if r not in smallest}, key=lambda r: r[1])
    names += [f"headline-{n}" for n in range(len(lone))]
    index = {r: i for i, r in enumerate([*sorted(smallest, key=lambda r: smallest[r]), *lone])}
    return Stories(
        np.array([index[r] for r in head_roots], dtype=np.int64),
        np.array([index[r] for r in body_roots], dtype=np.int64),
        names,
    )


def place_headlines(stories: Stories, body_side: Sequence[int]) -> np.ndarray:
    """The side (split or fold, as integers) of each pair's headline, given the side of each pair's body.

    A story that holds bodies is on its bodies' side (the caller deals whole
    stories); a lone headline goes where most of its pairs' bodies are (ties:
    the smaller side), so it loses the fewest pairs. A pair is kept where its
    headline's side equals its body's.
    """
    body_side = np.asarray(body_side, dtype=np.int64)
    side: dict[int, int] = {}
    for story, where in zip(stories.of_body.tolist(), body_side.tolist()):
        if side.setdefault(story, where) != where:
            raise ValueError(f"{stories.names[story]} has bodies on two sides; deal whole stories")
    votes: dict[int, Counter] = {}
    for story, where in zip(stories.of_headline.tolist(), body_side.tolist()):
        if story not in side:
            votes.setdefault(story, Counter())[where] += 1
    for story, count in votes.items():
        side[story] = min(count, key=lambda where: (-count[where], where))
    return np.array([side[s] for s in stories.of_headline.tolist()], dtype=np.int64)


def story_groups(articles: list[Article]) -> dict[str, str] | None:
    """Body ID → story name for a pair corpus (FNC-1): the groups the dataset split deals; ``None`` without pairs."""
    pairs = [(p.headline, a.id, p.stance) for a in articles for p in a.pairs or []]
    if not pairs:
        return None
    stories = fnc1_stories(
        [h for h, _, _ in pairs], [b for _, b, _ in pairs], [s not in (None, "unrelated") for *_, s in pairs]
    )
    return dict(zip([b for _, b, _ in pairs], stories.body_story_names()))


def pairs_within_splits(articles: list[Article], assignment: dict[str, str]) -> tuple[set[int], dict]:
    """The pairs (by :attr:`StancePair.index`) whose headline and body share a split, and counts for ``stats.json``.

    ``assignment`` is each body's split, drawn over whole stories
    (:func:`story_groups`); a lone headline goes where most of its bodies are.
    """
    order = ("train", "dev", "test")
    pairs = [(p, a.id) for a in articles for p in a.pairs or []]
    stories = fnc1_stories(
        [p.headline for p, _ in pairs], [b for _, b in pairs], [p.stance not in (None, "unrelated") for p, _ in pairs]
    )
    body_side = [order.index(assignment[b]) for _, b in pairs]
    kept = place_headlines(stories, body_side) == np.asarray(body_side)
    sizes = stories.sizes()  # the stories that hold bodies, those the split deals
    counts = {
        "stories": len(sizes),
        "largest_story_pairs": max(sizes.values(), default=0),
        "pairs_dropped_across_splits": int((~kept).sum()),
    }
    return {p.index for (p, _), keep in zip(pairs, kept) if keep}, counts
