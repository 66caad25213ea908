"""Metric figures from 0/1 decisions, computed by the repo's local evaluate modules, and their 95% intervals.

The figures come from ``framelab/metrics``; their intervals (``*_intervals``) from the group bootstrap of
:mod:`framelab.eval.bootstrap`, which recomputes the same figures from additive counts, resample by resample.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from framelab.eval.bootstrap import Resamples, Tally, attach, indicator_credits, intervals_of, prf
from framelab.metrics import load_metric


@cache
def _metric(name: str):
    return load_metric(name)


def multilabel_scores(pred: np.ndarray, gold: np.ndarray, names: list[str]) -> dict:
    """Micro, macro, per-label and 'any label' P/R/F1 with support."""
    if len(gold) == 0:
        raise ValueError("no examples to score")
    return _metric("multilabel_prf").compute(
        predictions=np.asarray(pred, dtype=np.int64).tolist(),
        references=np.asarray(gold, dtype=np.int64).tolist(),
        label_names=list(names),
    )


def single_label_scores(pred: np.ndarray, gold: np.ndarray, names: list[str]) -> dict:
    """Scores of class indices: micro-F1 equals accuracy; macro and per-class P/R/F1."""
    eye = np.eye(len(names), dtype=np.int64)
    scores = multilabel_scores(eye[np.asarray(pred)], eye[np.asarray(gold)], names)
    scores["accuracy"] = float(np.mean(np.asarray(pred) == np.asarray(gold)))
    scores.pop("any", None)
    return scores


def stance_scores(pred: list[str], gold: list[str], names: list[str]) -> dict:
    """Macro-F1 and accuracy, plus the SemEval-2016 F_avg when the labels hold
    favor and against, or the FNC-1 weighted score for FNC-1 labels."""
    lowered = {n.lower() for n in names}
    if lowered <= {"agree", "disagree", "discuss", "unrelated"}:
        scheme = "fnc1"
    elif {"favor", "against"} <= lowered:
        scheme = "semeval2016"
    else:
        scheme = "generic"
    return _metric("stance_scores").compute(
        predictions=list(pred), references=list(gold), scheme=scheme, labels=list(names)
    )


def multilabel_resampled(pred: np.ndarray, gold: np.ndarray, names: list[str], groups: list[str], resamples: Resamples):
    """Each resample's micro, macro, 'any' and per-label P/R/F1 (:func:`multilabel_scores`' figures), as arrays."""
    credits = resamples.totals(indicator_credits(pred, gold), groups)
    per_label = prf(credits)
    anyone = prf(
        resamples.totals(
            indicator_credits(np.any(pred, axis=1, keepdims=True), np.any(gold, axis=1, keepdims=True)), groups
        )[:, 0]
    )

    def block(figures) -> dict:
        return dict(zip(("precision", "recall", "f1"), figures))

    return {
        "micro": block(prf(credits.sum(axis=1))),
        "macro": block(f.mean(axis=1) for f in per_label),
        "per_label": {n: block(f[:, j] for f in per_label) for j, n in enumerate(names)},
        "any": block(anyone),
    }


def multilabel_intervals(
    pred: np.ndarray, gold: np.ndarray, names: list[str], groups: list[str], resamples: Resamples
) -> dict:
    """95% intervals of :func:`multilabel_scores`' figures, resampling ``groups`` (for :func:`attach`)."""
    return intervals_of(multilabel_resampled(pred, gold, names, groups, resamples))


def single_label_intervals(
    pred: np.ndarray, gold: np.ndarray, names: list[str], groups: list[str], resamples: Resamples
) -> dict:
    """95% intervals of :func:`single_label_scores`' figures (class indices), resampling ``groups``."""
    eye = np.eye(len(names), dtype=np.int64)
    values = multilabel_resampled(eye[np.asarray(pred)], eye[np.asarray(gold)], names, groups, resamples)
    values.pop("any")
    # Each example makes one prediction and has one gold class: micro precision is the share right.
    values["accuracy"] = values["micro"]["precision"]
    return intervals_of(values)


@cache
def _fnc_pair_scores(names: tuple[str, ...]) -> np.ndarray:
    """``[gold, predicted]`` FNC-1 score of one pair, asked of the metric module so that the rule has one home."""
    return np.array([[stance_scores([p], [g], list(names))["fnc_score"] for p in names] for g in names])


def stance_intervals(
    pred: np.ndarray, gold: np.ndarray, names: list[str], figures: dict, groups: list[str], resamples: Resamples
) -> dict:
    """95% intervals of the figures :func:`stance_scores` gave (``figures``) for class indices, resampling
    ``groups``."""
    pred, gold = np.asarray(pred), np.asarray(gold)
    eye = np.eye(len(names), dtype=np.int64)
    values = multilabel_resampled(eye[pred], eye[gold], names, groups, resamples)
    # The metric module names the labels its own way (SemEval-2016 in capitals, FNC-1 in lower case).
    key_of = {k.lower(): k for k in figures["per_label"]}
    out = {
        "accuracy": values["micro"]["precision"],
        "macro_f1": values["macro"]["f1"],
        "per_label": {key_of[n.lower()]: values["per_label"][n] for n in names if n.lower() in key_of},
    }
    lowered = [n.lower() for n in names]
    if "f_avg" in figures:
        pair = [values["per_label"][names[lowered.index(n)]]["f1"] for n in ("favor", "against")]
        out["f_avg"] = (pair[0] + pair[1]) / 2
    if "fnc_relative" in figures:
        out["fnc_relative"] = fnc_relative_tally(pred, gold, names, groups).resampled(resamples)
    return intervals_of(out)


def fnc_relative_tally(pred: np.ndarray, gold: np.ndarray, names: list[str], groups: list[str]) -> Tally:
    """The FNC-1 relative score example by example: each pair's score and the best score it could get."""
    table = _fnc_pair_scores(tuple(names))
    pred, gold = np.asarray(pred), np.asarray(gold)

    def relative(totals: np.ndarray) -> np.ndarray:
        return np.divide(totals[:, 0], totals[:, 1], out=np.zeros(len(totals)), where=totals[:, 1] > 0)

    return Tally(np.stack([table[gold, pred], table[gold, gold]], axis=1), list(groups), relative)


def scores_with_intervals(
    decided: np.ndarray,
    targets: np.ndarray,
    names: list[str],
    groups: list[str],
    resamples: Resamples,
    *,
    multi_label: bool,
) -> dict:
    """The figures of 0/1 ``decided`` (multi-label) or of its arg-max (single-label), each with its 95% interval."""
    if multi_label:
        intervals = multilabel_intervals(decided, targets, names, groups, resamples)
        return attach(multilabel_scores(decided, targets, names), intervals)
    pred, gold = np.asarray(decided).argmax(axis=1), np.asarray(targets).argmax(axis=1)
    return attach(single_label_scores(pred, gold, names), single_label_intervals(pred, gold, names, groups, resamples))
