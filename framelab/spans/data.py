"""The span tasks' view of a dataset folder: units with their spans and gold article spans (spans), or one
example per gold span (span_techniques)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framelab.spans.context import span_with_context
from framelab.splits import TaskData, label_inventory, load_table
from framelab.tagging import trim_span
from framelab.types import Span


@dataclass
class SpanSplit:
    """One split for span tagging.

    ``texts[i]`` is unit ``i`` (id ``unit_ids[i]``) of article ``article_ids[i]``,
    starting at ``unit_starts[i]`` in its article; ``unit_spans[i]`` are its
    spans re-based to the unit and trimmed. ``gold`` holds every article's
    spans in article offsets exactly as annotated, and ``article_texts`` the
    article texts.
    """

    article_ids: list[str]
    unit_starts: list[int]
    texts: list[str]
    unit_spans: list[list[Span]]
    gold: dict[str, list[Span]]
    article_texts: dict[str, str]
    unit_ids: list[str]


def load_span_split(dataset_dir: Path, split: str, labels: list[str] | None = None) -> tuple[SpanSplit, list[str]]:
    """Units and gold spans of ``split``; ``labels`` fixes the technique order (a trained model's).

    Spans of techniques outside ``labels`` are dropped everywhere, so the
    scores only judge techniques the model knows.
    """
    names = labels or label_inventory(dataset_dir)["techniques"]
    known = set(names)
    rows = load_table(dataset_dir, "units", split)
    unit_spans = []
    for text, spans in zip(rows["text"], rows["spans"]):
        kept = []
        for s in spans:
            if s["label"] not in known:
                continue
            start, end = trim_span(text, s["start"], s["end"])
            if start < end:
                kept.append(Span(start, end, s["label"]))
        unit_spans.append(kept)
    gold = {}
    texts = {}
    for row in load_table(dataset_dir, "articles", split):
        gold[row["id"]] = [Span(s["start"], s["end"], s["label"]) for s in row["spans"] if s["label"] in known]
        texts[row["id"]] = row["text"]
    return SpanSplit(
        list(rows["article_id"]),
        list(rows["start"]),
        list(rows["text"]),
        unit_spans,
        gold,
        texts,
        [f"{a}#{i}" for a, i in zip(rows["article_id"], rows["index"])],
    ), names


def concat_span_splits(first: SpanSplit, second: SpanSplit) -> SpanSplit:
    """The units and articles of both splits (which share no article), in order."""
    return SpanSplit(
        first.article_ids + second.article_ids,
        first.unit_starts + second.unit_starts,
        first.texts + second.texts,
        first.unit_spans + second.unit_spans,
        {**first.gold, **second.gold},
        {**first.article_texts, **second.article_texts},
        first.unit_ids + second.unit_ids,
    )


def subset_span_split(split: SpanSplit, rows: np.ndarray) -> SpanSplit:
    """The units at ``rows`` and the articles they belong to (pass whole articles, as k-fold does)."""
    pick = [int(r) for r in rows]
    articles = {split.article_ids[r] for r in pick}
    return SpanSplit(
        [split.article_ids[r] for r in pick],
        [split.unit_starts[r] for r in pick],
        [split.texts[r] for r in pick],
        [split.unit_spans[r] for r in pick],
        {a: spans for a, spans in split.gold.items() if a in articles},
        {a: text for a, text in split.article_texts.items() if a in articles},
        [split.unit_ids[r] for r in pick],
    )


def label_counts(split: SpanSplit) -> Counter:
    """Gold spans per technique."""
    return Counter(s.label for spans in split.gold.values() for s in spans)


def load_span_technique_split(
    dataset_dir: Path, split: str, labels: list[str] | None = None
) -> tuple[TaskData, list[str]]:
    """One example per gold span line: the span's text paired with its context, one technique.

    A span with k techniques gives k examples with the same input; ids are
    ``<article>:<start>-<end>``.
    """
    names = labels or label_inventory(dataset_dir)["techniques"]
    index = {name: i for i, name in enumerate(names)}
    ids, spans, contexts, rows = [], [], [], []
    for article in load_table(dataset_dir, "articles", split):
        for s in sorted(article["spans"], key=lambda s: (s["start"], s["end"], s["label"])):
            if s["label"] not in index:
                continue
            span, context = span_with_context(article["text"], s["start"], s["end"])
            ids.append(f"{article['id']}:{s['start']}-{s['end']}")
            spans.append(span)
            contexts.append(context)
            rows.append(index[s["label"]])
    targets = np.zeros((len(rows), len(names)), dtype=np.int64)
    targets[np.arange(len(rows)), rows] = 1
    return TaskData(ids, contexts, targets, spans), names
