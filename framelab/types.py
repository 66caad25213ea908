"""Plain records shared by every stage: articles, labelled spans and units.

Offsets are always character offsets into ``Article.text`` exactly as read
(no newline translation, BOM removed only where the reader documents it),
start inclusive, end exclusive, so ``text[start:end]`` is the span's text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def article_of(example_id: str) -> str:
    """The article an example id names: ``<article>#<unit>`` for units and FNC-1 pairs (``<body>#<row>``), the id
    itself for articles.

    One home for the rule, below both the folds (which deal whole articles) and the bootstrap (which resamples them).
    """
    return example_id.rsplit("#", 1)[0]


@dataclass(frozen=True, order=True)
class Span:
    """A labelled character interval ``[start, end)`` inside some text."""

    start: int
    end: int
    label: str

    def overlap(self, start: int, end: int) -> int:
        """Number of characters this span shares with ``[start, end)``."""
        return max(0, min(self.end, end) - max(self.start, start))


@dataclass(frozen=True)
class StancePair:
    """One headline paired with an article (FNC-1: a row of the stances file; the article is its body).

    ``index`` is the pair's 0-based position in reading order, ``row`` its
    CSV record number (header = 1), ``source`` the file and line it starts on.
    """

    index: int
    row: int
    headline: str
    stance: str | None
    source: str


@dataclass
class Article:
    """One news article and every annotation a corpus gives for it.

    ``line_labels`` maps a 1-based line number to the technique names that the
    SemEval-2023 subtask-3 file gives for that line (paragraph-level gold).
    ``source`` names the file the text came from, for error messages.
    ``pairs`` are the headlines paired with this article as a body (FNC-1),
    each stored once with the body, not with a copy of it.
    """

    id: str
    text: str
    spans: list[Span] = field(default_factory=list)
    frames: list[str] | None = None
    genre: str | None = None
    stance_target: str | None = None
    stance: str | None = None
    line_labels: dict[int, list[str]] | None = None
    source: str | None = None
    pairs: list[StancePair] | None = None


@dataclass
class Unit:
    """A sentence, line or whole article cut from an article, with its labels.

    ``start``/``end`` index the article text; ``spans`` are the article spans
    that overlap the unit, clipped to it and re-based so that
    ``text[s.start:s.end]`` is the span's text inside the unit.
    """

    article_id: str
    index: int
    start: int
    end: int
    text: str
    labels: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    line: int | None = None
