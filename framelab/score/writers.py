"""Output formats of ``framelab score``, each written as results arrive.

- ``jsonl``: one record per unit (``"type": "unit"``) followed by one record
  per article (``"type": "article"``) with the article-level predictions.
  Span models add ``"spans"`` to their unit predictions: ``start``/``end``
  into the unit's text (add the unit's ``start`` for article offsets),
  ``label``, ``score`` and the span ``text``. Models that show where each
  frame is (``frames_attention``) add ``"frame_evidence"`` to their article
  predictions: per predicted frame, the sentences that carry it (``frame``,
  ``start``/``end`` into the article text, attention ``weight``, ``text``).
- ``csv``: one row per (unit, model), per predicted span and per (article,
  model), and one row per frame-evidence sentence; ``level`` (``unit``,
  ``span``, ``article``, ``frame_evidence``) tells them apart. ``start``/``end``
  index the article text (``text`` is its ``[start:end]``), ``labels`` are
  ``;``-joined, and each label of the models has a ``score:<label>`` column
  (a span row: its span's score; an evidence row: the frame's attention in
  ``weight``). ``excel`` (``--excel``) starts the file with a UTF-8
  byte-order mark, which Excel needs to read non-ASCII text.
- ``html``: one page. Each article opens with a summary: its article
  labels (frames, genre, stance toward each target) and each unit model's
  most frequent labels with their counts. Units are highlighted in their top
  label's colour, spans underlined inside their unit, the sentences that
  carry each predicted frame highlighted; a tag naming the label and its
  score follows each unit, span and evidence sentence (all scores also on
  hover). A label's colour (and, past the palette, its line style) is fixed
  by its position in its model's label list, the same in every page of that
  model; one legend each for units, spans and article labels. Printed, tags
  and lines stay and each article starts a page. Every text is HTML-escaped.
- ``semeval2023``: a folder with ``subtask-1.txt`` (genre), ``subtask-2.txt``
  (``id<TAB>frame,…``) and ``subtask-3.txt`` (``id<TAB>line<TAB>tech,…``, one
  line for every non-empty line of every article; sentence predictions are
  joined per line), for the official SemEval-2023 Task 3 scorers.
- ``semeval2020``: a folder with ``SI.txt`` (``id<TAB>start<TAB>end``: each
  article's predicted spans, techniques ignored and overlaps merged, as the
  span-identification scorer wants them) and ``TC.txt``
  (``id<TAB>technique<TAB>start<TAB>end``, one line per predicted span), in
  article offsets, for the SemEval-2020 Task 11 scorers.
- ``fnc1``: the FNC-1 submission CSV (``Headline,Body ID,Stance``), one row
  per pair of FNC-1 CSV inputs, in input order, for the official scorer.

Files are written under a temporary name and renamed into place when
complete, and the folder formats are built whole in a temporary folder and
swapped in (:mod:`framelab.output`), so an interrupted run never leaves a
truncated output that looks finished and no file of an older run survives
beside the new ones. Output file names are fixed: nothing taken from the
input becomes a path.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from framelab.errors import Problem
from framelab.output import AtomicFile, AtomicFolder, uninterrupted
from framelab.score.records import ModelLabels, Prediction, ScoredArticle, ScoredUnit
from framelab.tagging import TaggedSpan
from framelab.tasks import get_task, task_names

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
#: Past the palette, positions cycle through it again with another line style (unit borders, span underlines, tag borders).
LINE_STYLES = ("solid", "dashed", "dotted", "double")
#: How many of each unit model's labels an article's summary lists, most frequent first.
TOP_LABELS = 8
#: The legends of the page: where a label shows, its title, how it is drawn.
LEGENDS = (
    ("unit", "Units", "sentences or lines highlighted in their top label's colour, a tag per label after each"),
    ("span", "Spans", "underlined, a tag after each span"),
    ("article", "Articles", "in each article's summary; the sentences that carry a frame highlighted and tagged"),
)
#: The page's stylesheet. Each labelled element carries its label's colour
#: (``--c``), tint (``--t``) and line style (``--b``) in its style attribute.
#: Printed, the tags and lines carry the labels whether or not backgrounds print.
STYLE = """
body{font-family:system-ui,sans-serif;max-width:62em;margin:auto;padding:0 1em;color:#111}
.text{white-space:pre-wrap;line-height:2.2}
.unit{border-radius:3px;-webkit-box-decoration-break:clone;box-decoration-break:clone}
.unit[style],.evidence{background:var(--t);border-bottom:2px var(--b) var(--c);color:inherit}
.span{text-decoration:underline var(--b) var(--c);text-decoration-thickness:3px;text-underline-offset:4px;text-decoration-skip-ink:none}
.tag,.badge{display:inline-block;white-space:nowrap;line-height:1.25;padding:0 .35em;border:2px var(--b,solid) var(--c,#777);border-radius:.35em;background:#fff;font-weight:600}
.tag{font-size:.72em;vertical-align:.15em;margin:0 .15em 0 .3em;-webkit-user-select:none;user-select:none}
.badge{font-size:.85em;margin:.1em .2em .1em 0}
.tag small,.badge small{font-size:.9em;font-weight:400;color:#444}
.legend .key-unit{background:var(--t)}
.legend .key-span{text-decoration:underline var(--b) var(--c);text-decoration-thickness:3px;text-underline-offset:3px}
.legend p,.summary p{margin:.3em 0}
.summary{background:#f5f5f5;border-left:4px solid #999;padding:.3em .8em;margin:.5em 0 1em}
.muted{color:#555;font-size:.9em}
section.article{border-bottom:1px solid #ccc;padding-bottom:1em}
@media print{
body{max-width:none;margin:0;padding:0;font-size:10.5pt}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
.summary{border:1px solid #999;border-left-width:4px}
.legend,.summary{break-inside:avoid}
h2{break-after:avoid}
section.article{border:0}
section.article+section.article{break-before:page}
}
"""


def _pred_json(p: Prediction, text: str = "") -> dict:
    record = {"task": p.task, "labels": p.labels, "scores": p.scores}
    if p.target is not None:
        record["target"] = p.target
    if p.spans is not None:
        record["spans"] = [
            {"start": t.start, "end": t.end, "label": t.label, "score": t.score, "text": text[t.start : t.end]}
            for t in p.spans
        ]
    if p.evidence is not None:
        record["frame_evidence"] = [
            {"frame": v.frame, "start": v.start, "end": v.end, "weight": v.weight, "text": text[v.start : v.end]}
            for v in p.evidence
        ]
    return record


def article_records(result: ScoredArticle) -> list[dict]:
    """The JSONL records of one scored article: one per unit, then the article's (what ``--format jsonl`` writes, and :meth:`framelab.api.Model.score_records` returns)."""
    a = result.article
    records = []
    for s in result.units:
        u = s.unit
        record = {
            "type": "unit",
            "article_id": a.id,
            "unit": s.kind,
            "index": u.index,
            "start": u.start,
            "end": u.end,
            "line": u.line,
            "text": u.text,
        }
        record["predictions"] = {name: _pred_json(p, u.text) for name, p in s.predictions.items()}
        records.append(record)
    record = {
        "type": "article",
        "article_id": a.id,
        "source": a.source,
        "length": len(a.text),
        "units": len(result.units),
    }
    record["predictions"] = {name: _pred_json(p, a.text) for name, p in result.predictions.items()}
    records.append(record)
    return records


class Writer:
    """Base: receives scored articles, writes them, and is committed or aborted.

    Every writer is built from the output path and the models being scored
    (``open_writer``): the task formats pick the models of their tasks, csv
    and html take the label lists, jsonl ignores them.
    """

    #: Whether ``out`` is a folder (built whole, then swapped in) rather than one file.
    folder = False
    #: Whether the format needs ``--out`` (it cannot go to standard output).
    needs_out = False
    #: Whether the format takes ``excel`` (``--excel``: a UTF-8 byte-order mark first).
    takes_excel = False

    def __init__(self, out: Path | None, models: Sequence[ModelLabels] = (), *, excel: bool = False):
        self.out = out
        self.models = list(models)
        self.files: list[AtomicFile] = []
        self.built = AtomicFolder(out) if self.folder and out is not None else None
        self.inside: list[tuple[IO[str], Path]] = []

    def _open(self, path: Path) -> IO[str]:
        if self.built is not None and path.parent == self.out:
            handle = os.fdopen(
                os.open(self.built.tmp / path.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666),
                "w",
                encoding="utf-8",
                newline="",
            )
            self.inside.append((handle, path))
            return handle
        f = AtomicFile(path)
        self.files.append(f)
        return f.handle

    def write(self, result: ScoredArticle) -> None:
        raise NotImplementedError

    def problems(self, problems: list[Problem]) -> None:
        """Inputs skipped under ``--on-error skip``; formats with room for them record them."""

    def close(self) -> list[str]:
        """Finish and move every file into place; returns their paths."""
        for handle, _ in self.inside:
            handle.close()
        if self.built is not None:
            self.built.commit()
        return [str(path) for _, path in self.inside] + [f.commit() for f in self.files]

    def abort(self) -> None:
        """Drop every partly written file."""
        for handle, _ in self.inside:
            handle.close()
        if self.built is not None:
            self.built.abort()
        for f in self.files:
            f.abort()


class JsonlWriter(Writer):
    def __init__(self, out: Path | None, models: Sequence[ModelLabels] = (), *, excel: bool = False):
        super().__init__(out, models)
        self.handle = self._open(out) if out else sys.stdout

    def write(self, result: ScoredArticle) -> None:
        for record in article_records(result):
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def problems(self, problems: list[Problem]) -> None:
        """One last record, ``"type": "problems"``: the inputs skipped and why."""
        files = [{"path": p.path, "line": p.line, "message": p.message} for p in problems]
        self.handle.write(
            json.dumps({"type": "problems", "count": len(problems), "files": files}, ensure_ascii=False) + "\n"
        )


class CsvWriter(Writer):
    """One row per (unit, model), per predicted span, per (article, model) and per frame-evidence sentence.

    ``level`` tells the rows apart; ``start``/``end`` index the article text.
    Every label of the models has a ``score:<label>`` column, in the models'
    label order, and a row fills those of the labels its model scored.
    """

    COLUMNS = [
        "article_id",
        "level",
        "unit",
        "index",
        "start",
        "end",
        "line",
        "model",
        "task",
        "labels",
        "weight",
        "text",
    ]
    takes_excel = True

    def __init__(self, out: Path | None, models: Sequence[ModelLabels] = (), *, excel: bool = False):
        super().__init__(out, models, excel=excel)
        handle = self._open(out) if out else sys.stdout
        if excel:
            # Excel reads a CSV in the system's code page unless it starts with a UTF-8 byte-order mark.
            handle.write("\ufeff")
        labels = dict.fromkeys(label for m in self.models for label in m.labels)
        self.csv = csv.DictWriter(handle, [*self.COLUMNS, *(f"score:{label}" for label in labels)])
        self.csv.writeheader()

    def write(self, result: ScoredArticle) -> None:
        a = result.article
        for s in result.units:
            u = s.unit
            for name, p in s.predictions.items():
                cells = {
                    "article_id": a.id,
                    "unit": s.kind,
                    "index": u.index,
                    "line": u.line,
                    "model": name,
                    "task": p.task,
                }
                self._row(cells, "unit", u.start, u.end, a.text, p.labels, p.scores)
                for t in p.spans or ():
                    self._row(cells, "span", u.start + t.start, u.start + t.end, a.text, [t.label], {t.label: t.score})
        for name, p in result.predictions.items():
            cells = {"article_id": a.id, "model": name, "task": p.task}
            # The article's row leaves its text out: the unit rows hold it.
            self._row(cells | {"unit": "article"}, "article", 0, len(a.text), "", p.labels, p.scores)
            for v in p.evidence or ():
                self._row(
                    cells | {"unit": "sentence", "weight": v.weight},
                    "frame_evidence",
                    v.start,
                    v.end,
                    a.text,
                    [v.frame],
                    {},
                )

    def _row(
        self, cells: dict, level: str, start: int, end: int, text: str, labels: list[str], scores: dict[str, float]
    ) -> None:
        """One row of ``level`` over ``text[start:end]``; a score of a label outside the header is a bug and raises."""
        fixed = {"level": level, "start": start, "end": end, "labels": ";".join(labels), "text": text[start:end]}
        row = cells | fixed | {f"score:{label}": score for label, score in scores.items()}
        self.csv.writerow({name: self.cell(value) for name, value in row.items()})

    #: First characters that make a spreadsheet read a cell as a formula (OWASP's list for CSV injection).
    FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

    @classmethod
    def cell(cls, value: object) -> object:
        """``value`` as a CSV cell: text a spreadsheet would run as a formula gets a leading ``'`` (the mark
        spreadsheets themselves use for "this is text"), so ``=HYPERLINK(…)`` in an article shows instead of running.

        Numbers (scores, offsets) and text that is only a number (an id such as ``-5``) are written as they are: a
        spreadsheet reads them as numbers, never as formulas.
        """
        if not isinstance(value, str) or not value.startswith(cls.FORMULA_STARTS):
            return value
        try:
            float(value)
        except ValueError:
            return "'" + value
        return value


class HtmlWriter(Writer):
    """A self-contained page; every piece of input text goes through ``html.escape``.

    Each article opens with a summary (article labels, each unit model's
    most frequent labels). Units are highlighted in their top label's colour,
    spans underlined, and every label is named by a visible tag after its
    unit or span, so the page reads without hovering, on paper and in grey.
    """

    needs_out = True

    def __init__(self, out: Path | None, models: Sequence[ModelLabels] = (), *, excel: bool = False):
        super().__init__(out, models)
        self.handle = self._page(out)
        self.body = io.StringIO()
        self.positions = _positions(self.models)
        #: The labels tagged so far, by legend: (task, label).
        self.seen: dict[str, set[tuple[str, str]]] = {"unit": set(), "span": set(), "article": set()}

    def _page(self, out: Path | None) -> IO[str]:
        """Where the page goes."""
        if out is None:
            raise ValueError("--format html needs --out FILE.html")
        return self._open(out)

    def _style(self, task: str, label: str) -> str:
        """The custom properties that draw ``label``: its colour (``--c``), tint (``--t``) and line style (``--b``)."""
        table = self.positions.setdefault(task, {})
        # A label no model listed (a writer fed by hand) takes the next free position of its task.
        colour, line = label_look(table.setdefault(label, len(table)))
        return f"--c:{colour};--t:{colour}59;--b:{line}"

    def _label(self, kind: str, where: str, task: str, label: str, note: str, toward: str | None = None) -> str:
        """A tag (``kind`` ``tag``: in the text) or badge (summary) naming ``label``, with ``note`` (its score or count); ``where`` files it in a legend."""
        self.seen[where].add((task, label))
        name = f"{toward}: {label}" if toward else label
        return f'<span class="{kind}" data-label="{html.escape(label)}" style="{self._style(task, label)}">{html.escape(name)} <small>{note}</small></span>'

    def _underlined(self, text: str, spans: list[tuple[str, TaggedSpan]]) -> str:
        """``text`` escaped, every predicted span underlined and tagged where it ends, its techniques also in a tooltip.

        ``spans`` are (task, span) pairs. Overlapping spans cut the text into
        segments; each segment is underlined in the colour of its best span
        and lists all of them.
        """
        e = html.escape
        cuts = sorted({0, len(text), *(t.start for _, t in spans), *(t.end for _, t in spans)})
        parts = []
        for a, b in zip(cuts, cuts[1:]):
            covering = sorted(
                ((task, t) for task, t in spans if t.start <= a and b <= t.end), key=lambda x: -x[1].score
            )
            if not covering:
                parts.append(e(text[a:b]))
            else:
                tip = "; ".join(f"{t.label} {t.score:.2f}: {text[t.start : t.end]}" for _, t in covering)
                parts.append(
                    f'<u class="span" title="{e(tip)}" style="{self._style(covering[0][0], covering[0][1].label)}">{e(text[a:b])}</u>'
                )
            ending = sorted(((task, t) for task, t in spans if t.end == b), key=lambda x: -x[1].score)
            parts += [self._label("tag", "span", task, t.label, f"{t.score:.2f}") for task, t in ending]
        return "".join(parts)

    def _unit(self, s: ScoredUnit) -> str:
        """One unit: highlighted in its top label's colour, its spans underlined, a tag per label after it."""
        e = html.escape
        # A pair task's label (stance) is tagged but colours nothing: every unit has one, so colouring by it would hide the techniques.
        # A span model's labels are tagged at their spans.
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
        tags = [self._label("tag", "unit", task, label, f"{score:.2f}") for task, label, score in plain]
        # With several targets each tag says which one it is about.
        tags += [
            self._label("tag", "unit", p.task, label, f"{p.scores[label]:.2f}", p.target if len(stances) > 1 else None)
            for p, label in stances
        ]
        tip = "; ".join(
            [
                *(f"{label} {score:.2f}" for _, label, score in plain),
                *(f"{p.task} {label} {p.scores[label]:.2f}" for p, label in stances),
            ]
        )
        style = f' style="{self._style(plain[0][0], plain[0][1])}"' if plain else ""
        spans = [(p.task, t) for p in s.predictions.values() if p.spans for t in p.spans]
        return f'<span class="unit" title="{e(tip or "no label")}"{style}>{self._underlined(s.unit.text, spans)}{"".join(tags)}</span>'

    def _units(self, text: str, kind: str, units: list[ScoredUnit]) -> str:
        """The article with each of its units of ``kind`` drawn by :meth:`_unit`."""
        e = html.escape
        parts, cursor = [f'<p class="muted">By {e(kind)}:</p><div class="text" data-unit="{e(kind)}">'], 0
        for s in units:
            parts += [e(text[cursor : s.unit.start]), self._unit(s)]
            cursor = s.unit.end
        parts.append(e(text[cursor:]) + "</div>\n")
        return "".join(parts)

    def _evidence(self, text: str, name: str, p: Prediction) -> str:
        """The article with the sentences that carry each predicted frame highlighted in the frame's colour and tagged with the frames and weights."""
        e = html.escape
        by_sentence: dict[tuple[int, int], list] = {}
        for v in p.evidence:
            by_sentence.setdefault((v.start, v.end), []).append(v)
        parts, cursor = [], 0
        for (start, end), found in sorted(by_sentence.items()):
            if start < cursor:
                continue
            found.sort(key=lambda v: -v.weight)
            tip = "; ".join(f"{v.frame} {v.weight:.2f}" for v in found)
            parts.append(e(text[cursor:start]))
            parts.append(
                f'<mark class="evidence" title="{e(tip)}" style="{self._style(p.task, found[0].frame)}">{e(text[start:end])}</mark>'
            )
            parts += [self._label("tag", "article", p.task, v.frame, f"{v.weight:.2f}") for v in found]
            cursor = end
        parts.append(e(text[cursor:]))
        return f'<p class="muted">The sentences that carry the frames of {e(name)}:</p><div class="text" data-evidence="{e(name)}">{"".join(parts)}</div>\n'

    def _summary(self, result: ScoredArticle) -> str:
        """The article at a glance: each article model's labels (frames, genre, stance), then each unit model's most frequent labels and their counts."""
        e = html.escape
        lines = []
        for name, p in result.predictions.items():
            toward = f" toward <q>{e(p.target)}</q>" if p.target else ""
            badges = (
                " ".join(self._label("badge", "article", p.task, label, f"{p.scores[label]:.2f}") for label in p.labels)
                or "<em>none</em>"
            )
            lines.append(f"<p><b>{e(name)}</b> ({e(p.task)}{toward}): {badges}</p>")
        for name, tally in _tallies(result).items():
            top = sorted(tally.counts.items(), key=lambda x: (-x[1], self.positions.get(tally.task, {}).get(x[0], 0)))
            badges = (
                " ".join(self._label("badge", tally.where, tally.task, label, f"×{n}") for label, n in top[:TOP_LABELS])
                or "<em>none</em>"
            )
            more = f' <span class="muted">and {len(top) - TOP_LABELS} more</span>' if len(top) > TOP_LABELS else ""
            lines.append(f"<p><b>{e(name)}</b> ({e(tally.task)}, {e(tally.note())}): {badges}{more}</p>")
        return f'<div class="summary">{"".join(lines) or "<p><em>no prediction</em></p>"}</div>\n'

    def write(self, result: ScoredArticle) -> None:
        a = result.article
        out = self.body
        out.write(f'<section class="article"><h2>{html.escape(a.id)}</h2>\n{self._summary(result)}')
        for name, p in result.predictions.items():
            if p.evidence:
                out.write(self._evidence(a.text, name, p))
        for kind in sorted({s.kind for s in result.units}):
            out.write(self._units(a.text, kind, [s for s in result.units if s.kind == kind]))
        out.write("</section>\n")

    def _legend(self) -> str:
        """One legend per place a label shows: units, spans, articles; each in its models' label order."""
        tasks = list(self.positions)
        rows = []
        for where, title, how in LEGENDS:
            keys = sorted(self.seen[where], key=lambda k: (tasks.index(k[0]), self.positions[k[0]][k[1]]))
            chips = " ".join(
                f'<span class="badge key-{where}" style="{self._style(task, label)}">{html.escape(label)}</span>'
                for task, label in keys
            )
            if chips:
                rows.append(f'<p><b>{title}</b> <span class="muted">({how})</span>: {chips}</p>')
        return f'<div class="legend"><b>Legend</b>{"".join(rows) or "<p><em>no label predicted</em></p>"}</div>\n'

    def close(self) -> list[str]:
        self.handle.write(
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>framelab predictions</title><style>{STYLE}</style></head><body>\n<h1>framelab predictions</h1>\n{self._legend()}"
        )
        self.handle.write(self.body.getvalue())
        self.handle.write("</body></html>\n")
        return super().close()


@dataclass
class _Tally:
    """How often one unit model predicted each label in one article: units for a classifier, spans for a span tagger."""

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


def _positions(models: Sequence[ModelLabels]) -> dict[str, dict[str, int]]:
    """Each task's labels and their positions in the label list of its first model (another model's other labels follow)."""
    positions: dict[str, dict[str, int]] = {}
    for m in models:
        table = positions.setdefault(m.task, {})
        for label in m.labels:
            table.setdefault(label, len(table))
    return positions


def label_look(position: int) -> tuple[str, str]:
    """The colour and line style of the label at ``position`` in its model's label list: the same in every page of that model."""
    return PALETTE[position % len(PALETTE)], LINE_STYLES[position // len(PALETTE) % len(LINE_STYLES)]


def _written_in(fmt: str, models: Sequence[ModelLabels]) -> set[str]:
    """The tasks of ``models`` whose predictions ``fmt`` holds; refuses when there are none."""
    chosen = {m.task for m in models if fmt in get_task(m.task).formats}
    if not chosen:
        raise ValueError(f"--format {fmt} needs a model of one of the tasks {', '.join(_tasks_of(fmt))}")
    return chosen


def _tasks_of(fmt: str) -> list[str]:
    return [name for name in task_names() if fmt in get_task(name).formats]


class Semeval2023Writer(Writer):
    """SemEval-2023 Task 3: an article single-label task to subtask 1 (genre), article multi-label to 2 (frames), unit labels to 3 (techniques per line)."""

    folder = needs_out = True

    def __init__(self, out: Path | None, models: Sequence[ModelLabels] = (), *, excel: bool = False):
        if out is None:
            raise ValueError("--format semeval2023 needs --out FOLDER")
        self.subtask = {t: self._subtask(get_task(t)) for t in _written_in("semeval2023", models)}
        super().__init__(out, models)
        chosen = set(self.subtask.values())
        self.genre = self._open(out / "subtask-1.txt") if 1 in chosen else None
        self.frames = self._open(out / "subtask-2.txt") if 2 in chosen else None
        self.lines = self._open(out / "subtask-3.txt") if 3 in chosen else None

    @staticmethod
    def _subtask(task) -> int:
        if not task.windowed:
            return 3
        return 2 if task.multi_label else 1

    def write(self, result: ScoredArticle) -> None:
        a = result.article
        for p in result.predictions.values():
            subtask = self.subtask.get(p.task)
            if subtask == 2:
                self.frames.write(f"{a.id}\t{','.join(p.labels)}\n")
            elif subtask == 1:
                self.genre.write(f"{a.id}\t{p.labels[0] if p.labels else ''}\n")
        if self.lines is None:
            return
        per_line: dict[int, set[str]] = {}
        for s in result.units:
            for p in s.predictions.values():
                if self.subtask.get(p.task) == 3 and s.unit.line is not None:
                    per_line.setdefault(s.unit.line, set()).update(p.labels)
        # The official template lists every line whose str.strip() is not empty,
        # a line holding only a byte-order mark included.
        for number, line in enumerate(a.text.split("\n"), start=1):
            if not line.strip():
                continue
            self.lines.write(f"{a.id}\t{number}\t{','.join(sorted(per_line.get(number, ())))}\n")


class Semeval2020Writer(Writer):
    folder = needs_out = True

    def __init__(self, out: Path | None, models: Sequence[ModelLabels] = (), *, excel: bool = False):
        if out is None:
            raise ValueError("--format semeval2020 needs --out FOLDER")
        _written_in("semeval2020", models)
        super().__init__(out, models)
        self.si = self._open(out / "SI.txt")
        self.tc = self._open(out / "TC.txt")

    def write(self, result: ScoredArticle) -> None:
        a = result.article
        found = sorted(
            (s.unit.start + t.start, s.unit.start + t.end, t.label)
            for s in result.units
            for p in s.predictions.values()
            if p.spans
            for t in p.spans
        )
        merged: list[list[int]] = []
        for start, end, label in found:
            self.tc.write(f"{a.id}\t{label}\t{start}\t{end}\n")
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for start, end in merged:
            self.si.write(f"{a.id}\t{start}\t{end}\n")


class Fnc1Writer(Writer):
    """FNC-1 submission CSV: ``Headline,Body ID,Stance``, one row per input pair, in input order.

    Each scored article is one (headline, body) pair read from FNC-1 CSV
    inputs (:func:`framelab.score.inputs.iter_articles`): its target is the
    headline and its id ``<Body ID>#<row>``.
    """

    COLUMNS = ["Headline", "Body ID", "Stance"]

    def __init__(self, out: Path | None, models: Sequence[ModelLabels] = (), *, excel: bool = False):
        self.tasks = _written_in("fnc1", models)
        super().__init__(out, models)
        self.csv = csv.writer(self._open(out) if out else sys.stdout)
        self.csv.writerow(self.COLUMNS)

    def write(self, result: ScoredArticle) -> None:
        a = result.article
        stances = [p for p in result.predictions.values() if p.task in self.tasks]
        if len(stances) != 1 or a.stance_target is None:
            raise ValueError(
                f"--format fnc1 needs one fnc1 model and FNC-1 CSV inputs (stances and bodies); {a.source or a.id} got {len(stances)} stance(s)"
            )
        self.csv.writerow([a.stance_target, a.id.rpartition("#")[0] or a.id, stances[0].labels[0]])


#: Every output format of ``framelab score``, the one list the CLI offers.
WRITERS: dict[str, type[Writer]] = {
    "jsonl": JsonlWriter,
    "csv": CsvWriter,
    "html": HtmlWriter,
    "semeval2023": Semeval2023Writer,
    "semeval2020": Semeval2020Writer,
    "fnc1": Fnc1Writer,
}
FORMATS = tuple(WRITERS)


def open_writer(fmt: str, out: str | Path | None, models: Sequence[ModelLabels], *, excel: bool = False) -> Writer:
    """The writer for ``fmt`` (one of :data:`FORMATS`) writing to ``out``.

    ``models`` are the models being scored: a task-specific format refuses
    models none of whose tasks it can hold, and csv and html take their
    label lists. ``excel`` (csv only) starts the file with a UTF-8 byte-order mark.
    """
    if fmt not in WRITERS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    writer = None
    try:
        # SIGTERM is held back while the temporaries are created, then dropped with them if it came.
        with uninterrupted():
            writer = WRITERS[fmt](Path(out) if out else None, models, excel=excel)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return writer
