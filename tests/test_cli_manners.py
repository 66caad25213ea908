"""What a command-line user expects: -q/-v, ``-`` for standard input, help with an example, ``python -m framelab``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import framelab
import framelab.cli
from framelab.cli import build_parser, main
from framelab.progress import bars_shown

ARTICLE = "Only a fool would trust this disastrous plan.\r\nThe council met on Tuesday."


@pytest.fixture
def stdin_article(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard input holding one article, with a CRLF that offsets must keep."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(ARTICLE.encode("utf-8")), encoding="utf-8"))


def test_a_dash_scores_standard_input_as_article_stdin(
    tiny_classifier_dir: Path, tmp_path: Path, stdin_article: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "scored.jsonl"
    assert main(["score", "--model", str(tiny_classifier_dir), "--out", str(out), "-"]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    units = [r for r in records if r["type"] == "unit"]
    assert {r["article_id"] for r in units} == {"stdin"} and len(units) == 2
    assert [ARTICLE[u["start"] : u["end"]] for u in units] == [
        u["text"] for u in units
    ]  # offsets index the bytes as sent
    assert f"wrote {out}" in capsys.readouterr().err


def test_quiet_keeps_only_warnings_and_errors(
    tiny_classifier_dir: Path, tmp_path: Path, stdin_article: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-q", "score", "--model", str(tiny_classifier_dir), "--out", str(tmp_path / "a.jsonl"), "-"]) == 0
    assert capsys.readouterr().err == ""
    article = tmp_path / "a.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    assert (
        main(["score", "-q", "--model", str(tmp_path / "missing"), str(article)]) == 2
    )  # -q after the sub-command too
    assert "no such model folder" in capsys.readouterr().err
    assert main(["score", "--model", str(tiny_classifier_dir), "-"]) == 2  # standard input was read to its end above
    assert "stdin.txt: article is empty" in capsys.readouterr().err


def test_quiet_silences_the_libraries_for_its_run_only(
    tiny_classifier_dir: Path, tmp_path: Path, stdin_article: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers.utils.logging as transformers_logging

    seen = {}
    real_score = framelab.cli._cmd_score

    def spy(args) -> None:
        seen.update(ours=bars_shown(), theirs=transformers_logging.is_progress_bar_enabled())
        real_score(args)

    monkeypatch.setattr(framelab.cli, "_cmd_score", spy)  # build_parser binds the name at each call
    assert main(["-q", "score", "--model", str(tiny_classifier_dir), "--out", str(tmp_path / "a.jsonl"), "-"]) == 0
    assert seen == {"ours": False, "theirs": False}
    assert bars_shown() and transformers_logging.is_progress_bar_enabled()


def test_verbose_and_quiet_combine(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v", "-q", "config"]) == 0
    assert "config:" in capsys.readouterr().err  # -v's debug message; -q still keeps the bars off


def test_verbose_logs_the_resolved_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-v", "config"]) == 0
    assert f"framelab {framelab.__version__} config:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", ["data", "train", "eval", "ensemble", "baseline", "score", "merge", "serve", "config"]
)
def test_every_subcommand_has_a_description_and_an_example(command: str) -> None:
    helptext = build_parser()._subparsers._group_actions[0].choices[command].format_help()
    assert "example:\n  framelab " in helptext and "-q, --quiet" in helptext


def test_python_dash_m_framelab_prints_the_version() -> None:
    done = subprocess.run([sys.executable, "-m", "framelab", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"framelab {framelab.__version__}"
