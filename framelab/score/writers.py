"""Output formats of ``framelab score``, each written as results arrive.

- ``jsonl``: one record per unit (``"type": "unit"``) followed by one record
  per article (``"type": "article"``) with the article-level predictions.
  Span models add ``"spans"`` to their unit predictions: ``start``/``end``
  into the unit's text (add the unit's ``start`` for article offsets),
  ``label``, ``score`` and the span ``text``. Models that show where each
  frame is (``frames_attention``) add ``"frame_evidence"`` to their article
  predictions: per predicted frame, the sentences that carry it (``frame``,
  ``start``/``end`` into the article text, attention ``weight``, ``text``).
  Stance models that show what they read (``fnc1``) add ``"stance_evidence"``:
  the body sentences stage 2 read for a related stance (``start``/``end`` into
  the article text, ``similarity`` to the target, ``rank`` by it, ``text``);
  empty for ``unrelated``.
- ``csv``: one row per (unit, model), per predicted span and per (article,
  model), and one row per evidence sentence; ``level`` (``unit``, ``span``,
  ``article``, ``frame_evidence``, ``stance_evidence``) tells them apart.
  ``start``/``end`` index the article text (``text`` is its ``[start:end]``),
  ``labels`` are ``;``-joined, and each label of the models has a
  ``score:<label>`` column (a span row: its span's score; an evidence row:
  the frame's attention, or the sentence's similarity to the target, in
  ``weight``). ``excel`` (``--excel``) starts the file with a UTF-8
  byte-order mark, which Excel needs to read non-ASCII text.
- ``html``: one page, every text HTML-escaped, drawn by :mod:`framelab.score.render`
  (which says what it shows); :class:`HtmlWriter` only writes it.
- ``semeval2023``: a folder with ``subtask-1.txt`` (genre), ``subtask-2.txt``
  (``id<TAB>frame,…``) and ``subtask-3.txt`` (``id<TAB>line<TAB>tech,…``, one
  line for every non-empty line of every article; sentence predictions are
  joined per line), for the official SemEval-2023 Task 3 scorers.
- ``semeval2020``: a folder with ``SI.txt`` (``id<TAB>start<TAB>end``: each
  article's predicted spans, techniques ignored and overlaps merged, as the
  span-identification scorer wants them) and ``TC.txt``
  (``id<TAB>technique<TAB>start<TAB>end``, one line per predicted span), in
  article offsets, for the SemEval-2020 Task 11 scorers.
- ``labelstudio``: a folder with ``tasks.json`` (Label Studio's JSON import, one task per article with
  each model's pre-annotations as a prediction) and ``label_config.xml`` (the labelling interface for the
  scored models' labels), both from :mod:`framelab.labelstudio`, which says what each region holds.
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
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO

from framelab import labelstudio
from framelab.errors import Problem
from framelab.output import AtomicFile, AtomicFolder, uninterrupted
from framelab.score.records import ModelLabels, Prediction, ScoredArticle, StanceEvidence
from framelab.score.render import Looks, render_article, stream_page
from framelab.tasks import get_task, task_names


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
        record[_evidence_kind(p)] = [asdict(v) | {"text": text[v.start : v.end]} for v in p.evidence]
    return record


def _evidence_kind(p: Prediction) -> str:
    """What ``p``'s evidence is, as the outputs name it: ``stance_evidence`` (the sentences a stance was read
    from: a pair task's) or ``frame_evidence`` (the sentences that carry each frame)."""
    return "stance_evidence" if get_task(p.task).has_target else "frame_evidence"


def article_records(result: ScoredArticle) -> list[dict]:
    """The JSONL records of one scored article: one per unit, then the article's (what ``--format jsonl``
    writes, and :meth:`framelab.api.Model.score_records` returns)."""
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


#: First characters that make a spreadsheet read a cell as a formula (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _needs_mark(value: str) -> bool:
    """Whether ``value`` would run as a formula, or already looks like a marked one (so marks round-trip)."""
    if value.startswith("'"):
        return _needs_mark(value[1:])
    if not value.startswith(FORMULA_STARTS):
        return False
    try:
        float(value)
    except ValueError:
        return True
    return False


def formula_safe(value: object) -> object:
    """``value`` as a CSV cell: text a spreadsheet would run as a formula gets a leading ``'`` (the mark
    spreadsheets themselves use for "this is text"), so ``=HYPERLINK(…)`` in an article shows instead of running.

    Numbers (scores, offsets) and text that is only a number (an id such as ``-5``) are written as they are: a
    spreadsheet reads them as numbers, never as formulas. Text that starts with ``'`` before such a character
    gets a mark too, so :func:`formula_unsafe` gives every value back exactly.
    """
    return "'" + value if isinstance(value, str) and _needs_mark(value) else value


def formula_unsafe(cell: str) -> str:
    """The value :func:`formula_safe` wrote as ``cell``."""
    return cell[1:] if cell.startswith("'") and _needs_mark(cell[1:]) else cell


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
                stance = isinstance(v, StanceEvidence)
                self._row(
                    cells | {"unit": "sentence", "weight": v.similarity if stance else v.weight},
                    _evidence_kind(p),
                    v.start,
                    v.end,
                    a.text,
                    p.labels if stance else [v.frame],
                    {},
                )

    def _row(
        self, cells: dict, level: str, start: int, end: int, text: str, labels: list[str], scores: dict[str, float]
    ) -> None:
        """One row of ``level`` over ``text[start:end]``; a score of a label outside the header is a bug and raises."""
        fixed = {"level": level, "start": start, "end": end, "labels": ";".join(labels), "text": text[start:end]}
        row = cells | fixed | {f"score:{label}": score for label, score in scores.items()}
        self.csv.writerow({name: self.cell(value) for name, value in row.items()})

    @staticmethod
    def cell(value: object) -> object:
        """``value`` as a CSV cell (:func:`formula_safe`)."""
        return formula_safe(value)


class HtmlWriter(Writer):
    """The page of :mod:`framelab.score.render`, written to ``out``.

    Each article is drawn as it arrives; the page around them, whose legend lists every label shown,
    once all have come (:meth:`close`).
    """

    needs_out = True

    def __init__(self, out: Path | None, models: Sequence[ModelLabels] = (), *, excel: bool = False):
        if out is None:
            raise ValueError("--format html needs --out FILE.html")
        super().__init__(out, models)
        self.handle = self._open(out)
        self.looks = Looks.of(self.models)
        self.sections: list[str] = []

    def write(self, result: ScoredArticle) -> None:
        self.sections.append(render_article(result, self.looks))

    def close(self) -> list[str]:
        self.handle.writelines(stream_page(self.sections, self.looks))
        return super().close()


def _written_in(fmt: str, models: Sequence[ModelLabels]) -> set[str]:
    """The tasks of ``models`` whose predictions ``fmt`` holds; refuses when there are none."""
    chosen = {m.task for m in models if fmt in get_task(m.task).formats}
    if not chosen:
        raise ValueError(f"--format {fmt} needs a model of one of the tasks {', '.join(_tasks_of(fmt))}")
    return chosen


def _tasks_of(fmt: str) -> list[str]:
    return [name for name in task_names() if fmt in get_task(name).formats]


class Semeval2023Writer(Writer):
    """SemEval-2023 Task 3: an article single-label task to subtask 1 (genre), article multi-label to 2
    (frames), unit labels to 3 (techniques per line)."""

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
                f"--format fnc1 needs one fnc1 model and FNC-1 CSV inputs (stances and bodies); "
                f"{a.source or a.id} got {len(stances)} stance(s)"
            )
        self.csv.writerow([a.stance_target, a.id.rpartition("#")[0] or a.id, stances[0].labels[0]])


class LabelStudioWriter(Writer):
    """Label Studio: ``tasks.json`` (a JSON list, one task per article, written as they arrive) and the
    ``label_config.xml`` its regions use, built from the scored models' labels (:mod:`framelab.labelstudio`)."""

    folder = needs_out = True

    def __init__(self, out: Path | None, models: Sequence[ModelLabels] = (), *, excel: bool = False):
        if out is None:
            raise ValueError("--format labelstudio needs --out FOLDER")
        _written_in("labelstudio", models)
        config = labelstudio.label_config(labelstudio.labels_by_control((m.task, m.labels) for m in models))
        self.ui = labelstudio.interface(config)
        super().__init__(out, models)
        self._open(out / "label_config.xml").write(config)
        self.tasks = self._open(out / "tasks.json")
        self.tasks.write("[")
        self.count = 0

    def write(self, result: ScoredArticle) -> None:
        task = labelstudio.article_task(result.article.id, result.article.text, article_records(result), self.ui)
        self.tasks.write(("," if self.count else "") + "\n" + json.dumps(task, ensure_ascii=False))
        self.count += 1

    def close(self) -> list[str]:
        self.tasks.write("\n]\n")
        return super().close()


#: Every output format of ``framelab score``, the one list the CLI offers.
WRITERS: dict[str, type[Writer]] = {
    "jsonl": JsonlWriter,
    "csv": CsvWriter,
    "html": HtmlWriter,
    "semeval2023": Semeval2023Writer,
    "semeval2020": Semeval2020Writer,
    "fnc1": Fnc1Writer,
    "labelstudio": LabelStudioWriter,
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
