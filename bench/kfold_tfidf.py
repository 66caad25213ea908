"""k-fold by article for the TF-IDF + logistic-regression model: the yardstick beside ``framelab train --folds``.

Same folds (``framelab.train.folds.assign_folds`` over the train and dev
articles, same seed), same thresholds rule, same cross-validated figures as a
``--folds`` run, so the rows compare. Nested as a ``--folds`` run: fold k's
model is fitted on the folds other than k and its inner fold
(``framelab.train.folds.inner_fold``), whose predictions choose fold k's
thresholds; fold k's labels are read only to score it. Example::

    python bench/kfold_tfidf.py --data data/processed/semeval2023-lines --folds 5 --seed 42

``--task fnc1`` deals the pooled FNC-1 pairs into folds by story as ``framelab
train`` does (:func:`framelab.stance.folds.story_folds`) and fits the
single-label baseline of the FNC-1 report (headline and body words,
:func:`framelab.eval.baseline.baseline_probabilities`; nothing to choose, so no
inner fold). ``--paired MODEL`` names the k-fold model folder run on the same
folds: its out-of-fold predictions and the TF-IDF ones are compared by a paired
bootstrap over the same articles or stories (:func:`framelab.eval.bootstrap.paired_bootstrap`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from framelab.eval.baseline import baseline_probabilities
from framelab.eval.bootstrap import Resamples, Tally, indicator_credits, micro_f1_of, paired_bootstrap
from framelab.eval.scores import fnc_relative_tally, stance_intervals, stance_scores
from framelab.figures import with_interval
from framelab.lexical import LexicalModel
from framelab.models.out_of_fold import OutOfFold, load_out_of_fold
from framelab.splits import load_task_split
from framelab.stance.data import FNC1_LABELS, load_pooled
from framelab.stance.folds import story_folds
from framelab.thresholds import DEFAULT_STEP, RULES, decisions_at
from framelab.train.folds import assign_folds, concat, cross_validated, fold_thresholds, inner_fold, subset


def main(argv: list[str] | None = None) -> None:
    """Fit one TF-IDF model per fold, score the fold's articles, print the cross-validated figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (framelab data)")
    parser.add_argument("--task", default="techniques", help="a multi-label task of the dataset, or fnc1")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42, help="fold seed (train.seed of the run compared with)")
    parser.add_argument("--rule", choices=RULES, default="global")
    parser.add_argument("--min-support", type=int, default=5)
    parser.add_argument("--step", type=float, default=DEFAULT_STEP, help="threshold grid step (train.threshold_step)")
    parser.add_argument("--paired", type=Path, help="a k-fold model folder on the same folds: paired bootstrap A − B")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = fnc1_folds(args) if args.task == "fnc1" else multi_label_folds(args)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(summary, indent=2))
    if "paired" in summary:
        print(summary["paired"]["verdict"], file=sys.stderr)


def multi_label_folds(args: argparse.Namespace) -> dict:
    """The nested k-fold TF-IDF figures of a multi-label task (and, with ``--paired``, the model against it)."""
    train, names = load_task_split(args.data, args.task, "train")
    dev, _ = load_task_split(args.data, args.task, "dev", names)
    data = concat(train, dev)
    folds = assign_folds(data.ids, args.folds, args.seed)
    probs, inner = np.zeros(data.targets.shape), np.zeros(data.targets.shape)
    for k in range(args.folds):
        held = inner_fold(k, args.folds)
        fitted = subset(data, np.flatnonzero((folds != k) & (folds != held)))
        model = LexicalModel.fit(fitted.texts, fitted.targets, seed=args.seed)
        for fold, into in ((k, probs), (held, inner)):
            rows = np.flatnonzero(folds == fold)
            into[rows] = model.probabilities([data.texts[i] for i in rows])
    chosen = fold_thresholds(inner, data.targets, folds, rule=args.rule, min_support=args.min_support, step=args.step)
    _, summary = cross_validated(
        probs,
        data,
        folds,
        names,
        multi_label=True,
        rule=args.rule,
        min_support=args.min_support,
        step=args.step,
        thresholds=chosen,
    )
    summary["examples"] = len(data.texts)
    if args.paired:
        decided = np.zeros(data.targets.shape, dtype=np.int64)
        for k in range(args.folds):
            rows = folds == k
            decided[rows] = decisions_at(probs[rows], chosen[k])
        model_ids, model_decided = model_decisions(args.paired, names)
        if model_ids != list(data.ids):
            index = {i: n for n, i in enumerate(model_ids)}
            if set(index) != set(data.ids):
                raise SystemExit(f"--paired {args.paired}: its out-of-fold examples are not this dataset's")
            model_decided = model_decided[[index[i] for i in data.ids]]
        groups = [i.split("#", 1)[0] for i in data.ids]
        gold = data.targets.astype(np.int64)
        tallies = [Tally(indicator_credits(d, gold), groups, micro_f1_of) for d in (model_decided, decided)]
        summary["paired"] = paired(args.paired, "micro-F1", *tallies)
    return summary


def _fold_thresholds(model_dir: Path) -> list[tuple[int, list[float] | dict[str, float]]]:
    """Each fold's thresholds as the k-fold run in ``model_dir`` recorded them: a trained model's in its folds'
    choices (a nested run's with what they were made on), an ensemble's in ``per_fold_thresholds``."""
    validated = json.loads((model_dir / "dev_metrics.json").read_text(encoding="utf-8"))["cross_validated"]
    if "per_fold_thresholds" in validated:
        return list(enumerate(validated["per_fold_thresholds"]))
    if "per_fold" not in validated or "choices" not in validated["per_fold"][0]:
        raise SystemExit(
            f"{model_dir}: no per-fold thresholds in its dev_metrics.json (an ensemble of members without inner "
            "predictions decides each fold on the others' labels): retrain its members with --folds"
        )
    out = []
    for fold in validated["per_fold"]:
        chosen = fold["choices"]["thresholds"]
        if isinstance(chosen, dict) and "value" in chosen:  # a nested run: the value, and what it was made on
            chosen = chosen["value"]
        out.append((fold["fold"], chosen))
    return out


def model_decisions(model_dir: Path, names: list[str], oof: OutOfFold | None = None) -> tuple[list[str], np.ndarray]:
    """A multi-label k-fold model's out-of-fold decisions on ``names``: each fold at the thresholds chosen for it.

    A model trained without some of ``names`` (a label with no example in the data is left out of the model)
    never predicts them: their columns are 0. ``oof``: the folder's out-of-fold predictions, if already read."""
    oof = oof or load_out_of_fold(model_dir)
    missing = [n for n in oof.labels if n not in names]
    if missing or [n for n in names if n in oof.labels] != oof.labels:
        raise SystemExit(f"--paired {model_dir}: its labels are not this task's ({', '.join(missing) or 'order'})")
    decided = np.zeros(oof.targets.shape, dtype=np.int64)
    for fold, chosen in _fold_thresholds(model_dir):
        chosen = [chosen[n] for n in oof.labels] if isinstance(chosen, dict) else chosen
        rows = oof.folds == fold
        decided[rows] = decisions_at(oof.probabilities[rows], chosen)
    widened = np.zeros((len(oof.ids), len(names)), dtype=np.int64)
    widened[:, [names.index(n) for n in oof.labels]] = decided
    return list(oof.ids), widened


def fnc1_folds(args: argparse.Namespace) -> dict:
    """The TF-IDF baseline of the FNC-1 report on the story folds of a k-fold ``fnc1`` run."""
    data = load_pooled(args.data)
    folds = story_folds(data, args.folds, args.seed)
    texts = [f"{h} || {data.body_texts[b]}" for h, b in zip(data.headlines, data.body_of)]
    gold = np.array([FNC1_LABELS.index(s) for s in data.stances])
    targets = np.eye(len(FNC1_LABELS))[gold]
    predicted = np.full(len(texts), -1)
    per_fold = []
    for k in range(args.folds):
        fit = np.flatnonzero(folds.kept & (folds.folds != k))
        rows = np.flatnonzero(folds.kept & (folds.folds == k))
        probs = baseline_probabilities(
            [texts[i] for i in fit], targets[fit], [texts[i] for i in rows], multi_label=False, seed=args.seed
        )
        predicted[rows] = probs.argmax(axis=1)
        scores = stance_scores([FNC1_LABELS[p] for p in predicted[rows]], [data.stances[i] for i in rows], FNC1_LABELS)
        per_fold.append(
            {"fold": k, "pairs": len(rows), "fnc_relative": scores["fnc_relative"], "macro_f1": scores["macro_f1"]}
        )
    rows = np.flatnonzero(folds.kept)
    groups = [folds.groups[i] for i in rows]
    figures = stance_scores([FNC1_LABELS[p] for p in predicted[rows]], [data.stances[i] for i in rows], FNC1_LABELS)
    draws = Resamples.draw(groups)
    summary = {
        "folds": args.folds,
        "seed": args.seed,
        "groups": folds.summary(),
        "pooled": figures,
        "ci95": stance_intervals(predicted[rows], gold[rows], FNC1_LABELS, figures, groups, draws),
        "per_fold": per_fold,
    }
    if args.paired:
        oof = load_out_of_fold(args.paired)
        index = {i: n for n, i in enumerate(oof.ids)}
        ids = [data.pair_ids[i] for i in rows]
        if set(ids) != set(index):
            raise SystemExit(f"--paired {args.paired}: its out-of-fold pairs are not these folds' kept pairs")
        model = fnc1_decisions(oof.probabilities[[index[i] for i in ids]], args.paired)
        tallies = [fnc_relative_tally(p, gold[rows], FNC1_LABELS, groups) for p in (model, predicted[rows])]
        summary["paired"] = paired(args.paired, "FNC-1 relative score", *tallies)
    return summary


def fnc1_decisions(probabilities: np.ndarray, model_dir: Path) -> np.ndarray:
    """An ``fnc1`` model's labels from its saved pair probabilities, as its predictor decides them: unrelated below
    the relatedness threshold the run chose, else the most probable related class."""
    choices = json.loads((model_dir / "dev_metrics.json").read_text(encoding="utf-8"))["choices"]
    threshold = next(c["value"] for c in choices if c["choice"] == "relatedness threshold")
    unrelated = FNC1_LABELS.index("unrelated")
    related = [i for i in range(len(FNC1_LABELS)) if i != unrelated]
    decided = np.array(related)[probabilities[:, related].argmax(axis=1)]
    return np.where(1 - probabilities[:, unrelated] < threshold, unrelated, decided)


def paired(model_dir: Path, figure: str, model: Tally, tfidf: Tally) -> dict:
    """The model (A) against the TF-IDF model (B) on the same resamples of the same examples' groups."""
    draws = Resamples.draw(model.groups)
    difference = paired_bootstrap(model, tfidf, draws)
    verdict = difference.verdict(a=str(model_dir), b="TF-IDF")
    return {
        "figure": figure,
        **difference.as_dict(),
        "verdict": f"{figure}: A {with_interval(difference.a, difference.a_interval)}, "
        f"TF-IDF {with_interval(difference.b, difference.b_interval)}; {verdict}",
    }


if __name__ == "__main__":
    main()
