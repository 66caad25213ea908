"""Scoring from Python: ``framelab.load(folder).score(texts)``.

The same models, units, labels, scores and spans as ``framelab score``,
as typed records (:class:`framelab.score.records.ScoredArticle`) or as the
dictionaries ``--format jsonl`` writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from framelab.errors import DataError, Problem
from framelab.readers.common import is_empty_text
from framelab.score.records import ScoredArticle
from framelab.score.scorer import load_predictors, score_chunk
from framelab.score.writers import article_records
from framelab.types import Article

#: What :meth:`Model.score` takes: a text, an :class:`~framelab.types.Article`, or a mapping with ``text``
#: and optional ``id`` and ``target``.
Item = str | Article | Mapping


def _article(item: Item, number: int) -> Article:
    """``item`` as an article; texts get the id ``"<number>"``."""
    if isinstance(item, Article):
        article = item
    elif isinstance(item, str):
        article = Article(str(number), item)
    elif isinstance(item, Mapping) and isinstance(item.get("text"), str):
        article = Article(str(item.get("id", number)), item["text"], stance_target=item.get("target"))
    else:
        raise DataError(
            Problem(
                f"item {number}",
                None,
                f"cannot score a {type(item).__name__}",
                "give a text, an Article or a mapping with 'text'",
            )
        )
    if is_empty_text(article.text):
        raise DataError(Problem(f"item {number} (id {article.id})", None, "article is empty", "give it some text"))
    return article


class Model:
    """One or more saved model (or ensemble) folders, loaded once, scoring articles together."""

    def __init__(
        self, model_dirs: list[str | Path], *, batch_size: int = 64, device=None, split_workers: int | None = 1
    ):
        self.predictors = load_predictors(model_dirs, batch_size=batch_size, device=device, split_workers=split_workers)
        self.split_workers = split_workers

    @property
    def labels(self) -> dict[str, list[str]]:
        """Each model's label names, by the name that keys its predictions."""
        return {p.name: list(p.meta.labels) for p in self.predictors}

    def score(self, items: Item | Iterable[Item], *, target: str | None = None) -> list[ScoredArticle]:
        """Score one item or several; ``target`` is the stance target of items that carry none."""
        many = [items] if isinstance(items, (str, Article, Mapping)) else list(items)
        articles = [_article(item, n) for n, item in enumerate(many)]
        return score_chunk(self.predictors, articles, target, split_workers=self.split_workers)

    def score_records(self, items: Item | Iterable[Item], *, target: str | None = None) -> list[dict]:
        """:meth:`score`'s results as the records ``framelab score --format jsonl`` writes."""
        return [record for result in self.score(items, target=target) for record in article_records(result)]


def load(*model_dirs: str | Path, batch_size: int = 64, device=None) -> Model:
    """Load model (or ensemble) folders for scoring from Python."""
    if not model_dirs:
        raise ValueError("framelab.load needs at least one model folder")
    return Model(list(model_dirs), batch_size=batch_size, device=device)
