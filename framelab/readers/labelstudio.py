"""Reader for a Label Studio JSON export (``data.format: labelstudio``; ``data.path``: the export file).

The project's label config is :mod:`framelab.labelstudio`'s (``configs/labelstudio/sample.xml``, or the
``label_config.xml`` that ``framelab score --format labelstudio`` writes): the reader knows its controls by
name. Each task is one article:

* ``data.text`` → ``Article.text``, as stored (offsets are Python ``str`` indices into it);
  ``data.article_id`` → ``Article.id`` (``task-<id>`` when absent); ``data.target`` →
  ``Article.stance_target``; ``source`` is ``<export>#task-<id>``.
* ``span`` regions → ``Article.spans`` (one per label of a region); names go through ``label_map`` and
  ``labels``. A region's ``text``, when given, must equal ``data.text[start:end]``: a mismatch (offsets
  counted on other text, e.g. in UTF-16 units) is a problem and the span is dropped.
* ``unit`` regions of kind ``line`` with their ``unit_labels`` (same region id) → ``Article.line_labels``;
  the region must cover exactly one line (:func:`framelab.units.iter_lines`). Once a task has a line
  region, every line with visible text is judged (``[]`` unless a region gives it labels). Sentence and
  article regions are not read (framelab builds unit labels from the spans): a warning counts them.
* ``frames`` → ``Article.frames`` (checked against ``frames``; ``None`` when no annotation has one, since
  Label Studio writes nothing for an empty choice), ``genre`` → ``Article.genre``, ``stance`` →
  ``Article.stance``.

Annotators: a task's annotations that were not cancelled each give one vote (predictions and drafts are
ignored). The rule is **majority**: a span (same start, end and label), a frame, a line's technique, a
genre or a stance is kept when more than half of the task's annotations give it. Every item not given by
all of them is reported as a warning (``stats.json`` of ``framelab data``) naming the task, the item and
its count, kept or dropped; nothing is merged silently. A task without an annotation is left out (one
warning names them).

Problems (logged; the region, task or file is dropped): a file that is not JSON or not a list of tasks (the
JSON-MIN and CSV exports are refused: export as JSON), a task without a string ``data.text``, an unusable
or repeated article id, a region of an unknown control, non-integer or out-of-range offsets, a line region
off a line, unknown labels.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framelab.errors import DataError, Problem, ProblemLog
from framelab.labelstudio import ARTICLE_CHOICES, FRAMES, GENRE, SPAN, STANCE, TEXT, UNIT, UNIT_LABELS
from framelab.readers.common import check_bounds, check_label, check_span, finish, id_problem, is_empty_text
from framelab.types import Article, Span
from framelab.units import iter_lines

#: How the annotations of one task combine (see the module doc).
RULE = "majority"
CONFIG_HINT = "label the project with configs/labelstudio/*.xml or the label_config.xml framelab score wrote"


@dataclass(frozen=True)
class _Task:
    """Where problems of one task go and the lists its names are checked against."""

    path: Path
    where: str
    text: str
    log: ProblemLog
    labels: list[str] | None
    label_map: dict[str, str] | None
    frames: list[str] | None

    def bad(self, message: str, hint: str = "") -> None:
        self.log.add(self.path, None, f"{self.where}: {message}", hint)

    def name(self, value: str, kind: str = "technique") -> str | None:
        """The project name of ``value`` (a technique or a frame), or ``None`` to drop it (logged, naming the task)."""
        found = ProblemLog()
        name = check_label(
            value,
            labels=self.frames if kind == "frame" else self.labels,
            label_map=None if kind == "frame" else self.label_map,
            log=found,
            path=self.path,
            line=None,
            kind=kind,
        )
        for problem in found.problems:
            self.bad(problem.message, problem.hint)
        return name


@dataclass
class _Votes:
    """What one annotation says: a set of items per field, and the unit regions it drew."""

    items: set[tuple] = field(default_factory=set)
    has: set[str] = field(default_factory=set)
    other_units: int = 0


def _offsets(value: dict, at: _Task, region: str) -> tuple[int, int] | None:
    start, end = value.get("start"), value.get("end")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        at.bad(f"region {region}: offsets {start!r}–{end!r} are not whole numbers", "offsets count characters")
        return None
    if check_bounds(start, end, log=at.log, path=at.path, line=None) is None:
        return None
    if not check_span(Span(start, end, ""), at.where, len(at.text), log=at.log, path=at.path, line=None):
        return None
    shown = value.get("text")
    if isinstance(shown, str) and shown != at.text[start:end]:
        at.bad(
            f"region {region} at {start}–{end} holds {shown[:40]!r} but the text there is {at.text[start:end][:40]!r}",
            "offsets must be character (code point) offsets into data.text as stored; re-export the task",
        )
        return None
    return start, end


def _names(value: dict, key: str, at: _Task, region: str) -> list[str]:
    names = value.get(key)
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        at.bad(f"region {region}: '{key}' must be a list of names", CONFIG_HINT)
        return []
    return names


def _line_number(start: int, end: int, lines: dict[tuple[int, int], int], at: _Task, region: str) -> int | None:
    number = lines.get((start, end))
    if number is None:
        at.bad(
            f"line region {region} at {start}–{end} is not one line of the text",
            "draw a line region over one whole line (its visible text, without the newline)",
        )
    return number


def _region(item: dict, at: _Task, votes: _Votes, units: dict[str, int], lines: dict) -> None:
    """Add what one result item says to ``votes``; a line region's number goes to ``units`` by region id."""
    control, value, region = item.get("from_name"), item.get("value"), str(item.get("id", "?"))
    if not isinstance(value, dict):
        at.bad(f"region {region} has no 'value' object", CONFIG_HINT)
        return
    if control == SPAN:
        found = _offsets(value, at, region)
        for label in _names(value, "labels", at, region) if found else ():
            name = at.name(label)
            if name is not None:
                votes.items.add((SPAN, *found, name))
        return
    if control == UNIT:
        found = _offsets(value, at, region)
        kinds = _names(value, "labels", at, region) if found else []
        if found and kinds == ["line"]:
            number = _line_number(*found, lines, at, region)
            if number is not None:
                units[region] = number
                votes.has.add("line")
        elif found:
            votes.other_units += 1
        return
    if control in ARTICLE_CHOICES:
        names = _names(value, "choices", at, region)
        names = [at.name(n, "frame") for n in names] if control == FRAMES else names
        votes.has.add(control)
        votes.items.update((control, n) for n in names if n is not None)
        return
    known = ", ".join((SPAN, UNIT, UNIT_LABELS, *ARTICLE_CHOICES))
    at.bad(f"region {region}: unknown control {control!r} (known: {known})", CONFIG_HINT)


def _annotation(result: Any, at: _Task, lines: dict) -> _Votes:
    votes = _Votes()
    units: dict[str, int] = {}
    pending: list[tuple] = []
    for item in result if isinstance(result, list) else ():
        if not isinstance(item, dict):
            at.bad("a result item is not an object", CONFIG_HINT)
            continue
        if item.get("from_name") == UNIT_LABELS:
            pending.append((str(item.get("id", "?")), item.get("value")))
            continue
        _region(item, at, votes, units, lines)
    for region, value in pending:
        number = units.get(region)
        if number is None:
            continue  # the choices of a sentence or article region, counted with it
        for label in _names(value if isinstance(value, dict) else {}, "choices", at, region):
            name = at.name(label)
            if name is not None:
                votes.items.add(("line", number, name))
    return votes


def _describe(item: tuple, text: str) -> str:
    if item[0] == SPAN:
        return f"span {item[1]}–{item[2]} {item[3]} ({text[item[1] : item[2]][:30]!r})"
    if item[0] == "line":
        return f"line {item[1]} technique {item[2]}"
    return f"{item[0]} {item[1]}"


def _vote(all_votes: list[_Votes], at: _Task) -> set[tuple]:
    """The items more than half of the annotations give; a warning lists those not given by all."""
    counts = Counter(item for votes in all_votes for item in votes.items)
    n = len(all_votes)
    kept = {item for item, count in counts.items() if 2 * count > n}
    split = sorted((item for item, count in counts.items() if count < n), key=str)
    if split:
        shown = "; ".join(
            f"{_describe(i, at.text)}: {counts[i]} of {n}, {'kept' if i in kept else 'dropped'}" for i in split[:10]
        )
        more = f" and {len(split) - 10} more" if len(split) > 10 else ""
        at.log.warn(
            at.path,
            None,
            f"{at.where}: {n} annotators disagree ({RULE} rule): {shown}{more}",
            "review the task in Label Studio if the kept labels are wrong",
        )
    return kept


def _single(kept: set[tuple], control: str) -> str | None:
    values = [item[1] for item in kept if item[0] == control]
    return values[0] if len(values) == 1 else None


def _article(task: dict, at: _Task, article_id: str, annotations: list[Any]) -> tuple[Article, int]:
    """The article of one task and how many sentence or article regions its annotations drew (not read)."""
    lines = {(start, end): number for number, start, end in iter_lines(at.text)}
    all_votes = [_annotation(a.get("result"), at, lines) for a in annotations]
    kept = _vote(all_votes, at)
    has = set().union(*(v.has for v in all_votes))
    spans = [Span(i[1], i[2], i[3]) for i in kept if i[0] == SPAN]
    line_labels = None
    if "line" in has:
        line_labels = {number: [] for number in lines.values()}
        for item in sorted(i for i in kept if i[0] == "line"):
            line_labels[item[1]].append(item[2])
    frames = sorted(i[1] for i in kept if i[0] == FRAMES) if FRAMES in has else None
    data = task["data"]
    article = Article(
        id=article_id,
        text=at.text,
        spans=spans,
        frames=frames,
        genre=_single(kept, GENRE),
        stance_target=data.get("target") if isinstance(data.get("target"), str) else None,
        stance=_single(kept, STANCE),
        line_labels=line_labels,
        source=f"{at.path}#task-{task.get('id')}",
    )
    return article, sum(v.other_units for v in all_votes)


def _tasks(path: Path) -> list[Any]:
    """The export's tasks; raises :class:`DataError` when the file is missing, not JSON or not a list."""
    if not path.is_file():
        raise DataError(Problem(str(path), None, "Label Studio export not found", "export the project as JSON"))
    try:
        tasks = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(
            Problem(str(path), None, f"not a readable JSON file: {exc}", "export the project as JSON (not JSON-MIN)")
        ) from None
    if not isinstance(tasks, list) or any(not isinstance(t, dict) for t in tasks):
        raise DataError(
            Problem(str(path), None, "expected a JSON list of tasks", "export the project as JSON (not JSON-MIN)")
        )
    return tasks


def _article_id(task: dict, where: str, path: Path, log: ProblemLog) -> str | None:
    aid = task["data"].get("article_id", f"task-{task.get('id')}")
    why = id_problem(aid) if isinstance(aid, str) else "data.article_id is not a string"
    if why is not None:
        log.add(path, None, f"{where}: {why}", "give data.article_id a visible id without TABs or newlines")
        return None
    return aid


def read_labelstudio(
    path: Path,
    *,
    log: ProblemLog,
    labels: list[str] | None = None,
    label_map: dict[str, str] | None = None,
    frames: list[str] | None = None,
) -> list[Article]:
    """Read a Label Studio JSON export (module doc), sorted by id."""
    path = Path(path)
    out: dict[str, Article] = {}
    unannotated: list[str] = []
    other_units = 0
    for index, task in enumerate(_tasks(path)):
        where = f"task {task.get('id', f'#{index + 1}')}"
        data = task.get("data")
        text = data.get(TEXT) if isinstance(data, dict) else None
        if not isinstance(text, str) or is_empty_text(text):
            log.add(path, None, f"{where}: no text in data.{TEXT}", "import the tasks framelab score wrote")
            continue
        aid = _article_id(task, where, path, log)
        if aid is None:
            continue
        if aid in out:
            log.add(path, None, f"{where}: article {aid} appears twice", "remove or rename one of the tasks")
            continue
        raw = task.get("annotations")
        annotations = [a for a in raw if isinstance(a, dict) and not a.get("was_cancelled")] if raw else []
        if not annotations:
            unannotated.append(where)
            continue
        at = _Task(path, f"{where} (article {aid})", text, log, labels, label_map, frames)
        out[aid], drawn = _article(task, at, aid, annotations)
        other_units += drawn
    if unannotated:
        log.warn(path, None, f"{len(unannotated)} task(s) without an annotation left out: {', '.join(unannotated[:5])}")
    if other_units:
        log.warn(path, None, f"{other_units} sentence or article region(s) not read: unit labels come from the spans")
    return finish(list(out.values()))
