"""What each annotation round buys: F1 on a fixed held-out part against the number of annotated articles.

Simulates the ``framelab select`` loop on a dataset folder (``make bench-active``: SemEval-2023 lines).
The pool is the train split's articles, the held-out part its dev split (a fixed 20% of the articles,
by article: ``data.dev_fraction`` and ``data.seed`` of the config). Each seed draws ``--start`` articles at
random; then, round after round, a TF-IDF + logistic-regression model (:class:`framelab.lexical.LexicalModel`,
the project's lexical baseline) is fitted on the articles annotated so far, scored on the held-out part
(micro-F1 at a fixed threshold of 0.5: nothing is tuned, least of all on the held-out part), and the next
``--step`` articles are picked from the rest of the pool by each strategy of
:data:`framelab.active.strategies.STRATEGIES`, through :func:`~framelab.active.strategies.select` as
``framelab select`` picks. Uncertainty sums closeness to 0.5 over an article's units and labels (as
``framelab select`` does, :mod:`framelab.active.pool`); diversity runs k-centre on TF-IDF rows of the
article texts, fitted on the pool. Units are a task's examples: lines for ``techniques``, whole articles
for ``frames``.

The curve ends with the whole pool, whose F1 is the full-data F1; for each strategy and seed the bench
reports the first number of articles whose F1 reaches ``--reach`` (95%) of it. A training set met
before (the start of every strategy of a seed, the whole pool) is fitted once. Example::

    python bench/active.py --data data/processed/semeval2023-lines --out reports/active --plots docs/img

It writes ``<out>/curves.json``, ``<plots>/active-<task>.png`` (mean F1 per strategy, the seeds' range as a
band) and prints a markdown table. Run it on one thread (the Makefile sets ``OMP_NUM_THREADS=1``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from framelab.active.strategies import STRATEGIES, Pool, article_sums, closeness, select
from framelab.eval.bootstrap import indicator_credits, micro_f1_of
from framelab.lexical import LexicalModel, tfidf_vectorizer
from framelab.splits import TaskData, load_task_split
from framelab.types import article_of

#: The decision threshold of every label, in the F1 and in the uncertainty alike.
THRESHOLD = 0.5


@dataclass
class Simulation:
    """One task's pool (the train split, by article) and held-out part (the dev split)."""

    task: str
    #: Pool article ids, in order of first appearance.
    articles: list[str]
    #: The pool's examples and, for each, the index of its article in :attr:`articles`.
    pool: TaskData
    article_of_example: np.ndarray
    held_out: TaskData
    #: TF-IDF rows of the pool's article texts (the diversity vectors).
    vectors: Any


def group_articles(ids: Sequence[str], texts: Sequence[str]) -> tuple[list[str], np.ndarray, list[str]]:
    """The articles of examples ``ids`` in order of first appearance, each example's article index, and each
    article's text (its examples' texts joined by newlines)."""
    articles: dict[str, int] = {}
    parts: list[list[str]] = []
    which = np.zeros(len(ids), dtype=int)
    for n, (example, text) in enumerate(zip(ids, texts)):
        article = article_of(example)
        if article not in articles:
            articles[article] = len(parts)
            parts.append([])
        which[n] = articles[article]
        parts[which[n]].append(text)
    return list(articles), which, ["\n".join(p) for p in parts]


def load_simulation(data_dir: Path, task: str) -> Simulation:
    """The pool and held-out part of ``task`` in dataset folder ``data_dir``."""
    pool, names = load_task_split(data_dir, task, "train")
    held_out, _ = load_task_split(data_dir, task, "dev", names)
    articles, which, texts = group_articles(pool.ids, pool.texts)
    return Simulation(task, articles, pool, which, held_out, tfidf_vectorizer().fit_transform(texts))


def micro_f1(probs: np.ndarray, targets: np.ndarray, threshold: float = THRESHOLD) -> float:
    """Micro-F1 over every example and label of 0/1 ``targets`` at ``threshold``."""
    credits = indicator_credits(probs >= threshold, targets).sum(axis=0)
    return float(micro_f1_of(credits))


def round_sizes(pool_size: int, start: int, step: int) -> list[int]:
    """Annotated articles after each round: ``start``, ``start + step``, …, then the whole pool."""
    sizes = list(range(min(start, pool_size), pool_size, step))
    return [*sizes, pool_size]


@dataclass
class Fitted:
    """What one training set gives: the held-out F1 and each pool article's uncertainty."""

    f1: float
    uncertainty: np.ndarray


#: Fits a model on texts and 0/1 targets and returns a function of texts giving probabilities.
Fit = Callable[[list[str], np.ndarray, int], Callable[[list[str]], np.ndarray]]


def lexical_fit(texts: list[str], targets: np.ndarray, seed: int) -> Callable[[list[str]], np.ndarray]:
    """The TF-IDF + logistic-regression model of ``framelab baseline`` (:class:`LexicalModel`)."""
    return LexicalModel.fit(texts, targets, seed=seed).probabilities


class Rounds:
    """Fits models on sets of pool articles, once per distinct set (:meth:`fitted`)."""

    def __init__(self, sim: Simulation, fit: Fit = lexical_fit):
        self.sim = sim
        self.fit = fit
        self.cache: dict[frozenset[int], Fitted] = {}
        self.fits = 0

    def fitted(self, labelled: Sequence[int]) -> Fitted:
        """Held-out F1 and pool uncertainty of a model fitted on the examples of articles ``labelled``."""
        key = frozenset(int(i) for i in labelled)
        if key not in self.cache:
            sim = self.sim
            rows = np.flatnonzero(np.isin(sim.article_of_example, list(key)))
            probabilities = self.fit([sim.pool.texts[r] for r in rows], sim.pool.targets[rows], 0)
            f1 = micro_f1(probabilities(sim.held_out.texts), sim.held_out.targets)
            near = closeness(probabilities(sim.pool.texts), THRESHOLD)
            order = list(range(len(sim.articles)))
            self.cache[key] = Fitted(f1, article_sums(near, list(sim.article_of_example), order))
            self.fits += 1
        return self.cache[key]

    def curve(self, strategy: str, seed: int, sizes: Sequence[int]) -> list[float]:
        """Held-out F1 after each round of ``strategy``, starting from ``sizes[0]`` random articles (``seed``)."""
        n = len(self.sim.articles)
        labelled = np.zeros(n, dtype=bool)
        labelled[np.random.default_rng(seed).choice(n, sizes[0], replace=False)] = True
        scores = []
        for number, size in enumerate(sizes):
            fitted = self.fitted(np.flatnonzero(labelled))
            scores.append(fitted.f1)
            if number + 1 < len(sizes):
                pool = Pool(fitted.uncertainty, self.sim.vectors, labelled)
                picked = select(pool, strategy, sizes[number + 1] - size, seed=seed * 1000 + number)
                labelled[picked] = True
        return scores


def articles_to_reach(sizes: Sequence[int], scores: Sequence[float], target: float) -> int | None:
    """The fewest annotated articles whose F1 reaches ``target`` (None: never)."""
    return next((size for size, score in zip(sizes, scores) if score >= target), None)


def summary_rows(result: dict, reach: float) -> list[dict]:
    """Per task and strategy: the mean F1 at each round and the articles to reach ``reach`` × the full-data
    F1 (mean, least and most over the seeds)."""
    rows = []
    for task, block in result["tasks"].items():
        target = reach * block["full_f1"]
        for strategy, by_seed in block["curves"].items():
            needed = [articles_to_reach(block["sizes"], scores, target) for scores in by_seed.values()]
            reached = [n for n in needed if n is not None]
            rows.append(
                {
                    "task": task,
                    "strategy": strategy,
                    "mean_f1": np.mean(list(by_seed.values()), axis=0).round(3).tolist(),
                    "to_reach": needed,
                    "to_reach_mean": float(np.mean(reached)) if len(reached) == len(needed) else None,
                    "to_reach_range": [min(reached), max(reached)] if reached else None,
                }
            )
    return rows


def markdown_table(result: dict, rows: list[dict], reach: float, shown: Sequence[int] = (30, 90, 150, 210)) -> str:
    """The summary as a markdown table: F1 at a few round sizes, and articles to reach ``reach`` of full."""
    percent = f"{reach:.0%}"
    head = [f"F1 at {n}" for n in shown]
    lines = [
        f"| task (full-data F1) | strategy | {' | '.join(head)} | articles to {percent} of full F1, mean [range] |",
        "|---|---|" + "---:|" * (len(head) + 1),
    ]
    for row in rows:
        block = result["tasks"][row["task"]]
        at = {size: f1 for size, f1 in zip(block["sizes"], row["mean_f1"])}
        cells = [f"{at[n]:.3f}" if n in at else "–" for n in shown]
        if row["to_reach_mean"] is None:
            reached = f"not in every seed ({', '.join(str(n) for n in row['to_reach'])})"
        else:
            low, high = row["to_reach_range"]
            reached = f"{row['to_reach_mean']:.0f} [{low}–{high}]"
        task = f"{row['task']} ({block['full_f1']:.3f})"
        lines.append(f"| {task} | {row['strategy']} | {' | '.join(cells)} | {reached} |")
    return "\n".join(lines)


def plot(path: Path, task: str, block: dict, reach: float) -> None:
    """Mean held-out F1 per strategy against annotated articles, the seeds' range as a band, and the line at
    ``reach`` of the full-data F1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = block["sizes"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for strategy, by_seed in block["curves"].items():
        scores = np.array(list(by_seed.values()))
        (line,) = ax.plot(sizes, scores.mean(axis=0), marker="o", markersize=3, label=strategy)
        ax.fill_between(sizes, scores.min(axis=0), scores.max(axis=0), color=line.get_color(), alpha=0.2)
    full = block["full_f1"]
    ax.axhline(reach * full, color="grey", linestyle="--", linewidth=1, label=f"{reach:.0%} of full-data F1")
    ax.set_xlabel("annotated articles")
    ax.set_ylabel("held-out micro-F1 (threshold 0.5)")
    seeds = len(next(iter(block["curves"].values())))
    ax.set_title(f"{task}: TF-IDF + logistic regression, {seeds} seeds (band: range)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def simulate(sim: Simulation, strategies: Sequence[str], seeds: Sequence[int], start: int, step: int) -> dict:
    """Every strategy's curve for every seed on one task, with the full-data F1 and the fits made."""
    rounds = Rounds(sim)
    sizes = round_sizes(len(sim.articles), start, step)
    curves: dict[str, dict[str, list[float]]] = {s: {} for s in strategies}
    begun = time.perf_counter()
    for strategy in strategies:
        for seed in seeds:
            curves[strategy][str(seed)] = rounds.curve(strategy, seed, sizes)
            elapsed = time.perf_counter() - begun
            print(
                f"  {sim.task} {strategy} seed {seed}: {rounds.fits} fits, {elapsed:.0f} s", file=sys.stderr, flush=True
            )
    full = rounds.fitted(range(len(sim.articles))).f1
    return {
        "pool_articles": len(sim.articles),
        "held_out_articles": len(set(map(article_of, sim.held_out.ids))),
        "sizes": sizes,
        "full_f1": full,
        "curves": curves,
        "fits": rounds.fits,
    }


def main(argv: list[str] | None = None) -> None:
    """Run the simulation for each task, write the curves and plots, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (framelab data)")
    parser.add_argument("--tasks", nargs="+", default=["frames", "techniques"], help="multi-label tasks")
    parser.add_argument(
        "--strategies", nargs="+", choices=list(STRATEGIES), default=["uncertainty", "diversity", "random"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--start", type=int, default=30, help="articles annotated before the first round")
    parser.add_argument("--step", type=int, default=30, help="articles added per round")
    parser.add_argument("--reach", type=float, default=0.95, help="share of the full-data F1 to reach")
    parser.add_argument("--out", type=Path, default=Path("reports/active"), help="folder for curves.json")
    parser.add_argument("--plots", type=Path, help="folder for active-<task>.png (none if not given)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result: dict = {"data": str(args.data), "threshold": THRESHOLD, "seeds": args.seeds, "tasks": {}}
    for task in args.tasks:
        begun = time.perf_counter()
        block = simulate(load_simulation(args.data, task), args.strategies, args.seeds, args.start, args.step)
        block["seconds"] = round(time.perf_counter() - begun, 1)
        result["tasks"][task] = block
        print(f"{task}: {block['fits']} fits in {block['seconds']} s", file=sys.stderr, flush=True)
        result["seconds"] = round(time.perf_counter() - started, 1)
        write(result, args, task)  # after each task, so that a long run leaves what it finished
    print(markdown_table(result, result["summary"], args.reach))
    print(f"\nwall time {result['seconds']} s; curves: {args.out / 'curves.json'}")


def write(result: dict, args: argparse.Namespace, task: str) -> None:
    """Write the summary and curves so far to ``<out>/curves.json`` and ``task``'s plot."""
    result["summary"] = summary_rows(result, args.reach)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "curves.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.plots:
        args.plots.mkdir(parents=True, exist_ok=True)
        plot(args.plots / f"active-{task}.png", task, result["tasks"][task], args.reach)


if __name__ == "__main__":
    main()
