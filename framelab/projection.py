"""Projecting article-level technique spans onto units.

Rule: a unit takes a span's label when the span and the unit share at least
``min_chars`` characters *and* that shared part is at least ``min_fraction`` of
the span's own length. The defaults (1 character, fraction 0) give a unit every
technique that touches it, the convention of the SemEval-2023 paragraph labels;
raise ``min_fraction`` to 0.5 to give a span only to the unit(s) holding most
of it.

Every overlapping span is also kept on the unit, clipped to it and re-based to
the unit's start, for span tagging.
"""

from __future__ import annotations

from dataclasses import dataclass

from framelab.types import Article, Span, Unit


@dataclass(frozen=True)
class ProjectionRule:
    """Minimum overlap for a span to label a unit (see module docstring)."""

    min_chars: int = 1
    min_fraction: float = 0.0

    def accepts(self, span: Span, start: int, end: int) -> bool:
        """Whether ``span`` labels the unit ``[start, end)``."""
        shared = span.overlap(start, end)
        if shared < max(1, self.min_chars):
            return False
        return shared / (span.end - span.start) >= self.min_fraction


@dataclass
class ProjectionStats:
    """Counts gathered while projecting, reported in the dataset stats."""

    spans: int = 0
    spans_without_unit: int = 0
    spans_crossing_units: int = 0
    line_label_disagreements: int = 0
    line_label_checks: int = 0


def project(article: Article, units: list[Unit], rule: ProjectionRule, stats: ProjectionStats) -> None:
    """Fill ``labels`` and ``spans`` of ``units`` from ``article.spans`` in place.

    Spans that fall wholly between units (whitespace only) are counted in
    ``stats.spans_without_unit``; this cannot happen for real text since a span
    is trimmed text.
    """
    for span in article.spans:
        stats.spans += 1
        touched = 0
        for unit in units:
            if span.end <= unit.start or span.start >= unit.end:
                continue
            touched += 1
            clipped = Span(max(span.start, unit.start) - unit.start, min(span.end, unit.end) - unit.start, span.label)
            unit.spans.append(clipped)
            if rule.accepts(span, unit.start, unit.end) and span.label not in unit.labels:
                unit.labels.append(span.label)
        if touched == 0:
            stats.spans_without_unit += 1
        elif touched > 1:
            stats.spans_crossing_units += 1
    for unit in units:
        unit.spans.sort()
        unit.labels.sort()


def apply_line_labels(article: Article, units: list[Unit], stats: ProjectionStats, *, use_gold: bool) -> None:
    """Compare span projection with SemEval-2023 paragraph labels on line units.

    Each line unit whose line has gold paragraph labels is checked against the
    labels projected from spans; disagreements are counted. With ``use_gold``
    the paragraph labels replace the projected ones (they are the official
    subtask-3 gold).
    """
    if not article.line_labels:
        return
    for unit in units:
        if unit.line is None or unit.line not in article.line_labels:
            continue
        gold = sorted(set(article.line_labels[unit.line]))
        stats.line_label_checks += 1
        if gold != unit.labels:
            stats.line_label_disagreements += 1
        if use_gold:
            unit.labels = gold
