"""``framelab eval`` and ``framelab baseline``: report folders.

``framelab eval`` loads a model (or ensemble) folder and hands it to its
task's evaluation (:attr:`framelab.tasks.Task.evaluate`), which writes
``metrics.json``, ``report.md`` and PNG plots; ``framelab baseline`` fits
the TF-IDF baseline alone. Both give every figure its 95% interval over
resamples of the split's articles, or FNC-1 stories (:mod:`framelab.eval.bootstrap`).
"""

from __future__ import annotations

import json
from pathlib import Path

from framelab.eval.bootstrap import DEFAULT_RESAMPLES, Resamples, groups_of
from framelab.eval.classifier import baseline_decisions, task_scores
from framelab.eval.result import EvalResult
from framelab.models.ensemble import load_model
from framelab.models.folder import atomic_folder
from framelab.models.predictor import inference_progress
from framelab.output import claim
from framelab.tasks import Task, get_task

#: How a report folder is named in refusals, and what its marker records.
_OUTPUT = {"what": "the report folder (--out)", "kind": "report"}


def evaluate_model(
    model_dir: str | Path,
    dataset_dir: str | Path,
    split: str = "dev",
    report_dir: str | Path | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    force: bool = False,
) -> EvalResult:
    """Score ``split`` of a dataset with a saved model and write a report folder.

    Default folder: ``reports/<model name>-<split>``. ``resamples``: bootstrap
    resamples behind each 95% interval. The folder is checked and held
    before the model loads (:func:`framelab.output.claim`; ``force`` replaces
    a folder framelab did not write).
    """
    model_dir, dataset_dir = Path(model_dir), Path(dataset_dir)
    out = Path(report_dir or Path("reports") / f"{model_dir.name}-{split}")
    with claim(out, folder=True, **_OUTPUT, inputs=[model_dir, dataset_dir], force=force):
        predictor = load_model(model_dir)
        with inference_progress(f"{model_dir.name} on {split}"):
            return get_task(predictor.meta.task).evaluate(predictor, dataset_dir, split, out, resamples=resamples)


def baseline_report(
    dataset_dir: str | Path,
    task: str,
    split: str = "dev",
    report_dir: str | Path | None = None,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    force: bool = False,
) -> EvalResult:
    """Fit the TF-IDF baseline on train, score ``split`` and write ``metrics.json`` (figures with 95% intervals;
    ``force``: see evaluate_model)."""
    dataset_dir = Path(dataset_dir)
    record = get_task(task)
    if not record.has_baseline:
        raise ValueError(f"task {task} has no TF-IDF baseline of its own; evaluate a model of it with framelab eval")
    out = Path(report_dir or Path("reports") / f"baseline-{dataset_dir.name}-{task}-{split}")
    with claim(out, folder=True, **_OUTPUT, inputs=[dataset_dir], force=force):
        return _baseline_report(dataset_dir, record, split, out, resamples)


def _baseline_report(dataset_dir: Path, record: Task, split: str, out: Path, resamples: int) -> EvalResult:
    task = record.name
    data, names = record.load_split(dataset_dir, split, None)
    _, decided = baseline_decisions(dataset_dir, record, names, data)
    draws = Resamples.draw(groups_of(data, record.level), resamples)
    metrics = {
        "task": task,
        "split": split,
        "data_dir": str(dataset_dir),
        "n_examples": len(data.texts),
        "bootstrap": draws.describe(data.groups_named),
        "baseline": task_scores(record, decided.astype(float), decided, data, names, draws),
    }
    with atomic_folder(out) as tmp:
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return EvalResult(out, metrics)
