"""Fine-tuning a sequence classifier: one prediction per unit, article or (target, article) pair.

The task's record says what an example is (:attr:`framelab.tasks.Task.level`;
article and pair examples are cut into windows whose logits are pooled),
whether labels combine (multi-label: sigmoid, positive weights or focal loss,
thresholds tuned on dev; single-label: softmax and arg-max) and which dev
measure picks the best epoch. A multi-label task may average a TF-IDF model
into its probabilities (``train.lexical_weight``). With ``train.folds`` k,
k models are trained on k-fold splits of the train and dev articles
(:func:`train_folds`): outer fold k's model is trained on the folds other
than k and its inner fold (:func:`framelab.train.folds.inner_fold`), whose
predictions choose its epoch count and thresholds, then it predicts fold k
(:func:`run_fold`), so nothing that decides fold k has read fold k's labels.
The out-of-fold predictions give the cross-validated figures and are kept in
the folder (:mod:`framelab.models.out_of_fold`) with the inner ones; the saved
model is refit on every article for the folds' median epoch count, at
thresholds tuned on all out-of-fold predictions.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import shutil
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, TrainerCallback, set_seed

from framelab.config import Config, config_to_dict
from framelab.encoding import activate, encode, pool
from framelab.errors import ConfigError, DataError, Problem
from framelab.eval.bootstrap import Resamples, example_groups
from framelab.eval.scores import multilabel_scores, scores_with_intervals, single_label_scores
from framelab.lexical import LexicalModel, blend
from framelab.models.out_of_fold import OUT_OF_FOLD_FILE, OutOfFold, out_of_fold_bytes
from framelab.splits import TaskData, unit_offsets
from framelab.tasks import Task, get_task
from framelab.thresholds import decisions_at, tuned_thresholds
from framelab.train.folds import (
    MIN_NESTED_FOLDS,
    FoldRecords,
    article_of,
    assign_folds,
    concat,
    cross_validated,
    decide,
    folds_named,
    inner_fold,
    resumable_folds,
    subset,
)
from framelab.train.frozen import StateStore, cacheable, cached_datasets, collate_cached, top_layers_only
from framelab.train.losses import multilabel_loss, positive_weights
from framelab.train.trainer import (
    FineTuned,
    FineTuning,
    TrainResult,
    early_stopping,
    early_stopping_note,
    fine_tune,
    finish,
    fold_work_folder,
    freeze,
    load_tokenizer,
    model_meta,
    prediction_logits,
    start,
)

log = logging.getLogger(__name__)


def _hf_dataset(encoded, targets: np.ndarray, multi_label: bool) -> Dataset:
    features = dict(encoded.features)
    rows = targets[encoded.example]
    features["labels"] = rows.astype(np.float32).tolist() if multi_label else rows.argmax(axis=1).tolist()
    return Dataset.from_dict(features)


def _kept_labels(task: Task, config: Config, train_data: TaskData, names: list[str]) -> list[int]:
    """Columns of the labels with at least ``train.min_label_count`` training examples."""
    counts = train_data.targets.sum(axis=0)
    keep = [i for i, c in enumerate(counts) if c >= max(1, config.train.min_label_count)]
    if len(keep) < (1 if task.multi_label else 2):
        raise DataError(
            Problem(
                str(config.dataset_dir),
                None,
                f"too few labels with training examples for task '{task.name}'",
                "check the corpus annotations or lower train.min_label_count",
            )
        )
    return keep


def dev_probabilities(task: Task, logits: np.ndarray, encoded, n_examples: int) -> np.ndarray:
    """Probabilities per dev example from the Trainer's window logits (pooled the task's way)."""
    return activate(
        pool(np.asarray(logits, dtype=np.float64), encoded.example, n_examples, task.pooling), task.multi_label
    )


def dev_scores(task: Task, probs: np.ndarray, targets: np.ndarray, names: list[str]) -> dict:
    """Scores at 0.5 (multi-label) or arg-max (single-label)."""
    if task.multi_label:
        return multilabel_scores(decisions_at(probs, 0.5), targets, names)
    return single_label_scores(probs.argmax(axis=1), targets.argmax(axis=1), names)


@dataclass
class Fitted:
    """One fine-tuning run and its dev probabilities (as reported, TF-IDF blended in; and the fine-tuned model's).

    ``predicted`` and ``predicted_alone`` are the same for the examples :func:`fit` was asked to ``predict``.
    """

    run: FineTuned
    dev_probs: np.ndarray | None
    fine_tuned_probs: np.ndarray | None
    lexical: LexicalModel | None
    predicted: np.ndarray | None = None
    predicted_alone: np.ndarray | None = None


@dataclass
class Setup:
    """What every run of one training shares: the task, the encoder, its tokenizer, the label names and the
    frozen layers' states (every fold and the refit read each example's from one store)."""

    task: Task
    base: str
    tokenizer: object
    names: list[str]
    states: StateStore


def fit(
    config: Config,
    setup: Setup,
    train_data: TaskData,
    dev_data: TaskData | None,
    *,
    predict: TaskData | None = None,
    work: Path | None = None,
    resume: bool = False,
    callbacks=None,
) -> Fitted:
    """Fine-tune on ``train_data``, choose the epoch on ``dev_data`` (without it: the configured epochs), predict it.

    The model of the chosen epoch also predicts ``predict`` (a k-fold run's outer fold), whose labels it
    is given blanked: they are never read.
    """
    t, task, tokenizer, names = config.train, setup.task, setup.tokenizer, setup.names
    enc = dict(max_length=config.model.max_length, stride=config.model.stride, windowed=task.windowed)
    train_enc = encode(tokenizer, train_data.texts, pairs=train_data.pairs, **enc)
    dev_enc = encode(tokenizer, dev_data.texts, pairs=dev_data.pairs, **enc) if dev_data is not None else None
    predict_enc = encode(tokenizer, predict.texts, pairs=predict.pairs, **enc) if predict is not None else None
    # The head starts from the same draw whatever ran before: a fold's model depends only on its own data.
    set_seed(t.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        setup.base,
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
        problem_type="multi_label_classification" if task.multi_label else "single_label_classification",
        # Master weights stay in float32 even when the base was saved in half
        # precision; mixed precision, if any, is applied by the Trainer.
        dtype=torch.float32,
        # Never unpickle weights from a folder we did not write.
        use_safetensors=True,
        trust_remote_code=False,
    )

    def compute_metrics(prediction) -> dict:
        probs = dev_probabilities(task, prediction_logits(prediction.predictions), dev_enc, len(dev_data.texts))
        figures = dev_scores(task, probs, dev_data.targets, names)
        return {"micro_f1": figures["micro"]["f1"], "macro_f1": figures["macro"]["f1"]}

    loss = None
    if task.multi_label:
        weights = positive_weights(train_data.targets, t.max_pos_weight) if t.rare_labels == "pos_weight" else None
        loss = multilabel_loss(t.rare_labels, pos_weight=weights, gamma=t.focal_gamma)
    train_ds = _hf_dataset(train_enc, train_data.targets, task.multi_label)
    dev_ds = _hf_dataset(dev_enc, dev_data.targets, task.multi_label) if dev_data is not None else None
    blank = np.zeros((len(predict.texts), len(names))) if predict is not None else None
    predict_ds = _hf_dataset(predict_enc, blank, task.multi_label) if predict is not None else None
    collator = DataCollatorWithPadding(
        tokenizer, padding="max_length" if t.pad_to_max_length else "longest", max_length=config.model.max_length
    )
    freeze(model, config)
    cached = cacheable(model, t.freeze_layers)
    if cached:
        # The frozen layers' outputs never change: computed once here instead of at every step of every epoch.
        given = ((train_enc, train_ds), (dev_enc, dev_ds), (predict_enc, predict_ds))
        splits = [(e.features, d["labels"]) for e, d in given if d is not None]
        made = iter(cached_datasets(model, config, splits, setup.states))
        train_ds = next(made)
        dev_ds = next(made) if dev_ds is not None else None
        predict_ds = next(made) if predict_ds is not None else None
        collator = collate_cached
    job = FineTuning(
        model=model,
        train_dataset=train_ds,
        dev_dataset=dev_ds,
        collator=collator,
        loss=loss,
        compute_metrics=compute_metrics if dev_data is not None else None,
        metric=task.selection_metric,
    )
    predicted_logits = None
    with top_layers_only(model, t.freeze_layers) if cached else nullcontext():
        run = fine_tune(config, tokenizer, job, work=work, resume=resume, callbacks=callbacks)
        if predict_ds is not None:
            run.trainer.compute_metrics = None  # its measure is for its own dev examples only
            predicted_logits = prediction_logits(run.trainer.predict(predict_ds).predictions)
    lexical = LexicalModel.fit(train_data.texts, train_data.targets, seed=t.seed) if t.lexical_weight else None

    def probabilities(logits: np.ndarray, data: TaskData, encoded) -> tuple[np.ndarray, np.ndarray]:
        """Blended (when the run blends) and fine-tuned probabilities of ``data`` from the window logits."""
        alone = dev_probabilities(task, logits, encoded, len(data.texts))
        if lexical is None:
            return alone, alone
        return blend(alone, lexical.probabilities(data.texts), t.lexical_weight), alone

    fitted = Fitted(run, None, None, lexical)
    if dev_data is not None:
        fitted.dev_probs, fitted.fine_tuned_probs = probabilities(run.dev_logits, dev_data, dev_enc)
    if predicted_logits is not None:
        fitted.predicted, fitted.predicted_alone = probabilities(predicted_logits, predict, predict_enc)
    return fitted


def _setup(config: Config) -> tuple[Setup, dict, TaskData, TaskData]:
    """The task, encoder, tokenizer, kept labels and the train and dev examples of a training run."""
    task = get_task(config.train.task)
    base, inventory = start(config)
    train_data, names = task.load_split(config.dataset_dir, "train", None)
    keep = _kept_labels(task, config, train_data, names)
    names = [names[i] for i in keep]
    train_data.targets = train_data.targets[:, keep]
    dev_data, _ = task.load_split(config.dataset_dir, "dev", names)
    setup = Setup(task, base, load_tokenizer(config, base), names, StateStore.of(config))
    return setup, inventory, train_data, dev_data


def _meta(config: Config, setup: Setup, inventory: dict, thresholds: list[float] | None, train_targets: np.ndarray):
    return model_meta(
        config,
        task=setup.task.name,
        unit="article" if setup.task.windowed else inventory["unit"],
        labels=setup.names,
        thresholds=thresholds,
        pooling=setup.task.pooling,
        extra={"train_label_counts": dict(zip(setup.names, map(int, train_targets.sum(axis=0))))},
        lexical_weight=config.train.lexical_weight,
    )


def _figures(task: Task, probs: np.ndarray, data: TaskData, names: list[str], thresholds: list[float] | None) -> dict:
    """Figures at 0.5 and at ``thresholds`` (multi-label), or of the arg-max, with 95% intervals over articles."""
    if task.multi_label:
        decisions = {"at_0.5": decisions_at(probs, 0.5), "at_tuned_thresholds": decide(probs, True, thresholds)}
    else:
        decisions = {"argmax": decide(probs, False, None)}
    groups = example_groups(data.ids, task.level)
    draws = Resamples.draw(groups)
    figures = {
        key: scores_with_intervals(decided, data.targets, names, groups, draws, multi_label=task.multi_label)
        for key, decided in decisions.items()
    }
    return {**figures, "bootstrap": draws.describe()}


def train_classifier(
    config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None
) -> TrainResult:
    """Fine-tune the configured encoder as a sequence classifier for ``train.task`` and save its folder (k-fold and
    refit with ``train.folds``)."""
    if config.train.folds:
        return train_folds(config, resume=resume, callbacks=callbacks)
    t = config.train
    setup, inventory, train_data, dev_data = _setup(config)
    fitted = fit(config, setup, train_data, dev_data, resume=resume, callbacks=callbacks)
    thresholds = (
        tuned_thresholds(
            t.threshold_rule, fitted.dev_probs, dev_data.targets, t.threshold_min_support, t.threshold_step
        )
        if setup.task.multi_label
        else None
    )
    dev_metrics = _figures(setup.task, fitted.dev_probs, dev_data, setup.names, thresholds)
    if fitted.lexical is not None:
        dev_metrics["fine_tuned_alone_at_0.5"] = dev_scores(
            setup.task, fitted.fine_tuned_probs, dev_data.targets, setup.names
        )
    dev_metrics["n_dev_examples"] = len(dev_data.texts)
    return finish(
        fitted.run,
        setup.tokenizer,
        config,
        _meta(config, setup, inventory, thresholds, train_data.targets),
        dev_metrics,
        fitted.lexical,
    )


def chooses(task: Task, config: Config) -> bool:
    """Whether a fold's model has anything to choose from data: thresholds (multi-label) or its epoch count.

    If not (single-label, one evaluation), no inner fold is held out and each fold trains on all the others.
    """
    return task.multi_label or math.ceil(config.train.epochs) > 1


@dataclass
class FoldOutcome:
    """One outer fold: its out-of-fold predictions, its inner fold's, and the choices made on the inner fold."""

    #: Rows (into the pooled train and dev examples) of the outer fold, in order.
    rows: np.ndarray
    #: The outer fold's probabilities (blended when the run blends), and the fine-tuned model's alone.
    probabilities: np.ndarray
    fine_tuned: np.ndarray
    #: Rows of the inner fold and the model's probabilities there (the choices' data); None without an inner fold.
    inner_rows: np.ndarray | None
    inner_probabilities: np.ndarray | None
    #: The epoch count kept, and the thresholds the outer fold is decided at (None: single-label, the arg-max).
    epochs: float
    thresholds: list[float] | None
    #: Every choice made from data for this fold's model, with the data it was made on.
    choices: dict
    seconds: float


def _fold_articles(data: TaskData, rows: np.ndarray) -> int:
    return len({article_of(data.ids[i]) for i in rows})


def run_fold(
    config: Config,
    setup: Setup,
    data: TaskData,
    folds: np.ndarray,
    k: int,
    *,
    work: Path,
    callbacks: list[TrainerCallback] | None = None,
) -> FoldOutcome:
    """Train outer fold ``k``'s model without fold ``k`` and its inner fold, choose on the inner fold, predict ``k``.

    The epoch count is the inner fold's best by the task's dev measure (the Trainer restores it) and the
    thresholds are tuned by ``train.threshold_rule`` on the inner fold's predictions. Fold ``k`` reaches
    the model with its labels blanked: nothing here reads them.
    """
    t, task, names = config.train, setup.task, setup.names
    started = time.perf_counter()
    n_folds = int(folds.max()) + 1
    rows = np.flatnonzero(folds == k)
    inner = inner_fold(k, n_folds) if chooses(task, config) else None
    inner_rows = np.flatnonzero(folds == inner) if inner is not None else None
    train_rows = np.flatnonzero(~np.isin(folds, [k] if inner is None else [k, inner]))
    blank = dataclasses.replace(subset(data, rows), targets=np.zeros((len(rows), len(names)), dtype=np.int64))
    fitted = fit(
        config,
        setup,
        subset(data, train_rows),
        subset(data, inner_rows) if inner_rows is not None else None,
        predict=blank,
        work=work,
        callbacks=callbacks,
    )
    shutil.rmtree(fitted.run.work, ignore_errors=True)
    trained_on = f"the {len(train_rows)} examples of {folds_named(k, inner, n_folds)}"
    metric = task.selection_metric
    if inner is None:
        epochs = float(t.epochs)
        epochs_made_on = f"train.epochs ({t.epochs:g}): one evaluation, nothing to choose, so no inner fold is held out"
    else:
        epochs = fitted.run.best_epoch
        on_inner = (
            f"the {len(inner_rows)} examples of inner fold {inner} ({_fold_articles(data, inner_rows)} articles), "
            f"predicted by the model trained on {trained_on}"
        )
        at = "at 0.5" if task.multi_label else "of the arg-max"
        epochs_made_on = f"{metric.replace('_f1', '-F1')} {at} on {on_inner}"
    history = fitted.run.trainer.state.log_history
    epoch_choice = {
        "value": epochs,
        "made_on": epochs_made_on,
        f"{metric}_by_epoch": [
            {"epoch": e["epoch"], metric: e[f"eval_{metric}"]} for e in history if f"eval_{metric}" in e
        ],
    }
    if inner is not None:
        epoch_choice["early_stopping"] = early_stopping(config, history, metric)
        epoch_choice["made_on"] += early_stopping_note(epoch_choice["early_stopping"])
    choices: dict = {"trained_on": trained_on, "epochs": epoch_choice}
    thresholds = None
    if task.multi_label:
        thresholds = tuned_thresholds(
            t.threshold_rule, fitted.dev_probs, data.targets[inner_rows], t.threshold_min_support, t.threshold_step
        )
        choices["thresholds"] = {
            "value": dict(zip(names, thresholds)),
            "made_on": f"the {t.threshold_rule} rule (min support {t.threshold_min_support}, grid step "
            f"{t.threshold_step:g}) on {on_inner}" + (", TF-IDF blended in" if t.lexical_weight else ""),
        }
    return FoldOutcome(
        rows,
        fitted.predicted,
        fitted.predicted_alone,
        inner_rows,
        fitted.dev_probs,
        epochs,
        thresholds,
        choices,
        time.perf_counter() - started,
    )


def _arrays_and_record(outcome: FoldOutcome) -> tuple[dict, dict]:
    """A finished fold as :class:`framelab.train.folds.FoldRecords` keeps it."""
    arrays = {
        name: getattr(outcome, name)
        for name in ("rows", "probabilities", "fine_tuned", "inner_rows", "inner_probabilities")
    }
    record = {name: getattr(outcome, name) for name in ("epochs", "thresholds", "choices", "seconds")}
    return arrays, record


def _outcome(arrays: dict, record: dict) -> FoldOutcome:
    return FoldOutcome(
        arrays["rows"],
        arrays["probabilities"],
        arrays["fine_tuned"],
        arrays.get("inner_rows"),
        arrays.get("inner_probabilities"),
        **record,
    )


def _folds_of(
    config: Config,
    setup: Setup,
    data: TaskData,
    folds: np.ndarray,
    *,
    resume: bool,
    callbacks: list[TrainerCallback] | None,
) -> list[FoldOutcome]:
    """Every outer fold's outcome: trained, or with ``resume`` the ones an interrupted run finished, read back."""
    work = fold_work_folder(config, resume)
    records = FoldRecords(work, FoldRecords.key(config_to_dict(config), data.ids, folds))
    return resumable_folds(
        records,
        config.train.folds,
        resume=resume,
        run=lambda k, folder: run_fold(config, setup, data, folds, k, work=folder, callbacks=callbacks),
        pack=_arrays_and_record,
        unpack=_outcome,
    )


def _choices(config: Config, setup: Setup, outcomes: list[FoldOutcome], epochs: float, thresholds, n: int) -> list:
    """The refit's choices from data, with what each was made on, for ``dev_metrics.json`` and the card."""
    t = config.train
    chosen = [o.epochs for o in outcomes]
    made_on = (
        f"median of the {len(outcomes)} folds' choices {chosen}, each made on its inner fold"
        if chooses(setup.task, config)
        else f"train.epochs ({t.epochs:g}): nothing to choose"
    )
    out = [{"choice": "epochs", "value": epochs, "shown": f"{epochs:g}", "made_on": made_on}]
    if thresholds is not None:
        shown = f"one per label, {min(thresholds):g} to {max(thresholds):g} (the table below)"
        if len(set(thresholds)) == 1:
            shown = f"{thresholds[0]:g} for every label"
        blend_note = (
            f" (TF-IDF blended in at weight {t.lexical_weight:g}, set in the config)" if t.lexical_weight else ""
        )
        made_on = f"the {t.threshold_rule} rule on the out-of-fold probabilities of all {n} examples{blend_note}"
        out.append(
            {"choice": "thresholds", "value": dict(zip(setup.names, thresholds)), "shown": shown, "made_on": made_on}
        )
    return out


def _how(nested: bool, multi_label: bool) -> str:
    """How each outer fold's model was trained and chose, for ``dev_metrics.json`` and the card."""
    if not nested:
        return "each fold predicted by a model trained on the other folds for train.epochs (nothing chosen from data)"
    chose = "the model's epoch count and the thresholds fold k is decided at" if multi_label else "its epoch count"
    return (
        "each outer fold k predicted by a model trained on the folds other than k and its inner fold (k + 1 round), "
        f"whose predictions chose {chose}; fold k's labels are read only to score it"
    )


def train_folds(config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """k-fold by article over the train and dev articles, choices on inner folds, then a refit on every article.

    Each finished fold is kept in the work folder; ``resume`` reads back those an interrupted run finished.
    """
    t = config.train
    task = get_task(t.task)
    if task.level not in ("unit", "article", "pair"):
        raise ValueError(f"train.folds: task {task.name} does not group its examples by article; set train.folds to 0")
    nested = chooses(task, config)
    if nested and t.folds < MIN_NESTED_FOLDS:
        what = "epoch count and thresholds are" if task.multi_label else "epoch count is"
        raise ConfigError(
            f"train.folds {t.folds}: each fold's {what} chosen on an inner fold held out of its training folds, which "
            f"needs at least {MIN_NESTED_FOLDS} folds; set train.folds to {MIN_NESTED_FOLDS} or more"
            + ("" if task.multi_label else ", or train.epochs to 1")
        )
    setup, inventory, train_data, dev_data = _setup(config)
    data = concat(train_data, dev_data)
    folds = assign_folds(data.ids, t.folds, t.fold_assignment_seed)
    outcomes = _folds_of(config, setup, data, folds, resume=resume, callbacks=callbacks)
    work = fold_work_folder(config, resume=True)
    probs = np.zeros(data.targets.shape)
    fine_tuned = np.zeros(data.targets.shape) if t.lexical_weight else None
    inner = np.zeros(data.targets.shape) if nested else None
    for o in outcomes:
        probs[o.rows] = o.probabilities
        if fine_tuned is not None:
            fine_tuned[o.rows] = o.fine_tuned
        if inner is not None:
            inner[o.inner_rows] = o.inner_probabilities
    multi_label = setup.task.multi_label
    per_fold, summary = cross_validated(
        probs,
        data,
        folds,
        setup.names,
        multi_label=multi_label,
        rule=t.threshold_rule,
        min_support=t.threshold_min_support,
        step=t.threshold_step,
        thresholds=[o.thresholds for o in outcomes] if multi_label else None,
    )
    thresholds = (
        tuned_thresholds(t.threshold_rule, probs, data.targets, t.threshold_min_support, t.threshold_step)
        if multi_label
        else None
    )
    epochs = float(np.median([o.epochs for o in outcomes])) or t.epochs
    # Said before the refit, which takes as long as one more fold, so an interrupted run still leaves its figures.
    log.info(
        "cross-validated over %d folds: micro-F1 %.3f ± %.3f, macro-F1 %.3f ± %.3f; labels per example %.3f "
        "(gold %.3f); refitting on all %d examples for %.1f epochs",
        t.folds,
        summary["micro_f1"]["mean"],
        summary["micro_f1"]["std"],
        summary["macro_f1"]["mean"],
        summary["macro_f1"]["std"],
        summary["labels_per_example"]["predicted"],
        summary["labels_per_example"]["gold"],
        len(data.texts),
        epochs,
    )
    refit_config = dataclasses.replace(config, train=dataclasses.replace(t, epochs=epochs))
    refit = fit(refit_config, setup, data, None, work=work, callbacks=callbacks)
    # Out-of-fold figures at the saved thresholds are tuned on the predictions they score (optimistic); the
    # cross-validated ones are not.
    dev_metrics = _figures(setup.task, probs, data, setup.names, thresholds)
    dev_metrics["cross_validated"] = {
        "folds": t.folds,
        "seed": t.fold_assignment_seed,
        "how": _how(nested, multi_label),
        **summary,
        "per_fold": [
            {
                "fold": k,
                "examples": len(o.rows),
                "best_epoch": o.epochs,
                "train_runtime_seconds": round(o.seconds, 1),
                "choices": o.choices,
                "scores": f,
            }
            for k, (o, f) in enumerate(zip(outcomes, per_fold))
        ],
    }
    dev_metrics["refit"] = {"epochs": epochs, "examples": len(data.texts)}
    dev_metrics["choices"] = _choices(config, setup, outcomes, epochs, thresholds, len(data.texts))
    dev_metrics["n_dev_examples"] = len(data.texts)
    # Unit offsets let a model of finer units (sentences) join an ensemble on coarser ones (lines).
    offsets = (
        np.array([(start, end) for _, start, end in unit_offsets(config.dataset_dir, data.ids)], dtype=np.int64)
        if setup.task.level == "unit"
        else None
    )
    oof = OutOfFold(data.ids, setup.names, folds, data.targets, probs, fine_tuned, offsets, inner=inner)
    meta = _meta(refit_config, setup, inventory, thresholds, data.targets)
    return finish(
        refit.run,
        setup.tokenizer,
        refit_config,
        meta,
        dev_metrics,
        refit.lexical,
        files={OUT_OF_FOLD_FILE: out_of_fold_bytes(oof)},
    )
