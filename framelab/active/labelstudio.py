"""The Label Studio import file of the articles ``framelab select`` picked: a JSON list of tasks.

Each task is ``{"data": {"text": …, "id": …}, "predictions": [{"model_version": …, "score": …, "result":
[…]}]}``: the article text to annotate, and the models' decisions as pre-annotations. An article model's
labels are a ``choices`` result; a unit model's labels a ``labels`` region over the unit (offsets into the
article text), a span model's one region per span. ``from_name`` is the model's name (the folder's, as
the predictions are keyed), ``to_name`` is ``text``. ``score`` is ``1 / (1 + uncertainty)``: Label Studio reads
a prediction's score as the model's confidence and sorts the lowest first, so the most uncertain article comes
first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from framelab.output import AtomicFile
from framelab.score.records import Prediction, ScoredArticle, ScoredUnit


def _region(name: str, start: int, end: int, text: str, labels: list[str]) -> dict:
    value = {"start": start, "end": end, "text": text, "labels": labels}
    return {"from_name": name, "to_name": "text", "type": "labels", "value": value}


def _unit_results(unit: ScoredUnit, name: str, prediction: Prediction) -> list[dict]:
    u = unit.unit
    if prediction.spans is not None:
        return [
            _region(name, u.start + s.start, u.start + s.end, u.text[s.start : s.end], [s.label])
            for s in prediction.spans
        ]
    return [_region(name, u.start, u.end, u.text, list(prediction.labels))] if prediction.labels else []


def labelstudio_task(result: ScoredArticle, *, uncertainty: float | None = None) -> dict:
    """One Label Studio task: the article and its models' decisions as one prediction, scored
    ``1 / (1 + uncertainty)`` where the article's uncertainty is given."""
    results = [
        {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": list(p.labels)}}
        for name, p in result.predictions.items()
        if p.labels
    ]
    for unit in result.units:
        for name, prediction in unit.predictions.items():
            results += _unit_results(unit, name, prediction)
    models = sorted({*result.predictions, *(name for unit in result.units for name in unit.predictions)})
    prediction: dict = {"model_version": "+".join(models), "result": results}
    if uncertainty is not None:
        prediction["score"] = round(1.0 / (1.0 + uncertainty), 4)
    return {"data": {"text": result.article.text, "id": result.article.id}, "predictions": [prediction]}


def write_tasks(path: str | Path, results: Sequence[ScoredArticle], uncertainty: Sequence[float]) -> str:
    """Write the tasks of ``results`` (with their ``uncertainty``) as a Label Studio import file; returns the
    path written."""
    tasks = [labelstudio_task(r, uncertainty=u) for r, u in zip(results, uncertainty)]
    with AtomicFile(path, newline="\n") as out:
        json.dump(tasks, out.handle, ensure_ascii=False, indent=1)
        out.handle.write("\n")
    return str(path)
