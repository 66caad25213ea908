"""``framelab select``: the selection rules on hand-made pools, the pool's uncertainty, the Label Studio tasks,
and the command end to end on the sample corpus with the tiny classifier."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix

import framelab
from framelab.active.labelstudio import selection_tasks
from framelab.active.pool import article_uncertainty, prediction_closeness, read_ids
from framelab.active.strategies import (
    BOTH_SHORTLIST,
    STRATEGIES,
    Pool,
    article_sums,
    closeness,
    k_centre,
    margin_closeness,
    select,
)
from framelab.cli import main
from framelab.labelstudio import article_task, interface
from framelab.score.records import ModelLabels, Prediction, ScoredArticle, ScoredUnit
from framelab.score.writers import article_records
from framelab.tagging import TaggedSpan
from framelab.types import Article, Unit

from .conftest import SAMPLE


def test_closeness_is_one_at_the_threshold_and_zero_at_the_far_end() -> None:
    probs = np.array([[0.5, 0.2, 0.0, 1.0, 0.6]])
    got = closeness(probs, [0.5, 0.2, 0.2, 0.2, 0.2])
    assert got[0] == pytest.approx([1.0, 1.0, 0.75, 0.0, 0.5])
    assert margin_closeness(np.array([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05]])) == pytest.approx([0.8, 0.15])


def test_uncertainty_picks_the_articles_near_their_thresholds() -> None:
    # Units of three articles, two labels at thresholds 0.3 and 0.5: article "b" sits on them, "c" nearly.
    probs = np.array([[0.0, 1.0], [0.02, 0.97], [0.3, 0.5], [0.31, 0.45], [0.25, 0.6], [0.9, 0.0]])
    units = ["a", "a", "b", "b", "c", "c"]
    pool = Pool(article_sums(closeness(probs, [0.3, 0.5]), units, ["a", "b", "c"]), np.eye(3), np.zeros(3, bool))
    assert select(pool, "uncertainty", 2) == [1, 2]
    assert select(pool, "uncertainty", 1) == [1]


def test_k_centre_picks_points_that_are_spread_out() -> None:
    # Two tight clusters (rows 0-2 and 3-5) and a lone direction (row 6).
    vectors = np.array(
        [[1, 0, 0], [0.99, 0.1, 0], [0.98, 0, 0.1], [0, 1, 0], [0.1, 0.99, 0], [0, 0.98, 0.1], [0, 0, 1]]
    )
    picked = select(Pool(None, vectors, np.zeros(7, bool)), "diversity", 3)
    assert {i // 3 for i in picked} == {0, 1, 2}
    # A labelled article of the first cluster is a centre: nothing of that cluster comes back.
    labelled = np.array([True, False, False, False, False, False, False])
    assert {i // 3 for i in select(Pool(None, csr_matrix(vectors), labelled), "diversity", 2)} == {1, 2}


def test_both_spreads_its_picks_over_the_most_uncertain() -> None:
    # Rows 0 and 1 are one text and the most uncertain; row 9 is far from all but certain.
    vectors = np.array([[1, 0, 0]] * 2 + [[0.9, 0.1, 0], [0.8, 0.2, 0], [0.5, 0.5, 0], [0, 1, 0]] + [[1, 0, 0]] * 3)
    vectors = np.vstack([vectors, [[0, 0, 1]]])
    pool = Pool(np.array([9.0, 9, 8, 7, 6, 5, 1, 1, 1, 1]), vectors, np.zeros(10, bool))
    assert select(pool, "uncertainty", 2) == [0, 1]
    picked = select(pool, "both", 2)
    assert len(picked) == 2 and set(picked) <= set(range(BOTH_SHORTLIST * 2)) and {0, 1} - set(picked)
    assert 9 in select(pool, "diversity", 2)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_a_count_beyond_the_pool_gives_every_unlabelled_article_once(strategy: str) -> None:
    labelled = np.array([False, True, False, False])
    pool = Pool(np.array([1.0, 2.0, 3.0, 0.5]), np.eye(4), labelled)
    picked = select(pool, strategy, 10, seed=3)
    assert sorted(picked) == [0, 2, 3]
    assert select(pool, strategy, 0) == []


def test_ties_go_to_the_lower_index_every_time() -> None:
    flat = Pool(np.ones(5), np.ones((5, 2)), np.zeros(5, bool))
    assert select(flat, "uncertainty", 3) == [0, 1, 2]
    assert select(flat, "diversity", 3) == [0, 1, 2]
    assert k_centre(np.ones((4, 2)), 2, np.array([3, 1, 2]), np.array([0])) == [1, 2]
    assert select(flat, "random", 3, seed=7) == select(flat, "random", 3, seed=7)
    assert select(flat, "random", 5, seed=7) != select(flat, "random", 5, seed=8)


def test_uncertainty_without_scores_and_unknown_strategies_are_refused() -> None:
    pool = Pool(None, np.eye(2), np.zeros(2, bool))
    with pytest.raises(ValueError, match="uncertainty"):
        select(pool, "uncertainty", 1)
    with pytest.raises(ValueError, match="unknown strategy 'smart'"):
        select(pool, "smart", 1)


def _scored() -> ScoredArticle:
    text = "First line here.\nSecond line."
    units = [
        ScoredUnit("line", Unit("x", 0, 0, 16, "First line here.")),
        ScoredUnit("line", Unit("x", 1, 17, 29, "Second line.")),
    ]
    units[0].predictions["lines"] = Prediction("techniques", ["a"], {"a": 0.7, "b": 0.1})
    units[1].predictions["lines"] = Prediction("techniques", [], {"a": 0.2, "b": 0.4})
    units[1].predictions["spans"] = Prediction("spans", ["b"], {"b": 0.6}, spans=[TaggedSpan(0, 6, "b", 0.6)])
    frames = {"frames": Prediction("frames", ["f"], {"f": 0.9, "g": 0.45})}
    return ScoredArticle(Article("x", text), units, frames)


def test_article_uncertainty_sums_every_unit_and_article_prediction() -> None:
    labels = {"lines": ["a", "b"], "spans": ["a", "b"], "frames": ["f", "g"]}
    thresholds = {"lines": [0.5, 0.5], "spans": [0.5, 0.5], "frames": [0.5, 0.5]}
    expected = (0.6 + 0.2) + (0.4 + 0.8) + (0.0 + 0.8) + (0.2 + 0.9)
    assert article_uncertainty(_scored(), labels, thresholds) == pytest.approx(expected)
    single = Prediction("genre", ["x"], {"x": 0.6, "y": 0.3, "z": 0.1})
    assert prediction_closeness(single, ["x", "y", "z"], None) == pytest.approx(0.7)


def test_selection_tasks_are_score_format_labelstudio_tasks_read_back_by_the_reader(tmp_path: Path) -> None:
    models = [
        ModelLabels("lines", "techniques", ("a", "b")),
        ModelLabels("spans", "spans", ("a", "b")),
        ModelLabels("frames", "frames", ("f", "g")),
    ]
    tasks, config = selection_tasks([_scored()], [1.5], models)
    ui = interface(config)
    expected = article_task("x", _scored().article.text, article_records(_scored()), ui)
    (task,) = tasks
    assert task["data"] == {**expected["data"], "uncertainty": 1.5}
    assert task["predictions"] == expected["predictions"]
    spans = [r["value"] for p in task["predictions"] for r in p["result"] if r["from_name"] == "span"]
    assert [(v["start"], v["end"], v["text"]) for v in spans] == [(17, 23, "Second")]
    assert all(_scored().article.text[v["start"] : v["end"]] == v["text"] for v in spans)


def _sample_ids() -> list[str]:
    return [json.loads(line)["id"] for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_select_picks_the_most_uncertain_articles_of_the_pool_end_to_end(
    tiny_classifier_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = framelab.load(tiny_classifier_dir)
    labels = model.labels
    thresholds = {p.name: p.meta.thresholds for p in model.predictors}
    scores = {r.article.id: article_uncertainty(r, labels, thresholds) for r in model.score(_articles())}
    expected = sorted(scores, key=lambda i: (-scores[i], _sample_ids().index(i)))[:4]

    out, ids = tmp_path / "next.json", tmp_path / "next.txt"
    args = ["select", "--model", str(tiny_classifier_dir), str(SAMPLE), "--count", "4", "-q"]
    assert main([*args, "--out", str(out), "--ids", str(ids)]) == 0
    assert read_ids(ids) == expected
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert [t["data"]["article_id"] for t in tasks] == expected
    texts = {a["id"]: a["text"] for a in _articles()}
    assert all(t["data"]["text"] == texts[t["data"]["article_id"]] for t in tasks)
    assert [t["data"]["uncertainty"] for t in tasks] == [round(scores[i], 4) for i in expected]
    assert (tmp_path / "next.label_config.xml").read_text(encoding="utf-8").startswith("<View")

    # The next round: what was picked is labelled, never picked again; the ids go to standard output.
    capsys.readouterr()
    again = [*args, "--strategy", "diversity", "--labelled", str(ids), "--out", str(tmp_path / "round2.json")]
    assert main(again) == 0
    second = capsys.readouterr().out.split()
    assert len(second) == 4 and not set(second) & set(expected) and set(second) <= set(_sample_ids())


def test_select_with_a_count_beyond_the_pool_takes_every_article(tiny_classifier_dir: Path, tmp_path: Path) -> None:
    out, ids = tmp_path / "all.json", tmp_path / "all.txt"
    args = ["select", "--model", str(tiny_classifier_dir), str(SAMPLE), "--count", "1000", "--strategy", "random"]
    assert main([*args, "--out", str(out), "--ids", str(ids), "-q"]) == 0
    assert sorted(read_ids(ids)) == sorted(_sample_ids())
    assert main([*args, "--out", str(out), "--ids", str(out), "-q"]) == 2


def _articles() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
