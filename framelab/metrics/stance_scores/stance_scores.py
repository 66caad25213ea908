"""Stance scores: macro-F1 and accuracy, plus the SemEval-2016 Task 6 and FNC-1 measures.

Self-contained evaluate module: evaluate copies this script into its own
cache, so it must not import framelab. One import per line, because
evaluate 0.4.6 misreads ``import a, b`` when it scans a script's imports.
"""

from __future__ import annotations

import datasets
import evaluate
from sklearn.metrics import precision_recall_fscore_support

SCHEMES = ("generic", "semeval2016", "fnc1")
FNC_RELATED = ("agree", "disagree", "discuss")
FNC_LABELS = FNC_RELATED + ("unrelated",)

_DESCRIPTION = """\
Scores for stance detection with string labels.

Every scheme returns accuracy, per-label precision/recall/F1/support and
macro_f1, the unweighted mean F1 over the label set L = labels found in the
references plus the `labels` argument (zero_division=0; a predicted label
outside L only counts as a miss of the gold label).

scheme="semeval2016" (SemEval-2016 Task 6) matches labels case-insensitively
(they are upper-cased, so favor == FAVOR) and adds f_avg, the mean of
F1(FAVOR) and F1(AGAINST), the official ranking measure; NONE is left out of it.

scheme="fnc1" (Fake News Challenge stage 1) lower-cases labels, accepts only
agree, disagree, discuss, unrelated, and adds the official weighted score:
each pair earns 0.25 if gold and prediction are both "unrelated" or both
related (agree/disagree/discuss), and 0.75 more if gold is related and the
prediction equals it. fnc_score is the raw sum, fnc_max the score of the gold
labels against themselves and fnc_relative = fnc_score / fnc_max (a fraction;
the FNC-1 leaderboard shows it as a percentage).

scheme="generic" compares labels exactly as given.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `str`): predicted stance label per example.
    references (`list` of `str`): gold stance label per example.
    scheme (`str`, default "generic"): "generic", "semeval2016" or "fnc1".
    labels (`list` of `str`, optional): labels to include in macro_f1 and
        per_label even where the references lack them.
Returns:
    accuracy (`float`), macro_f1 (`float`),
    per_label (`dict`): label -> precision, recall, f1, support, for each label in L,
    f_avg (`float`, semeval2016 only),
    fnc_score, fnc_max, fnc_relative (`float`, fnc1 only).
Examples:
    >>> metric = evaluate.load("framelab/metrics/stance_scores")
    >>> metric.compute(predictions=["favor", "AGAINST"], references=["FAVOR", "NONE"],
    ...                scheme="semeval2016")["f_avg"]
    0.5
"""

_CITATION = """\
@inproceedings{mohammad-etal-2016-semeval,
  title = {{S}em{E}val-2016 Task 6: Detecting Stance in Tweets},
  author = {Mohammad, Saif and Kiritchenko, Svetlana and Sobhani, Parinaz and Zhu, Xiaodan and Cherry, Colin},
  booktitle = {Proceedings of the 10th International Workshop on Semantic Evaluation (SemEval-2016)},
  year = {2016},
  pages = {31--41},
}
@misc{pomerleau-rao-2017-fnc1,
  title = {Fake News Challenge Stage 1 (FNC-1): Stance Detection},
  author = {Pomerleau, Dean and Rao, Delip},
  year = {2017},
  howpublished = {\\url{http://www.fakenewschallenge.org/}},
}
"""


def _normalise(label: str, scheme: str) -> str:
    if scheme == "semeval2016":
        return label.strip().upper()
    if scheme == "fnc1":
        return label.strip().lower()
    return label


def _fnc_pair_score(gold: str, pred: str) -> float:
    """Score of one pair, following the official FNC-1 scorer."""
    score = 0.0
    if gold == pred:
        score += 0.25
        if gold != "unrelated":
            score += 0.50
    if gold in FNC_RELATED and pred in FNC_RELATED:
        score += 0.25
    return score


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class StanceScores(evaluate.Metric):
    """Accuracy, macro-F1 and per-label scores, with SemEval-2016 f_avg or the FNC-1 score."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
            reference_urls=[
                "https://alt.qcri.org/semeval2016/task6/",
                "https://github.com/FakeNewsChallenge/fnc-1-baseline/blob/master/utils/score.py",
            ],
        )

    def _compute(self, predictions, references, scheme: str = "generic", labels: list[str] | None = None) -> dict:
        if scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
        if not references:
            raise ValueError("no examples to score: predictions and references are empty")
        pred = [_normalise(label, scheme) for label in predictions]
        gold = [_normalise(label, scheme) for label in references]
        extra = [_normalise(str(label), scheme) for label in (labels or [])]

        if scheme == "fnc1":
            unknown = sorted((set(pred) | set(gold) | set(extra)) - set(FNC_LABELS))
            if unknown:
                raise ValueError(f"FNC-1 labels are {', '.join(FNC_LABELS)}; got {unknown}")

        label_set = sorted(set(gold) | set(extra))
        p, r, f, s = precision_recall_fscore_support(gold, pred, labels=label_set, average=None, zero_division=0)
        result = {
            "accuracy": float(sum(g == q for g, q in zip(gold, pred)) / len(gold)),
            # Mean of the per-label F1s rather than sklearn's average="macro", so the two always agree.
            "macro_f1": float(sum(f) / len(label_set)),
            "per_label": {
                label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                for i, label in enumerate(label_set)
            },
        }

        if scheme == "semeval2016":
            # Computed apart from label_set: FAVOR/AGAINST count even when the gold lacks one of them.
            _, _, f_pair, _ = precision_recall_fscore_support(
                gold, pred, labels=["FAVOR", "AGAINST"], average=None, zero_division=0
            )
            result["f_avg"] = float((f_pair[0] + f_pair[1]) / 2)
        elif scheme == "fnc1":
            score = sum(_fnc_pair_score(g, q) for g, q in zip(gold, pred))
            best = sum(_fnc_pair_score(g, g) for g in gold)
            result["fnc_score"] = float(score)
            result["fnc_max"] = float(best)
            result["fnc_relative"] = float(score / best) if best else 0.0
        return result
