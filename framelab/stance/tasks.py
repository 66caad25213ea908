"""The ``fnc1`` task record: FNC-1 headline–body stance in two stages, one model folder."""

from __future__ import annotations

from framelab.tasks import COMMON_FORMATS, Lazy, Task

FNC1 = Task(
    name="fnc1",
    doc="FNC-1 (headline, body) pairs: unrelated, else agree / disagree / discuss "
    "(relatedness features, then a cross-encoder on the closest sentences)",
    level="pair",
    multi_label=False,
    head="sequence",
    load_split=Lazy("framelab.stance.data:load_pair_split"),
    train=Lazy("framelab.stance.train:train_fnc1"),
    evaluate=Lazy("framelab.stance.evaluate:evaluate_fnc1"),
    summarize_training=Lazy("framelab.stance.evaluate:summarize_training"),
    summarize_evaluation=Lazy("framelab.stance.evaluate:summarize_evaluation"),
    card_metrics=Lazy("framelab.stance.evaluate:card_metrics"),
    selection_metric="macro_f1",
    pooling="none",
    formats=COMMON_FORMATS | {"fnc1"},
    extra_scores=Lazy("framelab.stance.evaluate:fnc1_scores"),
    has_baseline=True,
    two_stage=True,
    predictor=Lazy("framelab.stance.predictor:FncPredictor"),
    stock_refusal="config.json holds stage 2 alone (agree, disagree, discuss: no unrelated), which framelab applies "
    "only to the pairs that stage 1 (relatedness.json, and the sentence encoder in similarity/) finds related, "
    "and then to the headline with the body sentences closest to it, never to a whole body",
)
