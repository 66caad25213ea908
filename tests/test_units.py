"""Sentence and line units: boundaries on newspaper text, and exact offsets."""

from __future__ import annotations

import pysbd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import framelab.units
from framelab.types import Article
from framelab.units import _pysbd_sentences, _trim, iter_lines, split_units


def _texts(article: Article, kind: str) -> list[str]:
    units = split_units(article, kind)
    for u in units:
        assert article.text[u.start : u.end] == u.text
    return [u.text for u in units]


def test_abbreviations_initials_and_quotes_do_not_end_sentences() -> None:
    text = 'Mr. J. R. Malone said the U.S. plan "is a disgrace." He left at 5 p.m. on Friday. Dr. Okafor agreed!'
    assert _texts(Article("a", text), "sentence") == [
        'Mr. J. R. Malone said the U.S. plan "is a disgrace."',
        "He left at 5 p.m. on Friday.",
        "Dr. Okafor agreed!",
    ]


def test_run_on_article_gets_sensible_boundaries() -> None:
    title = "Council row over harbour levy deepens"
    body = (
        "The council met on Tuesday to vote on a resolutionThe councillors, citing costs, rejected it."
        "Mayor Brandt called the vote a disgrace.It was the third defeat this year.No. 10 Quay Street stays shut."
    )
    text = f"{title}\n\n{body}\n"
    assert _texts(Article("r", text), "sentence") == [
        title,
        "The council met on Tuesday to vote on a resolution",
        "The councillors, citing costs, rejected it.",
        "Mayor Brandt called the vote a disgrace.",
        "It was the third defeat this year.",
        "No. 10 Quay Street stays shut.",
    ]


def test_brand_names_and_decimals_are_not_cut() -> None:
    text = "Sales of the iPhone rose 3.5 per cent, eBay said. McDonald reported on YouTube."
    assert _texts(Article("b", text), "sentence") == [
        "Sales of the iPhone rose 3.5 per cent, eBay said.",
        "McDonald reported on YouTube.",
    ]


def test_lines_skip_blank_lines_and_keep_numbers_with_crlf() -> None:
    text = "Title here\r\n\r\n  First paragraph.  \r\nSecond paragraph.\r\n"
    assert list(iter_lines(text)) == [(1, 0, 10), (3, 16, 32), (4, 36, 53)]
    units = split_units(Article("c", text), "line")
    assert [u.text for u in units] == ["Title here", "First paragraph.", "Second paragraph."]
    assert [u.line for u in units] == [1, 3, 4]


def test_article_unit_and_bom() -> None:
    text = "\ufeffHeadline\n\nBody text."
    (unit,) = split_units(Article("d", text), "article")
    assert (unit.start, unit.text) == (1, "Headline\n\nBody text.")
    assert _texts(Article("d", text), "sentence")[0] == "Headline"


def test_unknown_unit_kind() -> None:
    with pytest.raises(ValueError, match="unknown unit kind"):
        split_units(Article("e", "x"), "paragraph")


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc ABC.!?\n\r\"“”'é,;")), max_size=200))
def test_units_are_ordered_disjoint_and_lose_no_visible_character(text: str) -> None:
    for kind in ("sentence", "line"):
        units = split_units(Article("p", text), kind)
        covered = set()
        previous_end = 0
        for u in units:
            assert text[u.start : u.end] == u.text
            assert u.start >= previous_end and u.start < u.end
            previous_end = u.end
            covered.update(range(u.start, u.end))
        visible = {i for i, ch in enumerate(text) if not ch.isspace()}
        assert visible <= covered


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab AB.!?\"“”'…\u00a0\t,;")), max_size=120))
def test_sentence_starts_are_where_pysbd_char_span_puts_them(text: str) -> None:
    # The splitter places pysbd's sentences itself (a regex per sentence was the
    # slow part of pysbd); the starts must stay those of pysbd's own char_span.
    expected = [
        s.start for s in pysbd.Segmenter(language="en", clean=False, char_span=True).segment(text) if s.start > 0
    ]
    edges = [0, *expected, len(text)]
    want = [_trim(text, a, b) for a, b in zip(edges, edges[1:])]
    assert _pysbd_sentences(text, 0, len(text)) == want


def test_repeated_sentences_and_ellipses_are_placed_in_order() -> None:
    text = "Yes. Yes. Yes. For rulers are not a terror to the good, but to the evil. . . For he is."
    starts = [s for s, _ in _pysbd_sentences(text, 0, len(text))]
    assert starts == [
        0,
        *(s.start for s in pysbd.Segmenter(language="en", clean=False, char_span=True).segment(text)[1:]),
    ]
    assert starts[:3] == [0, 5, 10]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab AB1.!?\"“”'’»)(…\u00a0\t,;:")), max_size=60))
def test_pieces_that_skip_pysbd_get_pysbd_s_answer(text: str) -> None:
    # Short texts over these marks hit both sides of the no-inner-boundary shortcut.
    expected = [
        s.start for s in pysbd.Segmenter(language="en", clean=False, char_span=True).segment(text) if s.start > 0
    ]
    edges = [0, *expected, len(text)]
    assert _pysbd_sentences(text, 0, len(text)) == [_trim(text, a, b) for a, b in zip(edges, edges[1:])]


def test_a_line_with_one_closing_mark_skips_pysbd(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pysbd() -> None:
        raise AssertionError("pysbd was called")

    text = "A headline with no stop\nOne sentence, with a comma, ends here.\nDoes it?  \n"
    monkeypatch.setattr(framelab.units, "_segmenter", no_pysbd)
    units = split_units(Article("s", text), "sentence")
    assert [u.text for u in units] == ["A headline with no stop", "One sentence, with a comma, ends here.", "Does it?"]
    with pytest.raises(AssertionError, match="pysbd was called"):
        split_units(Article("s", "It ended.. Or did it"), "sentence")
