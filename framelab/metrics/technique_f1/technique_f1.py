"""SemEval-2020 Task 11 technique classification: micro P/R/F1 over given spans.

Self-contained evaluate module: evaluate copies this script into its own
cache, so it must not import framelab. One import per line, because
evaluate 0.4.6 misreads ``import a, b`` when it scans a script's imports.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import datasets
import evaluate

_DESCRIPTION = """\
Technique classification (subtask TC of SemEval-2020 Task 11): every gold span
is given, and a system names its technique. A span annotated with k techniques
appears k times in the gold file, and a system answers k times for it.

Predictions and references are matched per article and per exact character
interval [start, end): for each interval the number of correct answers is the
size of the multiset intersection of predicted and gold techniques. Then

    P  = correct / number of predicted (span, technique) pairs
    R  = correct / number of gold (span, technique) pairs
    F1 = 2PR / (P + R)

When a system answers once per gold line (the task's format), P = R = F1 =
accuracy. Per-technique P/R/F1 count the same matches for one technique.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: one entry per article, a list of [start, end, technique]
        (list, tuple or dict with start/end/label), or a JSON string of such a list.
    references: one entry per article, same order and shape.
Returns:
    precision, recall, f1 (`float`): micro scores over all techniques.
    correct, n_pred, n_gold (`int`).
    per_label (`dict`): technique -> precision, recall, f1, n_pred, n_gold.
Examples:
    >>> metric = evaluate.load("framelab/metrics/technique_f1")
    >>> metric.compute(predictions=[[[0, 5, "Doubt"]]], references=[[[0, 5, "Doubt"]]])["f1"]
    1.0
"""


def _span(span) -> tuple:
    if isinstance(span, dict):
        start, end, label = span.get("start"), span.get("end"), span.get("label")
    elif hasattr(span, "start") and hasattr(span, "end"):
        start, end, label = span.start, span.end, getattr(span, "label", None)
    else:
        items = list(span)
        if len(items) != 3:
            raise ValueError(f"a span must be [start, end, technique], got {span!r}")
        start, end, label = items
    if not isinstance(label, str) or not label:
        raise ValueError(f"every span needs a technique name, got {span!r}")
    if int(start) != start or int(end) != end or not 0 <= int(start) < int(end):
        raise ValueError(f"span [{start}, {end}) is invalid: need integer offsets with 0 <= start < end")
    return (int(start), int(end), label)


def _encode(article) -> str:
    if isinstance(article, str):
        json.loads(article)
        return article
    return json.dumps([list(_span(s)) for s in article or []])


def _prf(correct: int, n_pred: int, n_gold: int) -> dict:
    p = correct / n_pred if n_pred else 0.0
    r = correct / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": float(p), "recall": float(r), "f1": float(f), "n_pred": int(n_pred), "n_gold": int(n_gold)}


class TechniqueF1(evaluate.Metric):
    """Micro and per-technique F1 of technique names given for gold spans."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Da San Martino et al., SemEval-2020 Task 11, 2020.",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    # evaluate type-checks inputs before _compute sees them (compute() goes
    # through add_batch too); articles travel as JSON strings.
    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add articles; spans are encoded to the JSON strings the module stores."""
        return super().add_batch(
            predictions=None if predictions is None else [_encode(a) for a in predictions],
            references=None if references is None else [_encode(a) for a in references],
            **kwargs,
        )

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one article; its spans are encoded to the JSON string the module stores."""
        return super().add(
            prediction=None if prediction is None else _encode(prediction),
            reference=None if reference is None else _encode(reference),
            **kwargs,
        )

    def _compute(self, predictions, references) -> dict:
        correct = Counter()
        n_pred = Counter()
        n_gold = Counter()
        for pred_text, gold_text in zip(predictions, references):
            pred = defaultdict(Counter)
            gold = defaultdict(Counter)
            for start, end, label in (_span(s) for s in json.loads(pred_text)):
                pred[(start, end)][label] += 1
                n_pred[label] += 1
            for start, end, label in (_span(s) for s in json.loads(gold_text)):
                gold[(start, end)][label] += 1
                n_gold[label] += 1
            for key, labels in pred.items():
                for label, count in (labels & gold.get(key, Counter())).items():
                    correct[label] += count
        result = _prf(sum(correct.values()), sum(n_pred.values()), sum(n_gold.values()))
        result["correct"] = int(sum(correct.values()))
        result["per_label"] = {
            label: _prf(correct[label], n_pred[label], n_gold[label]) for label in sorted(set(n_pred) | set(n_gold))
        }
        return result
