"""The HTML view of scored articles, apart from any file: what ``framelab score --format html`` writes and
``framelab serve`` answers to ``POST /score?format=html``.

One page. Each article opens with a summary: its article labels (frames, genre, stance toward each
target) and each unit model's most frequent labels with their counts. Units are highlighted in their
top label's colour, spans underlined inside their unit, the sentences that carry each predicted frame
highlighted, and so the body sentences a stance model read for its stance (``fnc1``: the closest to the
target, in the stance's colour); a tag naming the label and its score (a stance's evidence: the
sentence's similarity to the target) follows each unit, span and evidence sentence (all
scores also on hover). A label's colour (and, past the palette, its line style) is fixed by its
position in its model's label list, the same in every page of that model; one legend each for units,
spans and article labels. Printed, tags and lines stay and each article starts a page.

This module decides what the page shows (which labels, in which order, in which colour, with which
scores and offsets) and hands plain records to the Jinja2 templates in ``framelab/score/templates/``,
which hold every piece of markup and the stylesheet (``page.css``). The templates are rendered with
autoescape on, so every text that reaches them (article text, ids, model names, labels, targets) is
HTML-escaped there and nowhere else.

:func:`render_article` draws one article and :func:`render_page` the page around articles already
drawn, so a writer can draw each article as it arrives and the legend, which lists every label the
page shows, last; :func:`render_html` does both for a list of results held in memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import ClassVar

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from framelab.score.records import FrameEvidence, ModelLabels, Prediction, ScoredArticle, ScoredUnit, StanceEvidence
from framelab.tagging import TaggedSpan
from framelab.tasks import get_task

#: Label colours: Okabe and Ito's palette without its black, Paul Tol's muted
#: set, and three of his light set (its others sit too near a colour before
#: them), each set made to stay apart under the common colour-vision
#: deficiencies. A label's colour is fixed by its position in its model's
#: label list; the tags name every label, so no meaning rests on colour alone.
PALETTE = (
    *("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"),
    *("#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499"),
    *("#EE8866", "#FFAABB", "#BBCC33"),
)
#: Past the palette, positions cycle through it again with another line style (unit borders, span
#: underlines, tag borders).
LINE_STYLES = ("solid", "dashed", "dotted", "double")
#: How many of each unit model's labels an article's summary lists, most frequent first.
TOP_LABELS = 8
#: The legends of the page, in order: the labels shown on units, on spans, on articles (their titles are
#: in ``templates/page.html.j2``).
LEGENDS = ("unit", "span", "article")
#: Where the templates live, inside the package (package data, see pyproject.toml).
TEMPLATES = "templates"
#: The page's stylesheet (``templates/page.css``). Each labelled element carries its label's colour
#: (``--c``), tint (``--t``) and line style (``--b``) in its style attribute. Printed, the tags and
#: lines carry the labels whether or not backgrounds print.
STYLE = (resources.files("framelab.score") / TEMPLATES / "page.css").read_text(encoding="utf-8")

#: Autoescape on for every template, whatever its name: nothing from an article reaches the page unescaped.
#: StrictUndefined: a field the templates name that a record lacks is a bug, raised rather than drawn empty.
#: A template's last newline is kept, so that each section and the page end with one.
_ENV = Environment(
    loader=PackageLoader("framelab.score", TEMPLATES),
    autoescape=True,
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    auto_reload=False,
)


def label_look(position: int) -> tuple[str, str]:
    """The colour and line style of the label at ``position`` in its model's label list: the same in every
    page of that model."""
    return PALETTE[position % len(PALETTE)], LINE_STYLES[position // len(PALETTE) % len(LINE_STYLES)]


# The records the templates draw. ``kind`` tells the pieces of a text apart (templates/pieces.html.j2).


@dataclass(frozen=True)
class Chip:
    """A tag (``css`` ``tag``: in the text) or badge (``badge``: in a summary) naming ``label``, with ``note``:
    its score or count. ``name`` is the label, or ``target: label`` for a stance with several targets."""

    kind: ClassVar[str] = "chip"
    css: str
    label: str
    name: str
    note: str
    style: str


@dataclass(frozen=True)
class Underline:
    """A segment of a unit's text inside one or more predicted spans, underlined in its best span's look."""

    kind: ClassVar[str] = "span"
    title: str
    style: str
    text: str


@dataclass(frozen=True)
class Highlight:
    """A sentence that carries a predicted frame, highlighted in its best frame's look, or one a stance was read
    from, in the stance's look."""

    kind: ClassVar[str] = "evidence"
    title: str
    style: str
    text: str


@dataclass(frozen=True)
class UnitView:
    """One unit: its text (plain, underlined segments and span tags), its look (``style`` empty: no label
    colours it), a tag per label after it, and every score in its ``title``."""

    kind: ClassVar[str] = "unit"
    title: str
    style: str
    pieces: list[str | Underline | Chip]
    tags: list[Chip]


@dataclass(frozen=True)
class TextView:
    """The article's text, once per unit kind (``unit``: the kind) or per model with evidence (``evidence``: the
    model's name; ``target``: a stance model's target): plain strings between the drawn pieces."""

    pieces: list[str | UnitView | Highlight | Chip]
    unit: str | None = None
    evidence: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class SummaryLine:
    """One model in an article's summary: an article model's labels (``target`` its stance target), or a unit
    model's most frequent labels (``counted`` says what was counted, ``more`` how many labels are left out)."""

    name: str
    task: str
    badges: list[Chip]
    target: str | None = None
    counted: str = ""
    more: int = 0


@dataclass(frozen=True)
class ArticleView:
    """One article as its section draws it: its id, its summary, its texts (evidence first, then unit kinds)."""

    id: str
    summary: list[SummaryLine]
    texts: list[TextView]


@dataclass(frozen=True)
class Key:
    """A label in a legend, drawn in its look."""

    where: str
    label: str
    style: str


@dataclass
class Looks:
    """The look of every label of one page, and the labels the page has shown so far, by legend.

    ``positions`` holds each task's labels and their positions in the label list of its first model
    (another model's other labels follow): the position fixes the colour and line style. A label no
    model listed (results drawn by hand) takes the next free position of its task when first shown.
    """

    positions: dict[str, dict[str, int]] = field(default_factory=dict)
    #: The labels shown so far, by legend (``unit``, ``span``, ``article``): (task, label).
    shown: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: {where: set() for where in LEGENDS})

    @classmethod
    def of(cls, models: Sequence[ModelLabels]) -> Looks:
        """The looks of a page of ``models``, before any article: each label placed by its model's label list."""
        positions: dict[str, dict[str, int]] = {}
        for m in models:
            table = positions.setdefault(m.task, {})
            for label in m.labels:
                table.setdefault(label, len(table))
        return cls(positions)

    def style(self, task: str, label: str) -> str:
        """The custom properties that draw ``label``: its colour (``--c``), tint (``--t``) and line style (``--b``)."""
        table = self.positions.setdefault(task, {})
        colour, line = label_look(table.setdefault(label, len(table)))
        return f"--c:{colour};--t:{colour}59;--b:{line}"

    def chip(self, css: str, where: str, task: str, label: str, note: str, toward: str | None = None) -> Chip:
        """The tag or badge of ``label``, filed in the legend ``where``; ``toward`` names a stance's target."""
        self.shown[where].add((task, label))
        return Chip(css, label, f"{toward}: {label}" if toward else label, note, self.style(task, label))

    def legend(self) -> dict[str, list[Key]]:
        """The labels of each legend with a label shown (``unit``, ``span``, ``article``), in their models' label
        order."""
        tasks = list(self.positions)
        legend = {}
        for where in LEGENDS:
            keys = sorted(self.shown[where], key=lambda k: (tasks.index(k[0]), self.positions[k[0]][k[1]]))
            if keys:
                legend[where] = [Key(where, label, self.style(task, label)) for task, label in keys]
        return legend


@dataclass
class _Tally:
    """How often one unit model predicted each label in one article: units for a classifier, spans for a span
    tagger."""

    task: str
    kind: str
    spans: bool
    units: int = 0
    labelled: int = 0
    counts: Counter = field(default_factory=Counter)

    @property
    def where(self) -> str:
        return "span" if self.spans else "unit"

    def note(self) -> str:
        """What was counted, e.g. ``3 of 12 sentences labelled`` or ``5 spans in 12 sentences``."""
        units = f"{self.units} {self.kind}{'s' if self.units != 1 else ''}"
        if self.spans:
            found = sum(self.counts.values())
            return f"{found} span{'s' if found != 1 else ''} in {units}"
        return f"{self.labelled} of {units} labelled"


def _tallies(result: ScoredArticle) -> dict[str, _Tally]:
    """Each unit model's :class:`_Tally` of ``result``, by model name."""
    tallies: dict[str, _Tally] = {}
    for s in result.units:
        for name, p in s.predictions.items():
            tally = tallies.setdefault(name, _Tally(p.task, s.kind, p.spans is not None))
            tally.units += 1
            tally.labelled += bool(p.labels)
            tally.counts.update([t.label for t in p.spans] if p.spans is not None else p.labels)
    return tallies


def _summary(result: ScoredArticle, looks: Looks) -> list[SummaryLine]:
    """The article at a glance: each article model's labels (frames, genre, stance), then each unit model's
    most frequent labels and their counts."""
    lines = []
    for name, p in result.predictions.items():
        badges = [looks.chip("badge", "article", p.task, label, f"{p.scores[label]:.2f}") for label in p.labels]
        lines.append(SummaryLine(name, p.task, badges, target=p.target))
    for name, tally in _tallies(result).items():
        order = looks.positions.get(tally.task, {})
        top = sorted(tally.counts.items(), key=lambda x: (-x[1], order.get(x[0], 0)))
        badges = [looks.chip("badge", tally.where, tally.task, label, f"×{n}") for label, n in top[:TOP_LABELS]]
        lines.append(SummaryLine(name, tally.task, badges, counted=tally.note(), more=max(len(top) - TOP_LABELS, 0)))
    return lines


def _underlined(text: str, spans: list[tuple[str, TaggedSpan]], looks: Looks) -> list[str | Underline | Chip]:
    """``text`` with every predicted span underlined and tagged where it ends, its techniques also in a tooltip.

    ``spans`` are (task, span) pairs. Overlapping spans cut the text into segments; each segment is
    underlined in the look of its best span and lists all of them.
    """
    cuts = sorted({0, len(text), *(t.start for _, t in spans), *(t.end for _, t in spans)})
    pieces: list[str | Underline | Chip] = []
    for a, b in zip(cuts, cuts[1:]):
        covering = sorted(((task, t) for task, t in spans if t.start <= a and b <= t.end), key=lambda x: -x[1].score)
        if not covering:
            pieces.append(text[a:b])
        else:
            tip = "; ".join(f"{t.label} {t.score:.2f}: {text[t.start : t.end]}" for _, t in covering)
            pieces.append(Underline(tip, looks.style(covering[0][0], covering[0][1].label), text[a:b]))
        ending = sorted(((task, t) for task, t in spans if t.end == b), key=lambda x: -x[1].score)
        pieces += [looks.chip("tag", "span", task, t.label, f"{t.score:.2f}") for task, t in ending]
    return pieces


def _unit(s: ScoredUnit, looks: Looks) -> UnitView:
    """One unit: highlighted in its top label's look, its spans underlined, a tag per label after it."""
    # A pair task's label (stance) is tagged but colours nothing: every unit has one, so colouring by it
    # would hide the techniques. A span model's labels are tagged at their spans.
    plain = sorted(
        (
            (p.task, label, p.scores[label])
            for p in s.predictions.values()
            if p.spans is None and not get_task(p.task).has_target
            for label in p.labels
        ),
        key=lambda x: -x[2],
    )
    stances = [(p, label) for p in s.predictions.values() if get_task(p.task).has_target for label in p.labels]
    tags = [looks.chip("tag", "unit", task, label, f"{score:.2f}") for task, label, score in plain]
    # With several targets each tag says which one it is about.
    toward = len(stances) > 1
    tags += [
        looks.chip("tag", "unit", p.task, label, f"{p.scores[label]:.2f}", p.target if toward else None)
        for p, label in stances
    ]
    tip = "; ".join(
        [
            *(f"{label} {score:.2f}" for _, label, score in plain),
            *(f"{p.task} {label} {p.scores[label]:.2f}" for p, label in stances),
        ]
    )
    style = looks.style(plain[0][0], plain[0][1]) if plain else ""
    spans = [(p.task, t) for p in s.predictions.values() if p.spans for t in p.spans]
    return UnitView(tip, style, _underlined(s.unit.text, spans, looks), tags)


def _units(text: str, kind: str, units: list[ScoredUnit], looks: Looks) -> TextView:
    """The article with each of its units of ``kind`` drawn by :func:`_unit`."""
    pieces: list[str | UnitView | Highlight | Chip] = []
    cursor = 0
    for s in units:
        pieces += [text[cursor : s.unit.start], _unit(s, looks)]
        cursor = s.unit.end
    pieces.append(text[cursor:])
    return TextView(pieces, unit=kind)


@dataclass(frozen=True)
class _Mark:
    """One evidence sentence's label, its score (what orders the sentence's marks), its tag's note and its line
    in the sentence's tooltip."""

    label: str
    score: float
    note: str
    tip: str


def _mark(p: Prediction, v: FrameEvidence | StanceEvidence) -> _Mark:
    """What an evidence sentence ``v`` of ``p`` shows: the frame it carries and its attention weight, or the
    stance it was read for and its similarity to the target (its rank by similarity in the tooltip)."""
    if isinstance(v, StanceEvidence):
        label = p.labels[0] if p.labels else ""
        similarity = f"similarity {v.similarity:.2f}"
        return _Mark(label, v.similarity, similarity, f"{label}: read #{v.rank}, {similarity}")
    return _Mark(v.frame, v.weight, f"{v.weight:.2f}", f"{v.frame} {v.weight:.2f}")


def _evidence(text: str, name: str, p: Prediction, looks: Looks) -> TextView:
    """The article with its evidence sentences highlighted, tagged with their labels and scores (:func:`_mark`):
    those that carry each predicted frame in the frame's look, those a stance was read from in the stance's."""
    by_sentence: dict[tuple[int, int], list[_Mark]] = {}
    for v in p.evidence or ():
        by_sentence.setdefault((v.start, v.end), []).append(_mark(p, v))
    pieces: list[str | UnitView | Highlight | Chip] = []
    cursor = 0
    for (start, end), found in sorted(by_sentence.items()):
        if start < cursor:
            continue
        found.sort(key=lambda m: -m.score)
        tip = "; ".join(m.tip for m in found)
        pieces += [text[cursor:start], Highlight(tip, looks.style(p.task, found[0].label), text[start:end])]
        pieces += [looks.chip("tag", "article", p.task, m.label, m.note) for m in found]
        cursor = end
    pieces.append(text[cursor:])
    return TextView(pieces, evidence=name, target=p.target)


def article_view(result: ScoredArticle, looks: Looks) -> ArticleView:
    """What :func:`render_article` draws of ``result``: its summary, its evidence texts, its text per unit kind."""
    a = result.article
    summary = _summary(result, looks)
    texts = [_evidence(a.text, name, p, looks) for name, p in result.predictions.items() if p.evidence]
    for kind in sorted({s.kind for s in result.units}):
        texts.append(_units(a.text, kind, [s for s in result.units if s.kind == kind], looks))
    return ArticleView(a.id, summary, texts)


def render_article(result: ScoredArticle, looks: Looks) -> str:
    """One article's section of the page.

    Nothing is written anywhere; ``looks`` records the labels the section shows (and the position of a label
    no model listed), for the legend that :func:`render_page` draws around the sections.
    """
    return _ENV.get_template("article.html.j2").render(article=article_view(result, looks))


def stream_page(articles: Iterable[str], looks: Looks) -> Iterator[str]:
    """:func:`render_page` piece by piece, so that a writer need not hold a large page twice."""
    template = _ENV.get_template("page.html.j2")
    # The sections were drawn, escaped, by render_article: they go in as markup.
    return template.generate(legend=looks.legend(), articles=(Markup(a) for a in articles))


def render_page(articles: Iterable[str], looks: Looks) -> str:
    """The page around ``articles`` (sections drawn by :func:`render_article` with ``looks``): head,
    stylesheet, legend."""
    return "".join(stream_page(articles, looks))


def render_html(results: Iterable[ScoredArticle], models: Sequence[ModelLabels] = ()) -> str:
    """The page of ``results`` of ``models``, as ``framelab score --format html`` writes it."""
    looks = Looks.of(models)
    sections = [render_article(result, looks) for result in results]
    return render_page(sections, looks)
