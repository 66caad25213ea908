"""The record of ``frames_attention``: article frames from a label-wise attention head over frozen sentence vectors."""

from __future__ import annotations

from functools import partial

from framelab.tasks import COMMON_FORMATS, Lazy, Task

FRAMES_ATTENTION = Task(
    name="frames_attention",
    doc="article multi-label: the frames of each article, from attention over its sentences (frozen encoder); "
    "shows the sentences that carry each frame",
    level="article",
    multi_label=True,
    head="sequence",
    load_split=partial(
        Lazy("framelab.splits:load_article_split"), column="frames", inventory="frames", single_label=False
    ),
    train=Lazy("framelab.frames.train:train_frames_attention"),
    card_metrics=Lazy("framelab.frames.train:card_metrics"),
    formats=COMMON_FORMATS | {"semeval2023"},
    has_baseline=True,
    lexical_blend=True,
    predictor=Lazy("framelab.frames.predictor:AttentionPredictor"),
    stock_refusal="config.json and model.safetensors are the frozen sentence encoder alone, with no classifier: "
    "the frames come from label-wise attention heads (head.json, head.safetensors) over its sentence vectors",
)
