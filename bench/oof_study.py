"""Threshold rules and TF-IDF weights measured on a k-fold run's out-of-fold predictions, without training again.

Reads ``out_of_fold.safetensors`` of a ``framelab train --folds K`` folder. Each
row is cross-validated the way the run's own figures are: every fold decided
at thresholds tuned on the other folds' predictions. With a blended run, the
TF-IDF model's probabilities are recovered from the blend and the fine-tuned
model's own (``blend = (1 - w) * model + w * tfidf``), so other weights are
measured too. Example::

    python bench/oof_study.py --model /tmp/runs/kfold2/model --weights 0 0.25 0.5 0.75 1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from framelab.lexical import blend
from framelab.models.folder import read_meta
from framelab.models.out_of_fold import load_out_of_fold
from framelab.splits import TaskData
from framelab.train.folds import cross_validated

#: (rule, min_support) pairs measured at every weight.
RULES = [
    ("global", 1),
    ("per_label_or_global", 5),
    ("per_label_or_global", 20),
    ("per_label_or_global", 50),
    ("per_label", 20),
    ("per_label_rate", 5),
    ("per_label_rate", 20),
]


def study(model_dir: Path, weights: list[float] | None) -> list[dict]:
    """One row per (TF-IDF weight, rule, min_support): cross-validated micro, macro, any and per-label F1,
    labels per example."""
    oof = load_out_of_fold(model_dir)
    saved_weight = read_meta(model_dir).lexical_weight
    if oof.fine_tuned is None or not saved_weight:
        mixes = {saved_weight: oof.probabilities}
    else:
        lexical = (oof.probabilities - (1.0 - saved_weight) * oof.fine_tuned) / saved_weight
        mixes = {w: blend(oof.fine_tuned, lexical, w) for w in (weights or [saved_weight])}
    data = TaskData(oof.ids, [""] * len(oof.ids), oof.targets)
    rows = []
    for weight, probs in mixes.items():
        for rule, support in RULES:
            _, summary = cross_validated(
                probs, data, oof.folds, oof.labels, multi_label=True, rule=rule, min_support=support
            )
            rows.append({"tfidf_weight": weight, "rule": rule, "min_support": support, **summary})
    return rows


def main(argv: list[str] | None = None) -> None:
    """Print the rows as a Markdown table, and as JSON with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model folder of a k-fold run")
    parser.add_argument("--weights", type=float, nargs="*", help="TF-IDF weights to measure (default: the run's own)")
    parser.add_argument("--labels", nargs="*", default=["Loaded_Language"], help="labels whose F1 gets a column")
    parser.add_argument("--json", type=Path, help="also write every row, per-label F1 included, here")
    args = parser.parse_args(argv)
    rows = study(args.model, args.weights)
    print(
        "| TF-IDF weight | rule | min support | micro-F1 | macro-F1 | any F1 | "
        + " | ".join(args.labels)
        + " | labels per example (gold) |"
    )
    print("|---:|---|---:|---:|---:|---:|" + "---:|" * len(args.labels) + "---:|")
    for r in rows:
        labels = " | ".join(f"{r['per_label_f1'][n]['mean']:.3f}" for n in args.labels)
        print(
            f"| {r['tfidf_weight']:g} | {r['rule']} | {r['min_support']} | "
            f"{r['micro_f1']['mean']:.3f} ± {r['micro_f1']['std']:.3f} | "
            f"{r['macro_f1']['mean']:.3f} ± {r['macro_f1']['std']:.3f} | {r['any_f1']['mean']:.3f} | {labels} | "
            f"{r['labels_per_example']['predicted']:.3f} ({r['labels_per_example']['gold']:.3f}) |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
