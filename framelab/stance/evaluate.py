"""Reports of an FNC-1 model: the measures the field uses, beside the majority-class and TF-IDF baselines.

``framelab eval`` writes the shared classifier report (:func:`framelab.eval.classifier.evaluate_classifier`:
per-class P/R/F1, the TF-IDF and majority-class baselines, plots) and adds,
for the model and both baselines, the official FNC-1 relative score (weighted
score / maximum; Pomerleau & Rao 2017), macro-F1 over the four classes (the
measure Hanselowski et al. 2018 argue for, since the relative score rewards the
majority classes), per-class F1 and the confusion matrix. Every figure carries
its 95% interval over resamples of the split's stories (the connected
components of its headline-body graph over the related pairs, each with all
its pairs: the groups the folds deal; :func:`framelab.stance.data.stories_of`,
:mod:`framelab.eval.bootstrap`), and ``framelab eval --compare`` compares two
models on the relative score, over the same stories.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from framelab.config import Config
from framelab.eval.bootstrap import DEFAULT_RESAMPLES, Lead, Resamples, groups_of
from framelab.eval.classifier import evaluate_classifier, stance_figures
from framelab.eval.result import EvalResult
from framelab.eval.scores import fnc_relative_tally
from framelab.figures import shown
from framelab.models.card import interval_note
from framelab.splits import TaskData
from framelab.stance.data import FNC1_LABELS
from framelab.stance.train import confusion
from framelab.tasks import Task

_SYSTEMS = (
    ("model", "framelab model"),
    ("baseline", "TF-IDF baseline"),
    ("majority_baseline", "majority-class baseline"),
)


def _fnc_lines(metrics: dict) -> list[str]:
    names = FNC1_LABELS
    lines = [
        "",
        "## FNC-1 measures",
        "",
        "| system | relative score | macro-F1 (4 classes) | " + " | ".join(f"F1 {n}" for n in names) + " |",
        "|---|" + "---:|" * (2 + len(names)),
    ]
    for key, title in _SYSTEMS:
        st = metrics[key]["stance"]
        lines.append(
            f"| {title} | {shown(st, 'fnc_relative', 4)} | {shown(st, 'macro_f1', 4)} | "
            + " | ".join(shown(st["per_label"][n], "f1") for n in names)
            + " |"
        )
    matrix = metrics["model"]["confusion_matrix"]["rows_gold_columns_predicted"]
    lines += [
        "",
        "Confusion matrix of the model (rows: gold, columns: predicted):",
        "",
        "| gold \\ predicted | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    lines += [f"| {n} | " + " | ".join(str(v) for v in row) + " |" for n, row in zip(names, matrix)]
    return lines


def relative_score_lead(task: Task, decided: np.ndarray, data: TaskData, names: list[str]) -> Lead:
    """The figure ``framelab eval --compare`` compares: the FNC-1 relative score, pair by pair."""
    groups = groups_of(data, task.level)
    tally = fnc_relative_tally(decided.argmax(axis=1), data.targets.argmax(axis=1), names, groups)
    return Lead("FNC-1 relative score", list(data.ids), tally)


def evaluate_fnc1(
    predictor, dataset_dir: Path, split: str, out: Path, *, resamples: int = DEFAULT_RESAMPLES
) -> EvalResult:
    """The shared classifier report, with the FNC-1 figures of every system (:func:`fnc1_scores`) added to
    ``report.md``."""
    result = evaluate_classifier(predictor, dataset_dir, split, out, resamples=resamples, lead=relative_score_lead)
    with (Path(result.report_dir) / "report.md").open("a", encoding="utf-8") as report:
        report.write("\n".join(_fnc_lines(result.metrics)) + "\n")
    return result


def fnc1_scores(
    probs: np.ndarray, decided: np.ndarray, data: TaskData, names: list[str], *, resamples: Resamples | None = None
) -> dict:
    """The task's extra figures: relative score, macro-F1 and per-class F1 (``stance``, with intervals given
    ``resamples``), and the confusion matrix."""
    pred = [names[i] for i in decided.argmax(axis=1)]
    gold = [names[i] for i in data.targets.argmax(axis=1)]
    return {
        "stance": stance_figures(decided, data, names, "pair", resamples),
        "confusion_matrix": {"labels": list(names), "rows_gold_columns_predicted": confusion(pred, gold, names)},
    }


def summarize_evaluation(metrics: dict) -> str:
    """Relative score and macro-F1 with their 95% intervals, and per-class F1, of the model and both baselines,
    as ``framelab eval`` prints them."""
    head = f"{'':<24}{'relative [95% interval]':<26}{'macro-F1 [95% interval]':<26}" + "".join(
        f"{n:>10}" for n in FNC1_LABELS
    )
    rows = [head]
    for key, title in _SYSTEMS:
        st = metrics[key]["stance"]
        rows.append(
            f"{title:<24}{shown(st, 'fnc_relative', 4):<26}{shown(st, 'macro_f1', 4):<26}"
            + "".join(f"{st['per_label'][n]['f1']:>10.3f}" for n in FNC1_LABELS)
        )
    return "\n".join(rows)


def summarize_training(dev_metrics: dict) -> str:
    """The dev (or out-of-fold) line ``framelab train`` prints, with 95% intervals over stories where kept."""
    st = dev_metrics["stance"]
    per = ", ".join(f"{n} {st['per_label'][n]['f1']:.3f}" for n in FNC1_LABELS)
    where = "dev"
    if "cross_validated" in dev_metrics:
        cv = dev_metrics["cross_validated"]
        where = f"out of fold ({cv['folds']} folds by story, {dev_metrics['n_dev_pairs']} pairs)"
    intervals = ""
    if "bootstrap" in dev_metrics:
        intervals = f"; 95% intervals over {dev_metrics['bootstrap']['n_groups']} stories"
    return (
        f"{where} FNC-1 relative score {shown(st, 'fnc_relative', 4)}, macro-F1 {shown(st, 'macro_f1', 4)} "
        f"(F1: {per}); relatedness accuracy {shown(dev_metrics, 'relatedness_accuracy', 4)}{intervals}; "
        f"trained in {dev_metrics['train_runtime_seconds']:.0f} s"
    )


def _class_table(st: dict) -> list[str]:
    lines = ["| class | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    lines += [
        f"| {n} | {shown(s, 'precision')} | {shown(s, 'recall')} | {shown(s, 'f1')} | {s['support']} |"
        for n, s in st["per_label"].items()
    ]
    return lines


def _headline(dev_metrics: dict) -> str:
    """Relative score, macro-F1, accuracy and relatedness accuracy, each with its 95% interval where kept."""
    st = dev_metrics["stance"]
    return (
        f"FNC-1 relative score {shown(st, 'fnc_relative', 4)}, macro-F1 {shown(st, 'macro_f1', 4)}, "
        f"accuracy {shown(st, 'accuracy', 4)}; relatedness accuracy {shown(dev_metrics, 'relatedness_accuracy', 4)}"
    )


def choices_lines(dev_metrics: dict) -> list[str]:
    """The card's list of the choices made from data, each with the data it was made on."""
    lines = ["", "Choices made from data:", ""]
    lines += [f"- {c['choice']}: {c['value']:g}, {c['made_on']}." for c in dev_metrics.get("choices", [])]
    for fold in dev_metrics.get("cross_validated", {}).get("per_fold", []):
        epochs = fold["choices"]["stage_two_epochs"]
        lines.append(f"- fold {fold['fold']}, stage-2 epochs: {epochs['value']:g}, {epochs['made_on']}.")
    return lines


def _folds_card(dev_metrics: dict) -> list[str]:
    cv, st = dev_metrics["cross_validated"], dev_metrics["stance"]
    g = cv["groups"]
    stories = dev_metrics.get("bootstrap", {}).get("n_groups", "")  # those of the kept pairs
    lines = [
        f"{cv['folds']}-fold cross-validation by story over the train and dev pairs (seed {cv['seed']}). "
        f"How the groups were made: {g['how']}. {g['stories']} stories, the largest with {g['largest_story_pairs']} "
        f"pairs; the folds keep {g['pairs_kept']} of {g['pairs']} pairs ({g['unrelated_pairs_dropped']} unrelated "
        f"pairs dropped; per fold: {', '.join(map(str, g['pairs_per_fold']))}).",
        "",
        f"Over every out-of-fold pair: {_headline(dev_metrics)}.{interval_note(dev_metrics)}",
        "",
        *_class_table(st),
        "",
        "| fold | pairs | stories | relative score | macro-F1 | F1 disagree | stage-2 epochs |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in cv["per_fold"]:
        s = f["stance"]
        lines.append(
            f"| {f['fold']} | {f['pairs']} | {f['stories']} | {s['fnc_relative']:.4f} | {s['macro_f1']:.4f} | "
            f"{s['per_label']['disagree']['f1']:.3f} | {f['choices']['stage_two_epochs']['value']:g} |"
        )
    lines += [
        f"| mean ± std | | | {cv['fnc_relative']['mean']:.4f} ± {cv['fnc_relative']['std']:.4f} | "
        f"{cv['macro_f1']['mean']:.4f} ± {cv['macro_f1']['std']:.4f} | "
        f"{cv['per_label_f1']['disagree']['mean']:.3f} ± {cv['per_label_f1']['disagree']['std']:.3f} | |",
        f"| pooled [95% interval] | {dev_metrics['n_dev_pairs']} | {stories} | "
        f"{shown(st, 'fnc_relative', 4)} | "
        f"{shown(st, 'macro_f1', 4)} | {shown(st['per_label']['disagree'], 'f1')} | |",
        "",
        f"The saved model is refit on all {dev_metrics['refit']['pairs']} pairs of the train and dev splits for "
        f"{dev_metrics['refit']['epochs']:g} epochs. The out-of-fold probabilities, with each pair's story as its "
        "group, are in `out_of_fold.safetensors`.",
    ]
    return lines


def card_metrics(dev_metrics: dict, config: Config) -> str:
    """The dev (or cross-validated) section of the model card, with the choices made from data.

    Figures carry their 95% intervals over the split's stories, with a warning when there are fewer than 100.
    """
    if "cross_validated" in dev_metrics:
        return "\n".join(_folds_card(dev_metrics) + choices_lines(dev_metrics))
    split = dev_metrics.get("dev_split", "by body")
    lines = [
        f"Dev split {split} ({dev_metrics['n_dev_pairs']} pairs): {_headline(dev_metrics)}."
        + interval_note(dev_metrics),
        "",
        *_class_table(dev_metrics["stance"]),
    ]
    return "\n".join(lines + choices_lines(dev_metrics))
