"""Threshold tuning: micro-F1 never drops, rare labels stay at 0.5."""

from __future__ import annotations

import numpy as np

from framelab.train.thresholds import tune_thresholds


def _micro(probs: np.ndarray, gold: np.ndarray, thresholds: list[float]) -> float:
    pred = probs >= np.asarray(thresholds)
    tp = (pred & gold).sum()
    return 2 * tp / (pred.sum() + gold.sum())


def test_tuning_moves_a_threshold_to_where_micro_f1_is_best() -> None:
    # Label 0 positives score 0.3–0.4 and negatives 0.1: any threshold in (0.1, 0.3] is perfect;
    # the grid value nearest 0.5 among them is 0.3.
    probs = np.array([[0.35, 0.9], [0.3, 0.8], [0.1, 0.2], [0.4, 0.1], [0.1, 0.7]])
    gold = np.array([[1, 1], [1, 1], [0, 0], [1, 0], [0, 1]], dtype=bool)
    thresholds = tune_thresholds(probs, gold)
    assert thresholds[0] == 0.3
    assert _micro(probs, gold, thresholds) == 1.0 > _micro(probs, gold, [0.5, 0.5])


def test_rare_labels_keep_half_and_micro_never_drops() -> None:
    rng = np.random.default_rng(0)
    gold = rng.random((200, 6)) < np.array([0.3, 0.2, 0.1, 0.05, 0.01, 0.0])
    probs = np.clip(gold * 0.3 + rng.random((200, 6)) * 0.7, 0, 1)
    thresholds = tune_thresholds(probs, gold, min_support=5)
    rare = [j for j in range(6) if gold[:, j].sum() < 5]
    assert rare and all(thresholds[j] == 0.5 for j in rare)
    assert _micro(probs, gold, thresholds) >= _micro(probs, gold, [0.5] * 6)
