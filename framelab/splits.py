"""Reading one split of a dataset folder as one task's examples.

:func:`load_task_split` is the one way a task's examples leave a dataset
folder written by :mod:`framelab.dataset`; it asks the task's record how
(:attr:`framelab.tasks.Task.load_split`). The readers of the built-in unit
and article tasks are here; a task package brings its own when its examples
are something else (spans, given spans).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import DatasetDict, load_from_disk

from framelab.errors import DataError, Problem
from framelab.tasks import get_task


@dataclass
class TaskData:
    """Texts and 0/1 targets of one split for one task; ``pairs`` are the first segments of pair tasks."""

    ids: list[str]
    texts: list[str]
    targets: np.ndarray
    pairs: list[str] | None = None


def load_task_split(dataset_dir: str | Path, task: str, split: str, labels: list[str] | None = None) -> tuple[TaskData, list[str]]:
    """Texts and targets of ``split`` for ``task`` from a dataset folder, and the label names.

    ``labels`` fixes the label order (a trained model's); otherwise it comes
    from the dataset's label inventory.
    """
    return get_task(task).load_split(Path(dataset_dir), split, labels)


def label_inventory(dataset_dir: Path) -> dict:
    """The dataset's ``labels.json``: label names per kind, and the unit kind."""
    path = Path(dataset_dir) / "labels.json"
    if not path.is_file():
        raise DataError(Problem(str(dataset_dir), None, "no dataset here", "build it first: framelab data --config <this config>"))
    return json.loads(path.read_text(encoding="utf-8"))


def load_table(dataset_dir: Path, table: str, split: str):
    """Split ``split`` of the dataset's ``units`` or ``articles`` table, with an error naming the splits it has."""
    tables: DatasetDict = load_from_disk(str(Path(dataset_dir) / table))
    if split not in tables:
        raise DataError(Problem(str(dataset_dir), None, f"has no '{split}' split (it has {', '.join(tables)})", "rebuild it with a dev_fraction/test_fraction above 0"))
    return tables[split]


def targets_of(values: list, names: list[str]) -> np.ndarray:
    """0/1 rows from each example's label list (or single label, or None); names outside ``names`` are ignored."""
    index = {name: i for i, name in enumerate(names)}
    targets = np.zeros((len(values), len(names)), dtype=np.int64)
    for r, value in enumerate(values):
        for name in value if isinstance(value, list) else ([value] if value else []):
            if name in index:
                targets[r, index[name]] = 1
    return targets


def load_unit_split(dataset_dir: Path, split: str, labels: list[str] | None = None) -> tuple[TaskData, list[str]]:
    """Unit texts and their technique labels; ids are ``<article>#<unit index>``."""
    names = labels or label_inventory(dataset_dir)["techniques"]
    rows = load_table(dataset_dir, "units", split)
    ids = [f"{a}#{i}" for a, i in zip(rows["article_id"], rows["index"])]
    return TaskData(ids, list(rows["text"]), targets_of(rows["labels"], names)), names


def load_article_split(
    dataset_dir: Path, split: str, labels: list[str] | None = None, *, column: str, inventory: str, single_label: bool, pair_column: str | None = None
) -> tuple[TaskData, list[str]]:
    """Article texts and the labels in ``column`` (names listed under ``inventory`` in ``labels.json``).

    Single-label tasks keep only the articles that carry a label; pair tasks
    also return each article's ``pair_column`` (its target) as ``pairs``.
    """
    names = labels or label_inventory(dataset_dir)[inventory]
    rows = load_table(dataset_dir, "articles", split)
    if single_label:
        rows = rows.filter(lambda row: row[column] is not None)
    pairs = list(rows[pair_column]) if pair_column else None
    return TaskData(list(rows["id"]), list(rows["text"]), targets_of(rows[column], names), pairs), names
