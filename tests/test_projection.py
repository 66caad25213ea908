"""Projecting spans onto units: the overlap rule, clipping and line-label checks."""

from __future__ import annotations

from framelab.projection import ProjectionRule, ProjectionStats, apply_line_labels, project
from framelab.types import Article, Span
from framelab.units import split_units

TEXT = "Officials made a reckless choice. Critics were furious about it.\nA calm reply followed."


def _article(*spans: Span) -> Article:
    return Article("p1", TEXT, spans=list(spans))


def _span(phrase: str, label: str) -> Span:
    start = TEXT.index(phrase)
    return Span(start, start + len(phrase), label)


def test_unit_takes_label_of_overlapping_span_and_keeps_relative_span() -> None:
    article = _article(_span("reckless", "Loaded_Language"))
    units = split_units(article, "sentence")
    project(article, units, ProjectionRule(), ProjectionStats())
    assert [u.labels for u in units] == [["Loaded_Language"], [], []]
    (span,) = units[0].spans
    assert units[0].text[span.start : span.end] == "reckless"


def test_span_crossing_a_sentence_boundary_labels_both_sides_by_default() -> None:
    article = _article(_span("choice. Critics were furious", "Exaggeration-Minimisation"))
    units = split_units(article, "sentence")
    stats = ProjectionStats()
    project(article, units, ProjectionRule(), stats)
    assert [u.labels for u in units[:2]] == [["Exaggeration-Minimisation"], ["Exaggeration-Minimisation"]]
    assert [units[0].text[s.start : s.end] for s in units[0].spans] == ["choice."]
    assert [units[1].text[s.start : s.end] for s in units[1].spans] == ["Critics were furious"]
    assert stats.spans_crossing_units == 1


def test_fraction_rule_gives_the_span_to_the_unit_holding_most_of_it() -> None:
    article = _article(_span("choice. Critics were furious", "Exaggeration-Minimisation"))
    units = split_units(article, "sentence")
    project(article, units, ProjectionRule(min_fraction=0.5), ProjectionStats())
    assert [u.labels for u in units] == [[], ["Exaggeration-Minimisation"], []]
    # The clipped span is still kept on both units for span tagging.
    assert len(units[0].spans) == 1


def test_minimum_characters_rule() -> None:
    article = _article(_span("choice. Critics", "Doubt"))
    units = split_units(article, "sentence")
    project(article, units, ProjectionRule(min_chars=8), ProjectionStats())
    # "choice." shares 7 characters with sentence 1, "Critics" 7 with sentence 2.
    assert [u.labels for u in units] == [[], [], []]


def test_line_labels_are_compared_and_used_as_gold() -> None:
    article = _article(_span("reckless", "Loaded_Language"))
    article.line_labels = {1: ["Loaded_Language", "Doubt"], 2: []}
    units = split_units(article, "line")
    stats = ProjectionStats()
    project(article, units, ProjectionRule(), stats)
    apply_line_labels(article, units, stats, use_gold=True)
    assert stats.line_label_checks == 2 and stats.line_label_disagreements == 1
    assert [u.labels for u in units] == [["Doubt", "Loaded_Language"], []]
