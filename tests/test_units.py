"""Sentence and line units: boundaries on newspaper text, and exact offsets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from framelab.types import Article
from framelab.units import iter_lines, split_units


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
    assert _texts(Article("b", text), "sentence") == ["Sales of the iPhone rose 3.5 per cent, eBay said.", "McDonald reported on YouTube."]


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
