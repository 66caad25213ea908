"""Evaluating a sequence classifier: figures beside the TF-IDF baseline, a report and plots.

Multi-label tasks get micro, macro, per-label and 'any label' P/R/F1 at the
model's thresholds and at 0.5; single-label tasks the same from the arg-max
plus accuracy; pair tasks (stance) also a majority-class baseline. A task's
record may add figures of its own (:attr:`framelab.tasks.Task.extra_scores`).
Every figure carries its 95% interval, resampling the split's articles (FNC-1:
its stories; :func:`framelab.eval.bootstrap.groups_of`); the report warns when
there are fewer than 100 of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from framelab.eval import plots
from framelab.eval.baseline import baseline_probabilities
from framelab.eval.bootstrap import (
    DEFAULT_RESAMPLES,
    Lead,
    Resamples,
    Tally,
    attach,
    example_groups,
    groups_of,
    indicator_credits,
    micro_f1_of,
)
from framelab.eval.result import EvalResult
from framelab.eval.scores import (
    multilabel_intervals,
    multilabel_scores,
    scores_with_intervals,
    single_label_scores,
    stance_intervals,
    stance_scores,
)
from framelab.figures import shown
from framelab.models.folder import atomic_folder
from framelab.splits import TaskData
from framelab.tasks import Task, get_task
from framelab.thresholds import decisions_at


def _article_level(
    ids: list[str], pred: np.ndarray, gold: np.ndarray, names: list[str], resamples: Resamples | None
) -> dict:
    """Unit decisions OR-ed per article: does the article use each technique at all?"""
    of_unit = example_groups(ids, "unit")
    articles = sorted(set(of_unit))
    row = {a: k for k, a in enumerate(articles)}
    p = np.zeros((len(articles), len(names)), dtype=np.int64)
    g = np.zeros_like(p)
    for article, pr, go in zip(of_unit, pred, gold):
        p[row[article]] |= pr
        g[row[article]] |= go
    scores = multilabel_scores(p, g, names)
    if resamples is None:
        return scores
    return attach(scores, multilabel_intervals(p, g, names, articles, resamples))


def task_scores(
    task: Task,
    probs: np.ndarray,
    decided: np.ndarray,
    data: TaskData,
    names: list[str],
    resamples: Resamples | None = None,
) -> dict:
    """The task's figures for 0/1 ``decided`` (multi-label) or its arg-max (single-label), plus its own extras.

    With ``resamples`` (drawn over the groups of ``data``, :func:`groups_of`) every figure carries its 95% interval.
    """
    if resamples is not None:
        groups = groups_of(data, task.level)
        scores = scores_with_intervals(decided, data.targets, names, groups, resamples, multi_label=task.multi_label)
    elif task.multi_label:
        scores = multilabel_scores(decided, data.targets, names)
    else:
        scores = single_label_scores(decided.argmax(axis=1), data.targets.argmax(axis=1), names)
    if task.extra_scores is not None:
        scores.update(task.extra_scores(probs, decided, data, names, resamples=resamples))
    return scores


def micro_f1_lead(task: Task, decided: np.ndarray, data: TaskData, names: list[str]) -> Lead:
    """The figure the shared report leads with, example by example: micro-F1 (accuracy for single-label tasks)."""
    tally = Tally(indicator_credits(decided, data.targets), groups_of(data, task.level), micro_f1_of)
    return Lead("micro-F1", list(data.ids), tally)


def _texts_with_targets(data: TaskData) -> list[str]:
    # The bag-of-words baseline sees the target as extra words before the text.
    return [f"{p} || {t}" for p, t in zip(data.pairs, data.texts)] if data.pairs else data.texts


def _majority(dataset_dir: Path, task: Task, names: list[str], test: TaskData, resamples: Resamples) -> dict:
    train, _ = task.load_split(dataset_dir, "train", names)
    decided = np.zeros_like(test.targets)
    decided[:, int(train.targets.sum(axis=0).argmax())] = 1
    return task_scores(task, decided.astype(float), decided, test, names, resamples)


def baseline_decisions(
    dataset_dir: Path, task: Task, names: list[str], test: TaskData
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and decisions of the TF-IDF baseline fitted on the train split, on ``test``."""
    train, _ = task.load_split(dataset_dir, "train", names)
    probs = baseline_probabilities(
        _texts_with_targets(train), train.targets, _texts_with_targets(test), multi_label=task.multi_label
    )
    if task.multi_label:
        return probs, decisions_at(probs, 0.5)
    decided = np.zeros_like(probs, dtype=np.int64)
    decided[np.arange(len(probs)), probs.argmax(axis=1)] = 1
    return probs, decided


def _fmt(scores: dict, key: str) -> str:
    return shown(scores[key], "f1") if key in scores else "–"


def interval_lines(bootstrap: dict) -> list[str]:
    """The report's line on how its intervals were drawn, and its warning when there are few groups."""
    lines = [
        f"Figures in brackets: 95% intervals, percentile bootstrap over the split's {bootstrap['n_groups']} "
        f"{bootstrap['groups']} ({bootstrap['resamples']} resamples, seed {bootstrap['seed']}).",
    ]
    if "warning" in bootstrap:
        lines += ["", f"> **Warning**: {bootstrap['warning']}."]
    return lines


def _write_report(
    folder: Path,
    metrics: dict,
    names: list[str],
    probs: np.ndarray,
    decided: np.ndarray,
    gold: np.ndarray,
    thresholds: list[float] | None,
) -> None:
    model, base = metrics["model"], metrics["baseline"]
    support = [model["per_label"][n]["support"] for n in names]
    plots.per_label_f1(
        folder / "per_label_f1.png",
        names,
        [model["per_label"][n]["f1"] for n in names],
        [base["per_label"][n]["f1"] for n in names],
        support,
    )
    plots.pr_curves(folder / "pr_curves.png", names, probs, gold, thresholds)
    title = "confusion matrix" if "accuracy" in model else "gold label (row) × predicted label (column); none: no label"
    plots.label_matrix(folder / "label_matrix.png", names, gold, decided, title)
    lines = [
        f"# Evaluation: `{metrics['model_dir']}` on `{metrics['data_dir']}` ({metrics['split']})",
        "",
        f"Task **{metrics['task']}**, {metrics['n_examples']} examples. "
        "Baseline: TF-IDF + logistic regression fitted on the train split.",
        "",
        *interval_lines(metrics["bootstrap"]),
        "",
        "| system | micro P | micro R | micro F1 | macro F1 | any-label F1 | article-level micro F1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    systems = [("framelab model", model), ("TF-IDF baseline", base)]
    if "majority_baseline" in metrics:
        systems.append(("majority-class baseline", metrics["majority_baseline"]))
    for title, s in systems:
        art = shown(s["article_level"]["micro"], "f1") if "article_level" in s else "–"
        micro = " | ".join(shown(s["micro"], k) for k in ("precision", "recall", "f1"))
        lines.append(f"| {title} | {micro} | {shown(s['macro'], 'f1')} | {_fmt(s, 'any')} | {art} |")
    if "model_at_0.5" in metrics:
        at_half = metrics["model_at_0.5"]
        lines.append(
            f"| framelab model at threshold 0.5 | | | {shown(at_half['micro'], 'f1')} "
            f"| {shown(at_half['macro'], 'f1')} "
            f"| {_fmt(at_half, 'any')} | |"
        )
    if "technique_classification" in model:
        lines += [
            "",
            "SemEval-2020 TC micro-F1 (a span listed k times gets the k most probable techniques): "
            f"model {shown(model['technique_classification'], 'f1')}, "
            f"baseline {shown(base['technique_classification'], 'f1')}.",
        ]
    if "stance" in model:
        lines += [
            "",
            "## Stance measures",
            "",
            "| system | macro-F1 | accuracy | F_avg (favor, against) | FNC-1 relative score |",
            "|---|---:|---:|---:|---:|",
        ]
        for title, s in systems:
            st = s["stance"]
            f_avg = shown(st, "f_avg") if "f_avg" in st else "–"
            fnc = shown(st, "fnc_relative") if "fnc_relative" in st else "–"
            lines.append(f"| {title} | {shown(st, 'macro_f1')} | {shown(st, 'accuracy')} | {f_avg} | {fnc} |")
    lines += [
        "",
        "## Per label",
        "",
        "| label | support | model P | model R | model F1 | baseline F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n in names:
        m = model["per_label"][n]
        figures = " | ".join(shown(m, k) for k in ("precision", "recall", "f1"))
        lines.append(f"| {n} | {m['support']} | {figures} | {shown(base['per_label'][n], 'f1')} |")
    lines += [
        "",
        "![per-label F1](per_label_f1.png)",
        "",
        "![precision-recall](pr_curves.png)",
        "",
        "![label matrix](label_matrix.png)",
        "",
    ]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")


def evaluate_classifier(
    predictor,
    dataset_dir: Path,
    split: str,
    out: Path,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    lead: Callable[[Task, np.ndarray, TaskData, list[str]], Lead] = micro_f1_lead,
) -> EvalResult:
    """Score ``split`` with a sequence classifier (model or ensemble) and write the report folder ``out``.

    The report shows the model (at its saved thresholds, and at 0.5) beside the
    TF-IDF baseline, every figure with its 95% interval over ``resamples``
    resamples of the split's groups (its articles, or what its loader groups
    examples by: :func:`framelab.eval.bootstrap.groups_of`). ``lead``
    gives the figure ``framelab eval --compare`` compares, example by example.
    """
    meta = predictor.meta
    task = get_task(meta.task)
    data, names = task.load_split(dataset_dir, split, meta.labels)
    probs = predictor.probabilities(data.texts, data.pairs)
    decided = predictor.decide(probs)
    base_probs, base_decided = baseline_decisions(dataset_dir, task, names, data)
    draws = Resamples.draw(groups_of(data, task.level), resamples)
    metrics = {
        "task": meta.task,
        "split": split,
        "model_dir": str(predictor.model_dir),
        "data_dir": str(dataset_dir),
        "n_examples": len(data.texts),
        "bootstrap": draws.describe(data.groups_named),
        "model": task_scores(task, probs, decided, data, names, draws),
        "baseline": task_scores(task, base_probs, base_decided, data, names, draws),
    }
    if task.has_target:
        metrics["majority_baseline"] = _majority(dataset_dir, task, names, data, draws)
    if task.multi_label:
        metrics["model_at_0.5"] = task_scores(task, probs, decisions_at(probs, 0.5), data, names, draws)
    with atomic_folder(out) as tmp:
        _write_report(tmp, metrics, names, probs, decided, data.targets, meta.thresholds if task.multi_label else None)
    return EvalResult(out, metrics, lead(task, decided, data, names))


def summarize_evaluation(metrics: dict) -> str:
    """Micro and macro F1 of the model and the baseline with their 95% intervals, as ``framelab eval`` prints them."""
    rows = [f"{'':<18}{'micro-F1 [95% interval]':<26}macro-F1 [95% interval]"]
    for title, s in (("model", metrics["model"]), ("TF-IDF baseline", metrics["baseline"])):
        rows.append(f"{title:<18}{shown(s['micro'], 'f1'):<26}{shown(s['macro'], 'f1')}")
    return "\n".join(rows)


def summarize_training(dev_metrics: dict) -> str:
    """Dev micro and macro F1 at the tuned thresholds (or arg-max), as ``framelab train`` prints them."""
    if "cross_validated" in dev_metrics:
        cv = dev_metrics["cross_validated"]
        micro, macro = cv["micro_f1"], cv["macro_f1"]
        pooled = ""
        if "pooled" in micro:
            pooled = f" (pooled out of fold, with 95% intervals: {shown(micro, 'pooled')} and {shown(macro, 'pooled')})"
        return (
            f"{cv['folds']}-fold cross-validated micro-F1 {micro['mean']:.3f} ± {micro['std']:.3f}, "
            f"macro-F1 {macro['mean']:.3f} ± {macro['std']:.3f}{pooled}; "
            f"refit on {dev_metrics['refit']['examples']} examples "
            f"for {dev_metrics['refit']['epochs']:g} epochs; "
            f"trained in {dev_metrics['train_runtime_seconds']:.0f} s (refit)"
        )
    key = "at_tuned_thresholds" if "at_tuned_thresholds" in dev_metrics else "argmax"
    scores = dev_metrics[key]
    return (
        f"dev micro-F1 {shown(scores['micro'], 'f1')}, macro-F1 {shown(scores['macro'], 'f1')} ({key}; "
        f"95% intervals); trained in {dev_metrics['train_runtime_seconds']:.0f} s"
    )


def article_level_scores(
    probs: np.ndarray, decided: np.ndarray, data: TaskData, names: list[str], *, resamples: Resamples | None = None
) -> dict:
    """Unit-level tasks' extra figure: unit decisions OR-ed per article (with intervals given ``resamples``)."""
    return {"article_level": _article_level(data.ids, decided, data.targets, names, resamples)}


def stance_figures(
    decided: np.ndarray, data: TaskData, names: list[str], level: str, resamples: Resamples | None
) -> dict:
    """Macro-F1, accuracy and the corpus's own measure (F_avg or the FNC-1 score), with intervals given
    ``resamples``."""
    pred, gold = decided.argmax(axis=1), data.targets.argmax(axis=1)
    figures = stance_scores([names[i] for i in pred], [names[i] for i in gold], names)
    if resamples is None:
        return figures
    groups = groups_of(data, level)
    return attach(figures, stance_intervals(pred, gold, names, figures, groups, resamples))


def stance_extra_scores(
    probs: np.ndarray, decided: np.ndarray, data: TaskData, names: list[str], *, resamples: Resamples | None = None
) -> dict:
    """Stance tasks' extra figures (:func:`stance_figures`); their examples are (target, article) pairs."""
    return {"stance": stance_figures(decided, data, names, "pair", resamples)}
