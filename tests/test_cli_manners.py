"""What a command-line user expects: -q/-v, ``-`` for standard input, help with an example, ``python -m framelab``."""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import framelab
import framelab.cli
import framelab.score.scorer
from framelab.cli import CLOSED_PIPE, build_parser, main
from framelab.progress import bars_shown
from framelab.score.scorer import score
from framelab.score.shard import shard_of
from framelab.score.writers import WRITERS

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
    assert [r["source"] for r in records if r["type"] == "article"] == ["-"]  # not a deleted temporary file
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
    assert "standard input: article is empty" in capsys.readouterr().err


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
    "command",
    [
        "data",
        "train",
        "eval",
        "ensemble",
        "models",
        "baseline",
        "score",
        "push",
        "merge",
        "serve",
        "config",
        "completion",
    ],
)
def test_every_subcommand_has_a_description_and_an_example(command: str) -> None:
    helptext = build_parser()._subparsers._group_actions[0].choices[command].format_help()
    assert "example:\n  framelab " in helptext and "-q, --quiet" in helptext


def test_python_dash_m_framelab_prints_the_version() -> None:
    done = subprocess.run([sys.executable, "-m", "framelab", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"framelab {framelab.__version__}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["score", "--modle", "m", "a.txt"], "unrecognized argument --modle; did you mean --model?"),
        (
            ["score", "--model", "m", "--fromat", "csv", "a.txt"],
            "unrecognized argument --fromat; did you mean --format?",
        ),
        (["merge", "--outt", "o", "a.jsonl"], "unrecognized argument --outt; did you mean --out?"),
        (["--vrebose", "config"], "unrecognized argument --vrebose; did you mean --verbose?"),
        (["scroe", "--model", "m"], "invalid choice: 'scroe'; did you mean score?"),
        (["config", "--show"], "unrecognized argument --show"),
    ],
)
def test_an_unknown_flag_is_named_with_the_nearest_one_before_a_missing_one(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and "required" not in err, err


def test_the_abbreviations_and_flag_runs_argparse_takes_still_parse() -> None:
    args = build_parser().parse_args(["-vq", "score", "--mod", "m", "--form=csv", "--batch-size", "8", "-", "x.txt"])
    assert (args.verbose, args.quiet, args.model, args.format, args.inputs) == (
        True,
        True,
        ["m"],
        "csv",
        ["-", "x.txt"],
    )


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    # framelab config | head -1, with the reader gone before the first byte: no "error: Broken pipe", status 141.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "framelab", "config"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.stderr == "" and done.returncode == CLOSED_PIPE == 141


def test_head_reading_one_line_leaves_no_error() -> None:
    done = subprocess.run(
        f"{shlex.quote(sys.executable)} -m framelab config | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1
    assert "Broken pipe" not in done.stderr and "Error" not in done.stderr


def _bash_completions(script: Path, line: str) -> list[str]:
    """What bash offers for the last word of ``line`` (empty after a trailing space), with ``script`` loaded."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    done = subprocess.run(
        [
            "bash",
            "-c",
            'source "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _framelab; printf "%s\\n" "${COMPREPLY[@]}"',
            script,
            *words,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completion_offers_commands_options_and_choices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "framelab.bash"
    script.write_text(capsys.readouterr().out, encoding="utf-8")
    commands = list(next(a for a in build_parser()._actions if a.dest == "command").choices)
    assert _bash_completions(script, "framelab ") == commands
    assert _bash_completions(script, "framelab sc") == ["score"]
    assert _bash_completions(script, "framelab -v score --fo") == ["--format", "--force"]
    assert _bash_completions(script, "framelab score --format ") == list(WRITERS)
    assert _bash_completions(script, "framelab completion ") == ["bash", "zsh"]
    (tmp_path / "article.txt").write_text("x", encoding="utf-8")
    assert _bash_completions(script, f"framelab score --model m {tmp_path}/art") == [f"{tmp_path}/article.txt"]


def test_zsh_completion_names_every_command_and_choice(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["completion", "zsh"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#compdef framelab\n")
    for command in next(a for a in build_parser()._actions if a.dest == "command").choices:
        assert f"'{command}:" in script and f"{command})" in script
    assert f"'--format:format:({' '.join(WRITERS)})'" in script
    if shutil.which("zsh") is None:
        return  # the syntax check needs zsh
    (tmp_path / "_framelab").write_text(script, encoding="utf-8")
    done = subprocess.run(["zsh", "-n", str(tmp_path / "_framelab")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_scoring_bar_counts_out_of_the_articles_to_score(
    tiny_classifier_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    totals = []
    real_bar = framelab.score.scorer.progress_bar

    def spy(*args, **kwargs):
        totals.append(kwargs.get("total"))
        return real_bar(*args, **kwargs)

    monkeypatch.setattr(framelab.score.scorer, "progress_bar", spy)
    articles = tmp_path / "articles.jsonl"
    articles.write_text(
        "".join(json.dumps({"id": f"a{n}", "text": "One. Two."}) + "\n" for n in range(7)), encoding="utf-8"
    )
    score([tiny_classifier_dir], [articles], out=tmp_path / "all.jsonl", split_workers=1)
    score([tiny_classifier_dir], [articles], out=tmp_path / "part.jsonl", shard=(0, 2), split_workers=1)
    in_shard = sum(shard_of(f"a{n}", 2) == 0 for n in range(7))
    assert totals == [7, in_shard]
