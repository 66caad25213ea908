"""What scoring produces: predictions on units and articles, handed to the writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from framelab.score import tables
from framelab.tagging import TaggedSpan
from framelab.types import Article, Unit

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ModelLabels:
    """What a writer knows of one scored model before the first article: its name, task and labels, in the
    model's order.

    The order fixes each label's colour in the HTML page and the ``score:<label>`` columns of the CSV.
    """

    name: str
    task: str
    labels: tuple[str, ...]


@dataclass
class FrameEvidence:
    """A sentence that carries a predicted label of an article: ``start``/``end`` index the article text,
    ``weight`` is the model's attention on it (0–1)."""

    frame: str
    start: int
    end: int
    weight: float


@dataclass
class StanceEvidence:
    """A body sentence that stage 2 of a stance model read for its stance: ``start``/``end`` index the article
    text, ``similarity`` is the sentence's embedding cosine with the target, ``rank`` its place among the
    sentences read (1: the most similar)."""

    start: int
    end: int
    similarity: float
    rank: int


@dataclass
class Prediction:
    """One model's decision on one unit or article.

    Span models also give ``spans``, with offsets into the unit's text;
    ``labels`` are then the techniques of those spans and ``scores`` each
    technique's best span score. Article models that can tell where each
    predicted label sits give ``evidence``: the sentences that carry it
    (frames), or the body sentences read for the stance (pair tasks, ``fnc1``).
    """

    task: str
    labels: list[str]
    scores: dict[str, float]
    target: str | None = None
    spans: list[TaggedSpan] | None = None
    evidence: list[FrameEvidence] | list[StanceEvidence] | None = None


@dataclass
class ScoredUnit:
    """A unit with the predictions of every model working on its unit kind."""

    kind: str
    unit: Unit
    predictions: dict[str, Prediction] = field(default_factory=dict)


@dataclass
class ScoredArticle:
    """An article, its scored units and its article-level predictions."""

    article: Article
    units: list[ScoredUnit]
    predictions: dict[str, Prediction]

    def to_pandas(self, level: str = "unit") -> pd.DataFrame:
        """This article as a table: a row per unit and model (``level="unit"``), per predicted span
        (``"span"``), per article-level model (``"article"``) or per frame-evidence sentence (``"evidence"``);
        the columns are :mod:`framelab.score.tables`'."""
        return tables.to_pandas([self], level)


class ScoredArticles(list[ScoredArticle]):
    """What :meth:`framelab.api.Model.score` returns: a list of scored articles, in input order, that also
    makes one table of them all (:meth:`to_pandas`)."""

    def to_pandas(self, level: str = "unit") -> pd.DataFrame:
        """Every article's rows of ``level`` in one table (see :meth:`ScoredArticle.to_pandas`)."""
        return tables.to_pandas(self, level)
