"""k-fold by article (``train.folds``): folds never split an article, figures come from unseen articles, the refit model scores."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.errors import ConfigError
from framelab.models.out_of_fold import load_out_of_fold
from framelab.models.predictor import Predictor
from framelab.splits import TaskData
from framelab.thresholds import per_label_thresholds, tuned_thresholds
from framelab.train.folds import article_of, assign_folds, assign_group_folds, cross_validated
from framelab.train.run import train


def test_folds_keep_every_article_whole_and_balanced() -> None:
    ids = [f"a{i}#{u}" for i in range(10) for u in range(i % 3 + 1)]
    folds = assign_folds(ids, 3, seed=5)
    by_article: dict[str, set[int]] = {}
    for i, f in zip(ids, folds):
        by_article.setdefault(article_of(i), set()).add(int(f))
    assert all(len(f) == 1 for f in by_article.values())
    counts = np.bincount([next(iter(f)) for f in by_article.values()], minlength=3)
    assert counts.max() - counts.min() <= 1
    assert (assign_folds(ids, 3, seed=5) == folds).all()
    with pytest.raises(ValueError, match="at least 11 articles"):
        assign_folds(ids, 11, seed=0)


def test_each_fold_is_judged_at_thresholds_tuned_on_the_others() -> None:
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 2, size=(40, 3))
    probs = np.clip(targets * 0.6 + rng.random((40, 3)) * 0.5, 0, 1)
    data = TaskData([f"a{i // 4}#{i % 4}" for i in range(40)], [""] * 40, targets)
    folds = assign_folds(data.ids, 2, seed=1)
    per_fold, summary = cross_validated(
        probs, data, folds, ["x", "y", "z"], multi_label=True, rule="global", min_support=1
    )
    assert len(per_fold) == 2 and set(summary) >= {
        "micro_f1",
        "macro_f1",
        "any_f1",
        "per_label_f1",
        "labels_per_example",
    }
    other = folds != 0
    expected = (probs[folds == 0] >= tuned_thresholds("global", probs[other], targets[other])[0]).astype(int)
    tp = (expected & targets[folds == 0]).sum()
    assert per_fold[0]["micro"]["f1"] == pytest.approx(2 * tp / (expected.sum() + targets[folds == 0].sum()))
    assert summary["labels_per_example"]["gold"] == pytest.approx(targets.sum(axis=1).mean())


def test_per_label_or_global_starts_from_the_global_threshold() -> None:
    rng = np.random.default_rng(3)
    targets = np.zeros((60, 2), dtype=int)
    targets[:30, 0] = 1
    targets[0, 1] = 1  # one positive: too few to move
    probs = rng.random((60, 2))
    hybrid = tuned_thresholds("per_label_or_global", probs, targets, min_support=5)
    assert hybrid[1] == tuned_thresholds("global", probs, targets, 1)[0]
    assert per_label_thresholds(probs, targets, 5)[1] == 0.5


def test_folds_train_then_refit_on_every_article(
    tmp_path: Path, tiny_config: Callable, caplog: pytest.LogCaptureFixture
) -> None:
    config = tiny_config(tmp_path, name="tiny-folds", output_dir=tmp_path / "model", **{"train.folds": 2})
    build_dataset(config)
    with caplog.at_level("INFO", logger="framelab"):
        result = train(config)
    metrics = json.loads((tmp_path / "model" / "dev_metrics.json").read_text(encoding="utf-8"))
    cv = metrics["cross_validated"]
    # The folds' figures are said before the refit starts.
    assert (
        f"cross-validated over 2 folds: micro-F1 {cv['micro_f1']['mean']:.3f} ± {cv['micro_f1']['std']:.3f}"
        in caplog.text
    )
    assert cv["folds"] == 2 and len(cv["per_fold"]) == 2
    assert sum(f["examples"] for f in cv["per_fold"]) == metrics["refit"]["examples"] == metrics["n_dev_examples"]
    assert 0 <= cv["micro_f1"]["mean"] <= 1 and cv["micro_f1"]["std"] >= 0
    assert metrics["refit"]["epochs"] in {f["best_epoch"] for f in cv["per_fold"]} | {
        sum(f["best_epoch"] for f in cv["per_fold"]) / 2
    }
    assert result.dev_metrics == metrics
    assert not (tmp_path / "model.work").exists()
    predictor = Predictor(tmp_path / "model")
    assert len(predictor.meta.thresholds) == len(predictor.meta.labels)
    assert predictor.probabilities(["A short test sentence."]).shape == (1, len(predictor.meta.labels))
    assert "-fold cross-validation by article" in (tmp_path / "model" / "README.md").read_text(encoding="utf-8")
    # Every example's out-of-fold probabilities are kept, and they give back the cross-validated figures.
    oof = load_out_of_fold(tmp_path / "model")
    assert len(oof.ids) == len(set(oof.ids)) == metrics["n_dev_examples"]
    assert oof.labels == predictor.meta.labels and oof.probabilities.shape == oof.targets.shape == (
        len(oof.ids),
        len(oof.labels),
    )
    assert oof.fine_tuned is None or oof.fine_tuned.shape == oof.probabilities.shape
    assert sorted(np.bincount(oof.folds).tolist()) == sorted(f["examples"] for f in cv["per_fold"])
    data = TaskData(oof.ids, [""] * len(oof.ids), oof.targets)
    _, again = cross_validated(
        oof.probabilities, data, oof.folds, oof.labels, multi_label=True, rule="global", min_support=5
    )
    assert again["micro_f1"]["mean"] == pytest.approx(cv["micro_f1"]["mean"], abs=1e-6)


def test_folds_must_be_zero_or_at_least_two() -> None:
    with pytest.raises(ConfigError, match="train.folds must be 0"):
        load_config(None, ["train.folds=1"])


def test_group_folds_keep_groups_whole_and_balance_examples_not_groups() -> None:
    sizes = {"g10": 10, "g6": 6, "g5": 5, "g4": 4, "g3": 3, "g2": 2}
    groups = [g for g, n in sizes.items() for _ in range(n)]
    folds = assign_group_folds(groups, 3, seed=0)
    by_group: dict[str, set[int]] = {}
    for g, f in zip(groups, folds):
        by_group.setdefault(g, set()).add(int(f))
    assert all(len(f) == 1 for f in by_group.values())
    # Largest first, each to the lightest fold: 10 | 6 | 5, then 4 -> fold 2 (9), 3 -> fold 1 (9), 2 -> fold 1
    # (ties: the lower fold). The sizes differ, so the seed's shuffle decides nothing here.
    assert np.bincount(folds, minlength=3).tolist() == [10, 11, 9]
    assert (assign_group_folds(groups, 3, seed=7) == folds).all()
    with pytest.raises(ValueError, match="at least 7 groups"):
        assign_group_folds(groups, 7, seed=0)
