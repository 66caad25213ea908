"""Metric figures from 0/1 decisions, computed by the repo's local evaluate modules."""

from __future__ import annotations

from functools import cache

import numpy as np

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
