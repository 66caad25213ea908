"""k-fold by article (or by any grouping): which fold each group falls in, and the figures the folds give.

Every example of an article falls in the article's fold, so no fold's model
ever sees a unit of an article it is judged on. Nor does any choice made for
it: outer fold ``k``'s model is trained on the folds other than ``k`` and its
inner fold (:func:`inner_fold`, the next one round), whose predictions choose
its epoch count and thresholds (:func:`fold_thresholds`); then it predicts
fold ``k``, which :func:`cross_validated` judges at those thresholds. So
changing fold ``k``'s labels changes nothing that decides fold ``k``.
Tuning fold ``k``'s thresholds on the other folds' out-of-fold predictions
instead would not do: those came from models trained on fold ``k``'s labels.
The cross-fitted figures of a dev split are the same idea over two random
halves of its articles.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from framelab.eval.bootstrap import Resamples, intervals_of
from framelab.eval.scores import multilabel_resampled, multilabel_scores, scores_with_intervals, single_label_scores
from framelab.processes import is_main_process
from framelab.splits import TaskData
from framelab.thresholds import DEFAULT_STEP, cross_fitted, decisions_at, tuned_thresholds
from framelab.types import article_of

log = logging.getLogger(__name__)

Outcome = TypeVar("Outcome")

#: Seeds of the random halves of dev articles behind the cross-fitted figures.
CROSS_FIT_SEEDS = (0, 1, 2)
#: Fewest folds that leave training data beside an outer and an inner fold.
MIN_NESTED_FOLDS = 3


def inner_fold(k: int, n_folds: int) -> int:
    """The fold held out of outer fold ``k``'s training whose labels choose its epoch count and thresholds.

    The next fold round, so every fold is the inner fold of exactly one outer fold: each example has one
    prediction of the model that chose on it (:attr:`framelab.models.out_of_fold.OutOfFold.inner`).
    """
    return (k + 1) % n_folds


def folds_named(k: int, inner: int | None, n_folds: int) -> str:
    """The training folds of outer fold ``k`` with inner fold ``inner`` (None: none held out), as text."""
    others = [str(f) for f in range(n_folds) if f not in (k, inner)]
    return f"fold{'s' if len(others) > 1 else ''} {', '.join(others)}"


def fold_thresholds(
    inner: np.ndarray, targets: np.ndarray, folds: np.ndarray, *, rule: str, min_support: int, step: float
) -> list[list[float]]:
    """Per outer fold ``k``, thresholds tuned by ``rule`` on the inner predictions of fold :func:`inner_fold` ``(k)``.

    ``inner[i]`` is example ``i``'s prediction by the model whose inner fold holds it (outer fold
    ``folds[i] - 1`` round), which never saw fold ``k``'s labels; so neither do the thresholds.
    """
    n_folds = int(folds.max()) + 1
    out = []
    for k in range(n_folds):
        chosen_on = folds == inner_fold(k, n_folds)
        out.append(tuned_thresholds(rule, inner[chosen_on], targets[chosen_on], min_support, step))
    return out


def assign_folds(ids: list[str], k: int, seed: int) -> np.ndarray:
    """Each example's fold in ``0..k-1``: articles shuffled by ``seed`` and dealt round-robin."""
    articles = sorted({article_of(i) for i in ids})
    if len(articles) < k:
        raise ValueError(f"{k} folds need at least {k} articles; the train and dev splits hold {len(articles)}")
    np.random.default_rng(seed).shuffle(articles)
    fold = {a: n % k for n, a in enumerate(articles)}
    return np.array([fold[article_of(i)] for i in ids])


def assign_group_folds(groups: list[str], k: int, seed: int) -> np.ndarray:
    """Each example's fold in ``0..k-1`` when examples come in groups of very different sizes (FNC-1 stories).

    ``groups[i]`` is example ``i``'s group. Groups are shuffled by ``seed``,
    then dealt largest first, each to the fold holding the fewest examples so
    far (ties: the lower fold), so folds come out balanced by example count,
    not by group count; the shuffle decides among groups of equal size.
    """
    sizes: dict[str, int] = {}
    for g in groups:
        sizes[g] = sizes.get(g, 0) + 1
    if len(sizes) < k:
        raise ValueError(f"{k} folds need at least {k} groups; the examples form {len(sizes)}")
    order = sorted(sizes)
    np.random.default_rng(seed).shuffle(order)
    order.sort(key=lambda g: -sizes[g])
    load = np.zeros(k, dtype=np.int64)
    fold: dict[str, int] = {}
    for g in order:
        fold[g] = int(np.argmin(load))
        load[fold[g]] += sizes[g]
    return np.array([fold[g] for g in groups], dtype=np.int64)


def concat(first: TaskData, second: TaskData) -> TaskData:
    """The examples of both splits, in order."""
    pairs = first.pairs + second.pairs if first.pairs is not None and second.pairs is not None else None
    return TaskData(
        first.ids + second.ids, first.texts + second.texts, np.concatenate([first.targets, second.targets]), pairs
    )


def subset(data: TaskData, rows: np.ndarray) -> TaskData:
    """The examples at ``rows``."""
    pick = [int(r) for r in rows]
    return TaskData(
        [data.ids[r] for r in pick],
        [data.texts[r] for r in pick],
        data.targets[pick],
        [data.pairs[r] for r in pick] if data.pairs else None,
    )


def decide(probs: np.ndarray, multi_label: bool, thresholds: list[float] | None) -> np.ndarray:
    """0/1 decisions: thresholds for multi-label, the arg-max otherwise."""
    if multi_label:
        return decisions_at(probs, thresholds)
    out = np.zeros_like(probs, dtype=np.int64)
    out[np.arange(len(probs)), probs.argmax(axis=1)] = 1
    return out


def scores(decided: np.ndarray, targets: np.ndarray, names: list[str], multi_label: bool) -> dict:
    """Micro, macro, per-label (and 'any' or accuracy) figures of 0/1 decisions."""
    if multi_label:
        return multilabel_scores(decided, targets, names)
    return single_label_scores(decided.argmax(axis=1), targets.argmax(axis=1), names)


def cross_validated(
    probs: np.ndarray,
    data: TaskData,
    folds: np.ndarray,
    names: list[str],
    *,
    multi_label: bool,
    rule: str,
    min_support: int,
    step: float = DEFAULT_STEP,
    thresholds: list[list[float]] | None = None,
) -> tuple[list[dict], dict]:
    """Per-fold figures, each fold decided at its own ``thresholds[k]`` (multi-label), and their mean and std.

    ``thresholds`` are those chosen on each outer fold's inner fold (:func:`fold_thresholds`). Without
    them (out-of-fold predictions saved with no inner ones), fold ``k`` is decided at thresholds tuned
    by ``rule`` on the other folds' predictions, which came from models trained on fold ``k``'s labels:
    a figure that leans optimistic. Beside each mean ± std, ``pooled`` is the figure of every fold's
    decisions together, and ``ci95`` its 95% interval, resampling articles: how far the figure could
    move on other articles, which the std over a handful of folds cannot tell.
    """
    per_fold, predicted = [], np.zeros_like(data.targets)
    for k in range(int(folds.max()) + 1):
        inside, outside = folds == k, folds != k
        if not multi_label:
            at = None
        elif thresholds is not None:
            at = thresholds[k]
        else:
            at = tuned_thresholds(rule, probs[outside], data.targets[outside], min_support, step)
        predicted[inside] = decide(probs[inside], multi_label, at)
        per_fold.append(scores(predicted[inside], data.targets[inside], names, multi_label))
    pooled = _pooled(predicted, data, names, multi_label)
    summary = {
        "micro_f1": mean_std_pooled([f["micro"]["f1"] for f in per_fold], pooled["micro"]),
        "macro_f1": mean_std_pooled([f["macro"]["f1"] for f in per_fold], pooled["macro"]),
        "per_label_f1": {
            n: mean_std_pooled([f["per_label"][n]["f1"] for f in per_fold], pooled["per_label"][n]) for n in names
        },
        "labels_per_example": {
            "predicted": float(predicted.sum(axis=1).mean()),
            "gold": float(data.targets.sum(axis=1).mean()),
        },
    }
    if multi_label:
        summary["any_f1"] = mean_std_pooled([f["any"]["f1"] for f in per_fold], pooled["any"])
    return per_fold, summary


def _pooled(predicted: np.ndarray, data: TaskData, names: list[str], multi_label: bool) -> dict:
    """The figures of the pooled out-of-fold decisions, with their 95% intervals over resampled articles."""
    groups = [article_of(i) for i in data.ids]
    return scores_with_intervals(
        predicted, data.targets, names, groups, Resamples.draw(groups), multi_label=multi_label
    )


def cross_fitted_figures(
    probs: np.ndarray,
    targets: np.ndarray,
    ids: list[str],
    names: list[str],
    *,
    rule: str,
    min_support: int = 1,
    step: float = DEFAULT_STEP,
) -> dict:
    """Mean micro, macro, any and per-label F1 over the :data:`CROSS_FIT_SEEDS` cuts, each half of the articles
    decided at the thresholds tuned on the other half.

    ``ci95`` holds their 95% intervals: each resample of the articles scores every cut's decisions and averages
    them, as the figures do.
    """
    articles = [article_of(i) for i in ids]
    decisions = [cross_fitted(rule, probs, targets, articles, seed, min_support, step) for seed in CROSS_FIT_SEEDS]
    runs = [multilabel_scores(d, targets, names) for d in decisions]
    draws = Resamples.draw(articles)
    resampled = [multilabel_resampled(d, targets, names, articles, draws) for d in decisions]

    def mean_over_cuts(pick) -> np.ndarray:
        return np.mean([pick(r) for r in resampled], axis=0)

    ci = intervals_of(
        {
            "micro_f1": mean_over_cuts(lambda r: r["micro"]["f1"]),
            "macro_f1": mean_over_cuts(lambda r: r["macro"]["f1"]),
            "any_f1": mean_over_cuts(lambda r: r["any"]["f1"]),
            "per_label_f1": {n: mean_over_cuts(lambda r, n=n: r["per_label"][n]["f1"]) for n in names},
        }
    )
    return {
        "seeds": list(CROSS_FIT_SEEDS),
        "micro_f1": float(np.mean([r["micro"]["f1"] for r in runs])),
        "macro_f1": float(np.mean([r["macro"]["f1"] for r in runs])),
        "any_f1": float(np.mean([r["any"]["f1"] for r in runs])),
        "per_label_f1": {n: float(np.mean([r["per_label"][n]["f1"] for r in runs])) for n in names},
        "ci95": {
            **{k: list(ci[k]) for k in ("micro_f1", "macro_f1", "any_f1")},
            "per_label_f1": {n: list(v) for n, v in ci["per_label_f1"].items()},
        },
    }


def mean_std_pooled(values: list[float], pooled: dict) -> dict:
    """Mean and std of F1 over folds, and the pooled F1 (of the figure block ``pooled``) with its 95% interval."""
    return {
        "mean": float(np.mean(values)),
        "std": float(np.std(values)),
        "pooled": pooled["f1"],
        "ci95": {"pooled": pooled["ci95"]["f1"]},
    }


class FoldRecords:
    """The finished outer folds of a k-fold run, kept in its work folder so that ``--resume`` starts at the next.

    Fold ``k`` is ``fold-k.npz`` (its arrays) and ``fold-k.json`` (the rest, and the ``run`` key), the JSON
    written last, so a fold killed while saving counts as not finished. A fold saved by a run of other settings
    or data (another ``run`` key) is never read: it is trained again.
    """

    def __init__(self, work: Path, run: str):
        self.work, self.run = Path(work), run

    @staticmethod
    def key(settings: dict, ids: list[str], folds: np.ndarray) -> str:
        """The ``run`` key of a k-fold run: its settings, its examples and their folds, hashed."""
        digest = hashlib.blake2b(json.dumps(settings, sort_keys=True, default=str).encode(), digest_size=16)
        digest.update("\n".join(ids).encode())
        digest.update(np.asarray(folds, dtype=np.int64).tobytes())
        return digest.hexdigest()

    def save(self, k: int, arrays: dict[str, np.ndarray | None], record: dict) -> None:
        """Keep fold ``k``: ``arrays`` (None ones left out) and the JSON-able ``record``."""
        self.work.mkdir(parents=True, exist_ok=True)
        kept = {name: np.asarray(a) for name, a in arrays.items() if a is not None}
        for name, write in (
            (f"fold-{k}.npz", lambda f: np.savez(f, **kept)),
            (f"fold-{k}.json", lambda f: f.write(json.dumps({"run": self.run, **record}, default=_plain).encode())),
        ):
            tmp = self.work / f".{name}.tmp"
            with open(tmp, "wb") as f:
                write(f)
            os.replace(tmp, self.work / name)

    def load(self, k: int) -> tuple[dict[str, np.ndarray], dict] | None:
        """Fold ``k``'s arrays (absent names: None) and record, or None when no finished fold of this run is kept."""
        meta, arrays = self.work / f"fold-{k}.json", self.work / f"fold-{k}.npz"
        if not meta.is_file() or not arrays.is_file():
            return None
        record = json.loads(meta.read_text(encoding="utf-8"))
        if record.pop("run", None) != self.run:
            log.warning("fold %d in %s was saved by a run of other settings or data: training it again", k, self.work)
            return None
        with np.load(arrays, allow_pickle=False) as kept:
            return {name: kept[name] for name in kept.files}, record


def _plain(value: object) -> object:
    """A numpy scalar as the Python number it holds (for ``json.dumps``)."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-able")


def resumable_folds(
    records: FoldRecords,
    folds: int,
    *,
    resume: bool,
    run: Callable[[int, Path], Outcome],
    pack: Callable[[Outcome], tuple[dict[str, np.ndarray | None], dict]],
    unpack: Callable[[dict[str, np.ndarray], dict], Outcome],
) -> list[Outcome]:
    """Every outer fold's outcome: ``run(k, folder)`` trains fold ``k`` in ``records``' work folder and the main
    process keeps it (``pack``); with ``resume`` the folds an interrupted run finished are read back (``unpack``)."""
    outcomes = []
    for k in range(folds):
        kept = records.load(k) if resume else None
        if kept is not None:
            outcomes.append(unpack(*kept))
            log.info("fold %d: finished by the interrupted run, read back from %s", k, records.work)
            continue
        shutil.rmtree(records.work / f"fold-{k}", ignore_errors=True)  # an interrupted fold's checkpoints
        outcomes.append(run(k, records.work / f"fold-{k}"))
        if is_main_process():
            records.save(k, *pack(outcomes[-1]))
    return outcomes
