"""Two k-fold runs of one task on the same folds, compared by a paired bootstrap over articles (FNC-1: stories).

``framelab eval --compare`` compares two saved models on one split; this compares
two recipes by what their ``--folds`` runs measured (a ``framelab ensemble`` of
such runs is one too): each folder's ``out_of_fold.safetensors``, decided as
the run decided it (each fold at its own thresholds for a multi-label task,
:func:`kfold_tfidf.model_decisions`; the
relatedness threshold then the most probable related class for ``fnc1``,
:func:`kfold_tfidf.fnc1_decisions`). Both folders must hold the same examples
(the same dataset and fold seed). Besides the lead figure (micro-F1, or the FNC-1
relative score) it compares macro-F1 and each ``--label``'s F1. Example::

    python bench/compare_folds.py models/fnc1-levers models/fnc1-kfold --label disagree

Prints JSON; the verdict lines go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kfold_tfidf import fnc1_decisions, model_decisions  # noqa: E402

from framelab.eval.bootstrap import Resamples, Tally, f1_of, indicator_credits, micro_f1_of, paired_bootstrap  # noqa: E402
from framelab.eval.scores import fnc_relative_tally  # noqa: E402
from framelab.figures import with_interval  # noqa: E402
from framelab.models.ensemble import ENSEMBLE_FILE  # noqa: E402
from framelab.models.folder import read_meta  # noqa: E402
from framelab.models.out_of_fold import load_out_of_fold  # noqa: E402


def decisions(model_dir: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray, list[str], str]:
    """A k-fold folder's example ids, labels, 0/1 decisions, gold 0/1 rows, groups and task."""
    spec = model_dir / ENSEMBLE_FILE
    task = json.loads(spec.read_text(encoding="utf-8"))["task"] if spec.is_file() else read_meta(model_dir).task
    oof = load_out_of_fold(model_dir)
    ids = list(oof.ids)
    if task == "fnc1":
        decided = np.eye(len(oof.labels), dtype=np.int64)[fnc1_decisions(oof.probabilities, model_dir)]
    else:
        ids, decided = model_decisions(model_dir, list(oof.labels), oof)
    groups = oof.groups or [i.split("#", 1)[0] for i in ids]
    return ids, list(oof.labels), decided, oof.targets.astype(np.int64), list(groups), task


def macro_f1_of(credits: np.ndarray) -> np.ndarray:
    """Mean over labels of each label's F1 (credits ``[..., labels, 4]``)."""
    return f1_of(credits).mean(axis=-1)


def compare(model_a: Path, model_b: Path, labels: list[str], resamples: int, seed: int) -> dict:
    """A − B on the lead figure, macro-F1 and each of ``labels``' F1, over the same resamples of the same groups."""
    ids_a, names, decided_a, gold, groups, task = decisions(model_a)
    ids_b, names_b, decided_b, gold_b, _, task_b = decisions(model_b)
    if task != task_b or names != names_b:
        raise SystemExit(f"{model_a} ({task}) and {model_b} ({task_b}) are not runs of one task with the same labels")
    if ids_a != ids_b:
        index = {i: n for n, i in enumerate(ids_b)}
        if set(index) != set(ids_a):
            raise SystemExit(f"{model_a} and {model_b} hold different out-of-fold examples: not the same folds")
        order = [index[i] for i in ids_a]
        decided_b, gold_b = decided_b[order], gold_b[order]
    if not np.array_equal(gold, gold_b):
        raise SystemExit(f"{model_a} and {model_b} disagree on the gold labels: not the same dataset")
    unknown = sorted(set(labels) - set(names))
    if unknown:
        raise SystemExit(f"--label {', '.join(unknown)}: not a label of these runs ({', '.join(names)})")
    credits = [indicator_credits(d, gold) for d in (decided_a, decided_b)]
    figures: list[tuple[str, Tally, Tally]] = []
    if task == "fnc1":
        truth = gold.argmax(axis=1)
        lead = [fnc_relative_tally(d.argmax(axis=1), truth, names, groups) for d in (decided_a, decided_b)]
        figures.append(("FNC-1 relative score", *lead))
    else:
        figures.append(("micro-F1", *(Tally(c, groups, micro_f1_of) for c in credits)))
    figures.append(("macro-F1", *(Tally(c, groups, macro_f1_of) for c in credits)))
    for label in labels:
        j = names.index(label)
        figures.append((f"F1 {label}", *(Tally(c[:, j], groups, f1_of) for c in credits)))
    draws = Resamples.draw(groups, resamples, seed)
    rows = []
    for name, a, b in figures:
        d = paired_bootstrap(a, b, draws)
        verdict = f"{name}: A {with_interval(d.a, d.a_interval)}, B {with_interval(d.b, d.b_interval)}; {d.verdict()}"
        rows.append({"figure": name, **d.as_dict(), "verdict": verdict})
    return {
        "task": task,
        "a": str(model_a),
        "b": str(model_b),
        "examples": len(ids_a),
        "bootstrap": draws.describe("stories" if task == "fnc1" else "articles"),
        "figures": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_a", type=Path, help="a k-fold model folder (framelab train --folds K)")
    parser.add_argument("model_b", type=Path, help="another, on the same dataset and folds")
    parser.add_argument("--label", action="append", default=[], help="also compare this label's F1 (repeatable)")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    summary = compare(args.model_a, args.model_b, args.label, args.resamples, args.seed)
    print(json.dumps(summary, indent=2))
    for row in summary["figures"]:
        print(row["verdict"], file=sys.stderr)


if __name__ == "__main__":
    main()
