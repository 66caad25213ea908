"""Properties that must hold for any text: JSONL round trips, unit offsets, span projection.

Texts are glued together from pieces chosen to hit the awkward cases (CRLF and
lone CR, unicode, quotes, abbreviations, glued sentences such as
``vote.The``, byte-order marks, unusual whitespace) mixed with arbitrary
unicode.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framelab.errors import ProblemLog
from framelab.projection import ProjectionRule, ProjectionStats, project
from framelab.readers import read_jsonl, write_jsonl
from framelab.readers.common import id_problem, is_empty_text
from framelab.types import Article, Span
from framelab.units import split_units

PIECES = [
    "The", "vote", "council", "said", "resolution", "It", "a", "I", "Dr.", "Mr.", "U.S.", "No.", "p.m.", "3.5",
    "é", "Ünïcode", "中文", "🚀", "naïve", "Ångström",
    ".", "!", "?", "…", ",", ";", "\"", "“", "”", "'", "‘", "’", "(", ")",
    " ", " ", "  ", "\n", "\r\n", "\r\n\r\n", "\r", "\t", "\u00a0", "\u2028", "\x85", "\ufeff",
    "vote.The", "resolutionThe", "said!“We", "x.Y", "disgrace.It",
]  # fmt: skip

texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=3)), max_size=60).map("".join)
# The whole file must stay well under 15 s: cutting and projecting short texts
# takes milliseconds, while each JSONL round trip writes (and fsyncs) a file.
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def spans_in(draw: st.DrawFn, text: str, labels: st.SearchStrategy[str], max_size: int = 6) -> list[Span]:
    """Spans with ``0 <= start < end <= len(text)``."""
    if not text:
        return []
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        out.append(Span(start, end, draw(labels)))
    return out


# --------------------------------------------------------------------------- (a) JSONL round trip

ids = st.one_of(
    st.sampled_from(["../../etc/passwd", "a/b", "ü-1", "x y", "0"]), st.text(min_size=1, max_size=12)
).filter(lambda i: id_problem(i) is None)
names = st.text(max_size=8)
maybe_names = st.none() | st.lists(names, max_size=3)


@st.composite
def articles(draw: st.DrawFn) -> Article:
    """Any article the JSONL format can hold."""
    text = draw(texts.filter(lambda t: not is_empty_text(t)))
    n_lines = text.count("\n") + 1
    line_labels = draw(st.none() | st.dictionaries(st.integers(1, n_lines), st.lists(names, max_size=2), max_size=3))
    return Article(
        id=draw(ids),
        text=text,
        spans=sorted(draw(spans_in(text, names))),
        frames=draw(maybe_names),
        genre=draw(st.none() | names),
        stance_target=draw(st.none() | names),
        stance=draw(st.none() | names),
        line_labels=line_labels,
        source=draw(st.none() | st.text(max_size=10)),
    )


@FILES
@given(st.lists(articles(), max_size=4, unique_by=lambda a: a.id))
def test_jsonl_round_trip_is_lossless(tmp_path_factory, corpus: list[Article]) -> None:
    path = Path(tmp_path_factory.mktemp("rt")) / "corpus.jsonl"
    corpus = sorted(corpus, key=lambda a: a.id)
    assert write_jsonl(corpus, path) == len(corpus)
    log = ProblemLog()
    back = read_jsonl(path, log=log)
    assert log.problems == []
    # The reader names the line an article came from when it has no source.
    expected = [a if a.source is not None else replace(a, source=f"{path}:{n}") for n, a in enumerate(corpus, start=1)]
    assert back == expected


# --------------------------------------------------------------------------- (b) units


@FAST
@given(texts)
def test_units_have_exact_offsets_keep_order_and_lose_nothing(text: str) -> None:
    article = Article("p", text)
    lines = text.split("\n")
    for kind in ("sentence", "line"):
        units = split_units(article, kind)
        covered: set[int] = set()
        previous_end = 0
        for index, unit in enumerate(units):
            assert unit.index == index
            assert text[unit.start : unit.end] == unit.text
            assert previous_end <= unit.start < unit.end, (kind, [(u.start, u.end) for u in units])
            previous_end = unit.end
            covered.update(range(unit.start, unit.end))
            # A unit lies inside the line it names, and never starts or ends blank.
            line_start = sum(len(line) + 1 for line in lines[: unit.line - 1])
            assert line_start <= unit.start and unit.end <= line_start + len(lines[unit.line - 1])
            assert not unit.text[0].isspace() and not unit.text[-1].isspace()
        # A byte-order mark is invisible: units may leave it out.
        visible = {i for i, ch in enumerate(text) if not ch.isspace() and ch != "\ufeff"}
        assert visible <= covered, (kind, sorted(visible - covered))


# --------------------------------------------------------------------------- (c) projection


@st.composite
def labelled_articles(draw: st.DrawFn) -> Article:
    """An article with random (possibly overlapping, repeated, crossing) spans."""
    text = draw(texts)
    return Article("p", text, spans=draw(spans_in(text, st.sampled_from(["A", "B", "C"]), max_size=8)))


@FAST
@given(labelled_articles(), st.sampled_from(["sentence", "line", "article"]))
def test_projection_gives_each_span_to_exactly_the_units_it_overlaps(article: Article, kind: str) -> None:
    units = split_units(article, kind)
    stats = ProjectionStats()
    project(article, units, ProjectionRule(), stats)
    text = article.text
    for unit in units:
        overlapping = [s for s in article.spans if s.start < unit.end and unit.start < s.end]
        clipped = sorted(
            Span(max(s.start, unit.start) - unit.start, min(s.end, unit.end) - unit.start, s.label) for s in overlapping
        )
        assert unit.spans == clipped
        # The default rule (any shared character) labels a unit with every overlapping span.
        assert unit.labels == sorted({s.label for s in overlapping})
        for s in unit.spans:
            assert 0 <= s.start < s.end <= len(unit.text)
            assert unit.text[s.start : s.end] == text[unit.start + s.start : unit.start + s.end]
    touched = [sum(1 for u in units if s.start < u.end and u.start < s.end) for s in article.spans]
    assert stats.spans == len(article.spans)
    assert stats.spans_without_unit == touched.count(0)
    assert stats.spans_crossing_units == sum(1 for t in touched if t > 1)
    # Each span's pieces, put back at their unit offsets, are exactly the
    # characters of the span that lie in some unit.
    for span in article.spans:
        pieces = {(u.start + s.start, u.start + s.end) for u in units for s in u.spans if s.label == span.label}
        for u in units:
            a, b = max(span.start, u.start), min(span.end, u.end)
            if a < b:
                assert (a, b) in pieces
