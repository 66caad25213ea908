"""Fine-tuning a sequence classifier: one prediction per unit, article or (target, article) pair.

The task's record says what an example is (:attr:`framelab.tasks.Task.level`;
article and pair examples are cut into windows whose logits are pooled),
whether labels combine (multi-label: sigmoid, positive weights or focal loss,
thresholds tuned on dev; single-label: softmax and arg-max) and which dev
measure picks the best epoch. A multi-label task may average a TF-IDF model
into its probabilities (``train.lexical_weight``). With ``train.folds`` k,
k models are trained on k-fold splits of the train and dev articles, their
out-of-fold predictions choose the thresholds and the epoch count and are
kept in the folder (:mod:`framelab.models.out_of_fold`), and the saved model
is refit on every article (:mod:`framelab.train.folds`).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, TrainerCallback

from framelab.config import Config
from framelab.encoding import activate, encode, pool
from framelab.errors import DataError, Problem
from framelab.eval.bootstrap import Resamples, example_groups
from framelab.eval.scores import multilabel_scores, scores_with_intervals, single_label_scores
from framelab.lexical import LexicalModel, blend
from framelab.models.out_of_fold import OUT_OF_FOLD_FILE, OutOfFold, out_of_fold_bytes
from framelab.splits import TaskData, unit_offsets
from framelab.tasks import Task, get_task
from framelab.thresholds import decisions_at, tuned_thresholds
from framelab.train.folds import assign_folds, concat, cross_validated, decide, subset
from framelab.train.frozen import cacheable, cached_datasets, collate_cached, top_layers_only
from framelab.train.losses import multilabel_loss, positive_weights
from framelab.train.trainer import (
    FineTuned,
    FineTuning,
    TrainResult,
    fine_tune,
    finish,
    freeze,
    load_tokenizer,
    model_meta,
    prediction_logits,
    start,
    work_folder,
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
    """One fine-tuning run and its dev probabilities (as reported, TF-IDF blended in; and of the fine-tuned model alone)."""

    run: FineTuned
    dev_probs: np.ndarray | None
    fine_tuned_probs: np.ndarray | None
    lexical: LexicalModel | None


@dataclass
class Setup:
    """What every run of one training shares: the task, the encoder, its tokenizer and the label names."""

    task: Task
    base: str
    tokenizer: object
    names: list[str]


def fit(
    config: Config,
    setup: Setup,
    train_data: TaskData,
    dev_data: TaskData | None,
    *,
    work: Path | None = None,
    resume: bool = False,
    callbacks=None,
) -> Fitted:
    """Fine-tune on ``train_data``, choosing the epoch on ``dev_data`` (without it: train the configured epochs) and predict it."""
    t, task, tokenizer, names = config.train, setup.task, setup.tokenizer, setup.names
    enc = dict(max_length=config.model.max_length, stride=config.model.stride, windowed=task.windowed)
    train_enc = encode(tokenizer, train_data.texts, pairs=train_data.pairs, **enc)
    dev_enc = encode(tokenizer, dev_data.texts, pairs=dev_data.pairs, **enc) if dev_data is not None else None
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
    collator = DataCollatorWithPadding(
        tokenizer, padding="max_length" if t.pad_to_max_length else "longest", max_length=config.model.max_length
    )
    freeze(model, config)
    cached = cacheable(model, t.freeze_layers)
    if cached:
        # The frozen layers' outputs never change: computed once here instead of at every step of every epoch.
        splits = [(train_enc.features, train_ds["labels"])] + (
            [(dev_enc.features, dev_ds["labels"])] if dev_ds is not None else []
        )
        train_ds, *rest = cached_datasets(model, config, splits)
        dev_ds = rest[0] if rest else None
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
    with top_layers_only(model, t.freeze_layers) if cached else nullcontext():
        run = fine_tune(config, tokenizer, job, work=work, resume=resume, callbacks=callbacks)
    lexical = LexicalModel.fit(train_data.texts, train_data.targets, seed=t.seed) if t.lexical_weight else None
    if dev_data is None:
        return Fitted(run, None, None, lexical)
    alone = dev_probabilities(task, run.dev_logits, dev_enc, len(dev_data.texts))
    blended = blend(alone, lexical.probabilities(dev_data.texts), t.lexical_weight) if lexical is not None else alone
    return Fitted(run, blended, alone, lexical)


def _setup(config: Config) -> tuple[Setup, dict, TaskData, TaskData]:
    """The task, encoder, tokenizer, kept labels and the train and dev examples of a training run."""
    task = get_task(config.train.task)
    base, inventory = start(config)
    train_data, names = task.load_split(config.dataset_dir, "train", None)
    keep = _kept_labels(task, config, train_data, names)
    names = [names[i] for i in keep]
    train_data.targets = train_data.targets[:, keep]
    dev_data, _ = task.load_split(config.dataset_dir, "dev", names)
    return Setup(task, base, load_tokenizer(config, base), names), inventory, train_data, dev_data


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
    """Fine-tune the configured encoder as a sequence classifier for ``train.task`` and save its folder (k-fold and refit with ``train.folds``)."""
    if config.train.folds:
        return train_folds(config, callbacks=callbacks)
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


def train_folds(config: Config, *, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """k-fold by article over the train and dev articles, thresholds from the out-of-fold predictions, then a refit on every article."""
    t = config.train
    setup, inventory, train_data, dev_data = _setup(config)
    if setup.task.level not in ("unit", "article", "pair"):
        raise ValueError(
            f"train.folds: task {setup.task.name} does not group its examples by article; set train.folds to 0"
        )
    data = concat(train_data, dev_data)
    folds = assign_folds(data.ids, t.folds, t.fold_assignment_seed)
    probs = np.zeros(data.targets.shape)
    fine_tuned = np.zeros(data.targets.shape) if t.lexical_weight else None
    per_fold_runs = []
    work, _ = work_folder(config, resume=False)
    for k in range(t.folds):
        inside = np.flatnonzero(folds == k)
        fitted = fit(
            config,
            setup,
            subset(data, np.flatnonzero(folds != k)),
            subset(data, inside),
            work=work / f"fold-{k}",
            callbacks=callbacks,
        )
        probs[inside] = fitted.dev_probs
        if fine_tuned is not None:
            fine_tuned[inside] = fitted.fine_tuned_probs
        per_fold_runs.append(
            {
                "examples": len(inside),
                "best_epoch": fitted.run.best_epoch,
                "train_runtime_seconds": round(fitted.run.seconds, 1),
            }
        )
        shutil.rmtree(fitted.run.work, ignore_errors=True)
    per_fold, summary = cross_validated(
        probs,
        data,
        folds,
        setup.names,
        multi_label=setup.task.multi_label,
        rule=t.threshold_rule,
        min_support=t.threshold_min_support,
        step=t.threshold_step,
    )
    thresholds = (
        tuned_thresholds(t.threshold_rule, probs, data.targets, t.threshold_min_support, t.threshold_step)
        if setup.task.multi_label
        else None
    )
    epochs = float(np.median([r["best_epoch"] for r in per_fold_runs])) or t.epochs
    # Said before the refit, which takes as long as one more fold, so an interrupted run still leaves its figures.
    log.info(
        "cross-validated over %d folds: micro-F1 %.3f ± %.3f, macro-F1 %.3f ± %.3f; labels per example %.3f (gold %.3f); refitting on all %d examples for %.1f epochs",
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
    # Out-of-fold figures at the saved thresholds are tuned on the predictions they score (optimistic); the cross-validated ones are not.
    dev_metrics = _figures(setup.task, probs, data, setup.names, thresholds)
    dev_metrics["cross_validated"] = {
        "folds": t.folds,
        "seed": t.fold_assignment_seed,
        **summary,
        "per_fold": [{**r, "scores": f} for r, f in zip(per_fold_runs, per_fold)],
    }
    dev_metrics["refit"] = {"epochs": epochs, "examples": len(data.texts)}
    dev_metrics["n_dev_examples"] = len(data.texts)
    # Unit offsets let a model of finer units (sentences) join an ensemble on coarser ones (lines).
    offsets = (
        np.array([(start, end) for _, start, end in unit_offsets(config.dataset_dir, data.ids)], dtype=np.int64)
        if setup.task.level == "unit"
        else None
    )
    oof = OutOfFold(data.ids, setup.names, folds, data.targets, probs, fine_tuned, offsets)
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
