"""The spans task's view of a dataset folder: units with their spans, and gold article spans."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from datasets import load_from_disk

from framelab.errors import DataError, Problem
from framelab.spans.tags import trim_span
from framelab.types import Span


@dataclass
class SpanSplit:
    """One split for span tagging.

    ``texts[i]`` is unit ``i`` of article ``article_ids[i]``, starting at
    ``unit_starts[i]`` in its article; ``unit_spans[i]`` are its spans re-based
    to the unit and trimmed. ``gold`` holds every article's spans in article
    offsets exactly as annotated, and ``article_texts`` the article texts.
    """

    article_ids: list[str]
    unit_starts: list[int]
    texts: list[str]
    unit_spans: list[list[Span]]
    gold: dict[str, list[Span]]
    article_texts: dict[str, str]


def load_span_split(dataset_dir: Path, split: str, labels: list[str] | None = None) -> tuple[SpanSplit, list[str]]:
    """Units and gold spans of ``split``; ``labels`` fixes the technique order (a trained model's).

    Spans of techniques outside ``labels`` are dropped everywhere, so the
    scores only judge techniques the model knows.
    """
    dataset_dir = Path(dataset_dir)
    inventory = json.loads((dataset_dir / "labels.json").read_text(encoding="utf-8"))
    names = labels or inventory["techniques"]
    known = set(names)
    units = load_from_disk(str(dataset_dir / "units"))
    articles = load_from_disk(str(dataset_dir / "articles"))
    if split not in units:
        raise DataError(Problem(str(dataset_dir), None, f"has no '{split}' split (it has {', '.join(units)})", "rebuild it with a dev_fraction/test_fraction above 0"))
    rows = units[split]
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
    for row in articles[split]:
        gold[row["id"]] = [Span(s["start"], s["end"], s["label"]) for s in row["spans"] if s["label"] in known]
        texts[row["id"]] = row["text"]
    return SpanSplit(list(rows["article_id"]), list(rows["start"]), list(rows["text"]), unit_spans, gold, texts), names


def label_counts(split: SpanSplit) -> Counter:
    """Gold spans per technique."""
    return Counter(s.label for spans in split.gold.values() for s in spans)
