"""The Label Studio import file of the articles ``framelab select`` picked, and the label config it needs.

The tasks are the ones ``framelab score --format labelstudio`` writes (:func:`framelab.labelstudio.article_task`:
the same controls, regions and per-model predictions), so one project takes both, and the ``labelstudio`` reader
reads its export back. Each task's ``data.uncertainty`` is the article's uncertainty
(:func:`framelab.active.pool.article_uncertainty`), a data column Label Studio can sort by; the tasks are written
most wanted first. The label config goes beside the file, ``<out stem>.label_config.xml``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from framelab import labelstudio
from framelab.output import AtomicFile
from framelab.score.records import ModelLabels, ScoredArticle
from framelab.score.writers import article_records


def selection_tasks(
    results: Sequence[ScoredArticle], uncertainty: Sequence[float], models: Sequence[ModelLabels]
) -> tuple[list[dict], str]:
    """The Label Studio tasks of ``results`` in order, each with its ``uncertainty``, and their label config."""
    config = labelstudio.label_config(labelstudio.labels_by_control((m.task, m.labels) for m in models))
    ui = labelstudio.interface(config)
    tasks = []
    for result, u in zip(results, uncertainty):
        task = labelstudio.article_task(result.article.id, result.article.text, article_records(result), ui)
        task["data"]["uncertainty"] = round(float(u), 4)
        tasks.append(task)
    return tasks, config


def label_config_path(path: str | Path) -> Path:
    """Where the label config of the import file ``path`` goes: ``<stem>.label_config.xml`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.label_config.xml")


def write_tasks(
    path: str | Path, results: Sequence[ScoredArticle], uncertainty: Sequence[float], models: Sequence[ModelLabels]
) -> list[str]:
    """Write the tasks of ``results`` as a Label Studio import file and its label config beside it; returns the
    paths written."""
    tasks, config = selection_tasks(results, uncertainty, models)
    with AtomicFile(path, newline="\n") as out:
        json.dump(tasks, out.handle, ensure_ascii=False, indent=1)
        out.handle.write("\n")
    xml = label_config_path(path)
    with AtomicFile(xml, newline="\n") as out:
        out.handle.write(config)
    return [str(path), str(xml)]
