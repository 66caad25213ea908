"""``framelab score --spans FILE``: name the technique of given spans, with a model whose task can."""

from __future__ import annotations

from pathlib import Path

from framelab.models.folder import read_meta
from framelab.tasks import get_task, task_names


def classify_given_spans(
    model_dir: str | Path, inputs: list[str | Path], template: str | Path, out: str | Path, *, batch_size: int = 64
) -> int:
    """Answer every line of the span file ``template`` (``id<TAB>?<TAB>start<TAB>end``) into ``out``; returns
    the lines written."""
    task = get_task(read_meta(Path(model_dir)).task)
    if task.classify_spans is None:
        able = [name for name in task_names() if get_task(name).classify_spans is not None]
        raise ValueError(
            f"--spans needs a model of one of the tasks {', '.join(able)}; {model_dir} is a {task.name} model"
        )
    return task.classify_spans(model_dir, inputs, template, out, batch_size=batch_size)
