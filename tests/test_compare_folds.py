"""``bench/compare_folds.py``: two k-fold folders compared on their out-of-fold predictions, decided as each run
decided them, on hand-made folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.compare_folds import compare
from framelab.models.out_of_fold import OUT_OF_FOLD_FILE, OutOfFold, load_out_of_fold, out_of_fold_bytes
from framelab.stance.data import FNC1_LABELS

#: 40 articles of 3 units, 2 labels, 2 folds.
IDS = [f"art{a}#{u}" for a in range(40) for u in range(3)]
GOLD = np.random.default_rng(0).integers(0, 2, size=(len(IDS), 2))


def _folder(tmp: Path, name: str, meta: dict, oof: OutOfFold, dev_metrics: dict) -> Path:
    folder = tmp / name
    folder.mkdir()
    base = {"unit": "sentence", "max_length": 32, "stride": 0, "pooling": "cls", "base_model": "x"}
    meta = {**base, "framelab_version": "0", **meta}
    (folder / "framelab.json").write_text(json.dumps(meta), encoding="utf-8")
    (folder / "config.json").write_text("{}", encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"")
    (folder / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    (folder / OUT_OF_FOLD_FILE).write_bytes(out_of_fold_bytes(oof))
    (folder / "dev_metrics.json").write_text(json.dumps(dev_metrics), encoding="utf-8")
    return folder


def _multi_label(tmp: Path, name: str, probabilities: np.ndarray, thresholds: list[float], ids=IDS) -> Path:
    folds = np.array([int(i[3:].split("#")[0]) % 2 for i in ids])
    order = [IDS.index(i) for i in ids]
    oof = OutOfFold(list(ids), ["A", "B"], folds, GOLD[order], probabilities[order])
    # A nested run records each choice with what it was made on (fold 0); older runs, the value alone (fold 1).
    chosen = [{"value": {"A": thresholds[0], "B": thresholds[0]}, "made_on": "inner fold 1"}, [thresholds[1]] * 2]
    per_fold = [{"fold": k, "choices": {"thresholds": c}} for k, c in enumerate(chosen)]
    meta = {"task": "techniques", "labels": ["A", "B"], "thresholds": [0.5, 0.5]}
    return _folder(tmp, name, meta, oof, {"cross_validated": {"per_fold": per_fold}})


def test_a_run_against_itself_differs_by_nothing(tmp_path: Path) -> None:
    probs = np.clip(GOLD * 0.6 + np.random.default_rng(1).random(GOLD.shape) * 0.5, 0, 1)
    a = _multi_label(tmp_path, "a", probs, [0.5, 0.5])
    # The same predictions saved in another order pair up by id.
    b = _multi_label(tmp_path, "b", probs, [0.5, 0.5], ids=IDS[::-1])
    summary = compare(a, b, ["A"], resamples=200, seed=0)
    assert [f["figure"] for f in summary["figures"]] == ["micro-F1", "macro-F1", "F1 A"]
    assert summary["bootstrap"]["n_groups"] == 40
    for figure in summary["figures"]:
        assert figure["difference"] == 0 and figure["ci95"]["difference"] == [0, 0]


def test_each_fold_is_decided_at_its_own_thresholds(tmp_path: Path) -> None:
    perfect = GOLD * 0.8 + 0.1  # 0.9 on gold labels, 0.1 elsewhere
    good = _multi_label(tmp_path, "good", perfect, [0.5, 0.5])
    # Fold 1 decided at 0.95: nothing is predicted there, so its gold labels are all missed.
    half = _multi_label(tmp_path, "half", perfect, [0.5, 0.95])
    summary = compare(good, half, [], resamples=200, seed=0)
    micro = summary["figures"][0]
    assert micro["a"] == pytest.approx(1.0)
    in_fold_0 = GOLD[[int(i[3:].split("#")[0]) % 2 == 0 for i in IDS]].sum()
    recall = in_fold_0 / GOLD.sum()
    assert micro["b"] == pytest.approx(2 * recall / (1 + recall))
    assert not micro["inside_noise"] and micro["ci95"]["difference"][0] > 0


def test_fnc1_runs_compare_on_the_relative_score_and_a_labels_f1(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 4, size=200)
    stories = [f"story{i % 25}" for i in range(200)]
    right = np.eye(4)[gold] * 0.9 + 0.025
    wrong = np.eye(4)[(gold + 1) % 4] * 0.9 + 0.025
    folders = []
    for name, probs in (("right", right), ("wrong", wrong)):
        oof = OutOfFold([f"p{i}" for i in range(200)], FNC1_LABELS, np.arange(200) % 5, np.eye(4)[gold], probs)
        oof.groups = stories
        meta = {"task": "fnc1", "labels": FNC1_LABELS, "thresholds": None}
        choices = {"choices": [{"choice": "relatedness threshold", "value": 0.5}]}
        folders.append(_folder(tmp_path, name, meta, oof, choices))
    summary = compare(*folders, ["disagree"], resamples=200, seed=0)
    relative, macro, disagree = summary["figures"]
    assert relative["figure"] == "FNC-1 relative score" and relative["a"] == pytest.approx(1.0)
    assert macro["a"] == pytest.approx(1.0) and macro["b"] == pytest.approx(0.0)
    assert disagree["figure"] == "F1 disagree" and disagree["a"] == 1.0 and disagree["b"] == 0.0
    assert summary["bootstrap"]["n_groups"] == 25 and summary["bootstrap"]["groups"] == "stories"


def test_runs_on_other_examples_or_labels_are_refused(tmp_path: Path) -> None:
    probs = GOLD * 0.8 + 0.1
    a = _multi_label(tmp_path, "a", probs, [0.5, 0.5])
    fewer = _multi_label(tmp_path, "fewer", probs, [0.5, 0.5], ids=IDS[:-3])
    with pytest.raises(SystemExit, match="different out-of-fold examples"):
        compare(a, fewer, [], resamples=10, seed=0)
    with pytest.raises(SystemExit, match="--label C: not a label"):
        compare(a, a, ["C"], resamples=10, seed=0)


def test_a_model_without_the_labels_no_example_has_decides_them_never(tmp_path: Path) -> None:
    from bench.kfold_tfidf import model_decisions

    folder = _multi_label(tmp_path, "a", GOLD * 0.8 + 0.1, [0.5, 0.5])
    ids, decided = model_decisions(folder, ["Z", "A", "B"])  # the task lists a label the model left out
    assert ids == IDS and decided[:, 0].sum() == 0
    np.testing.assert_array_equal(decided[:, 1:], GOLD)
    with pytest.raises(SystemExit, match="its labels are not this task's"):
        model_decisions(folder, ["B", "A"])
    with pytest.raises(SystemExit, match=r"its labels are not this task's \(A\)"):
        model_decisions(folder, ["B"])


def test_out_of_fold_files_keep_rows_of_column_selected_arrays(tmp_path: Path) -> None:
    # A column selection is Fortran-ordered; saved as its memory lies, its rows would come back scrambled.
    wide = GOLD.repeat(2, axis=1)
    picked = wide[:, [2, 0]]
    assert not picked.flags["C_CONTIGUOUS"]
    oof = OutOfFold(IDS, ["A", "B"], np.zeros(len(IDS), dtype=np.int64), picked, picked * 0.5 + 0.25)
    (tmp_path / OUT_OF_FOLD_FILE).write_bytes(out_of_fold_bytes(oof))
    back = load_out_of_fold(tmp_path)
    assert np.array_equal(back.targets, picked) and np.allclose(back.probabilities, picked * 0.5 + 0.25)
