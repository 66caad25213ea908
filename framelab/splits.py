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
from datasets import ClassLabel, Dataset, DatasetDict, List, Value, load_from_disk

from framelab.errors import DataError, Problem
from framelab.tasks import get_task


@dataclass
class TaskData:
    """Texts and 0/1 targets of one split for one task; ``pairs`` are the first segments of pair tasks."""

    ids: list[str]
    texts: list[str]
    targets: np.ndarray
    pairs: list[str] | None = None
    #: Each example's group for the 95% intervals when its id does not name it (FNC-1: the pair's story, which
    #: the split's pairs decide); None: the article its id names (:func:`framelab.eval.bootstrap.groups_of`).
    groups: list[str] | None = None
    #: What the groups are called in reports.
    groups_named: str = "articles"


def load_task_split(
    dataset_dir: str | Path, task: str, split: str, labels: list[str] | None = None
) -> tuple[TaskData, list[str]]:
    """Texts and targets of ``split`` for ``task`` from a dataset folder, and the label names.

    ``labels`` fixes the label order (a trained model's); otherwise it comes
    from the dataset's label inventory.
    """
    return get_task(task).load_split(Path(dataset_dir), split, labels)


def label_inventory(dataset_dir: Path) -> dict:
    """The dataset's ``labels.json``: label names per kind, and the unit kind."""
    path = Path(dataset_dir) / "labels.json"
    if not path.is_file():
        raise DataError(
            Problem(str(dataset_dir), None, "no dataset here", "build it first: framelab data --config <this config>")
        )
    return json.loads(path.read_text(encoding="utf-8"))


def load_table(dataset_dir: Path, table: str, split: str) -> Dataset:
    """Split ``split`` of the dataset's ``units``, ``articles`` or ``pairs`` table, labels as names.

    The units table is the dataset folder itself (so ``load_from_disk`` reads
    it as any Hugging Face dataset); the others are its sub-folders.
    """
    dataset_dir = Path(dataset_dir)
    folder = dataset_dir if table == "units" else dataset_dir / table
    if not (folder / "dataset_dict.json").is_file():
        if table == "units" and (dataset_dir / "units").is_dir():
            raise DataError(
                Problem(
                    str(dataset_dir),
                    None,
                    "was built by an older framelab (units/ sub-folder)",
                    "rebuild it: framelab data --config <its config> --force",
                )
            )
        raise DataError(
            Problem(
                str(folder),
                None,
                f"holds no '{table}' table",
                "build the dataset first: framelab data --config <its config>",
            )
        )
    tables: DatasetDict = load_from_disk(str(folder))
    if split not in tables:
        raise DataError(
            Problem(
                str(dataset_dir),
                None,
                f"has no '{split}' split (it has {', '.join(tables)})",
                "rebuild it with a dev_fraction/test_fraction above 0",
            )
        )
    return with_label_names(tables[split])


def unit_offsets(dataset_dir: Path, ids: list[str]) -> list[tuple[str, int, int]]:
    """Article, start and end of each unit of ``ids`` (``article#index``) in the dataset's train and dev splits."""
    where = {}
    for split in ("train", "dev"):
        rows = load_table(dataset_dir, "units", split)
        for article, index, start, end in zip(rows["article_id"], rows["index"], rows["start"], rows["end"]):
            where[f"{article}#{index}"] = (article, start, end)
    missing = [i for i in ids if i not in where]
    if missing:
        raise DataError(
            Problem(
                str(dataset_dir),
                None,
                f"lacks units the models were trained on (e.g. {missing[0]})",
                "give the dataset folder the unit-level members were trained on",
            )
        )
    return [where[i] for i in ids]


def with_label_names(rows: Dataset) -> Dataset:
    """``rows`` with every ``ClassLabel`` value (also inside lists and span records) given back as its name."""
    coded = [name for name, feature in rows.features.items() if _has_class_label(feature)]
    if not coded:
        return rows
    named = rows.remove_columns(coded)
    for name in coded:
        feature = rows.features[name]
        named = named.add_column(name, [_decode(value, feature) for value in rows[name]], feature=_as_names(feature))
    return named.select_columns(list(rows.features))


def _has_class_label(feature) -> bool:
    if isinstance(feature, ClassLabel):
        return True
    if isinstance(feature, List):
        return _has_class_label(feature.feature)
    return isinstance(feature, dict) and any(_has_class_label(f) for f in feature.values())


def _as_names(feature):
    if isinstance(feature, ClassLabel):
        return Value("string")
    if isinstance(feature, List):
        return List(_as_names(feature.feature))
    if isinstance(feature, dict):
        return {key: _as_names(f) for key, f in feature.items()}
    return feature


def _decode(value, feature):
    if value is None:
        return None
    if isinstance(feature, ClassLabel):
        return feature.int2str(value)
    if isinstance(feature, List):
        return [_decode(v, feature.feature) for v in value]
    if isinstance(feature, dict):
        return {key: _decode(value[key], f) for key, f in feature.items()}
    return value


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
    dataset_dir: Path,
    split: str,
    labels: list[str] | None = None,
    *,
    column: str,
    inventory: str,
    single_label: bool,
    pair_column: str | None = None,
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
