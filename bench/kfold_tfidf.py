"""k-fold by article for the TF-IDF + logistic-regression model: the yardstick beside ``framelab train --folds``.

Same folds (``framelab.train.folds.assign_folds`` over the train and dev
articles, same seed), same thresholds rule, same cross-validated figures as a
``--folds`` run, so the rows compare. Nested as a ``--folds`` run: fold k's
model is fitted on the folds other than k and its inner fold
(``framelab.train.folds.inner_fold``), whose predictions choose fold k's
thresholds; fold k's labels are read only to score it. Example::

    python bench/kfold_tfidf.py --data data/processed/semeval2023-lines --folds 5 --seed 42
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from framelab.lexical import LexicalModel
from framelab.splits import load_task_split
from framelab.thresholds import DEFAULT_STEP, RULES
from framelab.train.folds import assign_folds, concat, cross_validated, fold_thresholds, inner_fold, subset


def main(argv: list[str] | None = None) -> None:
    """Fit one TF-IDF model per fold, score the fold's articles, print the cross-validated figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (framelab data)")
    parser.add_argument("--task", default="techniques", help="a multi-label task of the dataset")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42, help="fold seed (train.seed of the run compared with)")
    parser.add_argument("--rule", choices=RULES, default="global")
    parser.add_argument("--min-support", type=int, default=5)
    parser.add_argument("--step", type=float, default=DEFAULT_STEP, help="threshold grid step (train.threshold_step)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
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
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["examples"] = len(data.texts)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
