"""SemEval-2020 Task 11 span-identification precision/recall/F1 with partial credit.

Self-contained evaluate module: evaluate copies this script into its own
cache, so it must not import framelab. One import per line, because
evaluate 0.4.6 misreads ``import a, b`` when it scans a script's imports.
"""

from __future__ import annotations

import json
import operator
from collections import defaultdict

import datasets
import evaluate

_DESCRIPTION = """\
Character-span precision, recall and F1 with partial credit, as in SemEval-2020
Task 11 subtask SI (Da San Martino et al., 2020). With S the predicted spans and
T the gold spans of the corpus (a span only meets spans of the same article):

    P  = 1/|S| * sum over s in S, t in T of |s & t| / |s|
    R  = 1/|T| * sum over s in S, t in T of |s & t| / |t|
    F1 = 2PR / (P + R)

|S| = 0 gives P = 0, |T| = 0 gives R = 0, and P + R = 0 gives F1 = 0 (the
official script instead gives F1 = 1 when both S and T are empty).

As the official scorer does for SI, labels are ignored and overlapping spans of
the same article are merged first (spans sharing at least one character; spans
that only touch, like [0, 5) and [5, 9), stay apart). The official script
merges the gold spans always and the predicted ones only with its -m option
(otherwise it rejects overlapping predictions); this module merges both, so
|S| and |T| count merged spans.

With per_label=True the result also scores each label on its own: only spans
with the same label meet, and overlapping spans are merged per label
(as check_annotation_spans_with_category_matching does in the official
scorers). "labelled" then gives the label-aware totals over all labels.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions: one entry per article, each a list of predicted spans.
    references: one entry per article (same order), each a list of gold spans.
        A span is [start, end] or [start, end, label] (list or tuple), a dict
        with "start", "end" and optionally "label", or any object with
        .start/.end/.label attributes; start is inclusive, end exclusive, in
        characters, 0 <= start < end. An article may also be given as a JSON
        string holding such a list of [start, end(, label)] lists, which is how
        the module stores articles internally.
    per_label (`bool`, default False): also score each label separately; every
        span then needs a label.
Returns:
    precision, recall, f1 (`float`): label-agnostic scores after merging.
    n_pred, n_gold (`int`): |S| and |T| after merging.
    labelled (`dict`, only with per_label=True): precision, recall, f1, n_pred,
        n_gold where only same-label spans meet, summed over labels.
    per_label (`dict`, only with per_label=True): label -> precision, recall,
        f1, n_pred, n_gold, for every label seen in predictions or references.
Examples:
    >>> metric = evaluate.load("framelab/metrics/span_f1")
    >>> metric.compute(predictions=[[[0, 5]]], references=[[[0, 10]]])["f1"]
    0.6666666666666666
"""

_CITATION = """\
@inproceedings{da-san-martino-etal-2020-semeval,
  title = {{S}em{E}val-2020 Task 11: Detection of Propaganda Techniques in News Articles},
  author = {Da San Martino, Giovanni and Barr{\\'o}n-Cede{\\~n}o, Alberto and Wachsmuth, Henning and
            Petrov, Rostislav and Nakov, Preslav},
  booktitle = {Proceedings of the Fourteenth Workshop on Semantic Evaluation},
  year = {2020},
  pages = {1377--1414},
}
"""


def _as_offset(value, what: str) -> int:
    try:
        # operator.index accepts numpy integers but refuses floats, which would be a silent truncation.
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer character offset, got {value!r}") from None


def _normalise_span(span) -> list:
    """Return ``[start, end, label_or_None]`` for any accepted span shape."""
    if isinstance(span, dict):
        start, end = span.get("start"), span.get("end")
        label = span.get("label")
    elif hasattr(span, "start") and hasattr(span, "end"):
        start, end, label = span.start, span.end, getattr(span, "label", None)
    elif not isinstance(span, (str, bytes)) and hasattr(span, "__iter__") and len(items := list(span)) in (2, 3):
        # Any short sequence qualifies, so rows of a numpy (n, 2) array work as well as lists and tuples.
        start, end = items[0], items[1]
        label = items[2] if len(items) == 3 else None
    else:
        raise ValueError(f"a span must be [start, end], [start, end, label] or have .start/.end, got {span!r}")
    start = _as_offset(start, "span start")
    end = _as_offset(end, "span end")
    if start < 0 or end <= start:
        # The official scorer rejects these too; an empty span would divide by zero.
        raise ValueError(f"span [{start}, {end}) is invalid: need 0 <= start < end")
    if label is not None and not isinstance(label, str):
        raise ValueError(f"span label must be a string, got {label!r}")
    return [start, end, label]


def _encode_article(article) -> str:
    """Store one article's spans as a JSON string, the only column type that holds mixed int/str spans."""
    if isinstance(article, str):
        json.loads(article)  # fail here, with the article in hand, rather than deep inside evaluate
        return article
    if article is None:
        return "[]"
    return json.dumps([_normalise_span(span) for span in article])


def _encode_articles(articles):
    if articles is None:
        return None
    return [_encode_article(article) for article in articles]


def _decode_article(text: str) -> list[tuple[int, int, str | None]]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"an article's spans are not valid JSON ({err}): {text[:80]!r}") from None
    if not isinstance(raw, list):
        # ValueError, not TypeError: malformed input data is reported the same way everywhere here.
        raise ValueError(f"an article must be a list of spans, got {text[:80]!r}")  # noqa: TRY004
    return [tuple(_normalise_span(span)) for span in raw]


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge intervals that share a character; the result is sorted and pairwise disjoint."""
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _overlap_credit(pred: list[tuple[int, int]], gold: list[tuple[int, int]]) -> tuple[float, float]:
    """Sum |s&t|/|s| and |s&t|/|t| over all pairs of two sorted disjoint interval lists.

    Both lists are disjoint after merging, so only neighbours can overlap and
    one sweep replaces the all-pairs loop of the official scorer.
    """
    p_credit = 0.0
    r_credit = 0.0
    i = j = 0
    while i < len(pred) and j < len(gold):
        (ps, pe), (gs, ge) = pred[i], gold[j]
        inter = min(pe, ge) - max(ps, gs)
        if inter > 0:
            p_credit += inter / (pe - ps)
            r_credit += inter / (ge - gs)
        if pe < ge:
            i += 1
        elif ge < pe:
            j += 1
        else:
            i += 1
            j += 1
    return p_credit, r_credit


def _scores(p_credit: float, r_credit: float, n_pred: int, n_gold: int) -> dict:
    precision = p_credit / n_pred if n_pred else 0.0
    recall = r_credit / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "n_pred": int(n_pred),
        "n_gold": int(n_gold),
    }


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SpanF1(evaluate.Metric):
    """Partial-credit span P/R/F1 of SemEval-2020 Task 11, optionally per label."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            # Arrow cannot hold [int, int, str] lists, so each article travels as a JSON string.
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
            reference_urls=["https://propaganda.qcri.org/semeval2020-task11/"],
        )

    # evaluate type-checks inputs before _compute sees them; encoding here lets
    # callers pass plain span lists, tuples, dicts or Span objects.
    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add articles; spans are encoded to the JSON strings the module stores."""
        return super().add_batch(
            predictions=_encode_articles(predictions), references=_encode_articles(references), **kwargs
        )

    def add(self, *, prediction=None, reference=None, **kwargs):
        """Add one article; its spans are encoded to the JSON string the module stores."""
        return super().add(
            prediction=None if prediction is None else _encode_article(prediction),
            reference=None if reference is None else _encode_article(reference),
            **kwargs,
        )

    def _compute(self, predictions, references, per_label: bool = False) -> dict:
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predicted articles but {len(references)} gold articles")
        pred_articles = [_decode_article(text) for text in predictions]
        gold_articles = [_decode_article(text) for text in references]

        p_credit = r_credit = 0.0
        n_pred = n_gold = 0
        for pred_spans, gold_spans in zip(pred_articles, gold_articles):
            pred = _merge([(s, e) for s, e, _ in pred_spans])
            gold = _merge([(s, e) for s, e, _ in gold_spans])
            dp, dr = _overlap_credit(pred, gold)
            p_credit += dp
            r_credit += dr
            n_pred += len(pred)
            n_gold += len(gold)
        result = _scores(p_credit, r_credit, n_pred, n_gold)
        if not per_label:
            return result

        # label -> [p_credit, r_credit, n_pred, n_gold]
        totals: dict[str, list] = defaultdict(lambda: [0.0, 0.0, 0, 0])
        for pred_spans, gold_spans in zip(pred_articles, gold_articles):
            by_label: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
            for side, spans in ((0, pred_spans), (1, gold_spans)):
                for start, end, label in spans:
                    if label is None:
                        raise ValueError(f"per_label=True needs a label on every span; [{start}, {end}) has none")
                    by_label[label][side].append((start, end))
            for label, (pred_raw, gold_raw) in by_label.items():
                pred = _merge(pred_raw)
                gold = _merge(gold_raw)
                dp, dr = _overlap_credit(pred, gold)
                entry = totals[label]
                entry[0] += dp
                entry[1] += dr
                entry[2] += len(pred)
                entry[3] += len(gold)

        result["per_label"] = {label: _scores(*totals[label]) for label in sorted(totals)}
        result["labelled"] = _scores(
            sum(t[0] for t in totals.values()),
            sum(t[1] for t in totals.values()),
            sum(t[2] for t in totals.values()),
            sum(t[3] for t in totals.values()),
        )
        return result
