"""95% intervals by a group bootstrap: they hold the figure, narrow with more articles, resample whole articles,
agree with the metric modules, and compare two models pair by pair (``framelab eval --compare``)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from framelab.cli import main
from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.eval.bootstrap import (
    MIN_GROUPS,
    Resamples,
    Tally,
    attach,
    example_groups,
    indicator_credits,
    micro_f1_of,
    paired_bootstrap,
)
from framelab.eval.scores import (
    fnc_relative_tally,
    multilabel_intervals,
    multilabel_resampled,
    multilabel_scores,
    scores_with_intervals,
    single_label_intervals,
    single_label_scores,
    stance_intervals,
    stance_scores,
)
from framelab.figures import shown, with_interval
from framelab.models.card import classifier_metrics
from framelab.splits import TaskData, label_inventory
from framelab.train.folds import cross_fitted_figures, cross_validated

from .conftest import SAMPLE


def _noisy(n_groups: int, per_group: int, labels: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """0/1 gold rows, predictions that get most of them right, and each row's article."""
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    gold = (rng.random((n, labels)) < 0.3).astype(int)
    flip = rng.random((n, labels)) < 0.25
    pred = np.where(flip, 1 - gold, gold)
    return pred, gold, [f"art{i // per_group}" for i in range(n)]


def _width(interval) -> float:
    return interval[1] - interval[0]


def test_the_interval_holds_the_figure_and_narrows_with_more_articles() -> None:
    names = ["a", "b", "c", "d"]
    widths = []
    for n_groups in (20, 400):
        pred, gold, groups = _noisy(n_groups, 5)
        point = multilabel_scores(pred, gold, names)
        ci = multilabel_intervals(pred, gold, names, groups, Resamples.draw(groups))
        for block in ("micro", "macro", "any"):
            for key in ("precision", "recall", "f1"):
                low, high = ci[block][key]
                assert low <= point[block][key] <= high, (n_groups, block, key)
        for n in names:
            assert ci["per_label"][n]["f1"][0] <= point["per_label"][n]["f1"] <= ci["per_label"][n]["f1"][1]
        widths.append(_width(ci["micro"]["f1"]))
    # 20 times the articles: the interval is about sqrt(20) ≈ 4.5 times narrower.
    assert widths[1] < widths[0] / 3


def test_resampling_draws_whole_articles() -> None:
    # Each article repeats one example 30 times: the split holds 40 independent draws, not 1200.
    rng = np.random.default_rng(1)
    right = rng.random(40) < 0.6
    gold = np.ones((1200, 1), dtype=int)
    pred = np.repeat(right, 30)[:, None].astype(int)
    articles = [f"art{i // 30}" for i in range(1200)]
    units = [f"art{i // 30}#{i % 30}" for i in range(1200)]
    by_article = multilabel_intervals(pred, gold, ["x"], articles, Resamples.draw(articles))["micro"]["recall"]
    by_unit = multilabel_intervals(pred, gold, ["x"], units, Resamples.draw(units))["micro"]["recall"]
    # Resampling units would pretend 1200 draws: an interval about sqrt(30) ≈ 5.5 times too narrow.
    assert _width(by_article) > 3 * _width(by_unit)
    assert example_groups(units, "unit") == articles


def test_one_draw_of_every_article_gives_the_metric_modules_figures() -> None:
    pred, gold, groups = _noisy(30, 4, labels=3, seed=2)
    names = ["x", "y", "z"]
    once = Resamples(tuple(sorted(set(groups))), np.ones((1, 30)), 0)
    values = multilabel_resampled(pred, gold, names, groups, once)
    scores = multilabel_scores(pred, gold, names)
    for block in ("micro", "macro", "any"):
        for key in ("precision", "recall", "f1"):
            assert values[block][key][0] == pytest.approx(scores[block][key])
    for n in names:
        assert values["per_label"][n]["f1"][0] == pytest.approx(scores["per_label"][n]["f1"])
    fnc = ["agree", "disagree", "discuss", "unrelated"]
    rng = np.random.default_rng(3)
    g, p = rng.integers(0, 4, 120), rng.integers(0, 4, 120)
    st = stance_scores([fnc[i] for i in p], [fnc[i] for i in g], fnc)
    pairs = [f"body{i // 3}#{i}" for i in range(120)]
    assert fnc_relative_tally(p, g, fnc, example_groups(pairs, "pair")).point() == pytest.approx(st["fnc_relative"])
    ci = stance_intervals(p, g, fnc, st, example_groups(pairs, "pair"), Resamples.draw(example_groups(pairs, "pair")))
    for key in ("fnc_relative", "macro_f1", "accuracy"):
        assert ci[key][0] <= st[key] <= ci[key][1]
    single = single_label_intervals(
        p, g, fnc, example_groups(pairs, "pair"), Resamples.draw(example_groups(pairs, "pair"))
    )
    assert single["accuracy"][0] <= single_label_scores(p, g, fnc)["accuracy"] <= single["accuracy"][1]


def test_intervals_are_seeded_and_ten_thousand_examples_take_seconds() -> None:
    pred, gold, groups = _noisy(400, 25, labels=20, seed=4)
    names = [f"l{j}" for j in range(20)]
    started = time.perf_counter()
    first = multilabel_intervals(pred, gold, names, groups, Resamples.draw(groups, 1000, seed=7))
    assert time.perf_counter() - started < 10
    assert multilabel_intervals(pred, gold, names, groups, Resamples.draw(groups, 1000, seed=7)) == first
    assert multilabel_intervals(pred, gold, names, groups, Resamples.draw(groups, 1000, seed=8)) != first


def test_a_model_against_itself_differs_by_exactly_zero() -> None:
    pred, gold, groups = _noisy(12, 6, seed=5)
    tally = Tally(indicator_credits(pred, gold), groups, micro_f1_of)
    same = paired_bootstrap(tally, tally, Resamples.draw(groups))
    assert same.difference == 0 and same.interval == (0.0, 0.0) and same.inside_noise and same.a_ahead == 0
    assert "inside the noise" in same.verdict()


def test_a_clearly_better_model_is_outside_the_noise() -> None:
    pred, gold, groups = _noisy(60, 5, seed=6)
    perfect = Tally(indicator_credits(gold, gold), groups, micro_f1_of)
    noisy = Tally(indicator_credits(pred, gold), groups, micro_f1_of)
    result = paired_bootstrap(perfect, noisy, Resamples.draw(groups))
    assert result.interval[0] > 0 and not result.inside_noise and result.a_ahead == 1
    assert result.verdict().startswith("A \u2212 B = +0.") and "A is better" in result.verdict()
    assert "B is better" in paired_bootstrap(noisy, perfect, Resamples.draw(groups)).verdict()


def test_intervals_sit_beside_their_figures_and_print_with_them() -> None:
    scores = attach(
        {"f1": 0.5, "per_label": {"a": {"f1": 0.25}}}, {"f1": (0.4, 0.6), "per_label": {"a": {"f1": (0.1, 0.3)}}}
    )
    assert scores == {
        "f1": 0.5,
        "ci95": {"f1": [0.4, 0.6]},
        "per_label": {"a": {"f1": 0.25, "ci95": {"f1": [0.1, 0.3]}}},
    }
    assert shown(scores, "f1") == "0.500 [0.400, 0.600]" and shown({"f1": 0.5}, "f1") == "0.500"
    assert with_interval(0.012, (-0.008, 0.031), signed=True) == "+0.012 [\u22120.008, +0.031]"


def test_few_articles_are_warned_about() -> None:
    assert "fewer than 100" in Resamples.draw([f"a{i}" for i in range(MIN_GROUPS - 1)]).describe()["warning"]
    assert "warning" not in Resamples.draw([f"a{i}" for i in range(MIN_GROUPS)]).describe()


def test_fold_figures_carry_the_pooled_interval() -> None:
    rng = np.random.default_rng(8)
    targets = rng.integers(0, 2, size=(80, 3))
    probs = np.clip(targets * 0.5 + rng.random((80, 3)) * 0.6, 0, 1)
    data = TaskData([f"a{i // 4}#{i % 4}" for i in range(80)], [""] * 80, targets)
    folds = np.array([(i // 4) % 2 for i in range(80)])
    _, summary = cross_validated(probs, data, folds, ["x", "y", "z"], multi_label=True, rule="global", min_support=1)
    for key in ("micro_f1", "macro_f1", "any_f1"):
        low, high = summary[key]["ci95"]["pooled"]
        assert low <= summary[key]["pooled"] <= high and high > low
    crossed = cross_fitted_figures(probs, targets, data.ids, ["x", "y", "z"], rule="global")
    low, high = crossed["ci95"]["micro_f1"]
    assert low <= crossed["micro_f1"] <= high and set(crossed["ci95"]["per_label_f1"]) == {"x", "y", "z"}


def test_cards_show_the_intervals_kept_beside_the_dev_figures() -> None:
    pred, gold, groups = _noisy(30, 4, labels=2, seed=9)
    draws = Resamples.draw(groups)
    figures = scores_with_intervals(pred, gold, ["x", "y"], groups, draws, multi_label=True)
    dev = {"at_tuned_thresholds": figures, "at_0.5": figures, "bootstrap": draws.describe()}
    card = classifier_metrics(dev, load_config(None, []))
    assert f"| **micro** | {shown(figures['micro'], 'precision')} |" in card and "[" in shown(figures["micro"], "f1")
    assert "percentile bootstrap over the 30 articles" in card and "fewer than 100" in card
    data = TaskData([f"{g}#{i}" for i, g in enumerate(groups)], [""] * len(groups), gold)
    folds = np.array([int(g[3:]) % 2 for g in groups])
    _, summary = cross_validated(
        pred.astype(float), data, folds, ["x", "y"], multi_label=True, rule="global", min_support=1
    )
    dev = {"cross_validated": {"folds": 2, "seed": 0, **summary}, "refit": {"examples": 120, "epochs": 1.0}}
    card = classifier_metrics(dev, load_config(None, []))
    micro = summary["micro_f1"]
    assert (
        f"| {micro['mean']:.3f} | {micro['std']:.3f} | {with_interval(micro['pooled'], micro['ci95']['pooled'])} |"
        in card
    )


# ---- framelab eval (--compare) on tiny models -------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_dataset(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    work = tmp_path_factory.mktemp("intervals")
    config = load_config(
        None,
        [f"data.path={SAMPLE}", f"data.output_dir={work / 'dataset'}", f"model.base={tiny_model_dir}"],
    )
    build_dataset(config)
    return work / "dataset"


def _tiny_techniques_model(folder: Path, base: Path, labels: list[str], seed: int) -> Path:
    """The tiny random BERT as an untrained techniques classifier of ``labels`` (as tests/conftest.py builds one)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from framelab.models.folder import ModelMeta

    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(labels), problem_type="multi_label_classification"
    )
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    meta = ModelMeta("techniques", "sentence", labels, [0.5] * len(labels), 64, 16, "max", str(base), "test")
    (folder / "framelab.json").write_text(json.dumps(asdict(meta)), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, sample_dataset: Path):
    labels = label_inventory(sample_dataset)["techniques"]
    root = tmp_path_factory.mktemp("two-models")
    return tuple(_tiny_techniques_model(root / f"m{seed}", tiny_model_dir, labels, seed) for seed in (0, 1))


def test_eval_prints_intervals_and_warns_of_few_articles(
    two_models, sample_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    assert main(["eval", "--model", str(two_models[0]), "--data", str(sample_dataset), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "micro-F1 [95% interval]" in printed.out and "fewer than 100" in printed.err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["bootstrap"]["n_groups"] < MIN_GROUPS and "warning" in metrics["bootstrap"]
    for system in ("model", "baseline", "model_at_0.5"):
        micro = metrics[system]["micro"]
        assert micro["ci95"]["f1"][0] <= micro["f1"] <= micro["ci95"]["f1"][1]
    assert "ci95" in metrics["model"]["article_level"]["micro"]
    report = (out / "report.md").read_text()
    assert "**Warning**" in report and f"| framelab model | {shown(metrics['model']['micro'], 'precision')}" in report


def test_compare_prints_each_figure_and_the_verdict(
    two_models, sample_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = (str(m) for m in two_models)
    out = tmp_path / "compare"
    assert (
        main(["eval", "--compare", a, b, "--data", str(sample_dataset), "--out", str(out), "--resamples", "300"]) == 0
    )
    printed = capsys.readouterr()
    assert "A \u2212 B = " in printed.out and ("inside the noise" in printed.out or "is better" in printed.out)
    assert "fewer than 100" in printed.err
    result = json.loads((out / "compare.json").read_text())
    report_a = json.loads((out / "a" / "metrics.json").read_text())
    assert result["figure"] == "micro-F1" and result["a"] == pytest.approx(report_a["model"]["micro"]["f1"])
    assert result["difference"] == pytest.approx(result["a"] - result["b"])
    assert (out / "b" / "report.md").is_file() and "A \u2212 B" in (out / "compare.md").read_text()

    assert main(["eval", "--compare", a, a, "--data", str(sample_dataset)]) == 0
    same = capsys.readouterr().out
    assert "A \u2212 B = +0.000 [+0.000, +0.000]: inside the noise" in same


def test_compare_refuses_models_of_different_labels(
    two_models, sample_dataset: Path, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = label_inventory(sample_dataset)["techniques"]
    fewer = _tiny_techniques_model(tmp_path / "fewer", tiny_model_dir, labels[:-1], 0)
    assert main(["eval", "--compare", str(two_models[0]), str(fewer), "--data", str(sample_dataset)]) == 2
    assert "label different things" in capsys.readouterr().err
