"""Articles as sentence vectors: each sentence cut with its offsets and encoded once by the frozen encoder.

A sentence's vector is :func:`framelab.encoding.sentence_vectors` (the
encoder's mean last-layer token vector, unit length; a sentence longer than
``max_length`` tokens is cut there). The sentences of many articles are
encoded together, so batches of similar lengths form across articles.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from framelab.encoding import sentence_vectors
from framelab.types import Article
from framelab.unit_pool import split_many


@dataclass
class ArticleSentences:
    """One article's sentences: ``(start, end)`` offsets into its text and one vector each."""

    offsets: list[tuple[int, int]]
    vectors: np.ndarray


def article_sentences(
    tokenizer, encoder, texts: list[str], *, max_length: int, batch_size: int = 64, split_workers: int | None = None
) -> list[ArticleSentences]:
    """Every text cut into sentences (:func:`framelab.unit_pool.split_many`) and each sentence encoded."""
    units = split_many([Article(str(i), text) for i, text in enumerate(texts)], "sentence", workers=split_workers)
    flat = [u.text for own in units for u in own]
    vectors = sentence_vectors(tokenizer, encoder, flat, max_length=max_length, batch_size=batch_size)
    out, cursor = [], 0
    for own in units:
        out.append(ArticleSentences([(u.start, u.end) for u in own], vectors[cursor : cursor + len(own)]))
        cursor += len(own)
    return out
