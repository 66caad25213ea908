"""``framelab eval`` and ``framelab baseline``: report folders.

A report folder holds ``metrics.json`` (model and baseline figures),
``report.md`` and PNG plots (per-label F1 bars, precision–recall curves of the
frequent labels, and a gold × predicted label matrix).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framelab.eval import plots
from framelab.eval.baseline import baseline_probabilities
from framelab.eval.scores import decisions_at, multilabel_scores, single_label_scores, stance_scores
from framelab.models.ensemble import load_model
from framelab.models.folder import MULTI_LABEL_TASKS, atomic_folder
from framelab.spans.analysis import gold_from_ids, ranked_answers, tc_scores
from framelab.train.run import TaskData, load_task_split


@dataclass
class EvalResult:
    """Where the report went and its figures."""

    report_dir: Path
    metrics: dict


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


def _task_scores(task: str, probs: np.ndarray, decided: np.ndarray, data: TaskData, names: list[str]) -> dict:
    if task in MULTI_LABEL_TASKS:
        scores = multilabel_scores(decided, data.targets, names)
        if task == "techniques":
            scores["article_level"] = _article_level(data.ids, decided, data.targets, names)
        return scores
    scores = single_label_scores(decided.argmax(axis=1), data.targets.argmax(axis=1), names)
    if task == "span_techniques":
        gold = gold_from_ids(data.ids, data.targets, names)
        scores["technique_classification"] = tc_scores(ranked_answers(data.ids, probs, names), gold)
    if task == "stance":
        scores["stance"] = stance_scores([names[i] for i in decided.argmax(axis=1)], [names[i] for i in data.targets.argmax(axis=1)], names)
    return scores


def _texts_with_targets(data: TaskData) -> list[str]:
    # The bag-of-words baseline sees the target as extra words before the text.
    return [f"{p} || {t}" for p, t in zip(data.pairs, data.texts)] if data.pairs else data.texts


def _majority(dataset_dir: Path, task: str, names: list[str], test: TaskData) -> dict:
    train, _ = load_task_split(dataset_dir, task, "train", names)
    decided = np.zeros_like(test.targets)
    decided[:, int(train.targets.sum(axis=0).argmax())] = 1
    return _task_scores(task, decided.astype(float), decided, test, names)


def _baseline(dataset_dir: Path, task: str, names: list[str], test: TaskData) -> tuple[np.ndarray, np.ndarray]:
    train, _ = load_task_split(dataset_dir, task, "train", names)
    multi = task in MULTI_LABEL_TASKS
    probs = baseline_probabilities(_texts_with_targets(train), train.targets, _texts_with_targets(test), multi_label=multi)
    if multi:
        return probs, decisions_at(probs, 0.5)
    decided = np.zeros_like(probs, dtype=np.int64)
    decided[np.arange(len(probs)), probs.argmax(axis=1)] = 1
    return probs, decided


def _fmt(scores: dict, key: str) -> str:
    return f"{scores[key]['f1']:.3f}" if key in scores else "–"


def _write_report(folder: Path, metrics: dict, names: list[str], probs: np.ndarray, decided: np.ndarray, gold: np.ndarray) -> None:
    model, base = metrics["model"], metrics["baseline"]
    support = [model["per_label"][n]["support"] for n in names]
    plots.per_label_f1(folder / "per_label_f1.png", names, [model["per_label"][n]["f1"] for n in names], [base["per_label"][n]["f1"] for n in names], support)
    plots.pr_curves(folder / "pr_curves.png", names, probs, gold)
    title = "confusion matrix" if "accuracy" in model else "gold label (row) × predicted label (column)"
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
        lines.append(f"| framelab model at threshold 0.5 | | | {metrics['model_at_0.5']['micro']['f1']:.3f} | {metrics['model_at_0.5']['macro']['f1']:.3f} | {_fmt(metrics['model_at_0.5'], 'any')} | |")
    if "technique_classification" in model:
        lines += [
            "",
            "SemEval-2020 TC micro-F1 (a span listed k times gets the k most probable techniques): "
            f"model {model['technique_classification']['f1']:.3f}, baseline {base['technique_classification']['f1']:.3f}.",
        ]
    if "stance" in model:
        lines += ["", "## Stance measures", "", "| system | macro-F1 | accuracy | F_avg (favor, against) | FNC-1 relative score |", "|---|---:|---:|---:|---:|"]
        for title, s in systems:
            st = s["stance"]
            f_avg = f"{st['f_avg']:.3f}" if "f_avg" in st else "–"
            fnc = f"{st['fnc_relative']:.3f}" if "fnc_relative" in st else "–"
            lines.append(f"| {title} | {st['macro_f1']:.3f} | {st['accuracy']:.3f} | {f_avg} | {fnc} |")
    lines += ["", "## Per label", "", "| label | support | model P | model R | model F1 | baseline F1 |", "|---|---:|---:|---:|---:|---:|"]
    for n in names:
        m = model["per_label"][n]
        lines.append(f"| {n} | {m['support']} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {base['per_label'][n]['f1']:.3f} |")
    lines += ["", "![per-label F1](per_label_f1.png)", "", "![precision-recall](pr_curves.png)", "", "![label matrix](label_matrix.png)", ""]
    (folder / "report.md").write_text("\n".join(lines), encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")


def evaluate_model(model_dir: str | Path, dataset_dir: str | Path, split: str = "dev", report_dir: str | Path | None = None) -> EvalResult:
    """Score ``split`` of a dataset with a saved model and write a report folder.

    The report shows the model (at its saved thresholds, and at 0.5) beside the
    TF-IDF baseline. Default folder: ``reports/<model name>-<split>``.
    """
    model_dir, dataset_dir = Path(model_dir), Path(dataset_dir)
    predictor = load_model(model_dir)
    meta = predictor.meta
    out = Path(report_dir or Path("reports") / f"{model_dir.name}-{split}")
    if meta.task == "spans":
        from framelab.spans.report import evaluate_spans

        return evaluate_spans(predictor, dataset_dir, split, out)
    data, names = load_task_split(dataset_dir, meta.task, split, meta.labels)
    probs = predictor.probabilities(data.texts, data.pairs)
    decided = predictor.decide(probs)
    base_probs, base_decided = _baseline(dataset_dir, meta.task, names, data)
    metrics = {
        "task": meta.task,
        "split": split,
        "model_dir": str(model_dir),
        "data_dir": str(dataset_dir),
        "n_examples": len(data.texts),
        "model": _task_scores(meta.task, probs, decided, data, names),
        "baseline": _task_scores(meta.task, base_probs, base_decided, data, names),
    }
    if meta.task == "stance":
        metrics["majority_baseline"] = _majority(dataset_dir, meta.task, names, data)
    if meta.multi_label:
        metrics["model_at_0.5"] = _task_scores(meta.task, probs, decisions_at(probs, 0.5), data, names)
    with atomic_folder(out) as tmp:
        _write_report(tmp, metrics, names, probs, decided, data.targets)
    return EvalResult(out, metrics)


def baseline_report(dataset_dir: str | Path, task: str, split: str = "dev", report_dir: str | Path | None = None) -> EvalResult:
    """Fit the TF-IDF baseline on train, score ``split`` and write ``metrics.json``."""
    dataset_dir = Path(dataset_dir)
    data, names = load_task_split(dataset_dir, task, split)
    _, decided = _baseline(dataset_dir, task, names, data)
    metrics = {"task": task, "split": split, "data_dir": str(dataset_dir), "n_examples": len(data.texts), "baseline": _task_scores(task, decided.astype(float), decided, data, names)}
    out = Path(report_dir or Path("reports") / f"baseline-{dataset_dir.name}-{task}-{split}")
    with atomic_folder(out) as tmp:
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    return EvalResult(out, metrics)
