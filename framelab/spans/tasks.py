"""Records of the span tasks.

``spans`` tags B/I per technique on each token of a unit and decodes
character spans (SemEval-2020 SI, and the spans of SemEval-2023);
``span_techniques`` names the technique of a given span from its text and
context (SemEval-2020 TC), a sequence classifier on the shared trainer.
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
