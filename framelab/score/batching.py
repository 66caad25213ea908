"""Articles grouped by size in tokens rather than by count, for engines whose unit of work is a batch.

A count of articles says little about the work in it: a batch of 128 headlines and one of 128 long reports differ a
hundredfold. :func:`token_chunks` cuts a stream of articles, in order, into chunks of at most ``max_tokens``
tokens (an article longer than that is a chunk of its own), and :func:`shard_count` sizes a hash split
(:mod:`framelab.score.shard`) so that each shard holds about ``max_tokens`` tokens.

Tokens are estimated without a tokenizer (:func:`approx_tokens`: words and punctuation marks), so that the
driver of a cluster can size the work before any model loads, and every machine counts alike. A WordPiece or
BPE tokenizer gives somewhat more pieces than words on news text; the budget is a size, not a hard limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator

from framelab.types import Article

_PIECES = re.compile(r"\w+|[^\w\s]")


def approx_tokens(text: str) -> int:
    """The words and punctuation marks of ``text``: a tokenizer-free estimate of its tokens."""
    return len(_PIECES.findall(text))


def token_chunks(
    articles: Iterable[Article], max_tokens: int, *, count: Callable[[str], int] = approx_tokens
) -> Iterator[list[Article]]:
    """``articles`` in order, in chunks of at most ``max_tokens`` tokens (``count`` of each text); an article
    longer than ``max_tokens`` makes a chunk alone."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    chunk: list[Article] = []
    used = 0
    for article in articles:
        size = count(article.text)
        if chunk and used + size > max_tokens:
            yield chunk
            chunk, used = [], 0
        chunk.append(article)
        used += size
    if chunk:
        yield chunk


def shard_count(total_tokens: int, max_tokens: int, *, workers: int = 1, articles: int | None = None) -> int:
    """How many hash shards to cut ``total_tokens`` into: about ``max_tokens`` each, at least one per worker, and
    never more than the ``articles`` there are."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    wanted = max(workers, math.ceil(total_tokens / max_tokens), 1)
    return min(wanted, articles) if articles else wanted
