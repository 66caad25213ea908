"""Records of the sequence-classification tasks: techniques, frames, genre and stance.

All four train with :func:`framelab.train.classifier.train_classifier` and are
evaluated by :func:`framelab.eval.classifier.evaluate_classifier`; what
differs is what an example is (a unit, an article, a (target, article) pair),
whether labels combine, and where the labels sit in the dataset folder.
"""

from __future__ import annotations

from functools import partial

from framelab.tasks import COMMON_FORMATS, Lazy, Task

_ARTICLE_SPLIT = Lazy("framelab.splits:load_article_split")

_COMMON = dict(head="sequence", has_baseline=True)

TECHNIQUES = Task(
    name="techniques",
    doc="unit multi-label: the persuasion techniques of each unit (sentence, line)",
    level="unit",
    multi_label=True,
    load_split=Lazy("framelab.splits:load_unit_split"),
    pooling="max",
    formats=COMMON_FORMATS | {"semeval2023"},
    extra_scores=Lazy("framelab.eval.classifier:article_level_scores"),
    lexical_blend=True,
    ensemble_member=True,
    **_COMMON,
)

FRAMES = Task(
    name="frames",
    doc="article multi-label: the frames of each article (windows max-pooled: a frame counts if any part uses it)",
    level="article",
    multi_label=True,
    load_split=partial(_ARTICLE_SPLIT, column="frames", inventory="frames", single_label=False),
    pooling="max",
    formats=COMMON_FORMATS | {"semeval2023"},
    lexical_blend=True,
    **_COMMON,
)

GENRE = Task(
    name="genre",
    doc="article single-label: the genre of each article (windows mean-pooled)",
    level="article",
    multi_label=False,
    load_split=partial(_ARTICLE_SPLIT, column="genre", inventory="genres", single_label=True),
    pooling="mean",
    formats=COMMON_FORMATS | {"semeval2023"},
    **_COMMON,
)

STANCE = Task(
    name="stance",
    doc="(target, article) pairs, single-label: the stance of each article toward its target; "
    "also applied to every sentence",
    level="pair",
    multi_label=False,
    load_split=partial(
        _ARTICLE_SPLIT, column="stance", inventory="stances", single_label=True, pair_column="stance_target"
    ),
    pooling="mean",
    selection_metric="macro_f1",
    also_scores="sentence",
    extra_scores=Lazy("framelab.eval.classifier:stance_extra_scores"),
    **_COMMON,
)
