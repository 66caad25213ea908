"""The layout's rules: one-way imports, one source per list of choices, and a task added without editing framelab."""

from __future__ import annotations

import ast
import importlib
import json
import sys
import textwrap
from pathlib import Path

import pytest

from framelab import tasks as task_registry
from framelab.active.strategies import STRATEGIES
from framelab.cli import build_parser, main
from framelab.config import Config, DataConfig, TrainConfig
from framelab.readers import READERS
from framelab.score.shard import MERGE_FORMATS
from framelab.score.writers import WRITERS

from .conftest import REPO, SAMPLE

PACKAGE = REPO / "framelab"
#: Entry points may import lazily: the CLI keeps `framelab --help` fast.
ENTRY_POINTS = {"cli.py", "__main__.py"}


def _module_name(path: Path, root: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def _imports(tree: ast.AST, known: set[str]) -> list[tuple[ast.stmt, str]]:
    """Every (statement, framelab module) import in ``tree``; ``from a import b`` counts ``a.b`` when it is a module."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("framelab"):
            found.append((node, node.module))
            found += [(node, f"{node.module}.{a.name}") for a in node.names if f"{node.module}.{a.name}" in known]
        elif isinstance(node, ast.Import):
            found += [(node, a.name) for a in node.names if a.name.startswith("framelab")]
    return found


def _part(module: str) -> str:
    """The subpackage (or top-level module) a module belongs to: ``framelab.eval.report`` → ``eval``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _modules(package: Path) -> dict[str, tuple[Path, ast.AST]]:
    return {
        _module_name(p, package.parent): (p, ast.parse(p.read_text(encoding="utf-8"))) for p in package.rglob("*.py")
    }


def import_graph(package: Path) -> dict[str, set[str]]:
    """Edges between the subpackages and top-level modules of ``package``."""
    modules = _modules(package)
    edges: dict[str, set[str]] = {}
    for module, (_, tree) in modules.items():
        for _, target in _imports(tree, set(modules)):
            a, b = _part(module), _part(target)
            if a != b and b:
                edges.setdefault(a, set()).add(b)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``edges`` as a list of nodes, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def function_level_imports(package: Path) -> list[str]:
    """``file:line`` of every framelab module imported inside a function (outside the entry points)."""
    modules = _modules(package)
    found = []
    for path, tree in modules.values():
        if path.name in ENTRY_POINTS:
            continue
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found += [f"{path.relative_to(package.parent)}:{stmt.lineno}" for stmt, _ in _imports(fn, set(modules))]
    return sorted(set(found))


def test_the_checks_catch_what_they_look_for(tmp_path: Path) -> None:
    package = tmp_path / "framelab"
    (package / "a").mkdir(parents=True)
    (package / "b").mkdir()
    (package / "a" / "x.py").write_text("from framelab.b import y\n")
    (package / "b" / "y.py").write_text("def f():\n    from framelab.a import x\n")
    assert function_level_imports(package) == ["framelab/b/y.py:2"]
    assert find_cycle(import_graph(package)) == ["a", "b", "a"]
    (package / "b" / "y.py").write_text("import framelab.tasks\n")
    assert function_level_imports(package) == [] and find_cycle(import_graph(package)) is None


def test_no_import_cycle_between_subpackages() -> None:
    assert find_cycle(import_graph(PACKAGE)) is None


def test_no_framelab_import_inside_a_function() -> None:
    assert function_level_imports(PACKAGE) == []


#: The packages that hold what only their tasks do.
TASK_PACKAGES = {"classification", "spans", "frames", "stance"}


def test_layers_never_name_a_task_package() -> None:
    edges = import_graph(PACKAGE)
    for layer in (
        "tasks",
        "encoding",
        "config",
        "splits",
        "dataset",
        "readers",
        "models",
        "train",
        "eval",
        "score",
        "serve",
        "api",
        "output",
        "cli",
    ):
        assert not edges.get(layer, set()) & TASK_PACKAGES, f"{layer} imports a task package"


def test_task_packages_never_import_each_other() -> None:
    """What two tasks share (the sentence vectors of frames and stance) lives in a shared layer."""
    edges = import_graph(PACKAGE)
    for package in TASK_PACKAGES:
        assert not edges.get(package, set()) & TASK_PACKAGES, f"{package} imports another task package"


def _choices(parser, command: str, option: str) -> list[str]:
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    return list(next(a for a in sub._actions if option in a.option_strings).choices)


def test_choices_come_from_the_registries() -> None:
    parser = build_parser()
    assert _choices(parser, "score", "--format") == list(WRITERS)
    assert _choices(parser, "merge", "--format") == list(MERGE_FORMATS)
    assert _choices(parser, "baseline", "--task") == list(task_registry.task_names())
    assert _choices(parser, "select", "--strategy") == list(STRATEGIES)
    fields = {f.name: f for f in DataConfig.__dataclass_fields__.values()}
    assert fields["format"].metadata["choices"] == tuple(READERS)
    assert TrainConfig.__dataclass_fields__["task"].metadata["choices"] is task_registry.task_names
    assert set(task_registry.task_names()) >= {"techniques", "frames", "genre", "stance", "spans", "span_techniques"}
    assert isinstance(Config(), Config)


TOY_MODULE = '''
"""A toy task: is a sentence long (more than twelve words) or short?"""

import numpy as np

from framelab.splits import TaskData, load_table
from framelab.tasks import Task

LABELS = ["short", "long"]


def load_split(dataset_dir, split, labels=None):
    names = labels or LABELS
    rows = load_table(dataset_dir, "units", split)
    targets = np.zeros((len(rows), len(names)), dtype=np.int64)
    for i, text in enumerate(rows["text"]):
        targets[i, names.index("long" if len(text.split()) > 12 else "short")] = 1
    ids = [f"{a}#{i}" for a, i in zip(rows["article_id"], rows["index"])]
    return TaskData(ids, list(rows["text"]), targets), names


SENTENCE_LENGTH = Task(
    name="sentence_length",
    doc="toy: long or short sentences",
    level="unit",
    multi_label=False,
    head="sequence",
    load_split=load_split,
    pooling="mean",
)
'''


@pytest.fixture
def toy_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The toy task's module written to a folder of its own and its record registered, as another package would."""
    (tmp_path / "toy_length_task.py").write_text(textwrap.dedent(TOY_MODULE), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("toy_length_task")
    monkeypatch.setitem(task_registry.TASKS, "sentence_length", module.SENTENCE_LENGTH)
    yield module.SENTENCE_LENGTH
    sys.modules.pop("toy_length_task", None)


def test_a_toy_task_trains_evaluates_and_scores_through_the_cli(
    toy_task, tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    work = tmp_path / "work"
    config = work / "toy.yaml"
    work.mkdir()
    config.write_text(
        f"name: toy\noutput_dir: {work / 'model'}\n"
        f"data:\n  path: {SAMPLE}\n  output_dir: {work / 'data'}\n"
        f"model:\n  base: {tiny_model_dir}\n"
        "train:\n  task: sentence_length\n  epochs: 1\n  batch_size: 32\n  learning_rate: 0.001\n",
        encoding="utf-8",
    )
    assert main(["data", "--config", str(config)]) == 0
    assert main(["train", "--config", str(config)]) == 0
    assert "dev micro-F1" in capsys.readouterr().out
    meta = json.loads((work / "model" / "framelab.json").read_text(encoding="utf-8"))
    assert meta["task"] == "sentence_length" and meta["labels"] == ["short", "long"]
    assert (
        main(["eval", "--model", str(work / "model"), "--data", str(work / "data"), "--out", str(work / "report")]) == 0
    )
    metrics = json.loads((work / "report" / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["task"] == "sentence_length" and "accuracy" in metrics["model"]
    out = work / "scored.jsonl"
    assert main(["score", "--model", str(work / "model"), str(SAMPLE), "--out", str(out), "--quiet"]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    units = [r for r in records if r["type"] == "unit"]
    assert units and all(len(r["predictions"]["model"]["labels"]) == 1 for r in units)
    assert {r["predictions"]["model"]["task"] for r in units} == {"sentence_length"}
    assert (
        main(
            [
                "score",
                "--model",
                str(work / "model"),
                str(SAMPLE),
                "--format",
                "semeval2023",
                "--out",
                str(work / "sub"),
            ]
        )
        == 2
    )
    assert "--format semeval2023 needs a model of one of the tasks" in capsys.readouterr().err
