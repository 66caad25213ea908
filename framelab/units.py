"""Cutting articles into units (sentences, lines, the whole article) with exact offsets.

Sentences come from pysbd (rule-based, offset-preserving, knows abbreviations,
initials and quotes), run on one line at a time because newspaper lines are
paragraphs and pysbd's cost grows with input length. pysbd does not split
run-on text scraped without spaces ("…the vote.The council…" or
"…a resolutionThe lawmakers…"), which is common in the SemEval corpora, so a
second pass splits there (:func:`_runon_cuts`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import pysbd

from framelab.types import Article, Unit

UNIT_KINDS = ("sentence", "line", "article")

# A lowercase word (two letters or more) glued to a capitalised word:
# "resolutionThe", "onThe". One-letter prefixes (iPhone, eBay) are not cut.
_GLUED_WORDS = re.compile(r"(?<![A-Za-z])[a-z]{2,}(?=[A-Z][a-z]{2,})")
# A sentence end glued to the next sentence: "vote.The", "said!“We".
_GLUED_STOP = re.compile(r"(?<=[a-z0-9)][.!?])(?=[\"“‘']?[A-Z][a-z])")
# The word before a glued full stop, to tell "vote.The" from "Mr.Brandt".
_WORD_BEFORE_STOP = re.compile(r"([A-Za-z]+)[.!?]\Z")
# Where a too-long line may be cut before pysbd sees it: after a sentence end.
_LIKELY_BREAK = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")
# pysbd's cost grows quadratically with its input; a 1 MB line would take
# most of an hour, 2,000-character pieces keep it linear.
MAX_PYSBD_CHARS = 2000
# Where pysbd's English rules can end a sentence: terminal punctuation, ")" for list
# items, and a closing quote before a space.
_BOUNDARY_MARK = re.compile(r"[.!?…。．！？)]|[\"”»'’](?=\s)")
# One terminal mark and whitespace at the end of a piece, after which no sentence can start.
# More can: pysbd makes the second "." of "weeks.." a sentence, and so the "”" of "end.”".
_CLOSING_RUN = re.compile(r"[.!?…。．！？]?\s*\Z")
# Lowercase abbreviations that may precede a capitalised word without a space.
_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "prof", "gen", "sen", "rep", "gov", "vs", "no", "jr", "sr", "approx", "etc"}
)


@lru_cache(maxsize=1)
def _segmenter() -> pysbd.Segmenter:
    return pysbd.Segmenter(language="en", clean=False)


def iter_lines(text: str) -> Iterator[tuple[int, int, int]]:
    """Yield ``(line_number, start, end)`` for each line with visible text.

    Line numbers are 1-based and count every line, empty ones included, as the
    SemEval-2023 subtask-3 files do. ``end`` excludes the newline and any
    carriage return; leading and trailing whitespace is trimmed.
    """
    pos = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        start, end = _trim(text, pos, pos + len(raw))
        if start < end:
            yield number, start, end
        pos += len(raw) + 1


def _blank(char: str) -> bool:
    # A byte-order mark is invisible, so it never starts a unit.
    return char.isspace() or char == "\ufeff"


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and _blank(text[start]):
        start += 1
    while end > start and _blank(text[end - 1]):
        end -= 1
    return start, end


def _runon_cuts(text: str, start: int, end: int) -> list[int]:
    """Offsets inside ``text[start:end]`` where glued sentences should be cut."""
    piece = text[start:end]
    cuts = []
    for match in _GLUED_WORDS.finditer(piece):
        cuts.append(start + match.end())
    for match in _GLUED_STOP.finditer(piece):
        word = _WORD_BEFORE_STOP.search(piece, max(0, match.start() - 16), match.start())
        if word and word.group(1).lower() in _ABBREVIATIONS:
            continue
        cuts.append(start + match.start())
    return sorted(set(cuts))


def _bounded_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut ``text[start:end]`` into pieces of at most :data:`MAX_PYSBD_CHARS`.

    Each cut falls after the last likely sentence end in the second half of
    the window, else at the last space, else at the limit.
    """
    pieces = []
    while end - start > MAX_PYSBD_CHARS:
        limit = start + MAX_PYSBD_CHARS
        cut = None
        for match in _LIKELY_BREAK.finditer(text, start + MAX_PYSBD_CHARS // 2, limit):
            cut = match.end()
        if cut is None:
            space = text.rfind(" ", start + 1, limit)
            cut = space + 1 if space > start else limit
        pieces.append((start, cut))
        start = cut
    pieces.append((start, end))
    return pieces


def _place(piece: str, sentence: str, prior_end: int) -> tuple[int, int] | None:
    """Where pysbd's ``char_span`` places ``sentence`` in ``piece``.

    That is its first occurrence, trailing whitespace included, that ends after
    ``prior_end``, scanning left to right without overlaps as ``re.finditer``
    does. Returns ``(start, end)``, or ``None`` where pysbd drops the sentence.
    """
    pos = 0
    while (found := piece.find(sentence, pos)) >= 0:
        end = found + len(sentence)
        while end < len(piece) and piece[end].isspace():
            end += 1
        if end > prior_end:
            return found, end
        pos = end if end > found else found + 1
    return None


def _pysbd_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence offsets that pysbd finds in ``text[start:end]``, losing no character."""
    piece = text[start:end]
    if not piece[:1].isspace() and not _BOUNDARY_MARK.search(piece, 0, _CLOSING_RUN.search(piece).start()):
        # No place for a second sentence to start, so pysbd's answer is known
        # (leading whitespace would give pysbd an empty first sentence). A
        # third of news lines are like this, and pysbd is most of scoring's
        # cost besides the forward pass (docs/benchmarks.md, "Speed").
        return [_trim(text, start, end)]
    found: list[int] = []
    prior_end = 0
    # pysbd places its sentences with one freshly compiled regex per sentence,
    # which also evicts pysbd's own patterns from the ``re`` cache: that doubled
    # the cost of splitting. Its processor's sentences are placed here by the
    # same rule with ``str.find``, so the offsets are the ones pysbd gives.
    for sentence in _segmenter().processor(piece).process():
        if span := _place(piece, sentence, prior_end):
            found.append(span[0])
            prior_end = span[1]
    # Cutting only at sentence starts folds whatever pysbd skipped into the
    # preceding sentence, so no character is lost.
    edges = [start, *(start + s for s in found if s > 0), end]
    return [_trim(text, a, b) for a, b in zip(edges, edges[1:])]


def _line_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence offsets within one line of ``text``.

    Glued sentences are cut first, so that pysbd sees "No. 10 Quay Street"
    rather than "year.No. 10 Quay Street".
    """
    cuts = _runon_cuts(text, start, end)
    sentences = []
    for a, b in zip([start, *cuts], [*cuts, end]):
        for c, d in _bounded_pieces(text, *_trim(text, a, b)):
            c, d = _trim(text, c, d)
            if c < d:
                sentences.extend((s, e) for s, e in _pysbd_sentences(text, c, d) if s < e)
    return sentences


def split_units(article: Article, kind: str) -> list[Unit]:
    """Cut ``article`` into units of ``kind`` (one of :data:`UNIT_KINDS`).

    Every unit keeps its article id, index, offsets and text
    (``article.text[unit.start:unit.end] == unit.text``). Sentence and line
    units also carry the 1-based line number they lie on.
    """
    text = article.text
    if kind == "article":
        start, end = _trim(text, 0, len(text))
        return [Unit(article.id, 0, start, end, text[start:end])]
    if kind not in UNIT_KINDS:
        raise ValueError(f"unknown unit kind {kind!r}; choose one of {', '.join(UNIT_KINDS)}")
    units: list[Unit] = []
    for number, start, end in iter_lines(text):
        pieces = [(start, end)] if kind == "line" else _line_sentences(text, start, end)
        for s, e in pieces:
            units.append(Unit(article.id, len(units), s, e, text[s:e], line=number))
    return units
