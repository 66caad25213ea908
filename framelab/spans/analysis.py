"""From per-token tag probabilities of units to article spans, technique answers and scores.

Training (on dev predictions), ``framelab eval`` and ``framelab score`` share
these steps, so a model's dev figures, its report and its scored files agree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import cache

import numpy as np

from framelab.metrics import load_metric
from framelab.tagging import TaggedSpan, decode, span_label_scores
from framelab.types import Span

#: Global thresholds tried on dev when tuning (the best one is saved for every technique).
THRESHOLD_GRID = tuple(round(x, 2) for x in np.arange(0.2, 0.71, 0.05))

UnitTokens = tuple[np.ndarray, np.ndarray]


@cache
def _metric(name: str):
    return load_metric(name)


def article_spans(
    article_ids: list[str],
    unit_starts: list[int],
    texts: list[str],
    tokens: list[UnitTokens],
    labels: list[str],
    thresholds,
) -> dict[str, list[TaggedSpan]]:
    """Decoded spans of every unit, in article offsets, per article id."""
    found: dict[str, list[TaggedSpan]] = defaultdict(list)
    for aid, start, text, (offsets, probs) in zip(article_ids, unit_starts, texts, tokens):
        for s in decode(text, offsets, probs, labels, thresholds):
            found[aid].append(TaggedSpan(s.start + start, s.end + start, s.label, s.score))
    return found


def article_tokens(article_ids: list[str], unit_starts: list[int], tokens: list[UnitTokens]) -> dict[str, UnitTokens]:
    """Every token of an article's units with article offsets, in text order."""
    grouped: dict[str, list[UnitTokens]] = defaultdict(list)
    for aid, start, (offsets, probs) in zip(article_ids, unit_starts, tokens):
        if len(offsets):
            grouped[aid].append((offsets + start, probs))
    return {
        aid: (np.concatenate([o for o, _ in parts]), np.concatenate([p for _, p in parts]))
        for aid, parts in grouped.items()
    }


def classify_spans(
    tokens: UnitTokens | None, queries: list[tuple[int, int]], labels: list[str]
) -> list[tuple[int, int, str, float]]:
    """Name the technique of each queried ``[start, end)`` of one article.

    A technique's score for a span is the mean inside-probability of its
    tokens. An interval asked k times (a span with k techniques in the gold
    file) gets the k best techniques, each once.
    """
    answers = []
    asked = Counter(queries)
    for (start, end), times in asked.items():
        scores = span_label_scores(*tokens, len(labels), start, end) if tokens is not None else None
        if scores is None:
            scores = np.zeros(len(labels))
        for k in np.argsort(-scores, kind="stable")[:times]:
            answers.append((start, end, labels[int(k)], float(scores[k])))
    order = {q: i for i, q in enumerate(asked)}
    return sorted(answers, key=lambda a: order[(a[0], a[1])])


def ranked_answers(
    ids: list[str], probs: np.ndarray, labels: list[str]
) -> dict[str, list[tuple[int, int, str, float]]]:
    """Technique answers of a span classifier, per article.

    ``ids`` are ``<article>:<start>-<end>``, one per gold line (an interval
    with k techniques is listed k times) and ``probs`` the classifier's
    probabilities per line; an interval listed k times gets its k most
    probable techniques, each once.
    """
    rows: dict[str, list[int]] = defaultdict(list)
    for row, key in enumerate(ids):
        rows[key].append(row)
    answers: dict[str, list] = defaultdict(list)
    for key, where in rows.items():
        aid, interval = key.rsplit(":", 1)
        start, end = (int(x) for x in interval.split("-"))
        p = probs[where[0]]
        for k in np.argsort(-p, kind="stable")[: len(where)]:
            answers[aid].append((start, end, labels[int(k)], float(p[k])))
    return answers


def gold_from_ids(ids: list[str], targets: np.ndarray, labels: list[str]) -> dict[str, list[Span]]:
    """Gold spans per article from ``<article>:<start>-<end>`` ids and one-hot targets."""
    gold: dict[str, list[Span]] = defaultdict(list)
    for key, row in zip(ids, targets):
        aid, interval = key.rsplit(":", 1)
        start, end = (int(x) for x in interval.split("-"))
        gold[aid].append(Span(start, end, labels[int(row.argmax())]))
    return dict(gold)


def si_scores(predicted: dict[str, list], gold: dict[str, list[Span]]) -> dict:
    """SemEval-2020 span identification (labels ignored), plus label-aware scores per technique."""
    ids = sorted(gold)
    pred = [[[s.start, s.end, s.label] for s in predicted.get(i, [])] for i in ids]
    ref = [[[s.start, s.end, s.label] for s in gold[i]] for i in ids]
    return _metric("span_f1").compute(predictions=pred, references=ref, per_label=True)


def tc_scores(answers: dict[str, list[tuple[int, int, str, float]]], gold: dict[str, list[Span]]) -> dict:
    """Technique classification micro-F1 of the answers for the gold spans."""
    ids = sorted(gold)
    pred = [[[a[0], a[1], a[2]] for a in answers.get(i, [])] for i in ids]
    ref = [[[s.start, s.end, s.label] for s in gold[i]] for i in ids]
    return _metric("technique_f1").compute(predictions=pred, references=ref)


def answer_gold_spans(
    tokens_by_article: dict[str, UnitTokens], gold: dict[str, list[Span]], labels: list[str]
) -> dict[str, list]:
    """Technique answers for every gold span (the TC setting)."""
    return {
        aid: classify_spans(tokens_by_article.get(aid), [(s.start, s.end) for s in spans], labels)
        for aid, spans in gold.items()
    }


def tune_threshold(
    article_ids: list[str],
    unit_starts: list[int],
    texts: list[str],
    tokens: list[UnitTokens],
    labels: list[str],
    gold: dict[str, list[Span]],
) -> tuple[float, dict[float, float]]:
    """The global tag threshold with the best dev span-identification F1, and F1 per threshold tried."""
    tried = {}
    for threshold in THRESHOLD_GRID:
        found = article_spans(article_ids, unit_starts, texts, tokens, labels, [threshold] * len(labels))
        tried[threshold] = si_scores(found, gold)["f1"]
    best = max(tried, key=lambda t: (tried[t], -abs(t - 0.5)))
    return best, tried
