"""Decision thresholds of multi-label models, tuned on the dev split.

Three rules (``train.threshold_rule``):

- ``global`` (default): one threshold for every label, the value on the grid
  0.05, 0.10, …, 0.95 that gives the highest **micro-F1 over all labels** on
  dev; ties go to the value nearest 0.5. ``step`` (``train.threshold_step``)
  sets the grid's spacing: 0.01 searches 0.01, 0.02, …, 0.99.
- ``per_label``: start every label at 0.5, then, label by label (two passes of
  coordinate ascent), move its threshold to the grid value that gives the
  highest micro-F1 over all labels, the others held fixed. A label with fewer
  than ``min_support`` dev positives keeps 0.5: there is too little evidence
  to move it. (Optimising each label's own F1 instead lowers the thresholds of
  rare labels until they flood the other units with false positives.)
- ``per_label_or_global``: as ``per_label``, but every label starts at the
  global threshold, so a label with too few positives to move keeps the
  global value instead of 0.5. Meant for the many out-of-fold predictions
  of ``--folds``, where frequent labels have the support to move.
- ``per_label_rate``: no F1 search; each label's threshold is the probability
  at which it fires as often as it is gold (on ``k`` positives, the ``k``-th
  highest probability), so labels per example match the gold rate and rare
  labels fire at their own rates instead of almost never. A label with fewer
  than ``min_support`` positives keeps the global threshold.

By construction dev micro-F1 at the tuned thresholds is at least that at 0.5;
since it is measured on the split it was tuned on, it is optimistic. Measured
on SemEval-2023 lines with thresholds tuned on one half of the dev articles and
applied to the other (``bench/blend.py``), 23 per-label thresholds overfit: they
scored 0.011–0.019 micro-F1 below one global threshold at four of five blend
weights and tied at the fifth, and for TF-IDF alone fell below a flat 0.5.
Hence the default.

A finer grid pays where the predictions are many: on the 7,478 out-of-fold
SemEval-2023 lines of the three-member k-fold ensemble, ``per_label_or_global``
at step 0.01 instead of 0.05 gave micro-F1 0.447 against 0.444 and macro-F1
0.197 against 0.193, at 0.624 labels per line against 0.693 (gold 0.617;
docs/benchmarks.md, issue 25).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_STEP = 0.05
RULES = ("global", "per_label", "per_label_or_global", "per_label_rate")


def grid(step: float = DEFAULT_STEP) -> np.ndarray:
    """The thresholds a rule tries: ``step``, ``2 * step``, … below 1, ordered by closeness to 0.5 (the order
    ties are broken in)."""
    if not 0 < step <= 0.5:
        raise ValueError(f"threshold step must be in (0, 0.5], got {step}")
    values = np.round(np.arange(step, 1 - step / 2, step), 6)
    return values[np.argsort(np.abs(values - 0.5), kind="stable")]


def decisions_at(probs: np.ndarray, thresholds: float | Sequence[float]) -> np.ndarray:
    """0/1 matrix of ``probs >= thresholds`` (one threshold, or one per column)."""
    return (probs >= np.asarray(thresholds, dtype=np.float64)).astype(np.int64)


def tuned_thresholds(
    rule: str, probs: np.ndarray, targets: np.ndarray, min_support: int = 1, step: float = DEFAULT_STEP
) -> list[float]:
    """One threshold per label column by ``rule`` (one of :data:`RULES`), searched on the grid of spacing ``step``."""
    if rule == "global":
        return [global_threshold(probs, targets, step)] * targets.shape[1]
    if rule == "per_label":
        return per_label_thresholds(probs, targets, min_support, step=step)
    if rule == "per_label_or_global":
        return per_label_thresholds(
            probs, targets, min_support, start=global_threshold(probs, targets, step), step=step
        )
    if rule == "per_label_rate":
        return rate_thresholds(probs, targets, min_support, step)
    raise ValueError(f"unknown threshold rule {rule!r}; choose one of {', '.join(RULES)}")


def global_threshold(probs: np.ndarray, targets: np.ndarray, step: float = DEFAULT_STEP) -> float:
    """The grid value that maximises micro-F1 over all labels at once (ties: nearest 0.5)."""
    gold = targets.astype(bool)
    positives = gold.sum()
    best, best_f1 = 0.5, -1.0
    for t in grid(step):
        pred = probs >= t
        tp = (pred & gold).sum()
        denominator = pred.sum() + positives
        f1 = 2 * tp / denominator if denominator else 0.0
        if f1 > best_f1:
            best, best_f1 = float(t), f1
    return best


def per_label_thresholds(
    probs: np.ndarray,
    targets: np.ndarray,
    min_support: int = 1,
    passes: int = 2,
    start: float = 0.5,
    step: float = DEFAULT_STEP,
) -> list[float]:
    """One threshold per label column, every label starting at ``start`` (see module docstring)."""
    candidates = grid(step)
    gold = targets.astype(bool)
    thresholds = np.full(gold.shape[1], start)
    pred = probs >= thresholds
    tp = (pred & gold).sum(axis=0).astype(float)
    fp = (pred & ~gold).sum(axis=0).astype(float)
    fn = (~pred & gold).sum(axis=0).astype(float)
    tunable = [j for j in range(gold.shape[1]) if gold[:, j].sum() >= max(1, min_support)]
    for _ in range(passes):
        for j in tunable:
            rest_tp, rest_fp, rest_fn = tp.sum() - tp[j], fp.sum() - fp[j], fn.sum() - fn[j]
            column = probs[:, j][:, None] >= candidates[None, :]
            cand_tp = (column & gold[:, j][:, None]).sum(axis=0)
            cand_fp = column.sum(axis=0) - cand_tp
            cand_fn = gold[:, j].sum() - cand_tp
            total_tp = rest_tp + cand_tp
            denominator = 2 * total_tp + rest_fp + cand_fp + rest_fn + cand_fn
            micro = np.where(denominator > 0, 2 * total_tp / np.maximum(denominator, 1), 0.0)
            best = int(np.argmax(micro))  # first maximum = nearest 0.5
            thresholds[j] = float(candidates[best])
            tp[j], fp[j], fn[j] = cand_tp[best], cand_fp[best], cand_fn[best]
    return [float(t) for t in thresholds]


def rate_thresholds(
    probs: np.ndarray, targets: np.ndarray, min_support: int = 1, step: float = DEFAULT_STEP
) -> list[float]:
    """Per label, the probability at which it fires on as many examples as it is gold on (see module
    docstring); ``step`` is the fallback's grid."""
    fallback = global_threshold(probs, targets, step)
    positives = targets.astype(bool).sum(axis=0)
    thresholds = []
    for j, k in enumerate(positives):
        if k < max(1, min_support):
            thresholds.append(fallback)
        else:
            thresholds.append(float(np.sort(probs[:, j])[-int(k)]))
    return thresholds


def cross_fitted(
    rule: str,
    probs: np.ndarray,
    targets: np.ndarray,
    articles: list[str],
    seed: int,
    min_support: int = 1,
    step: float = DEFAULT_STEP,
) -> np.ndarray:
    """Decisions where each half of the articles (``articles``: each row's article, cut at random by ``seed``)
    uses thresholds tuned on the other half.

    An honest figure for thresholds tuned on a dev split: no row is decided by
    thresholds tuned on its own article.
    """
    names = np.array(articles)
    unique = np.unique(names)
    np.random.default_rng(seed).shuffle(unique)
    first = np.isin(names, unique[: len(unique) // 2])
    decided = np.zeros(probs.shape, dtype=np.int64)
    for tune, apply in ((first, ~first), (~first, first)):
        decided[apply] = decisions_at(
            probs[apply], tuned_thresholds(rule, probs[tune], targets[tune], min_support, step)
        )
    return decided
