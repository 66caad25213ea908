"""Simple span baselines fitted on the train split, to read the model's figures against.

- **Span identification: a phrase lexicon.** Every trimmed training span of
  one to four words is a candidate phrase for its technique; a phrase is kept
  when it was annotated at least twice and at least ``min_precision`` of its
  occurrences in the training texts lie inside a span of that technique. On
  new text every occurrence of a kept phrase (whole words, case-insensitive)
  becomes a span of its most precise technique.
- **Technique classification: TF-IDF + logistic regression** on the text of
  each gold span (the classifier of ``framelab baseline``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

import numpy as np

from framelab.eval.baseline import baseline_probabilities
from framelab.spans.data import SpanSplit
from framelab.tagging import TaggedSpan, trim_span
from framelab.types import Span

_WORD = re.compile(r"\w+")
MAX_WORDS = 4


def _words(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _ngrams(words: list[tuple[str, int, int]]):
    for n in range(1, MAX_WORDS + 1):
        for i in range(len(words) - n + 1):
            yield tuple(w for w, _, _ in words[i : i + n]), words[i][1], words[i + n - 1][2]


class LexiconTagger:
    """The phrase-lexicon span baseline (see the module doc)."""

    def __init__(self, min_count: int = 2, min_precision: float = 0.3):
        self.min_count = min_count
        self.min_precision = min_precision
        self.lexicon: dict[tuple[str, ...], tuple[str, float]] = {}

    def fit(self, split: SpanSplit) -> LexiconTagger:
        """Learn phrases from the training articles' gold spans."""
        annotated: dict[tuple[str, ...], Counter] = defaultdict(Counter)
        for aid, spans in split.gold.items():
            text = split.article_texts[aid]
            for s in spans:
                start, end = trim_span(text, s.start, s.end)
                phrase = tuple(w for w, _, _ in _words(text[start:end]))
                if 0 < len(phrase) <= MAX_WORDS:
                    annotated[phrase][s.label] += 1
        occurrences: Counter = Counter()
        for text in split.article_texts.values():
            occurrences.update(gram for gram, _, _ in _ngrams(_words(text)) if gram in annotated)
        for phrase, labels in annotated.items():
            label, count = labels.most_common(1)[0]
            precision = count / max(occurrences[phrase], count)
            if count >= self.min_count and precision >= self.min_precision:
                self.lexicon[phrase] = (label, precision)
        return self

    def tag(self, text: str) -> list[TaggedSpan]:
        """Spans of every lexicon phrase in ``text``."""
        return [
            TaggedSpan(start, end, *self.lexicon[gram])
            for gram, start, end in _ngrams(_words(text))
            if gram in self.lexicon
        ]


def tfidf_technique_answers(
    train: SpanSplit, test_gold: dict[str, list[Span]], test_texts: dict[str, str], labels: list[str]
) -> dict[str, list]:
    """TF-IDF + logistic-regression technique answers for every gold span of the test articles."""
    index = {n: i for i, n in enumerate(labels)}
    train_texts, rows = [], []
    for aid, spans in train.gold.items():
        for s in spans:
            train_texts.append(train.article_texts[aid][s.start : s.end])
            rows.append(index[s.label])
    targets = np.eye(len(labels), dtype=np.int64)[rows]
    queries = [(aid, s.start, s.end) for aid, spans in test_gold.items() for s in spans]
    if not queries:
        return {}
    probs = baseline_probabilities(train_texts, targets, [test_texts[a][s:e] for a, s, e in queries], multi_label=False)
    return _distinct_per_interval(probs, queries, labels)


def _distinct_per_interval(probs: np.ndarray, queries: list, labels: list[str]) -> dict[str, list]:
    """An interval asked k times gets its k most probable techniques, as the model's answers do."""
    asked: dict[tuple, list[int]] = defaultdict(list)
    for row, query in enumerate(queries):
        asked[query].append(row)
    out: dict[str, list] = defaultdict(list)
    for (aid, start, end), rows in asked.items():
        p = probs[rows[0]]
        for k in np.argsort(-p, kind="stable")[: len(rows)]:
            out[aid].append((start, end, labels[int(k)], float(p[k])))
    return out
