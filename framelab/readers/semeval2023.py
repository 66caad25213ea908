"""Reader for SemEval-2023 Task 3 (news genre, framing, persuasion techniques).

Layout (the folder is searched recursively; hidden folders are skipped)::

    article<ID>.txt                       the article text
    article<ID>-labels-subtask-3.txt      spans: id TAB technique TAB start TAB end
    *-labels-subtask-1.txt                genre: id TAB genre
    *-labels-subtask-2.txt                frames: id TAB frame,frame,...   (empty = no frames)
    *-labels-subtask-3.txt                paragraphs: id TAB line TAB tech,tech,...   (empty = none)
    *.template                            id TAB line TAB text — a prediction template, ignored

The paragraph file (``train-labels-subtask-3.txt``) and the span files
(``article<ID>-labels-subtask-3.txt``) share a suffix; a name of the form
``article<ID>-labels-subtask-3.txt`` is a span file, any other
``*-labels-subtask-3.txt`` is a paragraph file.

Fields:

* genre → ``Article.genre`` (not validated).
* frames → ``Article.frames`` in file order, duplicates dropped, each checked
  against the ``frames`` list when given (``label_map`` is *not* applied to
  frames).  An article listed with an empty field gets ``[]``; one not
  listed keeps ``None``.  A line holding just the id (trailing TAB lost) is
  read as "no frames".
* paragraph techniques → ``Article.line_labels[line]`` where ``line`` is
  1-based into ``text.split("\\n")``; every listed line is kept, also those
  with no technique (``[]``), so a consumer knows which lines were judged.
  Names go through ``label_map`` and ``labels``.
* spans → ``Article.spans``; names go through ``label_map`` and ``labels``.

An article without a span file is a problem when the folder holds span files
for other articles (lenient mode keeps it with no spans); when the folder has
no span files at all, an article is a problem only if no label file of any
subtask mentions it.  An article missing from the genre or frame file is
fine (20 of the 359 English training articles are).

Byte-order mark: as in PTC, offsets count a leading U+FEFF as character 0
(checked on articles 705409419 and 712382330, whose spans read ``a
devastating letter`` with the BOM kept and `` devastating letter `` without),
so the BOM stays in ``Article.text``.  Line numbers are unaffected by it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from framelab.errors import DataError, Problem, ProblemLog
from framelab.readers.common import (
    ID_PATTERN,
    check_label,
    check_span,
    finish,
    load_articles,
    parse_int,
    parse_offsets,
    read_label_rows,
    split_names,
    walk_files,
)
from framelab.types import Article, Span

_TEXT_RE = re.compile(rf"article({ID_PATTERN})\.txt")
_SPAN_RE = re.compile(rf"article({ID_PATTERN})-labels-subtask-3\.txt")
_AGG_RE = {n: re.compile(rf".*labels-subtask-{n}\.txt") for n in (1, 2, 3)}

_MISSING_HINT = "add the article text or remove the row"


def _field_problem(log: ProblemLog, path: Path, line: int, want: str, found: int) -> None:
    log.add(
        path,
        line,
        f"expected TAB-separated fields ({want}), found {found}",
        "separate the fields with TAB characters",
    )


def read_semeval2023(
    path: Path,
    *,
    log: ProblemLog,
    labels: list[str] | None = None,
    label_map: dict[str, str] | None = None,
    frames: list[str] | None = None,
) -> list[Article]:
    """Read a SemEval-2023 Task 3 folder; see the module docstring for the rules.

    Articles are sorted by id, spans sorted, ``source`` is the ``.txt`` path.
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError(
            Problem(
                str(root),
                None,
                "SemEval-2023 corpus folder not found",
                "point the data config at the folder holding article<ID>.txt files",
            )
        )

    texts: dict[str, list[Path]] = defaultdict(list)
    span_files: dict[str, list[Path]] = defaultdict(list)
    agg: dict[int, list[Path]] = {1: [], 2: [], 3: []}
    for file in walk_files(root):
        name = file.name
        if m := _SPAN_RE.fullmatch(name):
            span_files[m.group(1)].append(file)
        elif m := _TEXT_RE.fullmatch(name):
            texts[m.group(1)].append(file)
        else:
            for n in (1, 2, 3):
                if _AGG_RE[n].fullmatch(name):
                    agg[n].append(file)
                    break

    if not texts:
        log.add(
            root,
            None,
            "no article<ID>.txt files found",
            "check the path in the data config",
        )
        return []
    loaded = load_articles(texts, log)
    articles = {aid: Article(id=aid, text=text, source=str(p)) for aid, (p, text) in loaded.items()}
    mentioned: set[str] = set()

    def target(aid: str, file: Path, line: int | None) -> Article | None:
        """The article a row is about; logs if its text is missing."""
        mentioned.add(aid)
        if aid not in texts:
            log.add(
                file,
                line,
                f"labels for article {aid}, but article{aid}.txt is missing",
                _MISSING_HINT,
            )
            return None
        return articles.get(aid)  # None when its text was unreadable/empty (already logged)

    # Subtask 1: genre.
    seen: dict[str, tuple[Path, int]] = {}
    for file in agg[1]:
        for line, fields in read_label_rows(file, log) or []:
            if len(fields) != 2:
                _field_problem(log, file, line, "id, genre", len(fields))
                continue
            aid, genre = fields
            if aid in seen:
                log.add(
                    file,
                    line,
                    f"article {aid} already has a genre ({seen[aid][0]}, line {seen[aid][1]})",
                    "keep one line per article",
                )
                continue
            seen[aid] = (file, line)
            art = target(aid, file, line)
            if art is not None:
                art.genre = genre

    # Subtask 2: frames.
    seen = {}
    for file in agg[2]:
        for line, fields in read_label_rows(file, log) or []:
            if len(fields) not in (1, 2):
                _field_problem(log, file, line, "id, frames", len(fields))
                continue
            aid = fields[0]
            if aid in seen:
                log.add(
                    file,
                    line,
                    f"article {aid} already has frames ({seen[aid][0]}, line {seen[aid][1]})",
                    "keep one line per article",
                )
                continue
            seen[aid] = (file, line)
            art = target(aid, file, line)
            if art is None:
                continue
            kept: list[str] = []
            for name in split_names(fields[1] if len(fields) == 2 else ""):
                frame = check_label(
                    name,
                    labels=frames,
                    label_map=None,
                    log=log,
                    path=file,
                    line=line,
                    kind="frame",
                )
                if frame is not None and frame not in kept:
                    kept.append(frame)
            art.frames = kept

    # Subtask 3, paragraph level: line labels.
    seen = {}
    line_counts: dict[str, int] = {}
    for file in agg[3]:
        for line, fields in read_label_rows(file, log) or []:
            if len(fields) not in (2, 3):
                _field_problem(log, file, line, "id, line, techniques", len(fields))
                continue
            aid = fields[0]
            number = parse_int(fields[1])
            if number is None or number < 1:
                log.add(
                    file,
                    line,
                    f"line number {fields[1]!r} is not a positive integer",
                    "paragraph lines are counted from 1",
                )
                continue
            if (aid, number) in seen:
                prev = seen[(aid, number)]
                log.add(
                    file,
                    line,
                    f"article {aid} line {number} is listed twice (also {prev[0]}, line {prev[1]})",
                    "keep one row per article line",
                )
                continue
            seen[(aid, number)] = (file, line)
            art = target(aid, file, line)
            if art is None:
                continue
            if aid not in line_counts:
                line_counts[aid] = art.text.count("\n") + 1
            if number > line_counts[aid]:
                log.add(
                    file,
                    line,
                    f"line {number} lies beyond the end of article {aid} ({line_counts[aid]} lines)",
                    "check that the row belongs to this article",
                )
                continue
            kept = []
            for name in split_names(fields[2] if len(fields) == 3 else ""):
                tech = check_label(
                    name,
                    labels=labels,
                    label_map=label_map,
                    log=log,
                    path=file,
                    line=line,
                )
                if tech is not None and tech not in kept:
                    kept.append(tech)
            if art.line_labels is None:
                art.line_labels = {}
            art.line_labels[number] = kept

    # Subtask 3, span level.
    for aid in sorted(span_files):
        paths = sorted(span_files[aid])
        for extra in paths[1:]:
            log.add(
                extra,
                None,
                f"second span file for article {aid} (also {paths[0]})",
                "remove one copy",
            )
        file = paths[0]
        mentioned.add(aid)
        if aid not in texts:
            log.add(
                file,
                None,
                f"labels for article {aid}, but article{aid}.txt is missing",
                "add the article text or remove its labels file",
            )
            continue
        art = articles.get(aid)
        for line, fields in read_label_rows(file, log) or []:
            if len(fields) != 4:
                _field_problem(log, file, line, "id, technique, start, end", len(fields))
                continue
            if fields[0] != aid:
                log.add(
                    file,
                    line,
                    f"row names article {fields[0]!r} but the file is for article {aid}",
                    "move the row to that article's span file",
                )
                continue
            offsets = parse_offsets(fields[2], fields[3], log=log, path=file, line=line)
            if offsets is None or art is None:
                continue
            tech = check_label(
                fields[1],
                labels=labels,
                label_map=label_map,
                log=log,
                path=file,
                line=line,
            )
            if tech is None:
                continue
            span = Span(offsets[0], offsets[1], tech)
            if check_span(span, aid, len(art.text), log=log, path=file, line=line):
                art.spans.append(span)

    for aid, art in articles.items():
        if span_files and aid not in span_files:
            log.add(
                art.source,
                None,
                f"article {aid} has no span file",
                f"add an empty article{aid}-labels-subtask-3.txt if it has no techniques, or remove the article",
            )
        elif not span_files and aid not in mentioned:
            log.add(
                art.source,
                None,
                f"article {aid} has no labels in any subtask file",
                "add its labels or remove the article",
            )
    return finish(list(articles.values()))
