"""Configs and inputs that could exhaust, leak, hang or inject are refused or defused (issue 42).

Reported: a 416-byte YAML alias bomb drove ``framelab config`` to 3 GB; ``extends:`` read any file and printed
its first line; a named pipe among the inputs hung scoring forever while holding the output lock; a file name
that is not UTF-8 passed the checks and failed every format after scoring; CSV cells starting with ``=``,
``+``, ``-`` or ``@`` were written raw, ``--excel`` too. Every file here is written by these tests; the bomb
is kept small (a few hundred strings) so that the old code fails the test instead of the machine.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from framelab.cli import main
from framelab.config import load_config
from framelab.errors import ConfigError, DataError
from framelab.score.inputs import check_inputs
from framelab.score.records import ModelLabels, Prediction, ScoredArticle, ScoredUnit
from framelab.score.writers import CsvWriter, formula_safe, formula_unsafe
from framelab.types import Article, Unit

STORY = "The mayor called the levy a shameful scandal.\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- YAML aliases


def test_yaml_aliases_are_refused_naming_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # Nine strings, nine times nine, nine times that: 729 here, and the gigabytes of the report one level deeper each.
    bomb = _write(
        tmp_path / "bomb.yaml",
        'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "name: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    )
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(bomb))}:2: YAML aliases \(\*a\) are not allowed"):
        load_config(bomb)
    assert main(["config", "--config", str(bomb)]) == 2
    assert f"{bomb}:2: YAML aliases" in capsys.readouterr().err
    with pytest.raises(ConfigError, match=r"^--set name: YAML aliases \(\*x\)"):
        load_config(None, ["name=[*x]"])


# --------------------------------------------------------------------------- extends


@pytest.mark.parametrize("parent", ["../outside.yaml", "OUTSIDE_ABSOLUTE", "../secret.txt", "link.yaml"])
def test_extends_outside_the_configs_folder_is_refused_and_never_echoed(tmp_path: Path, parent: str) -> None:
    secret = "TOP-SECRET-LINE: swordfish\n"
    _write(tmp_path / "outside.yaml", secret)
    _write(tmp_path / "secret.txt", secret)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "link.yaml").symlink_to(tmp_path / "outside.yaml")  # inside by name, outside in fact
    parent = parent.replace("OUTSIDE_ABSOLUTE", str(tmp_path / "outside.yaml"))
    config = _write(tmp_path / "runs" / "run.yaml", f"extends: {parent}\n")
    with pytest.raises(ConfigError) as info:
        load_config(config)
    message = str(info.value)
    assert message.startswith(f"{config}: 'extends: {parent}' is ") and str(tmp_path / "runs") in message
    assert "TOP-SECRET" not in message and "swordfish" not in message


def test_extends_reaches_files_in_the_configs_folder_and_below(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    _write(root / "common.yaml", "data:\n  unit: line\n")
    _write(root / "base" / "frames.yaml", "extends: ../common.yaml\ntrain:\n  epochs: 3\n")  # up, but inside runs/
    config = load_config(_write(root / "run.yaml", "extends: base/frames.yaml\ntrain:\n  seed: 7\n"))
    assert (config.data.unit, config.train.epochs, config.train.seed) == ("line", 3.0, 7)


def test_a_yaml_error_names_the_file_and_line_without_quoting_it(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.yaml", "name: [run\ntoken: swordfish-secret\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert str(info.value).startswith(f"{bad}:2: not valid YAML: ") and "swordfish" not in str(info.value)


# --------------------------------------------------------------------------- named pipes


def _within(seconds: float, fifo: Path, call: Callable[[], object]) -> object:
    """``call()``'s result or exception, failing the test when it hangs (the pipe is then opened to free it)."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the blocked reader gets end of file
        worker.join(seconds)
        pytest.fail(f"reading the inputs waited on the named pipe {fifo} for {seconds} s")
    return outcome[0]


@pytest.fixture
def inbox(tmp_path: Path) -> tuple[Path, Path, Path]:
    if not hasattr(os, "mkfifo"):
        pytest.skip("named pipes need a POSIX system")
    folder = tmp_path / "inbox"
    story = _write(folder / "story.txt", STORY)
    fifo = folder / "pipe.txt"
    os.mkfifo(fifo)
    return folder, story, fifo


def test_a_named_pipe_among_the_inputs_is_refused_without_waiting(inbox: tuple[Path, Path, Path]) -> None:
    folder, story, fifo = inbox
    for given in (folder, fifo):
        refused = _within(20, fifo, lambda given=given: check_inputs([given]))
        assert isinstance(refused, DataError), refused
        (problem,) = refused.problems
        assert problem.path == str(fifo) and "not a regular file" in problem.message and problem.hint
    # --on-error skip: the pipe is left out and listed; the story is scored.
    files, problems = _within(20, fifo, lambda: check_inputs([folder], skip=True))
    assert files == [story] and [p.path for p in problems] == [str(fifo)]


def test_the_cli_refuses_a_named_pipe_and_lets_go_of_the_output(
    inbox: tuple[Path, Path, Path], tiny_classifier_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    folder, _, fifo = inbox
    out = folder.parent / "out.jsonl"
    args = ["score", "--model", str(tiny_classifier_dir), str(folder), "--out", str(out), "--quiet"]
    assert _within(60, fifo, lambda: main(args)) == 2
    assert f"{fifo}: is not a regular file" in capsys.readouterr().err
    assert sorted(p.name for p in folder.parent.iterdir()) == ["inbox"]  # no output, no lock left


# --------------------------------------------------------------------------- file names


def test_a_file_name_that_is_not_utf8_is_refused_before_scoring(
    tmp_path: Path, tiny_classifier_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "inbox"
    _write(folder / "fine.txt", STORY)
    try:
        (folder / os.fsdecode(b"caf\xe9.txt")).write_bytes(STORY.encode("utf-8"))  # a Latin-1 name
    except (OSError, UnicodeError):
        pytest.skip("this file system keeps only UTF-8 names")
    with pytest.raises(DataError) as info:
        check_inputs([folder])
    (problem,) = info.value.problems
    assert problem.path == str(folder / "caf\\xe9.txt") and "not valid UTF-8" in problem.message
    out = tmp_path / "out.csv"
    args = ["score", "--model", str(tiny_classifier_dir), str(folder), "--format", "csv", "--out", str(out), "-q"]
    assert main(args) == 2
    assert "caf\\xe9.txt: the file name is not valid UTF-8" in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------- CSV formula cells


FORMULAS = ['=HYPERLINK("http://x")', "+5 more", "-bullet point", "@SUM(A1)", "\tTabbed", "\rReturn"]


def _scored() -> ScoredArticle:
    """One article whose id, model name, label and every unit's text start as a formula would; one score -0.5."""
    lines = [*FORMULAS, "-0.5"]
    text = "\n".join(lines) + "\n"
    units, start = [], 0
    for index, line in enumerate(lines):
        unit = Unit("=cmd|' /C calc'!A0", index, start, start + len(line), line)
        units.append(ScoredUnit("line", unit, {"@model": Prediction("techniques", ["-x"], {"-x": -0.5})}))
        start += len(line) + 1
    return ScoredArticle(Article("=cmd|' /C calc'!A0", text), units, {})


@pytest.mark.parametrize("excel", [False, True])
def test_csv_cells_that_would_run_as_formulas_start_with_a_quote(tmp_path: Path, excel: bool) -> None:
    out = tmp_path / "out.csv"
    writer = CsvWriter(out, [ModelLabels("@model", "techniques", ("-x",))], excel=excel)
    writer.write(_scored())
    writer.close()
    assert out.read_bytes().startswith(b"\xef\xbb\xbf") == excel
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["text"] for row in rows] == [f"'{formula}" for formula in FORMULAS] + ["-0.5"]
    for row in rows:
        assert (row["article_id"], row["model"], row["labels"]) == ("'=cmd|' /C calc'!A0", "'@model", "'-x")
        assert row["score:-x"] == "-0.5" and int(row["start"]) >= 0  # numbers as they are
    assert CsvWriter.cell(-0.5) == -0.5 and CsvWriter.cell("-0.5") == "-0.5" and CsvWriter.cell("a=b") == "a=b"


@pytest.mark.parametrize("value", ["=1+1", "'=1+1", "''@x", "-5", "'plain", "plain", "-0.5", "\tx", "+"])
def test_formula_marks_round_trip(value: str) -> None:
    cell = formula_safe(value)
    assert formula_unsafe(cell) == value
    assert not cell.startswith(("=", "+", "@", "\t"))
