"""Tests of the local evaluate modules in framelab/metrics (offline, fast).

Expected values are either worked out by hand (arithmetic in the comments) or
taken from scikit-learn / an independent re-implementation of the official
SemEval-2020 Task 11 scorer, never from the modules themselves.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

# load_metric sets HF_EVALUATE_OFFLINE=1 itself before evaluate is first imported.
from framelab.metrics import METRIC_NAMES, load_metric, metric_path


@pytest.fixture(scope="module")
def multilabel():
    return load_metric("multilabel_prf")


@pytest.fixture(scope="module")
def span_f1():
    return load_metric("span_f1")


@pytest.fixture(scope="module")
def stance():
    return load_metric("stance_scores")


# --------------------------------------------------------------------------- loading


def test_every_metric_folder_has_script_and_readme():
    for name in METRIC_NAMES:
        folder = metric_path(name)
        assert (folder / f"{name}.py").is_file()
        assert (folder / "README.md").is_file()


def test_unknown_metric_name_is_refused_before_evaluate_sees_it():
    with pytest.raises(ValueError, match="unknown metric"):
        load_metric("f1")


def test_scripts_keep_one_import_per_line_and_do_not_import_framelab():
    # evaluate 0.4.6 parses "import a, b" as a library called "a," and fails to load,
    # and the scripts run from evaluate's cache, where framelab may not be importable.
    for name in METRIC_NAMES:
        for line in (metric_path(name) / f"{name}.py").read_text(encoding="utf-8").splitlines():
            if line.startswith("import "):
                assert "," not in line, line
            assert not line.startswith(("import framelab", "from framelab")), line


# --------------------------------------------------------------------------- multilabel_prf


def _sklearn_prf(gold, pred):
    gold = np.asarray(gold)
    pred = np.asarray(pred)
    labels = list(range(gold.shape[1]))
    micro = precision_recall_fscore_support(gold, pred, labels=labels, average="micro", zero_division=0)
    macro = precision_recall_fscore_support(gold, pred, labels=labels, average="macro", zero_division=0)
    per = precision_recall_fscore_support(gold, pred, labels=labels, average=None, zero_division=0)
    return micro, macro, per


def _assert_matches_sklearn(out, gold, pred, names):
    micro, macro, (p, r, f, s) = _sklearn_prf(gold, pred)
    assert out["micro"]["precision"] == pytest.approx(micro[0], abs=1e-12)
    assert out["micro"]["recall"] == pytest.approx(micro[1], abs=1e-12)
    assert out["micro"]["f1"] == pytest.approx(micro[2], abs=1e-12)
    assert out["micro"]["support"] == int(np.asarray(gold).sum())
    assert out["macro"]["precision"] == pytest.approx(macro[0], abs=1e-12)
    assert out["macro"]["recall"] == pytest.approx(macro[1], abs=1e-12)
    assert out["macro"]["f1"] == pytest.approx(macro[2], abs=1e-12)
    assert list(out["per_label"]) == names
    for i, name in enumerate(names):
        assert out["per_label"][name] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])}, abs=1e-12
        )


def test_multilabel_hand_case_with_zero_support_label_and_empty_row(multilabel):
    # Label "c" has no gold and no prediction (support 0); row 3 is empty in both.
    gold = [[1, 1, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0]]
    pred = [[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 1, 0]]
    out = multilabel.compute(predictions=pred, references=gold, label_names=["a", "b", "c"])
    _assert_matches_sklearn(out, gold, pred, ["a", "b", "c"])
    # By hand: TP = 2 (a@0, b@1), predicted cells 3, gold cells 4 -> micro P = 2/3, R = 2/4,
    # F1 = 2 * (2/3) * (1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7.
    assert out["micro"] == pytest.approx({"precision": 2 / 3, "recall": 0.5, "f1": 4 / 7, "support": 4})
    # a: P 1/1, R 1/2, F1 2/3; b: P 1/2, R 1/2, F1 1/2; c: 0 -> macro F1 = (2/3 + 1/2 + 0) / 3 = 7/18.
    assert out["macro"]["f1"] == pytest.approx(7 / 18)
    assert out["per_label"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_multilabel_any_by_hand(multilabel):
    # Row has a label?  gold: T T F F T ; pred: T F T F T
    # TP = rows 0, 4 = 2; predicted positive rows = 3; gold positive rows = 3.
    # P = 2/3, R = 2/3, F1 = 2/3, support 3.
    gold = [[1, 0], [0, 1], [0, 0], [0, 0], [1, 1]]
    pred = [[0, 1], [0, 0], [1, 0], [0, 0], [1, 0]]
    out = multilabel.compute(predictions=pred, references=gold)
    assert out["any"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    assert list(out["per_label"]) == ["0", "1"]


def test_multilabel_any_when_nothing_is_predicted(multilabel):
    # No predicted positives: P = 0 by the zero-division convention, R = 0/1, F1 = 0.
    out = multilabel.compute(predictions=[[0, 0], [0, 0]], references=[[0, 1], [0, 0]])
    assert out["any"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_multilabel_random_against_sklearn(multilabel, seed):
    rng = np.random.default_rng(seed)
    n_rows, n_labels = int(rng.integers(5, 40)), int(rng.integers(2, 9))
    gold = (rng.random((n_rows, n_labels)) < 0.3).astype(int)
    pred = (rng.random((n_rows, n_labels)) < 0.3).astype(int)
    gold[:, -1] = 0  # always one label without support
    gold[0] = 0  # and one gold row without labels
    names = [f"L{i}" for i in range(n_labels)]
    out = multilabel.compute(predictions=pred.tolist(), references=gold.tolist(), label_names=names)
    _assert_matches_sklearn(out, gold, pred, names)
    any_p, any_r, any_f, _ = precision_recall_fscore_support(
        gold.any(axis=1), pred.any(axis=1), average="binary", zero_division=0
    )
    assert out["any"]["precision"] == pytest.approx(any_p)
    assert out["any"]["recall"] == pytest.approx(any_r)
    assert out["any"]["f1"] == pytest.approx(any_f)
    assert out["any"]["support"] == int(gold.any(axis=1).sum())


def test_multilabel_single_label_scores_its_positives(multilabel):
    # One column is one label (a Loaded_Language-only model): TP 1 (row 3), predicted 2, gold 3.
    gold = [[0], [1], [0], [1], [1]]
    pred = [[1], [0], [0], [1], [0]]
    out = multilabel.compute(predictions=pred, references=gold, label_names=["Loaded_Language"])
    expected = {"precision": 1 / 2, "recall": 1 / 3, "f1": 0.4, "support": 3}
    assert out["micro"] == pytest.approx(expected)
    assert out["per_label"]["Loaded_Language"] == pytest.approx(expected)
    assert out["macro"] == pytest.approx({k: expected[k] for k in ("precision", "recall", "f1")})


def test_multilabel_one_hot_multiclass_micro_f1_is_accuracy(multilabel):
    gold_cls = [0, 1, 2, 2, 1, 0]
    pred_cls = [0, 2, 2, 2, 1, 1]  # 4 of 6 right
    one_hot = np.eye(3, dtype=int)
    out = multilabel.compute(predictions=one_hot[pred_cls].tolist(), references=one_hot[gold_cls].tolist())
    assert out["micro"]["f1"] == pytest.approx(4 / 6)
    assert out["macro"]["f1"] == pytest.approx(f1_score(gold_cls, pred_cls, average="macro"))


def test_multilabel_rejects_bad_input(multilabel):
    with pytest.raises(ValueError, match="only 0 and 1"):
        multilabel.compute(predictions=[[2, 0]], references=[[1, 0]])
    with pytest.raises(ValueError, match="label_names"):
        multilabel.compute(predictions=[[1, 0]], references=[[1, 0]], label_names=["a"])
    with pytest.raises(ValueError, match="shape"):
        multilabel.compute(predictions=[[1, 0, 0]], references=[[1, 0]])


# --------------------------------------------------------------------------- span_f1


def _official_si(pred_articles, gold_articles, labelled=False):
    """Independent port of the SemEval-2020 task-SI scorer's arithmetic: spans as sets
    of character indices, repeated union of intersecting spans, all-pairs credit.
    With labelled=True only same-label spans merge and meet (FLC/TC-style)."""

    def merge(spans):
        groups = []  # [label, set]
        for label, chars in spans:
            chars = set(chars)
            changed = True
            while changed:
                changed = False
                for group in groups:
                    if group[0] == label and group[1] & chars:
                        chars |= group[1]
                        groups.remove(group)
                        changed = True
                        break
            groups.append([label, chars])
        return groups

    p_num = r_num = 0.0
    n_s = n_t = 0
    for pred, gold in zip(pred_articles, gold_articles):
        key = (lambda sp: sp[2]) if labelled else (lambda sp: None)
        s_sets = merge([(key(sp), range(sp[0], sp[1])) for sp in pred])
        t_sets = merge([(key(sp), range(sp[0], sp[1])) for sp in gold])
        n_s += len(s_sets)
        n_t += len(t_sets)
        for s_label, s in s_sets:
            for t_label, t in t_sets:
                if s_label == t_label:
                    p_num += len(s & t) / len(s)
                    r_num += len(s & t) / len(t)
    p = p_num / n_s if n_s else 0.0
    r = r_num / n_t if n_t else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f, n_s, n_t


def test_span_exact_match_is_perfect(span_f1):
    gold = [[[0, 10], [20, 30]], [[5, 9]]]
    out = span_f1.compute(predictions=gold, references=gold)
    assert out == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "n_pred": 3, "n_gold": 3}


def test_span_prediction_covering_half_a_gold_span(span_f1):
    # s = [0,5), t = [0,10): |s∩t| = 5. P = 5/5 = 1, R = 5/10 = 0.5, F1 = 2*1*0.5/1.5 = 2/3.
    out = span_f1.compute(predictions=[[[0, 5]]], references=[[[0, 10]]])
    assert out["precision"] == pytest.approx(1.0)
    assert out["recall"] == pytest.approx(0.5)
    assert out["f1"] == pytest.approx(2 / 3)


def test_span_prediction_overlapping_two_gold_spans(span_f1):
    # s = [5,25) (|s|=20); t1 = [0,10) (|t1|=10), t2 = [20,30) (|t2|=10).
    # |s∩t1| = 5, |s∩t2| = 5.
    # P = (5/20 + 5/20) / |S|=1 = 0.5 ; R = (5/10 + 5/10) / |T|=2 = 0.5 ; F1 = 0.5.
    out = span_f1.compute(predictions=[[[5, 25]]], references=[[[0, 10], [20, 30]]])
    assert out == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "n_pred": 1, "n_gold": 2})


def test_span_empty_predictions(span_f1):
    # |S| = 0 -> P = 0 ; no credit -> R = 0/2 = 0 ; F1 = 0.
    out = span_f1.compute(predictions=[[], []], references=[[[0, 4]], [[1, 3]]])
    assert out == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n_pred": 0, "n_gold": 2}


def test_span_empty_gold_gives_zero_recall(span_f1):
    # |T| = 0 -> R = 0; the prediction overlaps nothing -> P = 0/1 = 0.
    out = span_f1.compute(predictions=[[[0, 4]]], references=[[]])
    assert out == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n_pred": 1, "n_gold": 0}


def test_span_different_articles_do_not_match(span_f1):
    # Article 0 predicts [0,10) but its gold is in article 1, at the same offsets: no credit.
    out = span_f1.compute(predictions=[[[0, 10]], []], references=[[], [[0, 10]]])
    assert out == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n_pred": 1, "n_gold": 1}


def test_span_merges_overlapping_gold_spans(span_f1):
    # Gold [0,10) and [5,15) overlap -> merged to one span [0,15) (|T| = 1, not 2).
    # s = [0,15): P = 15/15 = 1, R = 15/15 = 1. Without merging R would be (10/10 + 10/10)/2 = 1
    # but P would be (10/15 + 10/15)/1 = 4/3 > 1, so the merge is visible in precision.
    out = span_f1.compute(predictions=[[[0, 15]]], references=[[[0, 10], [5, 15]]])
    assert out == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0, "n_pred": 1, "n_gold": 1})


def test_span_merge_is_transitive_but_touching_spans_stay_apart(span_f1):
    # Gold [0,4), [3,8), [7,10) chain into [0,10); [10,12) only touches it and stays apart -> |T| = 2.
    # s = [0,12): credit with [0,10): P 10/12, R 10/10; with [10,12): P 2/12, R 2/2.
    # P = (10/12 + 2/12) / 1 = 1 ; R = (1 + 1) / 2 = 1.
    out = span_f1.compute(predictions=[[[0, 12]]], references=[[[0, 4], [3, 8], [7, 10], [10, 12]]])
    assert out["n_gold"] == 2
    assert out["precision"] == pytest.approx(1.0)
    assert out["recall"] == pytest.approx(1.0)


def test_span_merges_overlapping_predictions(span_f1):
    # Predictions [0,6) and [4,10) merge into [0,10) (|S| = 1); gold [0,10) -> P = R = 1.
    out = span_f1.compute(predictions=[[[0, 6], [4, 10]]], references=[[[0, 10]]])
    assert out == pytest.approx({"precision": 1.0, "recall": 1.0, "f1": 1.0, "n_pred": 1, "n_gold": 1})


def test_span_per_label_different_labels_get_no_credit(span_f1):
    # Same characters, different labels. Label-agnostic: exact match -> 1.0.
    # Per label: A has s=[0,10) but no gold A -> P_A = 0/1, R_A = 0 (|T_A| = 0);
    #            B has gold [0,10) but no prediction -> P_B = 0 (|S_B| = 0), R_B = 0/1.
    out = span_f1.compute(predictions=[[[0, 10, "A"]]], references=[[[0, 10, "B"]]], per_label=True)
    assert out["f1"] == pytest.approx(1.0)
    assert out["per_label"]["A"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n_pred": 1, "n_gold": 0}
    assert out["per_label"]["B"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "n_pred": 0, "n_gold": 1}
    assert out["labelled"]["f1"] == 0.0


def test_span_per_label_merges_within_a_label_only(span_f1):
    # Gold: A [0,10), A [5,20) -> A [0,20); B [8,12) stays (other label). Label-agnostic: all -> [0,20).
    # Pred: A [0,10), B [8,12).
    # Label-agnostic: S = {[0,10),[8,12)} -> merged [0,12); T = {[0,20)}: P = 12/12 = 1, R = 12/20 = 0.6,
    #   F1 = 2*0.6/1.6 = 0.75.
    # A: s=[0,10), t=[0,20): P = 1, R = 10/20 = 0.5, F1 = 2/3.   B: exact -> 1, 1, 1.
    # labelled: P = (1 + 1)/2 = 1, R = (0.5 + 1)/2 = 0.75, F1 = 1.5/1.75 = 6/7.
    out = span_f1.compute(
        predictions=[[(0, 10, "A"), {"start": 8, "end": 12, "label": "B"}]],
        references=[[[0, 10, "A"], [5, 20, "A"], [8, 12, "B"]]],
        per_label=True,
    )
    assert out["precision"] == pytest.approx(1.0)
    assert out["recall"] == pytest.approx(0.6)
    assert out["f1"] == pytest.approx(0.75)
    assert (out["n_pred"], out["n_gold"]) == (1, 1)
    assert out["per_label"]["A"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "n_pred": 1, "n_gold": 1}
    )
    assert out["per_label"]["B"] == pytest.approx(
        {"precision": 1.0, "recall": 1.0, "f1": 1.0, "n_pred": 1, "n_gold": 1}
    )
    assert out["labelled"] == pytest.approx({"precision": 1.0, "recall": 0.75, "f1": 6 / 7, "n_pred": 2, "n_gold": 2})


def test_span_accepts_json_strings_and_span_objects(span_f1):
    from framelab.types import Span

    # Same data as the "half a gold span" case: F1 = 2/3.
    out = span_f1.compute(predictions=['[[0, 5, "X"]]'], references=[[Span(0, 10, "X")]], per_label=True)
    assert out["f1"] == pytest.approx(2 / 3)
    assert out["per_label"]["X"]["f1"] == pytest.approx(2 / 3)


def test_span_rejects_bad_spans(span_f1):
    with pytest.raises(ValueError, match="start < end"):
        span_f1.compute(predictions=[[[5, 5]]], references=[[[0, 10]]])
    with pytest.raises(ValueError, match="integer"):
        span_f1.compute(predictions=[[[0.0, 5]]], references=[[[0, 10]]])
    with pytest.raises(ValueError, match="label"):
        span_f1.compute(predictions=[[[0, 5]]], references=[[[0, 10, "A"]]], per_label=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_span_random_against_official_arithmetic(span_f1, seed):
    rnd = random.Random(seed)

    def article():
        spans = []
        for _ in range(rnd.randint(0, 6)):
            start = rnd.randint(0, 80)
            spans.append([start, start + rnd.randint(1, 25), rnd.choice("ABC")])
        return spans

    pred = [article() for _ in range(12)]
    gold = [article() for _ in range(12)]
    out = span_f1.compute(predictions=pred, references=gold, per_label=True)
    p, r, f, n_s, n_t = _official_si(pred, gold)
    assert (out["precision"], out["recall"], out["f1"]) == pytest.approx((p, r, f))
    assert (out["n_pred"], out["n_gold"]) == (n_s, n_t)
    p, r, f, n_s, n_t = _official_si(pred, gold, labelled=True)
    assert out["labelled"] == pytest.approx({"precision": p, "recall": r, "f1": f, "n_pred": n_s, "n_gold": n_t})
    for label in "ABC":
        only = [[sp for sp in art if sp[2] == label] for art in pred]
        only_gold = [[sp for sp in art if sp[2] == label] for art in gold]
        p, r, f, n_s, n_t = _official_si(only, only_gold)
        if n_s or n_t:
            assert out["per_label"][label] == pytest.approx(
                {"precision": p, "recall": r, "f1": f, "n_pred": n_s, "n_gold": n_t}
            )


# --------------------------------------------------------------------------- stance_scores


def test_stance_generic_macro_f1_against_sklearn(stance):
    gold = ["pos", "neg", "neu", "neg", "pos", "pos", "neu"]
    pred = ["pos", "neu", "neu", "neg", "neg", "pos", "other"]
    out = stance.compute(predictions=pred, references=gold)
    labels = ["neg", "neu", "pos"]
    assert out["macro_f1"] == pytest.approx(f1_score(gold, pred, labels=labels, average="macro", zero_division=0))
    assert out["accuracy"] == pytest.approx(4 / 7)
    assert sorted(out["per_label"]) == labels  # "other" is predicted only, so not in L
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    for i, label in enumerate(labels):
        assert out["per_label"][label] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])}
        )


def test_stance_labels_argument_extends_the_macro_average(stance):
    # Gold has only "a" (all right, F1 1); "b" is added by `labels` and scores 0 -> macro = (1 + 0)/2.
    out = stance.compute(predictions=["a", "a"], references=["a", "a"], labels=["b"])
    assert out["macro_f1"] == pytest.approx(0.5)
    assert out["per_label"]["b"]["support"] == 0


def test_stance_semeval2016_f_avg_by_hand(stance):
    gold = ["FAVOR", "favor", "AGAINST", "AGAINST", "NONE", "against"]
    pred = ["favor", "AGAINST", "against", "NONE", "NONE", "AGAINST"]
    # After upper-casing: gold F F A A N A ; pred F A A N N A.
    # FAVOR: TP 1, predicted 1, gold 2 -> P 1, R 1/2, F1 = 2/3.
    # AGAINST: TP 2 (rows 2, 5), predicted 3 (rows 1, 2, 5), gold 3 -> P 2/3, R 2/3, F1 = 2/3.
    # f_avg = (2/3 + 2/3) / 2 = 2/3. NONE: TP 1, pred 2, gold 1 -> P 1/2, R 1, F1 2/3.
    out = stance.compute(predictions=pred, references=gold, scheme="semeval2016")
    assert out["f_avg"] == pytest.approx(2 / 3)
    assert out["per_label"]["FAVOR"]["f1"] == pytest.approx(2 / 3)
    assert out["per_label"]["NONE"]["precision"] == pytest.approx(0.5)
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert "fnc_score" not in out


def test_stance_semeval2016_f_avg_ignores_none(stance):
    # All gold NONE and all right: accuracy 1 but FAVOR/AGAINST never occur -> both F1 0 -> f_avg 0.
    out = stance.compute(predictions=["NONE", "none"], references=["none", "NONE"], scheme="semeval2016")
    assert out["accuracy"] == 1.0
    assert out["f_avg"] == 0.0


def test_stance_fnc1_score_by_hand(stance):
    gold = ["agree", "unrelated", "discuss", "disagree", "unrelated", "agree"]
    pred = ["agree", "unrelated", "agree", "unrelated", "discuss", "Agree"]
    # Pair scores: agree/agree 0.25+0.75 ; unrelated/unrelated 0.25 ; discuss/agree (both related) 0.25 ;
    # disagree/unrelated 0 ; unrelated/discuss 0 ; agree/Agree (case-folded) 0.25+0.75  -> 2.5.
    # Max: 4 related gold x 1.0 + 2 unrelated x 0.25 = 4.5 ; relative = 2.5 / 4.5 = 0.5556.
    out = stance.compute(predictions=pred, references=gold, scheme="fnc1")
    assert out["fnc_score"] == pytest.approx(2.5)
    assert out["fnc_max"] == pytest.approx(4.5)
    assert out["fnc_relative"] == pytest.approx(2.5 / 4.5)
    assert round(out["fnc_relative"], 4) == 0.5556
    labels = ["agree", "disagree", "discuss", "unrelated"]
    folded = [label.lower() for label in pred]
    assert out["macro_f1"] == pytest.approx(f1_score(gold, folded, labels=labels, average="macro", zero_division=0))


def test_stance_rejects_bad_input(stance):
    with pytest.raises(ValueError, match="FNC-1 labels"):
        stance.compute(predictions=["maybe"], references=["agree"], scheme="fnc1")
    with pytest.raises(ValueError, match="unknown scheme"):
        stance.compute(predictions=["a"], references=["a"], scheme="semeval2017")


def test_label_counts_show_misses_and_false_alarms_in_the_none_row_and_column() -> None:
    from framelab.eval.plots import label_counts

    gold = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    pred = np.array([[1, 0], [0, 1], [0, 0], [0, 1]])
    counts = label_counts(gold, pred)
    assert counts.tolist() == [[1, 0, 1], [0, 1, 1], [0, 1, 0]]
