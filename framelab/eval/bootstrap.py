"""95% percentile-bootstrap intervals of report figures, resampling whole groups (articles, FNC-1 stories).

Why groups: the units of one article share its author, topic and annotator, and the pairs of one
FNC-1 story share its headlines and bodies, so they are not independent examples. A dev split of 72
articles holds 72 independent draws however many units it has; resampling units would pretend
otherwise and give intervals far too narrow. Each resample draws as many groups as the split holds, with replacement,
and keeps every example of a drawn group (as often as the group was drawn). The caller says which
group each example is in (:func:`groups_of`: the article its id names, or the FNC-1 story its split's
pairs put it in).

Why counts: every figure framelab reports is a ratio of sums over examples (F1 from hits and counts,
accuracy, the FNC-1 relative score), so each example is reduced to a few additive counts, the counts
to one row per group, and all resamples' totals to one matrix product: 1000 resamples of 10,000
examples take a fraction of a second. The figure of the totals of one resample is the figure of that
resample. The percentiles are numpy's; nothing else here is statistics.

A **paired** bootstrap scores two models on the same resamples, so that what both get right or wrong
together cancels out of their difference (:func:`paired_bootstrap`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from framelab.figures import with_interval
from framelab.types import article_of

if TYPE_CHECKING:
    from framelab.splits import TaskData

#: Share of the resampled figures inside an interval.
CONFIDENCE = 0.95
#: Resamples behind every interval, unless told otherwise (``framelab eval --resamples``).
DEFAULT_RESAMPLES = 1000
#: Seed of the resampling, so that a report's intervals are the same on every run.
DEFAULT_SEED = 0
#: Below this many groups a report warns that its intervals are rough.
MIN_GROUPS = 100

Interval = tuple[float, float]


def example_groups(ids: Sequence[str], level: str) -> list[str]:
    """The article of each example id: ``<article>#<unit>`` for units (:func:`framelab.types.article_of`),
    ``<article>:<start>-<end>`` for spans, the id itself for articles."""
    if level == "span":
        return [i.rsplit(":", 1)[0] for i in ids]
    return [article_of(i) for i in ids]


def groups_of(data: TaskData, level: str) -> list[str]:
    """Each example's group: the one its split loader gave (FNC-1: the pair's story, the group the folds deal),
    else the article its id names (:func:`example_groups`)."""
    return list(data.groups) if data.groups is not None else example_groups(data.ids, level)


@dataclass(frozen=True)
class Resamples:
    """How often each group is drawn in each resample: ``weights[r, g]`` for group ``groups[g]``."""

    groups: tuple[str, ...]
    weights: np.ndarray
    seed: int

    @classmethod
    def draw(cls, groups: Iterable[str], n: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Resamples:
        """``n`` resamples of the distinct ``groups``, each as many groups as there are, drawn with replacement."""
        distinct = tuple(sorted(set(groups)))
        if not distinct:
            raise ValueError("no examples to resample")
        if n < 1:
            raise ValueError(f"the bootstrap needs at least 1 resample, got {n}")
        size = len(distinct)
        picks = np.random.default_rng(seed).integers(0, size, size=(n, size))
        # Counting the picks of all resamples at once: resample r's picks land in bins r*size .. r*size+size-1.
        flat = (picks + size * np.arange(n)[:, None]).ravel()
        return cls(distinct, np.bincount(flat, minlength=n * size).reshape(n, size).astype(float), seed)

    @property
    def n(self) -> int:
        """Number of resamples."""
        return self.weights.shape[0]

    def totals(self, counts: np.ndarray, groups: Sequence[str]) -> np.ndarray:
        """Every resample's sums of the per-example ``counts`` (example ``i`` in group ``groups[i]``).

        Returns an array of shape ``(n, *counts.shape[1:])``.
        """
        counts = np.asarray(counts, dtype=float)
        if len(groups) != len(counts):
            raise ValueError(f"{len(counts)} examples but {len(groups)} group ids: give one group per example")
        index = {g: k for k, g in enumerate(self.groups)}
        unknown = sorted(set(groups) - index.keys())
        if unknown:
            raise ValueError(f"{len(unknown)} group(s) were not drawn from, e.g. {unknown[0]!r}")
        rows = np.fromiter((index[g] for g in groups), dtype=np.int64, count=len(groups))
        per_group = np.zeros((len(self.groups), *counts.shape[1:]))
        np.add.at(per_group, rows, counts)
        return np.tensordot(self.weights, per_group, axes=1)

    def describe(self, noun: str = "articles") -> dict:
        """What ``metrics.json`` says of the intervals, with a warning when there are few groups."""
        info = {
            "method": "percentile bootstrap, resampling whole groups",
            "confidence": CONFIDENCE,
            "resamples": self.n,
            "seed": self.seed,
            "groups": noun,
            "n_groups": len(self.groups),
        }
        if len(self.groups) < MIN_GROUPS:
            info["warning"] = few_groups_warning(len(self.groups), noun)
        return info


def few_groups_warning(n_groups: int, noun: str = "articles") -> str:
    """The warning line of a split with fewer than :data:`MIN_GROUPS` groups."""
    return (
        f"only {n_groups} {noun} in this split (fewer than {MIN_GROUPS}): its figures rest on few independent "
        f"{noun}, and with so few the 95% intervals are rough (a percentile bootstrap tends to make them too narrow)"
    )


def percentile_interval(values: np.ndarray) -> np.ndarray:
    """The 2.5th and 97.5th percentiles over resamples (axis 0): shape ``(2, *values.shape[1:])``."""
    tail = 100 * (1 - CONFIDENCE) / 2
    return np.percentile(np.asarray(values, dtype=float), [tail, 100 - tail], axis=0)


def intervals_of(values):
    """The same nesting of dicts as ``values`` (resampled figures, one array of ``n`` each), with intervals."""
    if isinstance(values, dict):
        return {k: intervals_of(v) for k, v in values.items()}
    low, high = percentile_interval(values)
    return (float(low), float(high))


def attach(scores: dict, intervals: dict) -> dict:
    """A copy of ``scores`` with each interval kept beside its figure (:data:`framelab.figures.INTERVAL_KEY`).

    ``intervals`` mirrors ``scores``: a tuple at ``intervals[k]`` is the interval of ``scores[k]``; a dict
    there holds the intervals of the figures in ``scores[k]``.
    """
    out = dict(scores)
    here = {k: [v[0], v[1]] for k, v in intervals.items() if isinstance(v, tuple)}
    if here:
        out["ci95"] = {**scores.get("ci95", {}), **here}
    for key, value in intervals.items():
        if isinstance(value, dict):
            out[key] = attach(scores[key], value)
    return out


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    top, bottom = np.broadcast_arrays(np.asarray(top, dtype=float), np.asarray(bottom, dtype=float))
    return np.divide(top, bottom, out=np.zeros(top.shape), where=bottom > 0)


def prf(credits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of summed credits ``[..., (hits of predictions, predictions, hits of gold, gold)]``.

    Binary decisions credit ``[tp, predicted, tp, gold]``; SemEval's partial-credit span measure the
    overlap shares of each predicted and each gold span. A ratio over nothing is 0, as in
    ``framelab/metrics``.
    """
    precision = _ratio(credits[..., 0], credits[..., 1])
    recall = _ratio(credits[..., 2], credits[..., 3])
    return precision, recall, _ratio(2 * precision * recall, precision + recall)


def indicator_credits(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Per-example, per-label credits of 0/1 rows for :func:`prf`: shape ``(examples, labels, 4)``."""
    pred, gold = np.asarray(pred).astype(bool), np.asarray(gold).astype(bool)
    hits = pred & gold
    return np.stack([hits, pred, hits, gold], axis=-1).astype(float)


def f1_of(credits: np.ndarray) -> np.ndarray:
    """F1 of summed credits (:func:`prf`)."""
    return prf(credits)[2]


def micro_f1_of(credits: np.ndarray) -> np.ndarray:
    """Micro-F1 of summed per-label credits ``[..., labels, 4]``."""
    return prf(credits.sum(axis=-2))[2]


@dataclass(frozen=True)
class Tally:
    """One figure, example by example: additive ``counts`` per example and the ``figure`` of their sum.

    ``figure`` maps summed counts with a leading resample axis, ``(n, *counts.shape[1:])``, to ``(n,)``.
    """

    counts: np.ndarray
    groups: list[str]
    figure: Callable[[np.ndarray], np.ndarray]

    def point(self) -> float:
        """The figure of every example once."""
        return float(self.figure(np.asarray(self.counts, dtype=float).sum(axis=0)[None])[0])

    def resampled(self, resamples: Resamples) -> np.ndarray:
        """The figure of each resample."""
        return self.figure(resamples.totals(self.counts, self.groups))

    def interval(self, resamples: Resamples) -> Interval:
        """The figure's 95% interval."""
        return intervals_of(self.resampled(resamples))


def share_tally(hits: Sequence[bool], groups: Sequence[str]) -> Tally:
    """The share of examples with a hit (an accuracy), example by example."""
    hits = np.asarray(hits, dtype=float)
    return Tally(np.stack([hits, np.ones_like(hits)], axis=1), list(groups), lambda t: _ratio(t[:, 0], t[:, 1]))


@dataclass(frozen=True)
class Lead:
    """The figure a report leads with, per example, so that two models' reports compare pair by pair."""

    name: str
    ids: list[str]
    tally: Tally


@dataclass(frozen=True)
class PairedDifference:
    """A − B on the same resamples: the two figures, their difference, its 95% interval, and how often A leads."""

    a: float
    b: float
    a_interval: Interval
    b_interval: Interval
    difference: float
    interval: Interval
    #: Share of the resamples in which A's figure is above B's.
    a_ahead: float

    @property
    def inside_noise(self) -> bool:
        """Whether the difference's interval holds 0: the data cannot tell the two apart."""
        return self.interval[0] <= 0 <= self.interval[1]

    def verdict(self, a: str = "A", b: str = "B") -> str:
        """``A − B = +0.012 [−0.008, +0.031]: inside the noise (A ahead in 84% of resamples)``."""
        said = "inside the noise" if self.inside_noise else f"{a if self.difference > 0 else b} is better"
        diff = with_interval(self.difference, self.interval, signed=True)
        return f"{a} \u2212 {b} = {diff}: {said} ({a} ahead in {self.a_ahead:.0%} of resamples)"

    def as_dict(self) -> dict:
        """The comparison as ``compare.json`` keeps it."""
        return {
            "a": self.a,
            "b": self.b,
            "difference": self.difference,
            "a_ahead": self.a_ahead,
            "inside_noise": self.inside_noise,
            "ci95": {"a": list(self.a_interval), "b": list(self.b_interval), "difference": list(self.interval)},
        }


def paired_bootstrap(a: Tally, b: Tally, resamples: Resamples) -> PairedDifference:
    """A's figure minus B's over the same examples and the same resamples."""
    if list(a.groups) != list(b.groups):
        raise ValueError("a paired bootstrap needs both models' figures on the same examples, in the same order")
    da, db = a.resampled(resamples), b.resampled(resamples)
    return PairedDifference(
        a=a.point(),
        b=b.point(),
        a_interval=intervals_of(da),
        b_interval=intervals_of(db),
        difference=a.point() - b.point(),
        interval=intervals_of(da - db),
        a_ahead=float(np.mean(da > db)),
    )
