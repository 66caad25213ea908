"""Tasks as records: what a task is, and the one registry of them (:data:`TASKS`).

A :class:`Task` says what a model of the task labels (its level), whether
labels combine, which head it trains, how its dataset split loads, how it
trains, evaluates and is selected on dev, how window logits pool, and which
output formats it can be written in. Config choices, the model-folder checks,
the CLI, training, evaluation, scoring and the ensemble all ask the record;
none of them names a task.

Task packages (:mod:`framelab.classification`, :mod:`framelab.spans`, :mod:`framelab.frames`,
:mod:`framelab.stance`) build their records on the shared plumbing and are found through the
``framelab.tasks`` entry-point group of the installed distribution, so this
module imports none of them and nothing imports them back by name. Another
package adds a task by declaring an entry point of its own, and a program
(or a test) may call :func:`register` directly.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from framelab.errors import ConfigError

#: The entry-point group through which task packages declare their records.
ENTRY_POINT_GROUP = "framelab.tasks"

#: What one example of a task is: a unit of an article, a whole article
#: (windowed, window logits pooled), a (target, article) pair (windowed like
#: articles), or character spans inside units.
LEVELS = ("unit", "article", "pair", "span")

#: Formats every task's predictions can be written in.
COMMON_FORMATS = frozenset({"jsonl", "csv", "html", "labelstudio"})


class Lazy:
    """A function named ``"package.module:function"``, imported on its first call.

    Records name their training and evaluation code this way, so a process
    that only scores never imports the Trainer, scikit-learn or matplotlib.
    """

    def __init__(self, target: str):
        self.target = target
        self._function: Callable | None = None

    def resolve(self) -> Callable:
        """The named function (imported once)."""
        if self._function is None:
            module, _, name = self.target.partition(":")
            self._function = getattr(importlib.import_module(module), name)
        return self._function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Lazy({self.target!r})"


@dataclass(frozen=True)
class Task:
    """One task: its shape, and the functions that train, evaluate and describe its models.

    The callables are the task package's; their signatures are those of
    :func:`framelab.splits.load_task_split` (``load_split``),
    :func:`framelab.train.run.train` (``train``) and
    :func:`framelab.eval.report.evaluate_model` after loading (``evaluate``).
    Training, evaluation and their descriptions default to the shared
    sequence classifier (:mod:`framelab.train.classifier`,
    :mod:`framelab.eval.classifier`); a task with another head names its own.
    """

    #: The name configs, model folders and outputs use.
    name: str
    #: One line for ``framelab config`` and the model card.
    doc: str
    #: One of :data:`LEVELS`.
    level: str
    #: Whether an example may take several labels (sigmoid + thresholds) or exactly one (softmax + arg-max).
    multi_label: bool
    #: ``sequence``: one prediction per example; ``token``: tags per token, decoded into spans.
    head: str
    #: ``(dataset_dir, split, labels) -> (TaskData, label names)``.
    load_split: Callable[..., Any]
    #: ``(config, *, resume, callbacks) -> TrainResult``; default: the shared sequence classifier.
    train: Callable[..., Any] = Lazy("framelab.train.classifier:train_classifier")
    #: ``(predictor, dataset_dir, split, report_dir, *, resamples) -> EvalResult`` (resamples: bootstrap intervals).
    evaluate: Callable[..., Any] = Lazy("framelab.eval.classifier:evaluate_classifier")
    #: ``(dev_metrics) -> str``: the one-line dev summary ``framelab train`` prints.
    summarize_training: Callable[[dict], str] = Lazy("framelab.eval.classifier:summarize_training")
    #: ``(metrics) -> str``: the lines ``framelab eval`` prints.
    summarize_evaluation: Callable[[dict], str] = Lazy("framelab.eval.classifier:summarize_evaluation")
    #: ``(dev_metrics, config) -> str``: the dev-metrics section of the model card.
    card_metrics: Callable[..., str] = Lazy("framelab.models.card:classifier_metrics")
    #: Dev measure that picks the best epoch (a key of the trainer's ``compute_metrics``).
    selection_metric: str = "micro_f1"
    #: How window logits of one example combine: ``max`` (any part counts), ``mean``, or ``none``.
    pooling: str = "none"
    #: Output formats of ``framelab score`` that can hold this task's predictions.
    formats: frozenset[str] = COMMON_FORMATS
    #: Unit kind also scored with this model besides its own level (stance: every sentence toward the target).
    also_scores: str | None = None
    #: Extra report figures: ``(probs, decided, data, names, *, resamples) -> dict`` merged into the scores
    #: (with their 95% intervals when ``resamples``, a :class:`framelab.eval.bootstrap.Resamples`, is not None).
    extra_scores: Callable[..., dict] | None = None
    #: Whether ``framelab baseline`` and reports fit the TF-IDF baseline on it.
    has_baseline: bool = False
    #: Whether ``train.lexical_weight`` may blend a TF-IDF model into it.
    lexical_blend: bool = False
    #: Whether its models have a second, pair stage that the ``train.stage_two_*`` settings shape (fnc1).
    two_stage: bool = False
    #: Whether ``framelab ensemble`` may average it on units.
    ensemble_member: bool = False
    #: ``framelab score --spans FILE``: ``(model_dir, inputs, spans_file, out, *, batch_size) -> count``.
    classify_spans: Callable[..., int] | None = None
    #: Why ``framelab score`` (articles in, labels out) does not apply, or None when it does.
    not_scored: str | None = None
    #: How a model folder of the task loads for scoring, ``(model_dir, *, batch_size, quantize, device) -> predictor``;
    #: None: :class:`framelab.models.predictor.Predictor`. A predictor with an ``evidence`` method also tells
    #: which sentences carry each predicted label (``frame_evidence`` in the output; ``stance_evidence`` for a
    #: pair task: the sentences its stance was read from).
    predictor: Callable[..., Any] | None = None
    #: Why transformers' stock pipeline cannot give this task's answers from any of its model folders (the reason
    #: their ``config.json`` refuses it with, :mod:`framelab.models.stock`); None: only windows (article and pair
    #: levels) or a TF-IDF model averaged in make a folder refuse it.
    stock_refusal: str | None = None

    @property
    def windowed(self) -> bool:
        """Whether examples are whole articles, cut into windows whose logits are pooled."""
        return self.level in ("article", "pair")

    @property
    def has_target(self) -> bool:
        """Whether every example is a (target, text) pair."""
        return self.level == "pair"

    @property
    def needs_thresholds(self) -> bool:
        """Whether its model folder must hold one decision threshold per label."""
        return self.multi_label or self.head == "token"


#: Every task known to this process, by name (see :func:`tasks`).
TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add ``task`` to :data:`TASKS` (a task package's records, or a program's own)."""
    if task.level not in LEVELS:
        raise ValueError(f"task {task.name}: level must be one of {', '.join(LEVELS)}, got {task.level!r}")
    if task.head not in ("sequence", "token"):
        raise ValueError(f"task {task.name}: head must be 'sequence' or 'token', got {task.head!r}")
    TASKS[task.name] = task
    return task


def task_names() -> tuple[str, ...]:
    """Names of every task, registered or declared, without importing the declared ones."""
    declared = (ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return tuple(dict.fromkeys([*declared, *TASKS]))


def get_task(name: str) -> Task:
    """The record of task ``name``, loading its package through the entry point on first use."""
    if name not in TASKS:
        for ep in entry_points(group=ENTRY_POINT_GROUP, name=name):
            register(ep.load())
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}")
    return TASKS[name]
