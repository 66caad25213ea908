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
from dataclasses import dataclass, field
from pathlib import Path

from framelab.errors import ProblemLog
from framelab.readers.common import (
    ID_PATTERN,
    check_label,
    check_span,
    corpus_folder,
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


@dataclass
class _Files:
    """The files under a SemEval-2023 folder, by kind; ids map to every path found."""

    texts: dict[str, list[Path]] = field(default_factory=lambda: defaultdict(list))
    spans: dict[str, list[Path]] = field(default_factory=lambda: defaultdict(list))
    aggregates: dict[int, list[Path]] = field(default_factory=lambda: {1: [], 2: [], 3: []})


@dataclass
class _Corpus:
    """The articles being filled in, the label lists, and which ids the label files named."""

    log: ProblemLog
    text_ids: set[str]
    articles: dict[str, Article]
    labels: list[str] | None
    label_map: dict[str, str] | None
    frames: list[str] | None
    mentioned: set[str] = field(default_factory=set)

    def target(self, aid: str, file: Path, line: int | None) -> Article | None:
        """The article a row is about; logs if its text is missing."""
        self.mentioned.add(aid)
        if aid not in self.text_ids:
            self.log.add(
                file,
                line,
                f"labels for article {aid}, but article{aid}.txt is missing",
                _MISSING_HINT,
            )
            return None
        return self.articles.get(aid)  # None when its text was unreadable/empty (already logged)


def _field_problem(log: ProblemLog, path: Path, line: int, want: str, found: int) -> None:
    """Log a row with the wrong number of fields."""
    log.add(
        path,
        line,
        f"expected TAB-separated fields ({want}), found {found}",
        "separate the fields with TAB characters",
    )


def _find_files(root: Path) -> _Files:
    """Sort the files under ``root`` into texts, span files and aggregate label files."""
    files = _Files()
    for file in walk_files(root):
        name = file.name
        # Span files also match the subtask-3 aggregate pattern, so they are tested first.
        if m := _SPAN_RE.fullmatch(name):
            files.spans[m.group(1)].append(file)
        elif m := _TEXT_RE.fullmatch(name):
            files.texts[m.group(1)].append(file)
        else:
            for n in (1, 2, 3):
                if _AGG_RE[n].fullmatch(name):
                    files.aggregates[n].append(file)
                    break
    return files


def _checked_names(
    field_text: str,
    *,
    labels: list[str] | None,
    label_map: dict[str, str] | None,
    kind: str,
    log: ProblemLog,
    file: Path,
    line: int,
) -> list[str]:
    """The checked names of a comma-separated frame or technique field, each kept once in file order."""
    kept: list[str] = []
    for name in split_names(field_text):
        checked = check_label(name, labels=labels, label_map=label_map, log=log, path=file, line=line, kind=kind)
        if checked is not None and checked not in kept:
            kept.append(checked)
    return kept


def _repeated(seen: dict[str, tuple[Path, int]], aid: str, file: Path, line: int, what: str, log: ProblemLog) -> bool:
    """Whether ``aid`` already had a row in this subtask (then logged); else remembers this row."""
    if aid in seen:
        log.add(
            file,
            line,
            f"article {aid} already has {what} ({seen[aid][0]}, line {seen[aid][1]})",
            "keep one line per article",
        )
        return True
    seen[aid] = (file, line)
    return False


def _read_genres(corpus: _Corpus, files: list[Path]) -> None:
    """Apply the subtask-1 files: one genre per article."""
    seen: dict[str, tuple[Path, int]] = {}
    for file in files:
        for line, fields in read_label_rows(file, corpus.log) or []:
            if len(fields) != 2:
                _field_problem(corpus.log, file, line, "id, genre", len(fields))
                continue
            aid, genre = fields
            if _repeated(seen, aid, file, line, "a genre", corpus.log):
                continue
            art = corpus.target(aid, file, line)
            if art is not None:
                art.genre = genre


def _read_frames(corpus: _Corpus, files: list[Path]) -> None:
    """Apply the subtask-2 files: one frame list per article."""
    seen: dict[str, tuple[Path, int]] = {}
    for file in files:
        for line, fields in read_label_rows(file, corpus.log) or []:
            # One field: the trailing TAB of an empty frame list was lost.
            if len(fields) not in (1, 2):
                _field_problem(corpus.log, file, line, "id, frames", len(fields))
                continue
            aid = fields[0]
            if _repeated(seen, aid, file, line, "frames", corpus.log):
                continue
            art = corpus.target(aid, file, line)
            if art is not None:
                art.frames = _checked_names(
                    fields[1] if len(fields) == 2 else "",
                    labels=corpus.frames,
                    label_map=None,  # label_map renames techniques, never frames
                    kind="frame",
                    log=corpus.log,
                    file=file,
                    line=line,
                )


def _line_number(fields: list[str], file: Path, line: int, log: ProblemLog) -> int | None:
    """The paragraph line number of a subtask-3 row, or ``None`` (logged) when it is not one."""
    number = parse_int(fields[1])
    if number is None or number < 1:
        log.add(
            file,
            line,
            f"line number {fields[1]!r} is not a positive integer",
            "paragraph lines are counted from 1",
        )
        return None
    return number


def _read_line_labels(corpus: _Corpus, files: list[Path]) -> None:
    """Apply the subtask-3 paragraph files: techniques per article line."""
    log = corpus.log
    seen: dict[tuple[str, int], tuple[Path, int]] = {}
    for file in files:
        for line, fields in read_label_rows(file, log) or []:
            if len(fields) not in (2, 3):
                _field_problem(log, file, line, "id, line, techniques", len(fields))
                continue
            aid = fields[0]
            number = _line_number(fields, file, line, log)
            if number is None:
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
            art = corpus.target(aid, file, line)
            if art is None:
                continue
            n_lines = art.text.count("\n") + 1
            if number > n_lines:
                log.add(
                    file,
                    line,
                    f"line {number} lies beyond the end of article {aid} ({n_lines} lines)",
                    "check that the row belongs to this article",
                )
                continue
            if art.line_labels is None:
                art.line_labels = {}
            art.line_labels[number] = _checked_names(
                fields[2] if len(fields) == 3 else "",
                labels=corpus.labels,
                label_map=corpus.label_map,
                kind="technique",
                log=log,
                file=file,
                line=line,
            )


def _span_file(corpus: _Corpus, aid: str, paths: list[Path]) -> Path | None:
    """The one span file to read for ``aid``, or ``None`` when its text is missing (logged)."""
    for extra in paths[1:]:
        corpus.log.add(
            extra,
            None,
            f"second span file for article {aid} (also {paths[0]})",
            "remove one copy",
        )
    corpus.mentioned.add(aid)
    if aid not in corpus.text_ids:
        corpus.log.add(
            paths[0],
            None,
            f"labels for article {aid}, but article{aid}.txt is missing",
            "add the article text or remove its labels file",
        )
        return None
    return paths[0]


def _read_span_file(corpus: _Corpus, aid: str, file: Path) -> None:
    """Add the spans of one ``article<ID>-labels-subtask-3.txt`` file to its article."""
    log = corpus.log
    # None when the text was unreadable or empty; rows are still checked so every defect is reported.
    art = corpus.articles.get(aid)
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
            labels=corpus.labels,
            label_map=corpus.label_map,
            log=log,
            path=file,
            line=line,
        )
        if tech is None:
            continue
        span = Span(offsets[0], offsets[1], tech)
        if check_span(span, aid, len(art.text), log=log, path=file, line=line):
            art.spans.append(span)


def _check_labelled(corpus: _Corpus, span_files: dict[str, list[Path]]) -> None:
    """Log the articles that no label file covers (see the module docstring for the rule)."""
    for aid, art in corpus.articles.items():
        if span_files and aid not in span_files:
            corpus.log.add(
                art.source,
                None,
                f"article {aid} has no span file",
                f"add an empty article{aid}-labels-subtask-3.txt if it has no techniques, or remove the article",
            )
        elif not span_files and aid not in corpus.mentioned:
            corpus.log.add(
                art.source,
                None,
                f"article {aid} has no labels in any subtask file",
                "add its labels or remove the article",
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
    files = _find_files(corpus_folder(root, "SemEval-2023"))
    if not files.texts:
        log.add(root, None, "no article<ID>.txt files found", "check the path in the data config")
        return []
    loaded = load_articles(files.texts, log)
    articles = {aid: Article(id=aid, text=text, source=str(p)) for aid, (p, text) in loaded.items()}
    corpus = _Corpus(log, set(files.texts), articles, labels, label_map, frames)
    _read_genres(corpus, files.aggregates[1])
    _read_frames(corpus, files.aggregates[2])
    _read_line_labels(corpus, files.aggregates[3])
    for aid in sorted(files.spans):
        file = _span_file(corpus, aid, sorted(files.spans[aid]))
        if file is not None:
            _read_span_file(corpus, aid, file)
    _check_labelled(corpus, files.spans)
    return finish(list(articles.values()))
