"""``bench/active.py``: the pure parts of the annotation-rounds simulation, on tiny hand-made data, and one
short run on the sample corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from bench.active import (
    Rounds,
    Simulation,
    articles_to_reach,
    group_articles,
    main,
    markdown_table,
    micro_f1,
    plot,
    round_sizes,
    summary_rows,
)
from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.splits import TaskData

from .conftest import SAMPLE


def test_examples_are_grouped_by_their_article_in_order() -> None:
    articles, which, texts = group_articles(["a#0", "a#1", "b#0", "a#2"], ["x", "y", "z", "w"])
    assert articles == ["a", "b"] and which.tolist() == [0, 0, 1, 0] and texts == ["x\ny\nw", "z"]
    assert group_articles(["p", "q"], ["one", "two"])[0] == ["p", "q"]


def test_rounds_grow_by_step_and_end_with_the_whole_pool() -> None:
    assert round_sizes(100, 30, 30) == [30, 60, 90, 100]
    assert round_sizes(90, 30, 30) == [30, 60, 90]
    assert round_sizes(20, 30, 30) == [20]


def test_micro_f1_pools_every_example_and_label_at_one_half() -> None:
    probs = np.array([[0.9, 0.2], [0.5, 0.7], [0.1, 0.4]])
    gold = np.array([[1, 0], [0, 1], [1, 0]])
    # tp 2 (row 0 label 0, row 1 label 1), fp 1 (row 1 label 0 at exactly 0.5), fn 1 (row 2 label 0)
    assert micro_f1(probs, gold) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert articles_to_reach([30, 60, 90], [0.2, 0.5, 0.6], 0.5) == 60
    assert articles_to_reach([30, 60], [0.2, 0.3], 0.5) is None


def _simulation() -> Simulation:
    """Four pool articles of two units; article "near" is the one a fake model is unsure of."""
    ids = [f"{a}#{i}" for a in ("far1", "near", "far2", "far3") for i in range(2)]
    texts = ["far"] * 2 + ["near"] * 2 + ["far"] * 4
    pool = TaskData(ids, texts, np.zeros((8, 1), dtype=int))
    held = TaskData(["h#0", "h#1"], ["far", "near"], np.array([[0], [1]]))
    vectors = csr_matrix(np.eye(4))
    return Simulation("techniques", ["far1", "near", "far2", "far3"], pool, np.repeat(np.arange(4), 2), held, vectors)


def _fake_fit(calls: list[int]):
    def fit(texts: list[str], targets: np.ndarray, seed: int):
        calls.append(len(texts))
        learnt = 0.5 if "near" in texts else 0.4  # "near" is found once one of its units was annotated
        return lambda texts: np.array([[learnt if t == "near" else 0.0] for t in texts])

    return fit


def test_uncertainty_rounds_take_the_unsure_article_and_fit_each_set_once() -> None:
    calls: list[int] = []
    rounds = Rounds(_simulation(), _fake_fit(calls))
    for seed in range(4):
        if 1 not in np.random.default_rng(seed).choice(4, 1, replace=False):
            break
    scores = rounds.curve("uncertainty", seed, [1, 2, 4])
    assert scores == [0.0, 1.0, 1.0]
    key = next(k for k in rounds.cache if len(k) == 2)
    assert 1 in key  # the second round added the article whose units sit at the threshold
    fits = rounds.fits
    assert rounds.curve("uncertainty", seed, [1, 2, 4]) == scores and rounds.fits == fits == len(calls) == 3


def _result() -> dict:
    sizes = [30, 60, 90]
    curves = {"uncertainty": {"0": [0.4, 0.58, 0.6], "1": [0.3, 0.5, 0.6]}, "random": {"0": [0.4, 0.5, 0.6]}}
    return {"tasks": {"frames": {"sizes": sizes, "full_f1": 0.6, "curves": curves}}}


def test_the_summary_counts_articles_to_reach_the_share_of_full_f1(tmp_path: Path) -> None:
    result = _result()
    rows = summary_rows(result, 0.95)
    assert rows[0]["to_reach"] == [60, 90] and rows[0]["to_reach_mean"] == 75 and rows[0]["to_reach_range"] == [60, 90]
    assert rows[0]["mean_f1"] == [0.35, 0.54, 0.6] and rows[1]["to_reach"] == [90]
    table = markdown_table(result, rows, 0.95, shown=(30, 60, 150))
    assert "| frames (0.600) | uncertainty | 0.350 | 0.540 | – | 75 [60–90] |" in table
    plot(tmp_path / "active-frames.png", "frames", result["tasks"]["frames"], 0.95)
    assert (tmp_path / "active-frames.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_short_run_on_the_sample_corpus_writes_curves_and_plots(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    config = load_config(None, [f"data.path={SAMPLE}", f"data.output_dir={tmp_path / 'dataset'}"])
    build_dataset(config)
    args = ["--data", str(tmp_path / "dataset"), "--tasks", "frames", "--seeds", "0", "1", "--start", "10"]
    main([*args, "--step", "15", "--out", str(tmp_path / "out"), "--plots", str(tmp_path / "img")])
    result = json.loads((tmp_path / "out" / "curves.json").read_text(encoding="utf-8"))
    block = result["tasks"]["frames"]
    assert block["sizes"][0] == 10 and block["sizes"][-1] == block["pool_articles"]
    assert set(block["curves"]) == {"uncertainty", "diversity", "random"}
    # Every curve ends on the whole pool: one model, the full-data F1.
    assert {scores[-1] for by_seed in block["curves"].values() for scores in by_seed.values()} == {block["full_f1"]}
    assert (tmp_path / "img" / "active-frames.png").is_file()
    assert "| frames (" in capsys.readouterr().out
