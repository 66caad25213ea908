"""The docs say what the code does: quoted ``framelab`` commands parse, and lists name what the code holds.

Every ``framelab …`` command quoted in README.md, the other READMEs,
docs/*.md (docs/history/ is a record of what was run then, and stays as it
was) and the package's docstrings is parsed with the real parser,
``framelab.cli.build_parser()``. A quote is a code span or a line of a code
block. Placeholders are read sensibly: ``…`` elides arguments, ``[…]`` marks
optional ones, ``a\\|b`` lists alternatives (each is checked), ``$VAR`` and
``<name>`` stand for a value, and an upper-case word (``DIR``, ``K/N``) given
to an option that checks its value becomes a valid value. A line of a
``bash`` block with nothing elided must parse as it stands; a code span, an
elided command or a command starting a line of another block (a layout
drawing) is checked leniently: its options must exist and take their values,
but required arguments may be left out.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from framelab.cli import build_parser
from framelab.score.writers import WRITERS

from .conftest import REPO

MARKDOWN = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted(p for p in REPO.glob("*/README.md") if p.parent.name in {"data", "models", "tests"}),
]
PACKAGE = REPO / "framelab"
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(?:/[A-Z0-9_]+)?$")
_ELISIONS = ("…", "...")
#: Code blocks of commands, whose lines must parse as they stand (others, like a layout drawing, only mention commands).
_SHELL_BLOCKS = {"bash", "sh", "shell", "console"}
_SHELL_BREAKS = {";", "&&", "||", "|", "&", ">", ">>", "<", "(", ")", "2>&1"}


@dataclass
class Quote:
    """A piece of code from a doc: where it is, its text, and what holds it.

    ``block``: a whole line of a block of commands (``bash``), which must
    parse as it stands; ``drawing``: a line of another code block (a layout
    drawing), whose commands count only where one starts the line.
    """

    where: str
    text: str
    block: bool = False
    drawing: bool = False


def markdown_quotes(path: Path, text: str | None = None) -> list[Quote]:
    """The code spans and the code-block lines (continuations joined) of a Markdown file."""
    text = path.read_text(encoding="utf-8") if text is None else text
    quotes, fence, pending = [], None, ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence, pending = (line.strip()[3:] if fence is None else None), ""
            continue
        where = f"{path.name}:{number}"
        if fence is not None:
            pending += line
            if pending.endswith("\\"):
                pending = pending[:-1] + " "
                continue
            commands_block = fence in _SHELL_BLOCKS
            quotes.append(Quote(where, pending, block=commands_block, drawing=not commands_block))
            pending = ""
        else:
            quotes += [Quote(where, span) for span in re.findall(r"`([^`]+)`", line)]
    return quotes


def docstring_quotes(path: Path) -> list[Quote]:
    """The inline literals (````…````) of every docstring of a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    quotes = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc:
                where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 1)}"
                quotes += [Quote(where, span) for span in re.findall(r"``(.+?)``", doc, re.S)]
    return quotes


def _tokens(text: str) -> list[str]:
    """Shell words of ``text``: comments dropped, ``$VAR`` and ``<name>`` as values, operators on their own."""
    text = re.sub(r"\$\{?\w+\}?", "1", text)
    text = re.sub(r"<[^<>\s]+>", "X", text)
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|<>()")
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote in prose-like code: plain words will do
        return text.split()


def commands(quote: Quote) -> list[tuple[list[str], bool]]:
    """Each ``framelab`` command in ``quote``: its arguments, and whether any were elided."""
    tokens = _tokens(quote.text)
    found = []
    for i, token in enumerate(tokens):
        program = token == "framelab" or token.endswith("/framelab")
        module = token in ("framelab", "framelab.cli") and i > 0 and tokens[i - 1] == "-m"
        starts = i == 0 or tokens[i - 1] in _SHELL_BREAKS or module
        if not (program or module) or (quote.drawing and not starts):
            continue
        args = []
        for word in tokens[i + 1 :]:
            if word in _SHELL_BREAKS:
                break
            args.append(word)
        elided = any(mark in word for word in args for mark in _ELISIONS)
        args = [word.strip("[]").replace("…", "").replace("...", "") for word in args]
        found.append(([word for word in args if word], elided))
    return found


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def lenient_parser() -> argparse.ArgumentParser:
    """The real parser with every argument optional: a quote may leave required ones out."""
    parser = build_parser()
    for sub in _subparsers(parser).values():
        for group in sub._mutually_exclusive_groups:
            group.required = False
        for action in sub._actions:
            action.required = False
            if action.nargs == "+":
                action.nargs = "*"
    return parser


def _valid_value(action: argparse.Action) -> str | None:
    """A value ``action`` accepts, for a placeholder given to it."""
    if action.choices:
        return str(next(iter(action.choices)))
    for value in ("2", "0.5", "1"):
        try:
            (action.type or str)(value)
            return value
        except (ValueError, TypeError, argparse.ArgumentTypeError):
            continue
    return None


def _is_placeholder(word: str) -> bool:
    return bool(_PLACEHOLDER.match(word.rstrip(":,.")))


def _fill_placeholders(args: list[str], sub: argparse.ArgumentParser, strict: bool) -> list[str]:
    """``args`` with each placeholder given to a value-checking option replaced by a valid value.

    Leniently read, an option named last without its value (``framelab score --format``) is given one.
    """
    out = list(args)
    for i, word in enumerate(out):
        action = sub._option_string_actions.get(word)
        if action is None or action.nargs == 0:
            continue
        if i + 1 == len(out):
            if not strict:
                count = action.nargs if isinstance(action.nargs, int) else 1
                out += [_valid_value(action) or "X"] * count
        elif (action.type or action.choices) and _is_placeholder(out[i + 1]):
            out[i + 1] = _valid_value(action) or out[i + 1]
    return out


def _variants(args: list[str]) -> list[list[str]]:
    """``args`` once per alternative of a word that lists some (``jsonl|csv``; others at their first)."""
    first = [word.split("|")[0] if "|" in word else word for word in args]
    variants = [first]
    for i, word in enumerate(args):
        for alternative in word.split("|")[1:] if "|" in word else []:
            variants.append([*first[:i], alternative, *first[i + 1 :]])
    return variants


def parse_problem(args: list[str], strict: bool) -> str | None:
    """Why ``framelab <args>`` does not parse (``None`` when it does or is no command to check)."""
    positional = [word for word in args if not word.startswith("-")]
    if not positional or _is_placeholder(positional[0]) or {"-h", "--help", "--version"} & set(args):
        return None
    parser = build_parser() if strict else lenient_parser()
    sub = _subparsers(parser).get(positional[0])
    for variant in _variants(args):
        filled = _fill_placeholders(variant, sub, strict) if sub else variant
        errors = io.StringIO()
        try:
            with contextlib.redirect_stderr(errors):
                parser.parse_args(filled)
        except SystemExit:
            return f"framelab {shlex.join(filled)}: {errors.getvalue().strip().splitlines()[-1]}"
    return None


def problems(quotes: list[Quote]) -> list[str]:
    """Every quoted command that does not parse, with where it is quoted."""
    found = []
    for quote in quotes:
        for args, elided in commands(quote):
            if problem := parse_problem(args, strict=quote.block and not elided):
                found.append(f"{quote.where}: {problem}")
    return found


def test_every_quoted_framelab_command_parses() -> None:
    quotes = [q for path in MARKDOWN for q in markdown_quotes(path)]
    quotes += [q for path in sorted(PACKAGE.rglob("*.py")) for q in docstring_quotes(path)]
    checked = sum(len(commands(q)) for q in quotes)
    assert checked > 100, f"only {checked} framelab commands found: is the extraction still right?"
    assert problems(quotes) == []


@pytest.mark.parametrize(
    ("markdown", "problem"),
    [
        ("prints it: `framelab config --show`", "unrecognized argument --show"),
        ("`framelab score --model M --format pdf x.txt`", "invalid choice: 'pdf'"),
        ("`framelab score … --format jsonl\\|pdf`", "invalid choice: 'pdf'"),
        ("```bash\nframelab trian --config c.yaml   # a typo\n```", "invalid choice: 'trian'"),
        ("```bash\nframelab score --model M\n```", "required: inputs"),
        ("```\nframelab score --model M --format pdf\n```", "invalid choice: 'pdf'"),
        ("```bash\nframelab ensemble --model a \\\n  --threshold-step x --out o\n```", "invalid float value: 'x'"),
    ],
)
def test_the_check_catches_what_it_looks_for(tmp_path: Path, markdown: str, problem: str) -> None:
    found = problems(markdown_quotes(tmp_path / "x.md", markdown))
    assert len(found) == 1 and problem in found[0], found


@pytest.mark.parametrize(
    "markdown",
    [
        "`framelab score --model DIR [--model DIR2 …] INPUT… --format jsonl\\|csv --out PATH [--excel]`",
        "`framelab train --folds K` and `framelab score --shard K/N` and `framelab COMMAND --help`",
        "```bash\nfor k in 0 1; do framelab score --model M --shard $k/2 --out s-$k.jsonl in/ & done; wait\n```",
        "```bash\ncat a.txt | framelab score --model <folder> -   # then framelab eval …\n```",
        "`framelab.load`, `framelab/score/writers.py`, `pip install 'framelab[serve]'`, `framelab`",
        "```\napi, serve/     scoring over HTTP (framelab serve)\npyproject.toml  the framelab command and tasks\n```",
    ],
)
def test_placeholders_and_shell_are_read_sensibly(tmp_path: Path, markdown: str) -> None:
    assert problems(markdown_quotes(tmp_path / "x.md", markdown)) == []


def test_the_guide_names_every_output_format() -> None:
    guide = (REPO / "docs" / "guide.md").read_text(encoding="utf-8")
    score = guide[guide.index("### Score") :]
    score = score[: score.index("\n### ", 1)]
    assert [name for name in WRITERS if f"`{name}`" not in score] == []


def test_the_architecture_page_places_every_module() -> None:
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    layout = page[page.index("```") : page.index("```", page.index("```") + 3)]
    modules = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("__")}
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    missing = sorted(name for name in modules | packages if not re.search(rf"(?<![\w/]){name}(?!\w)", layout))
    assert missing == [], f"docs/architecture.md's layout leaves out {missing}"


def results_tables(page: str) -> dict[str, list[list[str]]]:
    """The Markdown tables of a results page by the ``##`` section that holds them: each table's body rows."""
    tables: dict[str, list[list[str]]] = {}
    section, rows = "", None
    for line in page.splitlines() + [""]:
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("|"):
            if rows is None:
                rows = []
                tables.setdefault(section, []).append(rows)
            if not re.fullmatch(r"\|[-:| ]+\|", line):
                rows.append(line)
        else:
            rows = None
    return {name: [table[1:] for table in found] for name, found in tables.items()}


def results_page_problems(page: str) -> list[str]:
    """What keeps a results page from being one screen per task with what ships marked."""
    found = []
    if len(page.splitlines()) > 250:
        found.append(f"{len(page.splitlines())} lines (at most 250: move the rest to docs/history/)")
    if "/tmp" in page:
        found.append("a /tmp path (a command nobody can rerun)")
    for section, tables in results_tables(page).items():
        for table in tables:
            bold = [row for row in table if row.startswith("| **")]
            if len(bold) != 1:
                found.append(f"{section}: a table with {len(bold)} bold rows (exactly one: what ships)")
            if len(table) > 8:
                found.append(f"{section}: a table of {len(table)} rows (at most 8)")
    return found


def test_the_results_page_is_one_screen_per_task() -> None:
    page = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert len(results_tables(page)) >= 4
    assert results_page_problems(page) == []


@pytest.mark.parametrize(
    ("page", "problem"),
    [
        ("## T\n\n| a | b |\n|---|---|\n| x | 1 |\n", "0 bold rows"),
        ("## T\n\n| a | b |\n|---|---|\n| **x** | **1** |\n| **y** | 2 |\n", "2 bold rows"),
        ("## T\n\n| a |\n|---|\n" + "| **x** |\n" + "| y |\n" * 8, "9 rows"),
        ("run `framelab train --set output_dir=/tmp/m`\n", "/tmp"),
        ("x\n" * 251, "251 lines"),
    ],
)
def test_the_results_page_check_catches_what_it_looks_for(page: str, problem: str) -> None:
    assert any(problem in p for p in results_page_problems(page)), results_page_problems(page)
