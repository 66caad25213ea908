"""A pool of unlabelled articles scored by saved models, and the next ones to annotate (``framelab select``).

The pool is read as ``framelab score`` reads its inputs (:func:`framelab.score.inputs.iter_articles`) and
scored by :class:`framelab.api.Model`, so the probabilities are the ones ``framelab score`` would write.
An article's uncertainty (:func:`article_uncertainty`) sums :func:`~framelab.active.strategies.closeness`
over every unit and article prediction of every model, each label against that model's threshold
(``framelab.json``); a single-label model (no thresholds) counts its top-two margin
(:func:`~framelab.active.strategies.margin_closeness`) once per prediction. A span model's scores are its
best span score per technique found, so only the techniques it found count. Summing over units means a
long article with many doubtful units outranks a short one: it is also more to learn from.

The article vectors of ``diversity`` and ``both`` are TF-IDF rows of the article texts
(:func:`article_vectors`), fitted on the pool itself: the same vectors whatever model scored the pool,
and the ones ``bench/active.py`` measured the rules with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from framelab.active.strategies import STRATEGIES, Pool, closeness, margin_closeness, select
from framelab.api import Model
from framelab.lexical import tfidf_vectorizer
from framelab.output import AtomicFile
from framelab.score.inputs import iter_articles
from framelab.score.records import ModelLabels, Prediction, ScoredArticle
from framelab.score.scorer import model_labels


def prediction_closeness(prediction: Prediction, labels: Sequence[str], thresholds: Sequence[float] | None) -> float:
    """One prediction's summed closeness: each label's score (0 where it has none) against its threshold, or the
    top-two margin where the model has no thresholds."""
    probs = np.array([[prediction.scores.get(name, 0.0) for name in labels]])
    return float((margin_closeness(probs) if thresholds is None else closeness(probs, thresholds)).sum())


def article_uncertainty(
    result: ScoredArticle, labels: dict[str, list[str]], thresholds: dict[str, list[float] | None]
) -> float:
    """The summed closeness of every prediction on ``result``'s units and on the article itself; ``labels`` and
    ``thresholds`` are keyed by model name, as the predictions are."""
    predictions = [*(item for unit in result.units for item in unit.predictions.items()), *result.predictions.items()]
    return sum(prediction_closeness(p, labels[name], thresholds[name]) for name, p in predictions)


def article_vectors(texts: Sequence[str]) -> Any:
    """TF-IDF rows of ``texts`` (:func:`framelab.lexical.tfidf_vectorizer`, fitted on them), unit length."""
    return tfidf_vectorizer().fit_transform(list(texts))


def read_ids(path: str | Path) -> list[str]:
    """Article ids, one a line (blank lines skipped): what ``framelab select --ids`` writes."""
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_ids(path: str | Path, ids: Sequence[str]) -> str:
    """Write ``ids`` one a line (what :func:`read_ids` reads); returns the path written."""
    with AtomicFile(path, newline="\n") as out:
        out.handle.write("".join(f"{i}\n" for i in ids))
    return str(path)


@dataclass
class Selection:
    """The articles picked, in the order picked, scored; and what the pool held."""

    picked: list[ScoredArticle]
    uncertainty: list[float]
    pool_size: int
    labelled: int
    #: Ids given as labelled that are not in the pool (they count for nothing).
    unknown_labelled: list[str]
    #: The scoring models' names, tasks and labels (what the Label Studio config is built from).
    models: list[ModelLabels]

    @property
    def ids(self) -> list[str]:
        """The ids of the articles picked, in the order picked."""
        return [r.article.id for r in self.picked]


def select_articles(
    model_dirs: list[str | Path],
    inputs: list[str | Path],
    strategy: str,
    count: int,
    *,
    labelled_ids: Iterable[str] = (),
    seed: int = 0,
    batch_size: int = 64,
) -> Selection:
    """Score the pool's unlabelled articles with ``model_dirs`` and pick ``count`` of them by ``strategy``.

    Articles whose id is in ``labelled_ids`` are never picked; ``diversity`` and ``both`` take them as their first
    centres.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    articles = list(iter_articles(inputs))
    known = set(labelled_ids)
    labelled = np.array([a.id in known for a in articles], dtype=bool)
    model = Model(model_dirs, batch_size=batch_size)
    scored = model.score([a for a, done in zip(articles, labelled) if not done])
    labels = model.labels
    thresholds = {p.name: p.meta.thresholds for p in model.predictors}
    uncertainty = np.zeros(len(articles))
    uncertainty[~labelled] = [article_uncertainty(r, labels, thresholds) for r in scored]
    pool = Pool(uncertainty, article_vectors([a.text for a in articles]), labelled)
    picks = select(pool, strategy, count, seed=seed)
    position = {int(i): n for n, i in enumerate(np.flatnonzero(~labelled))}
    return Selection(
        picked=[scored[position[i]] for i in picks],
        uncertainty=[float(uncertainty[i]) for i in picks],
        pool_size=len(articles),
        labelled=int(labelled.sum()),
        unknown_labelled=sorted(known - {a.id for a in articles}),
        models=model_labels(model.predictors),
    )
