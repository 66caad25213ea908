"""Scored articles as pandas tables (``to_pandas`` of :class:`~framelab.score.records.ScoredArticle`).

One table per level, each row one thing a model decided, with the article's id and offsets into its
text: ``unit`` (a row per unit and model), ``span`` (per predicted span), ``article`` (per article
and model) and ``evidence`` (per sentence that carries a frame, or that a stance model read for its stance:
``label`` is the frame or the stance, ``weight`` the attention or the similarity to the target, ``rank`` the
stance evidence's place). Each label's score is a
``score:<label>`` column. These are the rows of ``--format csv``
(:class:`~framelab.score.writers.CsvWriter`), split by level, with labels as lists and no
spreadsheet marks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from framelab.score.records import ScoredArticle

#: Each level's columns, before the ``score:<label>`` ones.
COLUMNS = {
    "unit": ["article_id", "unit", "index", "start", "end", "line", "model", "task", "target", "labels", "text"],
    "span": ["article_id", "unit", "index", "start", "end", "model", "task", "label", "score", "text"],
    "article": ["article_id", "source", "length", "units", "model", "task", "target", "labels"],
    "evidence": ["article_id", "model", "task", "label", "start", "end", "weight", "rank", "text"],
}
LEVELS = tuple(COLUMNS)


def _scores(scores: dict[str, float]) -> dict[str, float]:
    return {f"score:{label}": score for label, score in scores.items()}


def _unit_rows(result: ScoredArticle) -> Iterator[dict]:
    for s in result.units:
        u = s.unit
        for name, p in s.predictions.items():
            yield {
                "article_id": result.article.id,
                "unit": s.kind,
                "index": u.index,
                "start": u.start,
                "end": u.end,
                "line": u.line,
                "model": name,
                "task": p.task,
                "target": p.target,
                "labels": list(p.labels),
                "text": u.text,
            } | _scores(p.scores)


def _span_rows(result: ScoredArticle) -> Iterator[dict]:
    text = result.article.text
    for s in result.units:
        for name, p in s.predictions.items():
            for t in p.spans or ():
                start, end = s.unit.start + t.start, s.unit.start + t.end
                yield {
                    "article_id": result.article.id,
                    "unit": s.kind,
                    "index": s.unit.index,
                    "start": start,
                    "end": end,
                    "model": name,
                    "task": p.task,
                    "label": t.label,
                    "score": t.score,
                    "text": text[start:end],
                }


def _article_rows(result: ScoredArticle) -> Iterator[dict]:
    a = result.article
    for name, p in result.predictions.items():
        yield {
            "article_id": a.id,
            "source": a.source,
            "length": len(a.text),
            "units": len(result.units),
            "model": name,
            "task": p.task,
            "target": p.target,
            "labels": list(p.labels),
        } | _scores(p.scores)


def _evidence_rows(result: ScoredArticle) -> Iterator[dict]:
    text = result.article.text
    for name, p in result.predictions.items():
        for v in p.evidence or ():
            stance = not hasattr(v, "frame")  # a StanceEvidence (records imports this module: no isinstance)
            yield {
                "article_id": result.article.id,
                "model": name,
                "task": p.task,
                "label": (p.labels[0] if p.labels else None) if stance else v.frame,
                "start": v.start,
                "end": v.end,
                "weight": v.similarity if stance else v.weight,
                "rank": v.rank if stance else None,
                "text": text[v.start : v.end],
            }


_ROWS = {"unit": _unit_rows, "span": _span_rows, "article": _article_rows, "evidence": _evidence_rows}


def rows(results: Iterable[ScoredArticle], level: str = "unit") -> list[dict]:
    """The rows of ``level`` (one of :data:`LEVELS`) for ``results``, in their order."""
    if level not in _ROWS:
        raise ValueError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    return [row for result in results for row in _ROWS[level](result)]


def to_pandas(results: Iterable[ScoredArticle], level: str = "unit") -> pd.DataFrame:
    """The table of ``level`` for ``results``: :data:`COLUMNS`, then a ``score:<label>`` column per label
    scored (unit and article levels), in the models' label order. No row, no error: the columns stay."""
    import pandas as pd

    found = rows(results, level)
    score_columns = dict.fromkeys(key for row in found for key in row if key.startswith("score:"))
    return pd.DataFrame(found, columns=[*COLUMNS[level], *score_columns])
