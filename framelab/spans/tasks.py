"""Records of the span tasks.

``spans`` tags B/I per technique on each token of a unit and decodes
character spans (SemEval-2020 SI, and the spans of SemEval-2023);
``span_techniques`` names the technique of a given span from its text and
context (SemEval-2020 TC), a sequence classifier on the shared trainer;
``techniques_multihead`` trains the line labels and the spans inside the lines
on one encoder with two heads (:mod:`framelab.spans.multihead`).
"""

from __future__ import annotations

from framelab.tasks import COMMON_FORMATS, Lazy, Task

SPANS = Task(
    name="spans",
    doc="technique character spans tagged per token inside units (long units windowed)",
    level="span",
    multi_label=True,
    head="token",
    load_split=Lazy("framelab.spans.data:load_span_split"),
    train=Lazy("framelab.spans.train:train_spans"),
    evaluate=Lazy("framelab.spans.report:evaluate_spans"),
    summarize_training=Lazy("framelab.spans.report:summarize_training"),
    summarize_evaluation=Lazy("framelab.spans.report:summarize_evaluation"),
    card_metrics=Lazy("framelab.spans.report:card_metrics"),
    selection_metric="span_f1",
    formats=COMMON_FORMATS | {"semeval2020"},
    ensemble_member=True,
    stock_refusal="each technique has its own independent B-/I- sigmoid channels and no O tag, which transformers' "
    "token-classification pipeline cannot read (it would give every token a technique)",
    classify_spans=Lazy("framelab.spans.classify:classify_span_file"),
)

SPAN_TECHNIQUES = Task(
    name="span_techniques",
    doc="the technique of a given span (span text + context, single-label; SemEval-2020 TC)",
    level="span",
    multi_label=False,
    head="sequence",
    load_split=Lazy("framelab.spans.data:load_span_technique_split"),
    pooling="mean",
    extra_scores=Lazy("framelab.spans.report:technique_classification_scores"),
    classify_spans=Lazy("framelab.spans.classify:classify_span_file"),
    not_scored="names the technique of given spans: use framelab score --spans FILE",
    stock_refusal="it names the technique of a given span from the span and its context, which framelab pairs "
    "and cuts its own way",
)

TECHNIQUES_MULTIHEAD = Task(
    name="techniques_multihead",
    doc="unit multi-label and spans: one encoder, a head for the techniques of each line (sentence) and a B/I "
    "head for their spans inside it, trained together",
    level="unit",
    multi_label=True,
    head="sequence",
    load_split=Lazy("framelab.splits:load_unit_split"),
    train=Lazy("framelab.spans.multihead:train_multihead"),
    card_metrics=Lazy("framelab.spans.multihead:card_metrics"),
    pooling="max",
    formats=frozenset({"jsonl", "csv", "html", "semeval2023"}),
    extra_scores=Lazy("framelab.eval.classifier:article_level_scores"),
    predictor=Lazy("framelab.spans.multihead_model:MultiHeadPredictor"),
    stock_refusal="config.json and model.safetensors hold one encoder with two heads of framelab's own (line "
    "labels and B/I span tags, framelab/spans/multihead_model.py), which no transformers class reads",
)
