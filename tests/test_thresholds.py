"""Threshold tuning: micro-F1 never drops, rare labels stay at 0.5."""

from __future__ import annotations

import numpy as np
import pytest

from framelab.thresholds import decisions_at, global_threshold, grid, per_label_thresholds, tuned_thresholds


def _micro(probs: np.ndarray, gold: np.ndarray, thresholds: list[float]) -> float:
    pred = probs >= np.asarray(thresholds)
    tp = (pred & gold).sum()
    return 2 * tp / (pred.sum() + gold.sum())


def test_tuning_moves_a_threshold_to_where_micro_f1_is_best() -> None:
    # Label 0 positives score 0.3–0.4 and negatives 0.1: any threshold in (0.1, 0.3] is perfect;
    # the grid value nearest 0.5 among them is 0.3.
    probs = np.array([[0.35, 0.9], [0.3, 0.8], [0.1, 0.2], [0.4, 0.1], [0.1, 0.7]])
    gold = np.array([[1, 1], [1, 1], [0, 0], [1, 0], [0, 1]], dtype=bool)
    thresholds = per_label_thresholds(probs, gold)
    assert thresholds[0] == 0.3
    assert _micro(probs, gold, thresholds) == 1.0 > _micro(probs, gold, [0.5, 0.5])


def test_rare_labels_keep_half_and_micro_never_drops() -> None:
    rng = np.random.default_rng(0)
    gold = rng.random((200, 6)) < np.array([0.3, 0.2, 0.1, 0.05, 0.01, 0.0])
    probs = np.clip(gold * 0.3 + rng.random((200, 6)) * 0.7, 0, 1)
    thresholds = per_label_thresholds(probs, gold, min_support=5)
    rare = [j for j in range(6) if gold[:, j].sum() < 5]
    assert rare and all(thresholds[j] == 0.5 for j in rare)
    assert _micro(probs, gold, thresholds) >= _micro(probs, gold, [0.5] * 6)


def test_global_rule_picks_one_value_for_all_labels() -> None:
    # Positives score 0.3–0.4 on both labels, negatives at most 0.2: every grid value in
    # (0.2, 0.3] separates them; the one nearest 0.5 is 0.3. Per label, label 1 alone would also
    # accept 0.35, which the global rule must not pick since it loses label 0's 0.3 positive.
    probs = np.array([[0.3, 0.35], [0.4, 0.4], [0.2, 0.1], [0.1, 0.2], [0.35, 0.38]])
    gold = np.array([[1, 1], [1, 1], [0, 0], [0, 0], [1, 1]], dtype=bool)
    assert global_threshold(probs, gold) == 0.3
    assert tuned_thresholds("global", probs, gold) == [0.3, 0.3]
    assert _micro(probs, gold, [0.3, 0.3]) == 1.0


def test_global_rule_never_below_half_and_ties_go_to_half() -> None:
    rng = np.random.default_rng(1)
    gold = rng.random((300, 5)) < 0.2
    probs = np.clip(gold * 0.25 + rng.random((300, 5)) * 0.75, 0, 1)
    t = global_threshold(probs, gold)
    assert _micro(probs, gold, [t] * 5) >= _micro(probs, gold, [0.5] * 5)
    separable = np.where(gold, 0.9, 0.1)
    assert global_threshold(separable, gold) == 0.5


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown threshold rule"):
        tuned_thresholds("per_unit", np.zeros((2, 1)), np.zeros((2, 1)))


def test_rate_rule_fires_each_label_as_often_as_it_is_gold() -> None:
    rng = np.random.default_rng(3)
    targets = np.zeros((200, 3), dtype=np.int64)
    targets[:40, 0] = 1  # frequent
    targets[:8, 1] = 1  # rare, but with support
    targets[:2, 2] = 1  # too few to set its own
    probs = rng.random((200, 3)) * 0.3 + targets * 0.1  # a timid model: nothing reaches 0.5
    thresholds = tuned_thresholds("per_label_rate", probs, targets, min_support=5)
    fired = decisions_at(probs, thresholds).sum(axis=0)
    assert fired[0] == 40 and fired[1] == 8
    assert thresholds[2] == global_threshold(probs, targets)


def test_a_finer_grid_finds_a_threshold_between_the_coarse_values() -> None:
    # Negatives score 0.31-0.32 and positives 0.33-0.4: 0.30 takes the negatives in, 0.35 leaves a
    # positive out, and only a grid of step 0.01 separates them (at 0.33).
    probs = np.array([[0.33], [0.36], [0.4], [0.31], [0.32], [0.1]])
    gold = np.array([[1], [1], [1], [0], [0], [0]], dtype=bool)
    coarse, fine = global_threshold(probs, gold), global_threshold(probs, gold, step=0.01)
    assert fine == 0.33 and _micro(probs, gold, [fine]) == 1.0 > _micro(probs, gold, [coarse])
    assert per_label_thresholds(probs, gold, step=0.01) == [0.33]
    assert sorted(grid(0.05)) == [round(0.05 * i, 2) for i in range(1, 20)]
    assert sorted(grid(0.01))[0] == 0.01 and sorted(grid(0.01))[-1] == 0.99
    with pytest.raises(ValueError, match="threshold step"):
        grid(0)
