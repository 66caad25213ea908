"""k-fold by article (``train.folds``): folds never split an article, figures come from unseen articles, the refit model
scores."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.errors import ConfigError
from framelab.models.out_of_fold import load_out_of_fold
from framelab.models.predictor import Predictor
from framelab.spans import train as span_train
from framelab.spans.data import concat_span_splits
from framelab.splits import TaskData
from framelab.thresholds import per_label_thresholds, tuned_thresholds
from framelab.train import classifier
from framelab.train.folds import (
    article_of,
    assign_folds,
    assign_group_folds,
    concat,
    cross_validated,
    fold_thresholds,
    inner_fold,
)
from framelab.train.run import train
from framelab.train.trainer import load_tokenizer, start
from framelab.types import Span

from .conftest import SAMPLE


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


def test_each_fold_is_judged_at_thresholds_tuned_on_its_inner_fold() -> None:
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 2, size=(60, 3))
    data = TaskData([f"a{i // 4}#{i % 4}" for i in range(60)], [""] * 60, targets)
    folds = assign_folds(data.ids, 3, seed=1)

    def predictions(targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold and inner predictions as if each fold's model learnt its training folds' labels."""
        probs, inner = np.zeros(targets.shape), np.zeros(targets.shape)
        for k in range(3):
            rate = targets[(folds != k) & (folds != inner_fold(k, 3))].mean(axis=0)  # what the model learnt
            for rows, out in ((folds == k, probs), (folds == inner_fold(k, 3), inner)):
                noise = np.random.default_rng(k).random((int(rows.sum()), 3))
                out[rows] = 0.3 * targets[rows] + 0.4 * rate + 0.3 * noise
        return probs, inner

    probs, inner = predictions(targets)
    chosen = fold_thresholds(inner, targets, folds, rule="global", min_support=1, step=0.05)
    on_inner = folds == 1  # outer fold 0's inner fold
    assert chosen[0] == tuned_thresholds("global", inner[on_inner], targets[on_inner], 1)
    per_fold, summary = cross_validated(
        probs, data, folds, ["x", "y", "z"], multi_label=True, rule="global", min_support=1, thresholds=chosen
    )
    assert len(per_fold) == 3 and set(summary) >= {"micro_f1", "macro_f1", "any_f1", "per_label_f1"}
    expected = (probs[folds == 0] >= np.array(chosen[0])).astype(int)
    tp = (expected & targets[folds == 0]).sum()
    assert per_fold[0]["micro"]["f1"] == pytest.approx(2 * tp / (expected.sum() + targets[folds == 0].sum()))
    assert summary["labels_per_example"]["gold"] == pytest.approx(targets.sum(axis=1).mean())

    # Fold 0's labels change, and with them every prediction of a model that learnt them: fold 0's thresholds
    # do not, while the thresholds tuned on the other folds' out-of-fold predictions (no inner ones) move.
    flipped = targets.copy()
    flipped[folds == 0] = 1 - flipped[folds == 0]
    probs_again, inner_again = predictions(flipped)
    assert fold_thresholds(inner_again, flipped, folds, rule="global", min_support=1, step=0.05)[0] == chosen[0]
    other = folds != 0
    assert tuned_thresholds("global", probs[other], targets[other], 1) != tuned_thresholds(
        "global", probs_again[other], flipped[other], 1
    )


def test_per_label_or_global_starts_from_the_global_threshold() -> None:
    rng = np.random.default_rng(3)
    targets = np.zeros((60, 2), dtype=int)
    targets[:30, 0] = 1
    targets[0, 1] = 1  # one positive: too few to move
    probs = rng.random((60, 2))
    hybrid = tuned_thresholds("per_label_or_global", probs, targets, min_support=5)
    assert hybrid[1] == tuned_thresholds("global", probs, targets, 1)[0]
    assert per_label_thresholds(probs, targets, 5)[1] == 0.5


def _fold_config(tmp_path: Path, tiny_model_dir: Path, *extra: str):
    overrides = [
        "name=tiny-folds",
        f"data.path={SAMPLE}",
        f"data.output_dir={tmp_path / 'dataset'}",
        f"output_dir={tmp_path / 'model'}",
        f"model.base={tiny_model_dir}",
        "train.epochs=2",
        "train.batch_size=32",
        "train.learning_rate=0.001",
        "train.folds=3",
        *extra,
    ]
    return load_config(None, overrides)


def test_folds_train_then_refit_on_every_article(
    tmp_path: Path, tiny_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = _fold_config(tmp_path, tiny_model_dir)
    build_dataset(config)
    with caplog.at_level("INFO", logger="framelab"):
        result = train(config)
    metrics = json.loads((tmp_path / "model" / "dev_metrics.json").read_text(encoding="utf-8"))
    cv = metrics["cross_validated"]
    # The folds' figures are said before the refit starts.
    assert (
        f"cross-validated over 3 folds: micro-F1 {cv['micro_f1']['mean']:.3f} ± {cv['micro_f1']['std']:.3f}"
        in caplog.text
    )
    assert cv["folds"] == 3 and len(cv["per_fold"]) == 3
    assert sum(f["examples"] for f in cv["per_fold"]) == metrics["refit"]["examples"] == metrics["n_dev_examples"]
    assert 0 <= cv["micro_f1"]["mean"] <= 1 and cv["micro_f1"]["std"] >= 0
    # Each fold lists its choices and the inner fold they were made on; the refit takes the median epoch count.
    for fold in cv["per_fold"]:
        choices = fold["choices"]
        assert len(choices["epochs"]["micro_f1_by_epoch"]) == 2 and choices["epochs"]["value"] == fold["best_epoch"]
        assert f"inner fold {(fold['fold'] + 1) % 3} " in choices["epochs"]["made_on"]
        assert f"inner fold {(fold['fold'] + 1) % 3} " in choices["thresholds"]["made_on"]
        assert choices["trained_on"].endswith(f"examples of fold {(fold['fold'] + 2) % 3}")
    assert metrics["refit"]["epochs"] == float(np.median([f["best_epoch"] for f in cv["per_fold"]]))
    assert [c["choice"] for c in metrics["choices"]] == ["epochs", "thresholds"]
    assert result.dev_metrics == metrics
    assert not (tmp_path / "model.work").exists()
    predictor = Predictor(tmp_path / "model")
    assert len(predictor.meta.thresholds) == len(predictor.meta.labels)
    assert list(metrics["choices"][1]["value"].values()) == predictor.meta.thresholds
    assert predictor.probabilities(["A short test sentence."]).shape == (1, len(predictor.meta.labels))
    card = (tmp_path / "model" / "README.md").read_text(encoding="utf-8")
    assert "-fold cross-validation by article" in card and "its inner fold (k + 1 round)" in card
    assert "Choices made from data" in card and "- fold 2, thresholds: the global rule" in card
    # Every example's out-of-fold and inner probabilities are kept, and they give back the cross-validated figures.
    oof = load_out_of_fold(tmp_path / "model")
    assert len(oof.ids) == len(set(oof.ids)) == metrics["n_dev_examples"]
    assert oof.labels == predictor.meta.labels and oof.probabilities.shape == oof.targets.shape == (
        len(oof.ids),
        len(oof.labels),
    )
    assert oof.fine_tuned is None and oof.inner is not None and oof.inner.shape == oof.probabilities.shape
    assert sorted(np.bincount(oof.folds).tolist()) == sorted(f["examples"] for f in cv["per_fold"])
    chosen = fold_thresholds(oof.inner, oof.targets, oof.folds, rule="global", min_support=5, step=0.05)
    assert chosen == [list(f["choices"]["thresholds"]["value"].values()) for f in cv["per_fold"]]
    data = TaskData(oof.ids, [""] * len(oof.ids), oof.targets)
    _, again = cross_validated(
        oof.probabilities,
        data,
        oof.folds,
        oof.labels,
        multi_label=True,
        rule="global",
        min_support=5,
        thresholds=chosen,
    )
    assert again["micro_f1"]["mean"] == pytest.approx(cv["micro_f1"]["mean"], abs=1e-6)


def test_fold_choices_never_see_the_folds_labels(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _fold_config(
        tmp_path,
        tiny_model_dir,
        "train.threshold_rule=per_label_or_global",
        "train.lexical_weight=0.3",
        "train.freeze_layers=1",  # the cached lower layers of the k-fold configs: the outer fold predicted on them
    )
    build_dataset(config)
    setup, _, train_data, dev_data = classifier._setup(config)
    data = concat(train_data, dev_data)
    folds = assign_folds(data.ids, 3, config.train.fold_assignment_seed)
    flipped = data.targets.copy()
    flipped[folds == 0] = 1 - flipped[folds == 0]  # every label of outer fold 0 changes
    relabelled = TaskData(data.ids, data.texts, flipped, data.pairs)
    first = classifier.run_fold(config, setup, data, folds, 0, work=tmp_path / "first")
    second = classifier.run_fold(config, setup, relabelled, folds, 0, work=tmp_path / "second")
    # Epoch count (and the scores it was chosen by) and thresholds: all made on inner fold 1.
    assert len(first.choices["epochs"]["micro_f1_by_epoch"]) == 2
    assert first.choices == second.choices and first.thresholds == second.thresholds
    np.testing.assert_array_equal(first.rows, np.flatnonzero(folds == 0))
    np.testing.assert_array_equal(first.inner_rows, np.flatnonzero(folds == 1))
    np.testing.assert_array_equal(first.probabilities, second.probabilities)
    np.testing.assert_array_equal(first.fine_tuned, second.fine_tuned)
    # Fold 1's labels, in turn, are what fold 0's thresholds were tuned on.
    moved = data.targets.copy()
    moved[folds == 1] = 1 - moved[folds == 1]
    third = classifier.run_fold(
        config, setup, TaskData(data.ids, data.texts, moved, data.pairs), folds, 0, work=tmp_path / "third"
    )
    assert third.thresholds != first.thresholds


def test_span_fold_choices_never_see_the_folds_spans(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _fold_config(tmp_path, tiny_model_dir, "data.unit=sentence", "train.task=spans", "train.freeze_layers=1")
    build_dataset(config)
    base, _ = start(config)
    train_split, dev_split, names, _ = span_train._tagger_splits(config)
    tokenizer = load_tokenizer(config, base)
    data = concat_span_splits(train_split, dev_split)
    folds = assign_folds(data.unit_ids, 3, config.train.fold_assignment_seed)

    def other(span: Span) -> Span:
        return Span(span.start, span.end, names[(names.index(span.label) + 1) % len(names)])

    # Every span of outer fold 0 changes technique.
    outer = {data.article_ids[i] for i in np.flatnonzero(folds == 0)}
    relabelled = dataclasses.replace(
        data,
        unit_spans=[[other(s) for s in spans] if f == 0 else spans for spans, f in zip(data.unit_spans, folds)],
        gold={a: [other(s) for s in spans] if a in outer else spans for a, spans in data.gold.items()},
    )
    assert relabelled.gold != data.gold
    runs = [
        span_train.run_span_fold(config, base, tokenizer, names, d, folds, 0, work=tmp_path / name)
        for d, name in ((data, "first"), (relabelled, "second"))
    ]
    first, second = runs
    # Epoch count and tag threshold, and the scores each was chosen by: all made on inner fold 1.
    assert (
        len(first.choices["epochs"]["span_f1_by_epoch"]) == 2
        and "inner fold 1 " in first.choices["threshold"]["made_on"]
    )
    assert first.choices == second.choices
    np.testing.assert_array_equal(first.rows, np.flatnonzero(folds == 0))
    for (offsets, probs), (offsets_again, probs_again) in zip(first.tokens, second.tokens):
        np.testing.assert_array_equal(offsets, offsets_again)
        np.testing.assert_array_equal(probs, probs_again)


def test_choosing_on_an_inner_fold_needs_three_folds(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _fold_config(tmp_path, tiny_model_dir, "train.folds=2")
    with pytest.raises(
        ConfigError, match="train.folds 2: each fold's epoch count and thresholds are chosen on an inner"
    ):
        train(config)


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


def _classifier_fold(config, data: TaskData | None = None, *, work: Path):
    """Outer fold 0 of ``config``'s k-fold run (on ``data``, default: its train and dev examples)."""
    setup, _, train_data, dev_data = classifier._setup(config)
    data = concat(train_data, dev_data) if data is None else data
    folds = assign_folds(data.ids, 3, config.train.fold_assignment_seed)
    return classifier.run_fold(config, setup, data, folds, 0, work=work)


def test_early_stopping_ends_a_fold_on_a_plateau_and_keeps_its_best_epoch(tmp_path: Path, tiny_model_dir: Path) -> None:
    # A learning rate too small to move a decision: the inner fold's micro-F1 is flat from the first epoch.
    flat = ("train.epochs=4", "train.learning_rate=1e-12")
    config = _fold_config(tmp_path, tiny_model_dir, *flat, "train.early_stopping_patience=1")
    build_dataset(config)
    epochs = _classifier_fold(config, work=tmp_path / "stopped").choices["epochs"]
    assert [e["epoch"] for e in epochs["micro_f1_by_epoch"]] == [1.0, 2.0]
    assert epochs["value"] == 1.0  # the first of the tied epochs, restored
    assert epochs["early_stopping"] == {
        "patience": 1,
        "stopped_after_epoch": 2.0,
        "configured_epochs": 4.0,
        "stopped_early": True,
    }
    assert epochs["made_on"].endswith("; early stopping (patience 1) ended training after epoch 2 of 4")
    # Off by default: every configured epoch runs and the choice reads as before.
    default = _fold_config(tmp_path, tiny_model_dir, "train.epochs=3", "train.learning_rate=1e-12")
    epochs = _classifier_fold(default, work=tmp_path / "all").choices["epochs"]
    assert len(epochs["micro_f1_by_epoch"]) == 3 and epochs["value"] == 1.0
    assert epochs["early_stopping"] == {
        "patience": 0,
        "stopped_after_epoch": 3.0,
        "configured_epochs": 3.0,
        "stopped_early": False,
    }
    assert "early stopping" not in epochs["made_on"]


def test_early_stopping_ends_a_span_fold_on_a_plateau(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _fold_config(
        tmp_path,
        tiny_model_dir,
        "data.unit=sentence",
        "train.task=spans",
        "train.epochs=4",
        "train.learning_rate=1e-12",
        "train.early_stopping_patience=1",
    )
    build_dataset(config)
    base, _ = start(config)
    train_split, dev_split, names, _ = span_train._tagger_splits(config)
    data = concat_span_splits(train_split, dev_split)
    folds = assign_folds(data.unit_ids, 3, config.train.fold_assignment_seed)
    fold = span_train.run_span_fold(
        config, base, load_tokenizer(config, base), names, data, folds, 0, work=tmp_path / "fold"
    )
    epochs = fold.choices["epochs"]
    assert len(epochs["span_f1_by_epoch"]) == 2 and fold.epochs == epochs["value"] == 1.0
    assert epochs["early_stopping"]["stopped_early"] and epochs["early_stopping"]["stopped_after_epoch"] == 2.0
    assert "ended training after epoch 2 of 4" in epochs["made_on"]


def test_where_a_fold_stops_never_depends_on_the_folds_labels(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _fold_config(tmp_path, tiny_model_dir, "train.epochs=4", "train.early_stopping_patience=1")
    build_dataset(config)
    setup, _, train_data, dev_data = classifier._setup(config)
    data = concat(train_data, dev_data)
    folds = assign_folds(data.ids, 3, config.train.fold_assignment_seed)
    flipped = data.targets.copy()
    flipped[folds == 0] = 1 - flipped[folds == 0]  # every label of outer fold 0 changes
    first = _classifier_fold(config, data, work=tmp_path / "first")
    second = _classifier_fold(config, TaskData(data.ids, data.texts, flipped, data.pairs), work=tmp_path / "second")
    assert "early_stopping" in first.choices["epochs"]
    assert first.choices == second.choices and first.epochs == second.epochs
    np.testing.assert_array_equal(first.probabilities, second.probabilities)
