"""Evaluating a sequence classifier: figures beside the TF-IDF baseline, a report and plots.

Multi-label tasks get micro, macro, per-label and 'any label' P/R/F1 at the
model's thresholds and at 0.5; single-label tasks the same from the arg-max
plus accuracy; pair tasks (stance) also a majority-class baseline. A task's
record may add figures of its own (:attr:`framelab.tasks.Task.extra_scores`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from framelab.eval import plots
from framelab.eval.baseline import baseline_probabilities
from framelab.eval.result import EvalResult
from framelab.eval.scores import multilabel_scores, single_label_scores, stance_scores
from framelab.models.folder import atomic_folder
from framelab.splits import TaskData
from framelab.tasks import Task, get_task
from framelab.thresholds import decisions_at


def _article_level(ids: list[str], pred: np.ndarray, gold: np.ndarray, names: list[str]) -> dict:
    """Unit decisions OR-ed per article: does the article use each technique at all?"""
    articles = sorted({i.rsplit("#", 1)[0] for i in ids})
    row = {a: k for k, a in enumerate(articles)}
    p = np.zeros((len(articles), len(names)), dtype=np.int64)
    g = np.zeros_like(p)
    for unit_id, pr, go in zip(ids, pred, gold):
        k = row[unit_id.rsplit("#", 1)[0]]
        p[k] |= pr
        g[k] |= go
    return multilabel_scores(p, g, names)


def task_scores(task: Task, probs: np.ndarray, decided: np.ndarray, data: TaskData, names: list[str]) -> dict:
    """The task's figures for 0/1 ``decided`` (multi-label) or its arg-max (single-label), plus its own extras."""
    if task.multi_label:
        scores = multilabel_scores(decided, data.targets, names)
    else:
        scores = single_label_scores(decided.argmax(axis=1), data.targets.argmax(axis=1), names)
    if task.extra_scores is not None:
        scores.update(task.extra_scores(probs, decided, data, names))
    return scores


def _texts_with_targets(data: TaskData) -> list[str]:
    # The bag-of-words baseline sees the target as extra words before the text.
    return [f"{p} || {t}" for p, t in zip(data.pairs, data.texts)] if data.pairs else data.texts


def _majority(dataset_dir: Path, task: Task, names: list[str], test: TaskData) -> dict:
    train, _ = task.load_split(dataset_dir, "train", names)
    decided = np.zeros_like(test.targets)
    decided[:, int(train.targets.sum(axis=0).argmax())] = 1
    return task_scores(task, decided.astype(float), decided, test, names)


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
    return f"{scores[key]['f1']:.3f}" if key in scores else "–"


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
        f"Task **{metrics['task']}**, {metrics['n_examples']} examples. Baseline: TF-IDF + logistic regression fitted on the train split.",
        "",
        "| system | micro P | micro R | micro F1 | macro F1 | any-label F1 | article-level micro F1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    systems = [("framelab model", model), ("TF-IDF baseline", base)]
    if "majority_baseline" in metrics:
        systems.append(("majority-class baseline", metrics["majority_baseline"]))
    for title, s in systems:
        art = f"{s['article_level']['micro']['f1']:.3f}" if "article_level" in s else "–"
        lines.append(
            f"| {title} | {s['micro']['precision']:.3f} | {s['micro']['recall']:.3f} | {s['micro']['f1']:.3f} | {s['macro']['f1']:.3f} | {_fmt(s, 'any')} | {art} |"
        )
    if "model_at_0.5" in metrics:
        lines.append(
            f"| framelab model at threshold 0.5 | | | {metrics['model_at_0.5']['micro']['f1']:.3f} | {metrics['model_at_0.5']['macro']['f1']:.3f} | {_fmt(metrics['model_at_0.5'], 'any')} | |"
        )
    if "technique_classification" in model:
        lines += [
            "",
            "SemEval-2020 TC micro-F1 (a span listed k times gets the k most probable techniques): "
            f"model {model['technique_classification']['f1']:.3f}, baseline {base['technique_classification']['f1']:.3f}.",
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
            f_avg = f"{st['f_avg']:.3f}" if "f_avg" in st else "–"
            fnc = f"{st['fnc_relative']:.3f}" if "fnc_relative" in st else "–"
            lines.append(f"| {title} | {st['macro_f1']:.3f} | {st['accuracy']:.3f} | {f_avg} | {fnc} |")
    lines += [
        "",
        "## Per label",
        "",
        "| label | support | model P | model R | model F1 | baseline F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n in names:
        m = model["per_label"][n]
        lines.append(
            f"| {n} | {m['support']} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {base['per_label'][n]['f1']:.3f} |"
        )
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


def evaluate_classifier(predictor, dataset_dir: Path, split: str, out: Path) -> EvalResult:
    """Score ``split`` with a sequence classifier (model or ensemble) and write the report folder ``out``.

    The report shows the model (at its saved thresholds, and at 0.5) beside the
    TF-IDF baseline.
    """
    meta = predictor.meta
    task = get_task(meta.task)
    data, names = task.load_split(dataset_dir, split, meta.labels)
    probs = predictor.probabilities(data.texts, data.pairs)
    decided = predictor.decide(probs)
    base_probs, base_decided = baseline_decisions(dataset_dir, task, names, data)
    metrics = {
        "task": meta.task,
        "split": split,
        "model_dir": str(predictor.model_dir),
        "data_dir": str(dataset_dir),
        "n_examples": len(data.texts),
        "model": task_scores(task, probs, decided, data, names),
        "baseline": task_scores(task, base_probs, base_decided, data, names),
    }
    if task.has_target:
        metrics["majority_baseline"] = _majority(dataset_dir, task, names, data)
    if task.multi_label:
        metrics["model_at_0.5"] = task_scores(task, probs, decisions_at(probs, 0.5), data, names)
    with atomic_folder(out) as tmp:
        _write_report(tmp, metrics, names, probs, decided, data.targets, meta.thresholds if task.multi_label else None)
    return EvalResult(out, metrics)


def summarize_evaluation(metrics: dict) -> str:
    """Micro and macro F1 of the model and the baseline, as ``framelab eval`` prints them."""
    m, b = metrics["model"], metrics["baseline"]
    return "\n".join(
        [
            f"{'':<18}{'micro-F1':>9}{'macro-F1':>9}",
            f"{'model':<18}{m['micro']['f1']:>9.3f}{m['macro']['f1']:>9.3f}",
            f"{'TF-IDF baseline':<18}{b['micro']['f1']:>9.3f}{b['macro']['f1']:>9.3f}",
        ]
    )


def summarize_training(dev_metrics: dict) -> str:
    """Dev micro and macro F1 at the tuned thresholds (or arg-max), as ``framelab train`` prints them."""
    if "cross_validated" in dev_metrics:
        cv = dev_metrics["cross_validated"]
        return (
            f"{cv['folds']}-fold cross-validated micro-F1 {cv['micro_f1']['mean']:.3f} ± {cv['micro_f1']['std']:.3f}, "
            f"macro-F1 {cv['macro_f1']['mean']:.3f} ± {cv['macro_f1']['std']:.3f}; refit on {dev_metrics['refit']['examples']} examples "
            f"for {dev_metrics['refit']['epochs']:g} epochs; trained in {dev_metrics['train_runtime_seconds']:.0f} s (refit)"
        )
    key = "at_tuned_thresholds" if "at_tuned_thresholds" in dev_metrics else "argmax"
    scores = dev_metrics[key]
    return f"dev micro-F1 {scores['micro']['f1']:.3f}, macro-F1 {scores['macro']['f1']:.3f} ({key}); trained in {dev_metrics['train_runtime_seconds']:.0f} s"


def article_level_scores(probs: np.ndarray, decided: np.ndarray, data: TaskData, names: list[str]) -> dict:
    """Unit-level tasks' extra figure: unit decisions OR-ed per article."""
    return {"article_level": _article_level(data.ids, decided, data.targets, names)}


def stance_extra_scores(probs: np.ndarray, decided: np.ndarray, data: TaskData, names: list[str]) -> dict:
    """Stance tasks' extra figures: macro-F1, accuracy and the corpus's own measure (F_avg or the FNC-1 score)."""
    return {
        "stance": stance_scores(
            [names[i] for i in decided.argmax(axis=1)], [names[i] for i in data.targets.argmax(axis=1)], names
        )
    }
