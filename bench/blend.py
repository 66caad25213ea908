"""What averaging the TF-IDF model into a trained model would give on dev (a benchmark, not a test).

For a trained multi-label model folder and its dataset: fits the TF-IDF +
logistic-regression model (:class:`framelab.lexical.LexicalModel`) on the
train split, blends its dev probabilities with the model's for each weight w
(``train.lexical_weight``; the transformer is the same, only the blend
changes, so this is what training with that weight gives) and, for each
threshold rule (``train.threshold_rule``), prints micro, macro, any-label and
Loaded_Language F1 at thresholds tuned on the whole dev split (as
``framelab train`` does, optimistic) and **cross-fitted**: dev articles are
cut into two halves at random, thresholds are tuned on one half and applied to
the other, both halves' decisions are scored together, and the figures are
averaged over ``--seeds`` random cuts. No cross-fitted decision comes from
thresholds tuned on its own article::

    python bench/blend.py --model M --data D --weights 0 0.25 0.5 0.75 1 --out-md blend.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from framelab.eval.scores import multilabel_scores
from framelab.lexical import LexicalModel, blend
from framelab.models.predictor import Predictor
from framelab.splits import load_task_split
from framelab.thresholds import RULES, cross_fitted, decisions_at, tuned_thresholds


def _figures(scores: dict, names: list[str]) -> dict:
    return {
        "micro_f1": round(scores["micro"]["f1"], 4),
        "macro_f1": round(scores["macro"]["f1"], 4),
        "any_f1": round(scores["any"]["f1"], 4),
        "loaded_language_f1": round(scores["per_label"]["Loaded_Language"]["f1"], 4)
        if "Loaded_Language" in names
        else None,
    }


def _mean(rows: list[dict]) -> dict:
    return {k: None if rows[0][k] is None else round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}


def main(argv: list[str] | None = None) -> None:
    """Print (and optionally write) the blend table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="trained techniques or frames model folder")
    parser.add_argument("--data", type=Path, required=True, help="its dataset folder (framelab data)")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of the random halves of dev articles"
    )
    parser.add_argument(
        "--min-support", type=int, default=5, help="train.threshold_min_support of the run (per_label rule)"
    )
    parser.add_argument("--out-md", type=Path)
    parser.add_argument("--out-json", type=Path)
    args = parser.parse_args(argv)

    predictor = Predictor(args.model)
    meta = predictor.meta
    if not meta.multi_label:
        parser.error(f"{args.model} is a {meta.task} model; blending applies to techniques and frames")
    if meta.lexical_weight:
        parser.error(
            f"{args.model} already averages in a TF-IDF model; pass a model trained with train.lexical_weight=0"
        )
    dev, names = load_task_split(args.data, meta.task, "dev", meta.labels)
    train, _ = load_task_split(args.data, meta.task, "train", meta.labels)
    articles = [i.split("#")[0] for i in dev.ids]
    model_probs = predictor.probabilities(dev.texts)
    lexical_probs = LexicalModel.fit(train.texts, train.targets).probabilities(dev.texts)

    def figures(decided: np.ndarray) -> dict:
        return _figures(multilabel_scores(decided, dev.targets, names), names)

    rows = []
    for w in args.weights:
        probs = blend(model_probs, lexical_probs, w)
        at_half = figures(decisions_at(probs, 0.5))
        for rule in RULES:
            tuned = tuned_thresholds(rule, probs, dev.targets, args.min_support)
            crossed = [
                figures(cross_fitted(rule, probs, dev.targets, articles, seed, args.min_support)) for seed in args.seeds
            ]
            rows.append(
                {
                    "weight": w,
                    "rule": rule,
                    "at_0.5": at_half,
                    "tuned_on_dev": figures(decisions_at(probs, tuned)),
                    "cross_fitted_mean": _mean(crossed),
                    "cross_fitted_micro_per_seed": [c["micro_f1"] for c in crossed],
                }
            )

    lines = [
        f"Model `{args.model}` ({meta.task}, {len(dev.texts)} dev examples from {len(set(articles))} articles); "
        f"w = weight of the TF-IDF model (0: the fine-tuned model alone, 1: TF-IDF alone); "
        f"cross-fitted: mean over seeds {args.seeds}.",
        "",
        "| w | thresholds | micro-F1 at 0.5 | tuned on dev: micro | macro | any | Loaded_Language "
        "| cross-fitted: micro | macro | any | Loaded_Language |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        t, c = row["tuned_on_dev"], row["cross_fitted_mean"]
        cells = [
            row["weight"],
            row["rule"],
            row["at_0.5"]["micro_f1"],
            t["micro_f1"],
            t["macro_f1"],
            t["any_f1"],
            t["loaded_language_f1"],
            c["micro_f1"],
            c["macro_f1"],
            c["any_f1"],
            c["loaded_language_f1"],
        ]
        lines.append(
            "| " + " | ".join("–" if v is None else (v if isinstance(v, str) else f"{v:g}") for v in cells) + " |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out_md:
        args.out_md.write_text(table + "\n", encoding="utf-8")
    if args.out_json:
        args.out_json.write_text(
            json.dumps({"model": str(args.model), "data": str(args.data), "seeds": args.seeds, "rows": rows}, indent=2),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
