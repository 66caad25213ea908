"""Micro, macro, per-label and "any label" precision/recall/F1 for indicator rows.

Self-contained evaluate module: evaluate copies this script into its own
cache, so it must not import framelab. One import per line, because
evaluate 0.4.6 misreads ``import a, b`` when it scans a script's imports.
"""

from __future__ import annotations

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """\
Precision, recall and F1 for multi-label classification given as 0/1 indicator
rows (n_samples x n_labels), e.g. frames of an article or persuasion techniques
of a paragraph. Micro and macro averages are exactly scikit-learn's
precision_recall_fscore_support with zero_division=0 on indicator rows (a single
column included, which scikit-learn alone would read as binary classes): macro averages over ALL
labels, including labels that neither the gold nor the predictions use (they
score 0 and pull the macro average down). The "any" block scores the binary
question "does this row have at least one label?" (the 'any technique' F1).
Single-label multiclass data can be scored by passing one-hot rows; micro F1
then equals accuracy.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (`list` of `list` of `int`): predicted 0/1 indicator rows,
        one row per sample, every row n_labels long.
    references (`list` of `list` of `int`): gold 0/1 indicator rows, same shape.
    label_names (`list` of `str`, optional): one name per column, used as keys
        of `per_label`; defaults to the column indices as strings ("0", "1", ...).
Returns:
    micro (`dict`): precision, recall, f1 (floats) and support (int: number of
        gold positive (row, label) cells).
    macro (`dict`): precision, recall, f1, unweighted means over all labels.
    per_label (`dict`): label name -> precision, recall, f1, support (gold rows
        with that label).
    any (`dict`): precision, recall, f1 and support (gold rows with at least
        one label) of "row has at least one positive label".
Examples:
    >>> metric = evaluate.load("framelab/metrics/multilabel_prf")
    >>> out = metric.compute(predictions=[[1, 0], [0, 0]], references=[[1, 1], [0, 0]],
    ...                      label_names=["a", "b"])
    >>> out["micro"]["f1"], out["any"]["f1"]
    (0.6666666666666666, 1.0)
"""

_CITATION = """\
@article{scikit-learn,
  title={Scikit-learn: Machine Learning in {P}ython},
  author={Pedregosa, F. and others},
  journal={Journal of Machine Learning Research},
  volume={12},
  pages={2825--2830},
  year={2011}
}
"""


def _as_indicator(rows, what: str) -> np.ndarray:
    """Turn the rows evaluate hands back into a 2-D 0/1 int matrix, or explain why not."""
    rows = list(rows)
    if not rows:
        raise ValueError(f"{what} is empty: pass at least one indicator row")
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise ValueError(
            f"{what} rows have different lengths {sorted(widths)}: every row needs one 0/1 entry per label"
        )
    matrix = np.asarray(rows, dtype=np.int64).reshape(len(rows), widths.pop())
    if matrix.shape[1] == 0:
        raise ValueError(f"{what} rows are empty: every row needs one 0/1 entry per label")
    bad = set(np.unique(matrix).tolist()) - {0, 1}
    if bad:
        raise ValueError(f"{what} must hold only 0 and 1; found {sorted(bad)}")
    return matrix


def _binary_prf(gold: np.ndarray, pred: np.ndarray) -> dict:
    """Precision/recall/F1 of the positive class of two boolean vectors, 0 where undefined."""
    tp = int(np.sum(gold & pred))
    n_pred = int(np.sum(pred))
    n_gold = int(np.sum(gold))
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": n_gold}


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MultilabelPrf(evaluate.Metric):
    """Micro/macro/per-label/any-label P, R, F1 over 0/1 indicator rows."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("int32")),
                    "references": datasets.Sequence(datasets.Value("int32")),
                }
            ),
            reference_urls=[
                "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.precision_recall_fscore_support.html"
            ],
        )

    def _compute(self, predictions, references, label_names: list[str] | None = None) -> dict:
        pred = _as_indicator(predictions, "predictions")
        gold = _as_indicator(references, "references")
        if pred.shape != gold.shape:
            raise ValueError(
                f"predictions have shape {pred.shape} but references have shape {gold.shape}: "
                "pass one row per sample and one column per label in both"
            )
        n_labels = gold.shape[1]
        if label_names is None:
            names = [str(i) for i in range(n_labels)]
        else:
            names = [str(name) for name in label_names]
            if len(names) != n_labels:
                raise ValueError(f"label_names has {len(names)} names but the rows have {n_labels} columns")
            if len(set(names)) != len(names):
                raise ValueError("label_names contains duplicates; each column needs its own name")

        # Counted here rather than by sklearn: given one column, sklearn takes the
        # rows for binary targets and would score the negative class as "label 0".
        per_label = {
            name: _binary_prf(gold[:, i].astype(bool), pred[:, i].astype(bool)) for i, name in enumerate(names)
        }
        micro = _binary_prf(gold.astype(bool).ravel(), pred.astype(bool).ravel())
        return {
            "micro": micro,
            "macro": {
                k: float(np.mean([scores[k] for scores in per_label.values()])) for k in ("precision", "recall", "f1")
            },
            "per_label": per_label,
            "any": _binary_prf(gold.any(axis=1), pred.any(axis=1)),
        }
