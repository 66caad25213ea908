"""Reader for the Propaganda Techniques Corpus (SemEval-2020 Task 11, PTC v2).

Layout (the folder is searched recursively; hidden folders are skipped)::

    article<ID>.txt                      the article text
    article<ID>.task2-TC.labels          per-article techniques: id TAB technique TAB start TAB end
    article<ID>.task1-SI.labels          per-article spans:      id TAB start TAB end
    <anything>-task2-TC.labels           the same rows for many articles (aggregated)
    <anything>-task1-SI.labels           the same rows for many articles (aggregated)

Fields are TAB-separated; technique names contain commas
(``Name_Calling,Labeling``, ``Whataboutism,Straw_Men,Red_Herring``) and are
kept exactly as written (then passed through ``label_map``/``labels``).
Offsets are character offsets, start inclusive, end exclusive.

Which rows an article gets — one source only, so nothing is counted twice:

1. its per-article ``.task2-TC.labels`` file, else
2. its rows in the aggregated ``*-task2-TC.labels`` file(s), else
3. its per-article ``.task1-SI.labels`` file, else
4. its rows in the aggregated ``*-task1-SI.labels`` file(s);

SI spans are labelled ``"Propaganda"`` (so they are used only when no TC
labels exist for the article).  When an article has both a per-article file
and rows in an aggregated file of the same task, the per-article file wins
and, if the two disagree (as multisets of start/end/label), a problem is
logged.  Rows repeated *within* one source are kept as they are (PTC v2's
train TC labels repeat one row for article 711566593), so span counts equal
the number of label lines.

An article with no labels: since an aggregated file cannot list articles
without spans, any article is taken as labelled (with no spans) when the
folder holds an aggregated file.  Otherwise an article without a per-article
labels file is a problem (lenient mode keeps it with no spans); an empty
per-article file means "no spans" and is fine.

Byte-order mark: the PTC offsets count a leading U+FEFF as character 0.
Checked on the two PTC v2 articles that start with one (705409419,
712382330): with the BOM kept, spans read ``a devastating letter``,
``Pharisaic stone-throwers who embody a merciless rigorism``; with it
stripped every span is off by one (`` devastating letter ``,
``harisaic stone-throwers … rigorism.``).  So the BOM stays in
``Article.text`` and offsets are used as given.  (Seven more articles carry
a U+FEFF at the start of a later line; those are ordinary characters too.)
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
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
    parse_offsets,
    read_label_rows,
    walk_files,
)
from framelab.types import Article, Span

SI_LABEL = "Propaganda"

_TEXT_RE = re.compile(rf"article({ID_PATTERN})\.txt")
_PER_RE = {
    "TC": re.compile(rf"article({ID_PATTERN})\.task2-TC\.labels"),
    "SI": re.compile(rf"article({ID_PATTERN})\.task1-SI\.labels"),
}
_AGG_RE = {
    "TC": re.compile(r".*task2-TC\.labels"),
    "SI": re.compile(r".*task1-SI\.labels"),
}
_COLUMNS = {"TC": "id, technique, start, end", "SI": "id, start, end"}


@dataclass(frozen=True)
class _Row:
    """One well-formed label row: where it is, the article and the span it gives."""

    path: Path
    line: int
    article_id: str
    label: str
    start: int
    end: int


def _parse_rows(path: Path, kind: str, log: ProblemLog, expected_id: str | None) -> list[_Row]:
    """Valid rows of one TC or SI label file (problems logged, bad rows skipped)."""
    rows = read_label_rows(path, log)
    if rows is None:
        return []
    width = 4 if kind == "TC" else 3
    out = []
    for line, fields in rows:
        if len(fields) != width:
            log.add(
                path,
                line,
                f"expected {width} TAB-separated fields ({_COLUMNS[kind]}), found {len(fields)}",
                "separate the fields with TAB characters",
            )
            continue
        aid = fields[0]
        if expected_id is not None and aid != expected_id:
            log.add(
                path,
                line,
                f"row names article {aid!r} but the file is for article {expected_id}",
                "move the row to that article's labels file",
            )
            continue
        label = fields[1] if kind == "TC" else SI_LABEL
        offsets = parse_offsets(fields[-2], fields[-1], log=log, path=path, line=line)
        if offsets is None:
            continue
        out.append(_Row(path, line, aid, label, *offsets))
    return out


def _key(rows: list[_Row]) -> Counter:
    """The rows as a multiset of (start, end, label), to compare two sources."""
    return Counter((r.start, r.end, r.label) for r in rows)


@dataclass
class _Files:
    """The files under a PTC folder, by kind; ids map to every path found."""

    texts: dict[str, list[Path]] = field(default_factory=lambda: defaultdict(list))
    per_article: dict[str, dict[str, list[Path]]] = field(
        default_factory=lambda: {"TC": defaultdict(list), "SI": defaultdict(list)}
    )
    aggregated: dict[str, list[Path]] = field(default_factory=lambda: {"TC": [], "SI": []})


def _find_files(root: Path) -> _Files:
    """Sort the files under ``root`` into texts, per-article and aggregated label files."""
    files = _Files()
    for file in walk_files(root):
        name = file.name
        if m := _TEXT_RE.fullmatch(name):
            files.texts[m.group(1)].append(file)
            continue
        for kind in ("TC", "SI"):
            if m := _PER_RE[kind].fullmatch(name):
                files.per_article[kind][m.group(1)].append(file)
                break
            if _AGG_RE[kind].fullmatch(name):
                files.aggregated[kind].append(file)
                break
    return files


def _read_per_article(kind: str, files: _Files, log: ProblemLog) -> dict[str, list[_Row]]:
    """The rows of each article's own ``kind`` labels file, id -> rows."""
    out: dict[str, list[_Row]] = {}
    for aid in sorted(files.per_article[kind]):
        paths = sorted(files.per_article[kind][aid])
        for extra in paths[1:]:
            log.add(
                extra,
                None,
                f"second {kind} labels file for article {aid} (also {paths[0]})",
                "remove one copy",
            )
        if aid not in files.texts:
            log.add(
                paths[0],
                None,
                f"labels for article {aid}, but article{aid}.txt is missing",
                "add the article text or remove its labels file",
            )
            continue
        out[aid] = _parse_rows(paths[0], kind, log, expected_id=aid)
    return out


def _read_aggregated(
    kind: str, files: _Files, per_rows: dict[str, list[_Row]], log: ProblemLog
) -> dict[str, list[_Row]]:
    """The rows of the aggregated ``kind`` files, id -> rows, each id from one file only."""
    out: dict[str, list[_Row]] = {}
    for file in files.aggregated[kind]:
        grouped: dict[str, list[_Row]] = defaultdict(list)
        for row in _parse_rows(file, kind, log, expected_id=None):
            grouped[row.article_id].append(row)
        for aid, rows in grouped.items():
            if aid not in files.texts:
                log.add(
                    file,
                    rows[0].line,
                    f"labels for article {aid} ({len(rows)} rows), but article{aid}.txt is missing",
                    "add the article text or remove its rows",
                )
                continue
            if aid in out:
                first = out[aid][0]
                log.add(
                    file,
                    rows[0].line,
                    f"article {aid} also has {kind} rows in {first.path} (line {first.line})",
                    "keep each article's rows in one aggregated file",
                )
                continue
            out[aid] = rows
            if aid in per_rows and _key(per_rows[aid]) != _key(rows):
                # An empty per-article file has no row to take its path from.
                per_path = per_rows[aid][0].path if per_rows[aid] else min(files.per_article[kind][aid])
                log.add(
                    file,
                    rows[0].line,
                    f"{kind} rows for article {aid} differ from {per_path}; the per-article file is used",
                    "make the two agree or remove one of them",
                )
    return out


def _spans(
    aid: str, text: str, rows: list[_Row], labels: list[str] | None, label_map: dict[str, str] | None, log: ProblemLog
) -> list[Span]:
    """The spans of ``rows`` whose label is known and which fit inside ``text``."""
    spans = []
    for row in rows:
        label = check_label(
            row.label,
            labels=labels,
            label_map=label_map,
            log=log,
            path=row.path,
            line=row.line,
        )
        if label is None:
            continue
        span = Span(row.start, row.end, label)
        if check_span(span, aid, len(text), log=log, path=row.path, line=row.line):
            spans.append(span)
    return spans


def _article_rows(
    aid: str, text_path: Path, sources: list[dict[str, list[_Row]]], files: _Files, log: ProblemLog
) -> list[_Row]:
    """The rows of the first source (in priority order) that has ``aid``; logs an unlabelled article."""
    for source in sources:
        if aid in source:
            return source[aid]
    # An aggregated file cannot list an article without spans, so its presence vouches for every article.
    any_aggregated = bool(files.aggregated["TC"] or files.aggregated["SI"])
    if not any_aggregated and aid not in files.per_article["TC"] and aid not in files.per_article["SI"]:
        log.add(
            text_path,
            None,
            f"article {aid} has no labels file",
            f"add an empty article{aid}.task2-TC.labels if it has no propaganda, or remove the article",
        )
    return []


def read_ptc(
    path: Path,
    *,
    log: ProblemLog,
    labels: list[str] | None = None,
    label_map: dict[str, str] | None = None,
    frames: list[str] | None = None,
) -> list[Article]:
    """Read a PTC v2 folder; see the module docstring for layout and rules.

    ``frames`` is accepted for a uniform signature and ignored (PTC has no
    frames).  Articles are sorted by id, spans sorted, ``source`` is the
    ``.txt`` path.
    """
    root = Path(path)
    files = _find_files(corpus_folder(root, "PTC"))
    if not files.texts:
        log.add(root, None, "no article<ID>.txt files found", "check the path in the data config")
        return []
    articles = load_articles(files.texts, log)
    per_rows = {kind: _read_per_article(kind, files, log) for kind in ("TC", "SI")}
    agg_rows = {kind: _read_aggregated(kind, files, per_rows[kind], log) for kind in ("TC", "SI")}
    sources = [per_rows["TC"], agg_rows["TC"], per_rows["SI"], agg_rows["SI"]]
    out: list[Article] = []
    for aid, (text_path, text) in articles.items():
        rows = _article_rows(aid, text_path, sources, files, log)
        spans = _spans(aid, text, rows, labels, label_map, log)
        out.append(Article(id=aid, text=text, spans=spans, source=str(text_path)))
    return finish(out)
