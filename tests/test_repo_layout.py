"""The repository's shape: ``bench/`` holds only what a ``make`` target runs.

A finished study leaves ``bench/`` and is cited as ``bench/<file>`` at its last
commit (README.md, Benchmarks), so every file left there is either run by a
Makefile recipe or imported by a script that is. A helper module counts when
a script the Makefile runs imports it (``speed.py`` imports ``speed_articles``
and ``speed_worker``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from .conftest import REPO

BENCH = REPO / "bench"
#: A recipe line (tab-indented) that names a file of bench/.
_RUN = re.compile(r"(?<![\w/])bench/([\w.-]+)")


def makefile_bench_files(makefile: Path = REPO / "Makefile") -> set[str]:
    """The names of the bench/ files that a Makefile recipe runs."""
    lines = makefile.read_text(encoding="utf-8").splitlines()
    return {name for line in lines if line.startswith("\t") for name in _RUN.findall(line)}


def bench_imports(script: Path) -> set[str]:
    """The bench/ modules ``script`` imports, as file names (``speed_articles.py``)."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
    return {f"{m}.py" for m in modules if (script.parent / f"{m}.py").is_file()}


def reached(run: set[str], folder: Path = BENCH) -> set[str]:
    """``run`` and every bench/ module they import, directly or through another."""
    seen, todo = set(), list(run)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name.endswith(".py") and (folder / name).is_file():
            todo.extend(bench_imports(folder / name))
    return seen


def bench_files(folder: Path = BENCH) -> set[str]:
    """Every file of bench/ (caches and hidden files left out)."""
    return {p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")}


def test_every_bench_file_is_run_by_a_make_target_or_imported_by_one() -> None:
    run = makefile_bench_files()
    missing = sorted(name for name in run if not (BENCH / name).is_file())
    assert not missing, f"the Makefile runs bench files that do not exist: {missing}"
    orphans = sorted(bench_files() - reached(run))
    assert not orphans, (
        f"bench/ files no make target runs or imports: {orphans}; give each a make target with a ## help line, "
        "or remove it and cite it as `bench/<file>` at `<commit>` (README.md, Benchmarks)"
    )


def test_the_check_sees_an_orphan_and_a_helper(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "run.py").write_text("from helper import X\nimport json\n", encoding="utf-8")
    (bench / "helper.py").write_text("X = 1\n", encoding="utf-8")
    (bench / "study.py").write_text("import run\n", encoding="utf-8")
    makefile = tmp_path / "Makefile"
    makefile.write_text("bench-x: ## x\n\t$(BIN)/python bench/run.py --out reports/x\n", encoding="utf-8")
    run = makefile_bench_files(makefile)
    assert run == {"run.py"}
    assert bench_files(bench) - reached(run, bench) == {"study.py"}
