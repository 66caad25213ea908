"""``framelab score``: run saved models over articles and stream the results.

Articles are read and scored in chunks (``chunk_articles`` at a time), so the
units of many short articles share batches while memory stays flat however
large the corpus is; each chunk's results are handed to the writer before the
next chunk is read. Every unit of every article appears in the output, with or
without labels.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from framelab.predict import Predictor
from framelab.types import Article, Unit
from framelab.units import split_units


@dataclass
class Prediction:
    """One model's decision on one unit or article."""

    task: str
    labels: list[str]
    scores: dict[str, float]


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


@dataclass
class ScoreSummary:
    """Counts and throughput of a scoring run."""

    articles: int = 0
    units: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)


def _decisions(predictor: Predictor, probs: np.ndarray) -> list[Prediction]:
    names = predictor.meta.labels
    decided = predictor.decide(probs)
    return [
        Prediction(predictor.meta.task, [names[j] for j in np.flatnonzero(row)], {n: round(float(p), 4) for n, p in zip(names, prow)})
        for row, prow in zip(decided, probs)
    ]


def score_chunk(predictors: list[Predictor], articles: list[Article]) -> list[ScoredArticle]:
    """Score a list of articles with every model."""
    unit_kinds = sorted({p.meta.unit for p in predictors if not p.meta.article_level})
    scored = [ScoredArticle(a, [], {}) for a in articles]
    for kind in unit_kinds:
        per_article = [split_units(a, kind) for a in articles]
        flat = [ScoredUnit(kind, u) for units in per_article for u in units]
        texts = [s.unit.text for s in flat]
        for predictor in (p for p in predictors if not p.meta.article_level and p.meta.unit == kind):
            for item, pred in zip(flat, _decisions(predictor, predictor.probabilities(texts))):
                item.predictions[predictor.name] = pred
        cursor = 0
        for result, units in zip(scored, per_article):
            result.units.extend(flat[cursor : cursor + len(units)])
            cursor += len(units)
    texts = [a.text for a in articles]
    for predictor in (p for p in predictors if p.meta.article_level):
        for result, pred in zip(scored, _decisions(predictor, predictor.probabilities(texts))):
            result.predictions[predictor.name] = pred
    return scored


def score_stream(predictors: list[Predictor], articles: Iterable[Article], *, chunk_articles: int = 32, progress: bool = True) -> Iterator[ScoredArticle]:
    """Yield scored articles in input order, a chunk at a time, with a progress bar."""
    bar = tqdm(desc="scoring", unit=" articles", disable=not progress)
    units = 0
    started = time.perf_counter()
    iterator = iter(articles)
    while chunk := list(itertools.islice(iterator, chunk_articles)):
        for result in score_chunk(predictors, chunk):
            units += len(result.units)
            yield result
        bar.update(len(chunk))
        bar.set_postfix(units_per_s=f"{units / max(time.perf_counter() - started, 1e-9):.0f}")
    bar.close()


def load_predictors(model_dirs: list[str | Path], *, batch_size: int = 64, quantize: str | None = None) -> list[Predictor]:
    """Load each model folder, refusing two folders with the same name."""
    predictors = [Predictor(d, batch_size=batch_size, quantize=quantize) for d in model_dirs]
    names = [p.name for p in predictors]
    if len(set(names)) != len(names):
        raise ValueError(f"model folders must have distinct names (they key the output): {names}")
    return predictors


def score(
    model_dirs: list[str | Path],
    inputs: list[str | Path],
    *,
    fmt: str = "jsonl",
    out: str | Path | None = None,
    batch_size: int = 64,
    quantize: str | None = None,
    chunk_articles: int = 32,
    progress: bool = True,
) -> ScoreSummary:
    """Score ``inputs`` with every model and write them in ``fmt`` to ``out``.

    ``out`` may be omitted for jsonl and csv (standard output). Returns counts,
    elapsed seconds and the files written.
    """
    from framelab.score.inputs import iter_articles
    from framelab.score.writers import open_writer

    predictors = load_predictors(model_dirs, batch_size=batch_size, quantize=quantize)
    writer = open_writer(fmt, out, {p.meta.task for p in predictors})
    summary = ScoreSummary()
    started = time.perf_counter()
    try:
        for result in score_stream(predictors, iter_articles(inputs), chunk_articles=chunk_articles, progress=progress):
            writer.write(result)
            summary.articles += 1
            summary.units += len(result.units)
    except BaseException:
        writer.abort()
        raise
    summary.outputs = writer.close()
    summary.seconds = time.perf_counter() - started
    return summary
