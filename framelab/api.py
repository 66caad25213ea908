"""Scoring from Python: ``framelab.load(folder).score(texts)``.

The same models, units, labels, scores and spans as ``framelab score``, as typed records
(:class:`framelab.score.records.ScoredArticle`), as the dictionaries ``--format jsonl`` writes
(:meth:`Model.score_records`), or as pandas tables (``model.score(texts).to_pandas()``,
:mod:`framelab.score.tables`). :meth:`Model.iter_score` streams the results of a long input one
article at a time.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator, Mapping, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from framelab.errors import DataError, Problem
from framelab.readers.common import is_empty_text, titled
from framelab.score.records import ScoredArticle, ScoredArticles
from framelab.score.scorer import ScoreOptions, load_predictors, score_stream
from framelab.score.writers import article_records
from framelab.types import Article

if TYPE_CHECKING:
    import pandas as pd
    import torch

#: One thing :meth:`Model.score` takes: a text, an :class:`~framelab.types.Article`, or a mapping with ``text``
#: and optional ``id``, ``title`` (scored as the first line: ``title + "\n\n" + text``) and ``target``.
Item = str | Article | Mapping[str, Any]
#: What :meth:`Model.score` takes: one :data:`Item`, several, or a pandas DataFrame with a row per article.
Items: TypeAlias = "Item | Iterable[Item] | pd.DataFrame"
#: The columns a DataFrame to score may have; ``text`` is required.
FRAME_COLUMNS = ("id", "title", "text", "target")
#: Articles scored together (as ``framelab score`` does): their units share batches.
CHUNK_ARTICLES = ScoreOptions.chunk_articles


def _refused(where: str, message: str, hint: str) -> DataError:
    return DataError(Problem(where, None, message, hint))


def _string(item: Mapping, key: str, where: str) -> str | None:
    """``item[key]``: a string, or None where the key is absent."""
    value = item.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _refused(where, f"its {key} is a {type(value).__name__}, not a string", f"give {key} as text")


def _from_mapping(item: Mapping, where: str, default_id: str) -> Article:
    text = item.get("text")
    if not isinstance(text, str):
        found = "has no text" if text is None else f"its text is a {type(text).__name__}, not a string"
        raise _refused(where, found, "give each article its text as a string under 'text'")
    article_id = item.get("id")
    return Article(
        default_id if article_id is None else str(article_id),
        titled(_string(item, "title", where), text),
        stance_target=_string(item, "target", where),
    )


def as_article(item: Item, number: int, where: str | None = None) -> Article:
    """``item`` (what :meth:`Model.score` takes one of) as an article, refused with a :class:`DataError` naming
    ``where`` (default ``item <number>``); a text gets the id ``"<number>"``."""
    where = where or f"item {number}"
    if isinstance(item, Article):
        article = item
    elif isinstance(item, str):
        article = Article(str(number), item)
    elif isinstance(item, Mapping):
        article = _from_mapping(item, where, str(number))
    else:
        raise _refused(
            where, f"cannot score a {type(item).__name__}", "give a text, an Article or a mapping with 'text'"
        )
    if is_empty_text(article.text):
        raise _refused(f"{where} (id {article.id})", "article is empty", "give it some text")
    return article


def _is_frame(items: object) -> bool:
    """Whether ``items`` is a pandas DataFrame (pandas is only looked at once something imported it)."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(items, pandas.DataFrame)


def _missing(value: object) -> bool:
    """A DataFrame's empty cell: None, NaN, pandas' NA or NaT."""
    pandas = sys.modules["pandas"]
    return (
        value is None or value is pandas.NA or value is pandas.NaT or (isinstance(value, float) and math.isnan(value))
    )


def _check_frame(frame: pd.DataFrame) -> list[str]:
    """The columns of a DataFrame to score; refuses one without ``text`` or with a column framelab would not use."""
    columns = list(frame.columns)
    shown = ", ".join(map(repr, columns)) or "none"
    if "text" not in columns:
        raise _refused(
            "DataFrame",
            f"has no 'text' column (its columns: {shown})",
            "name the column of article texts 'text', e.g. frame.rename(columns={'body': 'text'})",
        )
    unknown = [c for c in columns if c not in FRAME_COLUMNS]
    if unknown or len(set(columns)) != len(columns):
        found = (
            f"column(s) {', '.join(map(repr, unknown))} that framelab would not use" if unknown else "a column twice"
        )
        raise _refused(
            "DataFrame",
            f"has {found}",
            f"keep only the columns {', '.join(FRAME_COLUMNS)} (text required), e.g. frame[['id', 'text']]",
        )
    return columns


def _frame_articles(frame: pd.DataFrame, columns: list[str]) -> Iterator[Article]:
    """A DataFrame's rows as articles; a row without an ``id`` takes its index label as its id."""
    for number, (label, row) in enumerate(zip(frame.index, frame.itertuples(index=False, name=None))):
        record = {name: value for name, value in zip(columns, row) if not _missing(value)}
        record.setdefault("id", label)
        yield as_article(record, number, f"DataFrame row {label!r}")


def _articles(items: Items) -> tuple[Iterator[Article], int | None]:
    """``items`` as articles (a DataFrame's columns checked now, every item when it is reached), and their
    number where it is known."""
    if _is_frame(items):
        return _frame_articles(items, _check_frame(items)), len(items)
    if isinstance(items, (str, Article, Mapping)):
        return iter([as_article(items, 0)]), 1
    total = len(items) if isinstance(items, Sized) else None
    return (as_article(item, n) for n, item in enumerate(items)), total


class Model:
    """One or more saved model (or ensemble) folders, loaded once, scoring articles together.

    Made by :func:`framelab.load`. Every model scores every article: unit models each unit
    (sentence or line) cut from it, article models the whole text; their predictions are keyed
    by the model folder's name.
    """

    def __init__(
        self,
        model_dirs: list[str | Path],
        *,
        batch_size: int = 64,
        device: str | torch.device | None = None,
        split_workers: int | None = 1,
    ):
        self.predictors = load_predictors(model_dirs, batch_size=batch_size, device=device, split_workers=split_workers)
        self.split_workers = split_workers

    @property
    def labels(self) -> dict[str, list[str]]:
        """Each model's label names, by the name that keys its predictions."""
        return {p.name: list(p.meta.labels) for p in self.predictors}

    def score(self, items: Items, *, target: str | None = None) -> ScoredArticles:
        """Score one item or several, in input order.

        ``items``: a text, an :class:`~framelab.types.Article`, a mapping with ``text`` (and optional
        ``id``, ``title``, ``target``), a list or other iterable of them, or a pandas DataFrame with a
        ``text`` column and optional ``id``, ``title`` and ``target`` columns (a row without an ``id``
        takes its index label; a DataFrame with any other column is refused, so that a renamed text
        column is never missed). A text's id is its position. ``target`` is the stance target of
        items that carry none.

        Returns a list of :class:`~framelab.score.records.ScoredArticle`; its ``to_pandas(level)``
        makes one table of them (``"unit"``, ``"span"``, ``"article"`` or ``"evidence"`` rows).
        Raises :class:`~framelab.errors.DataError` naming the item (or row) that cannot be scored.
        """
        return ScoredArticles(self.iter_score(items, target=target))

    def iter_score(
        self, items: Items, *, target: str | None = None, chunk_articles: int = CHUNK_ARTICLES, progress: bool = False
    ) -> Iterator[ScoredArticle]:
        """Score ``items`` (as :meth:`score` takes them) lazily, yielding one scored article at a time in input order.

        ``chunk_articles`` articles are read and scored together (their units share batches), so a
        generator of millions of texts is scored in flat memory; each result comes once its chunk is
        done. ``progress`` shows a bar on a terminal, out of the number of items where ``items`` has a
        length. A DataFrame's columns are checked at once; an item that cannot be scored raises
        :class:`~framelab.errors.DataError` when its chunk is reached.
        """
        articles, total = _articles(items)
        return score_stream(
            self.predictors,
            articles,
            chunk_articles=chunk_articles,
            progress=progress,
            target=target,
            split_workers=self.split_workers,
            total=total,
        )

    def score_records(self, items: Items, *, target: str | None = None) -> list[dict]:
        """:meth:`score`'s results as the records ``framelab score --format jsonl`` writes."""
        return [record for result in self.iter_score(items, target=target) for record in article_records(result)]
