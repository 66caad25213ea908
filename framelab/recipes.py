"""``framelab models``: run a recipe, a list of stages in one YAML file, and write one summary table.

A recipe (``configs/recipes/models.yaml`` is the shipped one) names its stages in
order: each is a command (``framelab …`` or ``python SCRIPT …``, run in a
child process of this interpreter) and the path it makes (``output``). A
stage whose output exists is skipped (``force``: every stage runs again); a
stage that was started and did not finish (killed, or failed) runs again
with its ``resume`` arguments added, so an interrupted recipe goes on where
it stopped. ``state.json`` in the recipe's ``out`` folder keeps each
stage's commands, attempts and minutes; the stages' estimated minutes, scaled
by how this run keeps up with them, give the time left.

The ``summary`` rows read each figure and its 95% interval from the JSON
files the stages wrote (``file`` and a dotted ``value`` and ``interval``
path in it), so nothing here knows a task: ``summary.md`` and
``summary.json`` show each row's model figure, the TF-IDF one on the same
folds, their paired difference and the minutes its stages took. Strings may
name recipe variables as ``${name}`` (``vars``, overridden by ``--var``;
``${out}`` is the out folder).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from string import Template
from typing import Any

import yaml
from filelock import FileLock, Timeout
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from framelab.errors import ConfigError
from framelab.figures import with_interval

log = logging.getLogger(__name__)

#: The programs a stage may run, each in a child process of this interpreter.
PROGRAMS = {"framelab": ["-m", "framelab"], "python": []}


class Stage(BaseModel):
    """One step of a recipe: a command and the path whose existence says it is done."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    #: ``framelab ARGS…`` or ``python SCRIPT ARGS…``.
    run: list[str] = Field(min_length=2)
    #: The file or folder the stage makes; it exists only once the stage has finished.
    output: str
    #: A file the command's standard output is written to (whole, once the command succeeds).
    stdout: str | None = None
    #: Arguments added when the stage runs again after an interrupted attempt.
    resume: list[str] = []
    #: Minutes the stage takes on the reference machine (the recipe's comment says which): the time-left estimate.
    minutes: float = Field(ge=0)
    #: A failure is recorded and the recipe goes on (the rows that read its output show the figure as missing).
    optional: bool = False

    @field_validator("run")
    @classmethod
    def _known_program(cls, run: list[str]) -> list[str]:
        if run[0] not in PROGRAMS:
            raise ValueError(f"a stage runs one of {', '.join(PROGRAMS)}, not {run[0]!r}")
        return run


class Figure(BaseModel):
    """Where a figure and its 95% interval are in a JSON file: dotted paths (``cross_validated.micro_f1.pooled``)."""

    model_config = ConfigDict(extra="forbid")

    file: str
    value: str
    interval: str | None = None


class Row(BaseModel):
    """One row of the summary: a model's figure beside the TF-IDF one and their paired difference."""

    model_config = ConfigDict(extra="forbid")

    name: str
    #: The figure's name (micro-F1, span F1, FNC-1 relative score).
    figure: str
    model: Figure
    tfidf: Figure | None = None
    paired: Figure | None = None
    #: The stages whose minutes add up to the row's training minutes.
    stages: list[str] = []


class Recipe(BaseModel):
    """A recipe file: variables, the out folder, the stages in order and the summary rows."""

    model_config = ConfigDict(extra="forbid")

    vars: dict[str, str] = {}
    out: str
    stages: list[Stage] = Field(min_length=1)
    summary: list[Row] = []

    @model_validator(mode="after")
    def _names(self) -> Recipe:
        names = [s.name for s in self.stages]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"stage names must differ: {', '.join(repeated)} repeated")
        unknown = sorted({s for row in self.summary for s in row.stages} - set(names))
        if unknown:
            raise ValueError(f"summary rows name stages the recipe lacks: {', '.join(unknown)}")
        return self


def load_recipe(path: Path, overrides: list[str] | None = None) -> Recipe:
    """The recipe at ``path`` with ``${name}`` filled in from its ``vars``, ``overrides`` (``NAME=VALUE``) and
    ``out``."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        recipe = Recipe.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"recipe {path}: {exc}") from None
    values = dict(recipe.vars)
    for item in overrides or []:
        name, sep, value = item.partition("=")
        if not sep or name not in values:
            known = ", ".join(sorted(values)) or "none"
            raise ConfigError(f"--var {item}: give NAME=VALUE for a variable of the recipe ({known})")
        values[name] = value
    values["out"] = _fill(recipe.out, values, path)
    filled = _fill(recipe.model_dump(), values, path)
    return Recipe.model_validate({**filled, "vars": values})


def _fill(value: Any, values: dict[str, str], path: Path) -> Any:
    """``value`` with every ``${name}`` in its strings replaced."""
    if isinstance(value, str):
        try:
            return Template(value).substitute(values)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"recipe {path}: {value!r} names no variable of the recipe ({exc})") from None
    if isinstance(value, list):
        return [_fill(v, values, path) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values, path) for k, v in value.items()}
    return value


class State:
    """``state.json``: each stage's last status (started, done, failed), commands, attempts and seconds."""

    def __init__(self, path: Path):
        self.path = path
        self.stages: dict[str, dict] = {}
        if path.is_file():
            self.stages = json.loads(path.read_text(encoding="utf-8")).get("stages", {})

    def of(self, name: str) -> dict:
        return self.stages.setdefault(name, {"status": None, "attempts": 0, "seconds": 0.0})

    def save(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(json.dumps({"stages": self.stages}, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def duration(minutes: float) -> str:
    """``1 h 45 min``, ``9 min``, ``under a minute``."""
    if minutes < 1:
        return "under a minute"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


def child_argv(argv: list[str]) -> list[str]:
    """A stage's command line (``framelab …``, ``python …``) run by this interpreter."""
    return [sys.executable, *PROGRAMS[argv[0]], *argv[1:]]


class StageFailed(ValueError):
    """A stage exited with an error: the recipe stops, keeping what finished."""


class Progress:
    """The time left: the pending stages' estimates, scaled by how long this run's stages took against theirs."""

    def __init__(self, stages: list[Stage]):
        self.pending = {s.name: s.minutes for s in stages}
        self.estimated = 0.0
        self.taken = 0.0

    def pace(self) -> float:
        return self.taken / self.estimated if self.estimated > 0 else 1.0

    def left(self) -> float:
        return sum(self.pending.values()) * self.pace()

    def finished(self, stage: Stage, seconds: float | None) -> None:
        self.pending.pop(stage.name, None)
        if seconds is not None and stage.minutes > 0:
            self.estimated += stage.minutes
            self.taken += seconds / 60


def plan(recipe: Recipe, *, force: bool = False) -> list[tuple[Stage, str]]:
    """Each stage and what a run would do with it: ``run``, ``resume`` or ``skip``."""
    state = State(Path(recipe.out) / "state.json")
    out = []
    for stage in recipe.stages:
        status = state.stages.get(stage.name, {}).get("status")
        if status in ("started", "failed"):
            out.append((stage, "resume"))
        elif Path(stage.output).exists() and not force:
            out.append((stage, "skip"))
        else:
            out.append((stage, "run"))
    return out


def run_recipe(recipe: Recipe, *, force: bool = False, recipe_path: Path | None = None) -> dict:
    """Run every stage that has not finished (``force``: every stage), then write the summary; returns it."""
    out = Path(recipe.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(out / ".models.lock"), timeout=0):
            return _run(recipe, out, force, recipe_path)
    except Timeout:
        raise ConfigError(f"{out}: another framelab models run is writing there; wait for it to finish") from None


def _run(recipe: Recipe, out: Path, force: bool, recipe_path: Path | None) -> dict:
    state = State(out / "state.json")
    progress = Progress(recipe.stages)
    steps = plan(recipe, force=force)
    log.info("%d stages, about %s in all", len(steps), duration(progress.left()))
    failed = []
    for n, (stage, what) in enumerate(steps, 1):
        head = f"[{n}/{len(steps)}] {stage.name}"
        if what == "skip":
            progress.finished(stage, None)
            log.info("%s: skipped, %s exists (--force, or FORCE=1 with make, runs it again)", head, stage.output)
            continue
        resuming = what == "resume" and bool(stage.resume)
        argv = [*stage.run, *(stage.resume if resuming else [])]
        log.info(
            "%s: %s%s (about %s; %s left in all)",
            head,
            " ".join(argv),
            ", resuming the interrupted run" if resuming else "",
            duration(stage.minutes * progress.pace()),
            duration(progress.left()),
        )
        seconds, code = _attempt(stage, argv, state)
        progress.finished(stage, seconds)
        if code != 0:
            failed.append(stage.name)
            if not stage.optional:
                raise StageFailed(
                    f"stage {stage.name} failed (exit status {code}); fix what it said and run again: the finished "
                    f"stages are kept and {stage.name} starts over" + (" where it stopped" if stage.resume else "")
                )
            log.warning("%s failed (exit status %d); an optional stage, so the recipe goes on", head, code)
            continue
        log.info("%s: done in %s; %s left", head, duration(seconds / 60), duration(progress.left()))
    summary = summarize(recipe, state, recipe_path)
    summary["failed_optional_stages"] = failed
    write_summary(summary, out)
    log.info("summary: %s and %s", out / "summary.md", out / "summary.json")
    return summary


def _attempt(stage: Stage, argv: list[str], state: State) -> tuple[float, int]:
    """Run the stage once; record it as started before and as done or failed after. A stage killed with this
    process stays ``started``."""
    record = state.of(stage.name)
    record.update(status="started", attempts=record["attempts"] + 1, started=_now())
    record.setdefault("commands", []).append(argv)
    state.save()
    started = time.perf_counter()
    code = _execute(stage, child_argv(argv))
    seconds = time.perf_counter() - started
    record.update(status="done" if code == 0 else "failed", seconds=record["seconds"] + seconds, finished=_now())
    state.save()
    return seconds, code


def _execute(stage: Stage, argv: list[str]) -> int:
    """The command's exit status; its standard output goes to ``stage.stdout`` (renamed into place on success)."""
    target = Path(stage.stdout) if stage.stdout else None
    tmp = target.with_name(f".{target.name}.tmp") if target else None
    if target:
        target.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()  # what this process printed comes before what the child prints
    with open(tmp, "wb") if tmp else nullcontext() as sink:
        child = subprocess.Popen(argv, stdout=sink)
        try:
            code = child.wait()
        finally:
            if child.poll() is None:  # this process is being stopped: the stage with it
                child.terminate()
                child.wait()
    if tmp:
        if code == 0:
            os.replace(tmp, target)
        else:
            tmp.unlink(missing_ok=True)
    return code


def _dig(data: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def read_figure(figure: Figure) -> dict | None:
    """``{"value", "ci95"}`` of a figure, or None when its file or value is missing (a stage not run)."""
    path = Path(figure.file)
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    # A script may print a line after its JSON (bench/kfold_tfidf.py --paired prints its verdict).
    data, _ = json.JSONDecoder().raw_decode(text.lstrip())
    value = _dig(data, figure.value)
    if not isinstance(value, (int, float)):
        return None
    interval = _dig(data, figure.interval) if figure.interval else None
    ok = isinstance(interval, list) and len(interval) == 2
    return {"value": float(value), "ci95": [float(v) for v in interval] if ok else None, "file": figure.file}


def summarize(recipe: Recipe, state: State, recipe_path: Path | None = None) -> dict:
    """The summary's rows: each figure with its interval (None where its stage has not run) and the minutes."""
    rows = []
    for row in recipe.summary:
        records = [state.stages.get(s, {}) for s in row.stages]
        timed = all(r.get("status") == "done" for r in records) and bool(records)
        rows.append(
            {
                "name": row.name,
                "figure": row.figure,
                "model": read_figure(row.model),
                "tfidf": read_figure(row.tfidf) if row.tfidf else None,
                "paired_difference": read_figure(row.paired) if row.paired else None,
                "training_minutes": round(sum(r["seconds"] for r in records) / 60, 1) if timed else None,
                "stages": row.stages,
            }
        )
    return {"recipe": str(recipe_path) if recipe_path else None, "written": _now(), "rows": rows}


def _cell(figure: dict | None, *, signed: bool = False) -> str:
    if figure is None:
        return "—"
    return with_interval(figure["value"], figure["ci95"], signed=signed)


def summary_markdown(summary: dict) -> str:
    """The summary as a Markdown table."""
    lines = [
        "# Models",
        "",
        "Each figure with its 95% interval over resampled articles (stories for FNC-1), cross-validated on the "
        "same folds for the model and the TF-IDF model; the difference is the paired bootstrap's. Minutes: the "
        "stages that trained the row's model(s), all attempts. —: not run (or not kept).",
        "",
        "| model | figure | model [95% CI] | TF-IDF [95% CI] | model − TF-IDF [95% CI] | training minutes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in summary["rows"]:
        minutes = "—" if r["training_minutes"] is None else f"{r['training_minutes']:g}"
        cells = [r["name"], r["figure"], _cell(r["model"]), _cell(r["tfidf"])]
        lines.append(f"| {' | '.join(cells)} | {_cell(r['paired_difference'], signed=True)} | {minutes} |")
    if summary.get("failed_optional_stages"):
        lines += ["", f"Optional stages that failed: {', '.join(summary['failed_optional_stages'])}."]
    return "\n".join(lines) + "\n"


def write_summary(summary: dict, out: Path) -> None:
    """``summary.json`` and ``summary.md`` in ``out``, each written whole."""
    for name, text in (("summary.json", json.dumps(summary, indent=2)), ("summary.md", summary_markdown(summary))):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / name)
