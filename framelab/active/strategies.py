"""The rules that pick the next articles to annotate, in one registry (:data:`STRATEGIES`).

Each rule reads a :class:`Pool`: every article's uncertainty, its vector, and whether it is already
labelled; it returns the indices of up to ``count`` unlabelled articles, in the order picked. Fewer
come back only when fewer are unlabelled. Ties always go to the lower index, so a pick is repeatable.

- **uncertainty**: the articles whose summed closeness to the thresholds is highest
  (:func:`closeness`, summed by :func:`article_sums`).
- **diversity**: greedy k-centre (farthest-first traversal) on the article vectors, under cosine
  distance (:func:`k_centre`): each pick is the article farthest from every labelled or already
  picked one. With nothing labelled the first pick is the article nearest the pool's mean.
- **both**: the :data:`BOTH_SHORTLIST` × ``count`` most uncertain articles, then k-centre among
  them, so that a batch is uncertain without being ``count`` near-copies of one article.
- **random**: a uniform draw (``seed``), the yardstick of the other three.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: ``both`` shortlists this many times ``count`` articles by uncertainty before k-centre picks among them.
BOTH_SHORTLIST = 3


def closeness(probs: np.ndarray, thresholds: float | Sequence[float] | np.ndarray) -> np.ndarray:
    """How close each probability is to its label's threshold: ``1 − |p − t| / max(t, 1 − t)``.

    ``probs`` is ``(examples, labels)``, ``thresholds`` one number or one per label. The value is 1
    at the threshold and falls linearly to 0 at whichever end (0 or 1) lies farther from it, so a
    label with a threshold of 0.2 counts a probability of 0 as closer (0.75) than one of 1 (0).
    """
    probs = np.asarray(probs, dtype=float)
    t = np.broadcast_to(np.asarray(thresholds, dtype=float), probs.shape[-1:])
    return 1.0 - np.abs(probs - t) / np.maximum(t, 1.0 - t)


def margin_closeness(probs: np.ndarray) -> np.ndarray:
    """Closeness to the decision of a single-label model (argmax, no thresholds): ``1 − (p₁ − p₂)``, the gap
    between its two most probable labels, one value per example (``(examples,)``)."""
    probs = np.asarray(probs, dtype=float)
    if probs.shape[-1] < 2:
        return np.zeros(probs.shape[:-1])
    top = np.sort(probs, axis=-1)
    return 1.0 - (top[..., -1] - top[..., -2])


def article_sums(values: np.ndarray, articles: Sequence[str], order: Sequence[str]) -> np.ndarray:
    """Sum ``values`` (one row per example, any trailing shape) per article: one total per id of ``order``,
    0 for an article without examples."""
    index = {a: i for i, a in enumerate(order)}
    totals = np.zeros(len(order))
    per_example = np.asarray(values, dtype=float).reshape(len(articles), -1).sum(axis=1)
    np.add.at(totals, [index[a] for a in articles], per_example)
    return totals


@dataclass(frozen=True)
class Pool:
    """What the rules read, one entry per article.

    ``uncertainty``: summed closeness (None where only diversity or random is asked for);
    ``vectors``: one row per article, a NumPy array or a SciPy sparse matrix (TF-IDF);
    ``labelled``: True for articles already annotated (never picked; k-centre's first centres).
    """

    uncertainty: np.ndarray | None
    vectors: Any
    labelled: np.ndarray

    def __len__(self) -> int:
        return len(self.labelled)

    def unlabelled(self) -> np.ndarray:
        """Indices of the articles that may be picked, in order."""
        return np.flatnonzero(~np.asarray(self.labelled, dtype=bool))


def _dense(matrix: Any) -> np.ndarray:
    return matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)


def _unit_rows(vectors: Any) -> Any:
    """Rows scaled to length 1 (a zero row stays zero), so that a dot product is a cosine."""
    from sklearn.preprocessing import normalize

    return normalize(vectors)


def _distances(pool: Any, centres: Any) -> np.ndarray:
    """Cosine distance of each row of ``pool`` to its nearest row of ``centres`` (unit rows both), rounded to 12
    places so that equal vectors tie exactly."""
    return np.round(1.0 - _dense(pool @ centres.T).max(axis=1), 12)


def k_centre(vectors: Any, count: int, candidates: np.ndarray, centres: np.ndarray) -> list[int]:
    """Greedy k-centre under cosine distance: ``count`` of ``candidates`` (indices of ``vectors``' rows), each the
    farthest from ``centres`` and the picks before it; ties to the lower index. Without centres the first pick
    is the candidate nearest the candidates' mean."""
    candidates = np.unique(np.asarray(candidates, dtype=int))
    count = min(count, len(candidates))
    if count == 0:
        return []
    rows = _unit_rows(vectors)
    pool = rows[candidates]
    picked: list[int] = []
    if len(centres):
        distance = _distances(pool, rows[np.asarray(centres, dtype=int)])
    else:
        mean = np.asarray(pool.mean(axis=0)).reshape(1, -1)
        picked.append(int(np.argmax(np.round(_dense(pool @ mean.T).ravel(), 12))))
        distance = _distances(pool, pool[picked[:1]])
        distance[picked] = -np.inf
    while len(picked) < count:
        best = int(np.argmax(distance))
        picked.append(best)
        distance = np.minimum(distance, _distances(pool, pool[[best]]))
        distance[picked] = -np.inf
    return [int(candidates[i]) for i in picked]


def _by_uncertainty(pool: Pool, candidates: np.ndarray, count: int) -> np.ndarray:
    if pool.uncertainty is None:
        raise ValueError("this strategy needs the articles' uncertainty (score them with a model)")
    scores = np.asarray(pool.uncertainty, dtype=float)[candidates]
    return candidates[np.lexsort((candidates, -scores))][:count]


def pick_uncertain(pool: Pool, count: int, seed: int = 0) -> list[int]:
    """The ``count`` most uncertain unlabelled articles, most uncertain first."""
    return [int(i) for i in _by_uncertainty(pool, pool.unlabelled(), count)]


def pick_diverse(pool: Pool, count: int, seed: int = 0) -> list[int]:
    """Greedy k-centre over the unlabelled articles, the labelled ones as the first centres."""
    return k_centre(pool.vectors, count, pool.unlabelled(), np.flatnonzero(pool.labelled))


def pick_both(pool: Pool, count: int, seed: int = 0) -> list[int]:
    """k-centre among the :data:`BOTH_SHORTLIST` × ``count`` most uncertain unlabelled articles."""
    shortlist = _by_uncertainty(pool, pool.unlabelled(), BOTH_SHORTLIST * count)
    return k_centre(pool.vectors, count, shortlist, np.flatnonzero(pool.labelled))


def pick_random(pool: Pool, count: int, seed: int = 0) -> list[int]:
    """``count`` unlabelled articles drawn uniformly with ``seed``."""
    return [int(i) for i in np.random.default_rng(seed).permutation(pool.unlabelled())[:count]]


@dataclass(frozen=True)
class Strategy:
    """A selection rule: its name, one line on what it does, and the function that picks."""

    name: str
    doc: str
    pick: Callable[[Pool, int, int], list[int]]


STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("uncertainty", "closest to the thresholds, summed over units and labels", pick_uncertain),
        Strategy("diversity", "greedy k-centre on the article vectors", pick_diverse),
        Strategy("both", f"k-centre among the {BOTH_SHORTLIST}×N most uncertain", pick_both),
        Strategy("random", "a uniform draw (the yardstick)", pick_random),
    )
}


def select(pool: Pool, strategy: str, count: int, *, seed: int = 0) -> list[int]:
    """Indices of up to ``count`` unlabelled articles of ``pool`` picked by ``strategy`` (a key of
    :data:`STRATEGIES`), in the order picked."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if count < 0:
        raise ValueError(f"count must be 0 or more, got {count}")
    return STRATEGIES[strategy].pick(pool, count, seed)
