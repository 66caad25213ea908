"""k-fold by article for the TF-IDF + logistic-regression model: the yardstick beside ``framelab train --folds``.

Same folds (``framelab.train.folds.assign_folds`` over the train and dev
articles, same seed), same thresholds rule, same cross-validated figures as a
``--folds`` run, so the rows compare. Example::

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
from framelab.thresholds import RULES
from framelab.train.folds import assign_folds, concat, cross_validated, subset


def main(argv: list[str] | None = None) -> None:
    """Fit one TF-IDF model per fold, score the fold's articles, print the cross-validated figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (framelab data)")
    parser.add_argument("--task", default="techniques", help="a multi-label task of the dataset")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42, help="fold seed (train.seed of the run compared with)")
    parser.add_argument("--rule", choices=RULES, default="global")
    parser.add_argument("--min-support", type=int, default=5)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    train, names = load_task_split(args.data, args.task, "train")
    dev, _ = load_task_split(args.data, args.task, "dev", names)
    data = concat(train, dev)
    folds = assign_folds(data.ids, args.folds, args.seed)
    probs = np.zeros(data.targets.shape)
    for k in range(args.folds):
        inside, outside = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
        fitted = subset(data, outside)
        probs[inside] = LexicalModel.fit(fitted.texts, fitted.targets, seed=args.seed).probabilities(
            [data.texts[i] for i in inside]
        )
    _, summary = cross_validated(
        probs, data, folds, names, multi_label=True, rule=args.rule, min_support=args.min_support
    )
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["examples"] = len(data.texts)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
