"""Training ``techniques_multihead``: one encoder learns the techniques of lines and their spans together.

Today's line ensemble averages three models (line labels, sentence labels, span tags), each a full encoder
trained on its own. This task trains one encoder (:class:`framelab.spans.multihead_model.MultiHeadModel`) with
two heads on the windows of each line: the line head (multi-label, the line's techniques, every window of a line
labelled with the line's labels and the windows' probabilities max-pooled) and the span head (B/I tags per
technique on the tokens, as the ``spans`` tagger, :mod:`framelab.spans.train`). The loss is their sum weighted by
:data:`LOSS_WEIGHTS`, each term the loss ``train.rare_labels`` names (positive weights counted over windows for
the line head, over text tokens for the tags).

A sentence-label head is left out: a dataset folder holds units of one kind (here lines), and the sentence
model's labels are the spans projected onto sentences, which the span head already learns token by token.

The dev measure that picks the epoch is the line head's micro-F1 at 0.5 (the task's ``selection_metric``; the
span F1 at 0.5 is logged beside it). With ``train.folds`` k the run is the lines' k-fold run by article
(:func:`framelab.train.folds.resumable_folds`): outer fold k's model trains on the folds other than k and its
inner fold, whose predictions choose its epoch count, the line thresholds (``train.threshold_rule``) and the tag
threshold; the outer fold is judged at those. Its out-of-fold line predictions go to the folder
(:mod:`framelab.models.out_of_fold`) as a line model's do, and the model is refit on every article for the folds'
median epoch count. Without folds the epoch and both thresholds are chosen on the dev split.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import TrainerCallback, set_seed

from framelab.config import Config, config_to_dict
from framelab.errors import ConfigError, DataError, Problem
from framelab.figures import shown
from framelab.models.card import classifier_metrics
from framelab.models.out_of_fold import OUT_OF_FOLD_FILE, OutOfFold, out_of_fold_bytes
from framelab.spans.analysis import article_spans, si_scores, tune_threshold
from framelab.spans.data import SpanSplit, concat_span_splits, subset_span_split
from framelab.spans.multihead_model import multihead_model
from framelab.spans.train import (
    TagCollator,
    _pack,
    _tag_dataset,
    _tagger_splits,
    _unpack,
    blank,
    dev_figures,
    span_identification,
    tag_loss,
    technique_figures,
    window_probabilities,
)
from framelab.splits import TaskData, unit_offsets
from framelab.tagging import IGNORE, Windows, merge_windows, tokenize_windows
from framelab.thresholds import tuned_thresholds
from framelab.train.classifier import Setup, _choices, _figures, _setup, dev_probabilities, dev_scores
from framelab.train.folds import (
    MIN_NESTED_FOLDS,
    FoldRecords,
    assign_folds,
    concat,
    cross_validated,
    folds_named,
    inner_fold,
    mean_std_pooled,
    resumable_folds,
    subset,
)
from framelab.train.frozen import cacheable, cached_datasets, collate_cached, top_layers_only
from framelab.train.losses import multilabel_loss, positive_weights, weights_from_counts
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
    model_meta,
)

log = logging.getLogger(__name__)

#: Weights of the heads' losses in the summed loss the encoder is trained on.
LOSS_WEIGHTS = {"line": 1.0, "spans": 1.0}


@dataclass
class Lines:
    """The lines of a split twice, row for row: as line-label examples (``data``) and as units with spans."""

    data: TaskData
    spans: SpanSplit

    def subset(self, rows: np.ndarray) -> Lines:
        """The lines at ``rows``."""
        return Lines(subset(self.data, rows), subset_span_split(self.spans, rows))

    def blank(self) -> Lines:
        """The lines without their labels and spans: what a k-fold model is given of the outer fold it predicts."""
        return Lines(dataclasses.replace(self.data, targets=np.zeros_like(self.data.targets)), blank(self.spans))


@dataclass
class Heads:
    """What every run of one training shares: the line head's setup (task, encoder, tokenizer, labels, frozen
    states) and the span head's techniques with their training span counts."""

    setup: Setup
    span_names: list[str]
    span_counts: Counter


def _setup_heads(config: Config) -> tuple[Heads, dict, Lines, Lines]:
    """The heads' labels, the dataset's label inventory and the train and dev lines."""
    setup, inventory, train_data, dev_data = _setup(config)
    train_split, dev_split, span_names, counts = _tagger_splits(config)
    for data, split in ((train_data, train_split), (dev_data, dev_split)):
        if data.ids != split.unit_ids:
            raise DataError(
                Problem(
                    str(config.dataset_dir), None, "its units and their spans disagree", "rebuild it: framelab data"
                )
            )
    return Heads(setup, span_names, counts), inventory, Lines(train_data, train_split), Lines(dev_data, dev_split)


def summed_loss(config: Config, tag_counts: np.ndarray, line_targets: np.ndarray, n_tags: int):
    """A Trainer ``compute_loss_func``: :data:`LOSS_WEIGHTS` times the line head's and the span head's losses.

    ``labels`` are ``(windows, tokens, n_tags + line labels)``: the tag targets, then the window's line labels
    on every row (read from the first). ``line_targets`` are the windows' line labels, for positive weights.
    """
    t = config.train
    tags = tag_loss(t.rare_labels, pos_weight=weights_from_counts(*tag_counts, t.max_pos_weight), gamma=t.focal_gamma)
    weights = positive_weights(line_targets, t.max_pos_weight) if t.rare_labels == "pos_weight" else None
    line = multilabel_loss(t.rare_labels, pos_weight=weights, gamma=t.focal_gamma)

    def loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        logits = outputs["line_logits"]
        targets = labels[:, 0, n_tags:].to(logits.dtype)
        lines = (
            F.binary_cross_entropy_with_logits(logits, targets) if line is None else line({"logits": logits}, targets)
        )
        spans = tags({"logits": outputs["tag_logits"]}, labels[..., :n_tags])
        return LOSS_WEIGHTS["line"] * lines + LOSS_WEIGHTS["spans"] * spans

    return loss


@dataclass
class Fitted:
    """One fine-tuning run: its dev lines' probabilities and tokens, and those of the lines it was asked to predict."""

    run: FineTuned
    dev_probs: np.ndarray | None = None
    dev_tokens: list | None = None
    predicted_probs: np.ndarray | None = None
    predicted_tokens: list | None = None


def _read(heads: Heads, outputs, windows: Windows, n: int) -> tuple[np.ndarray, list]:
    """Line probabilities (windows max-pooled) and merged tag probabilities per line from the Trainer's outputs."""
    line_logits, tag_logits = outputs
    probs = dev_probabilities(heads.setup.task, line_logits, windows, n)
    return probs, merge_windows(windows, window_probabilities(np.asarray(tag_logits), windows), n)


def fit(
    config: Config,
    heads: Heads,
    train: Lines,
    dev: Lines | None,
    *,
    predict: Lines | None = None,
    work: Path | None = None,
    resume: bool = False,
    callbacks: list[TrainerCallback] | None = None,
) -> Fitted:
    """Fine-tune both heads on ``train``, choose the epoch on ``dev`` (without it: the configured epochs), predict
    ``dev`` and ``predict`` (whose labels and spans it is given blanked)."""
    t, setup, names = config.train, heads.setup, heads.span_names
    window = dict(max_length=config.model.max_length, stride=config.model.stride)
    given = {"train": train, "dev": dev, "predict": predict}
    windows = {k: tokenize_windows(setup.tokenizer, v.spans.texts, **window) for k, v in given.items() if v is not None}
    train_ds, tag_counts, _ = _tag_dataset(windows["train"], train.spans, names, train.data.targets)
    datasets = {"train": train_ds}
    if dev is not None:
        datasets["dev"] = _tag_dataset(windows["dev"], dev.spans, names, dev.data.targets)[0]
    if predict is not None:
        datasets["predict"] = _tag_dataset(windows["predict"], predict.spans, names, predict.data.targets)[0]
    n_tags = 2 * len(names)
    # The heads start from the same draw whatever ran before: a fold's model depends only on its own data.
    set_seed(t.seed)
    model = multihead_model(setup.base, len(setup.names), len(names))

    def compute_metrics(prediction) -> dict:
        probs, tokens = _read(heads, prediction.predictions, windows["dev"], len(dev.spans.texts))
        figures = dev_scores(setup.task, probs, dev.data.targets, setup.names)
        s = dev.spans
        found = article_spans(s.article_ids, s.unit_starts, s.texts, tokens, names, [0.5] * len(names))
        span_f1 = si_scores(found, s.gold)["f1"]
        return {"micro_f1": figures["micro"]["f1"], "macro_f1": figures["macro"]["f1"], "span_f1": span_f1}

    freeze(model, config)
    collator = TagCollator(
        setup.tokenizer, n_tags + len(setup.names), window["max_length"] if t.pad_to_max_length else None
    )
    cached = cacheable(model, t.freeze_layers)
    if cached:
        # As for lines and spans: the frozen layers' outputs are computed once, not at every step.
        splits = [(windows[k].features, d["labels"]) for k, d in datasets.items()]
        datasets = dict(zip(datasets, cached_datasets(model, config, splits, setup.states)))
        collator = partial(collate_cached, pad_label=float(IGNORE))
    job = FineTuning(
        model=model,
        train_dataset=datasets["train"],
        dev_dataset=datasets.get("dev"),
        collator=collator,
        loss=summed_loss(config, tag_counts, train.data.targets[windows["train"].example], n_tags),
        compute_metrics=compute_metrics if dev is not None else None,
        metric=setup.task.selection_metric,
    )
    with top_layers_only(model, t.freeze_layers) if cached else nullcontext():
        run = fine_tune(config, setup.tokenizer, job, work=work, resume=resume, callbacks=callbacks)
        fitted = Fitted(run)
        if predict is not None:
            run.trainer.compute_metrics = None  # its measure is for its own dev lines only
            outputs = run.trainer.predict(datasets["predict"]).predictions
            fitted.predicted_probs, fitted.predicted_tokens = _read(
                heads, outputs, windows["predict"], len(predict.spans.texts)
            )
    if dev is not None:
        fitted.dev_probs, fitted.dev_tokens = _read(heads, run.dev_outputs, windows["dev"], len(dev.spans.texts))
    return fitted


def _span_choice(heads: Heads, lines: Lines, tokens: list, on: str) -> tuple[float, dict]:
    """The tag threshold with the best span-identification F1 on ``lines``' tokens, and the choice's record."""
    s = lines.spans
    threshold, tried = tune_threshold(s.article_ids, s.unit_starts, s.texts, tokens, heads.span_names, s.gold)
    made_on = f"span-identification F1 over the threshold grid on {on}"
    return threshold, {
        "value": threshold,
        "made_on": made_on,
        "span_f1_per_threshold": {str(k): v for k, v in tried.items()},
    }


def _line_thresholds(config: Config, probs: np.ndarray, targets: np.ndarray) -> list[float]:
    t = config.train
    return tuned_thresholds(t.threshold_rule, probs, targets, t.threshold_min_support, t.threshold_step)


@dataclass
class MultiFold:
    """One outer fold: line probabilities and tokens of the outer fold and of its inner fold, and the choices."""

    rows: np.ndarray
    probabilities: np.ndarray
    tokens: list
    inner_rows: np.ndarray
    inner_probabilities: np.ndarray
    inner_tokens: list
    epochs: float
    thresholds: list[float]
    span_threshold: float
    choices: dict
    seconds: float


def run_multihead_fold(
    config: Config,
    heads: Heads,
    lines: Lines,
    folds: np.ndarray,
    k: int,
    *,
    work: Path,
    callbacks: list[TrainerCallback] | None = None,
) -> MultiFold:
    """Train outer fold ``k``'s model without fold ``k`` and its inner fold, choose on the inner fold, predict ``k``.

    The epoch count is the inner fold's best line micro-F1 at 0.5 (the Trainer restores it), the line thresholds
    are tuned by ``train.threshold_rule`` and the tag threshold by span F1 on the inner fold's predictions. Fold
    ``k`` reaches the model with its labels and spans blanked.
    """
    t, names = config.train, heads.setup.names
    started = time.perf_counter()
    n_folds = int(folds.max()) + 1
    inner = inner_fold(k, n_folds)
    rows, inner_rows = np.flatnonzero(folds == k), np.flatnonzero(folds == inner)
    train_rows = np.flatnonzero((folds != k) & (folds != inner))
    held = lines.subset(inner_rows)
    fitted = fit(
        config,
        heads,
        lines.subset(train_rows),
        held,
        predict=lines.subset(rows).blank(),
        work=work,
        callbacks=callbacks,
    )
    shutil.rmtree(fitted.run.work, ignore_errors=True)
    trained_on = f"the {len(train_rows)} lines of {folds_named(k, inner, n_folds)}"
    on_inner = (
        f"the {len(inner_rows)} lines of inner fold {inner} ({len(held.spans.gold)} articles), predicted by the model "
        f"trained on {trained_on}"
    )
    history = fitted.run.trainer.state.log_history
    stopping = early_stopping(config, history, "micro_f1")
    thresholds = _line_thresholds(config, fitted.dev_probs, held.data.targets)
    span_threshold, span_choice = _span_choice(heads, held, fitted.dev_tokens, on_inner)
    choices = {
        "trained_on": trained_on,
        "epochs": {
            "value": fitted.run.best_epoch,
            "made_on": f"line micro-F1 at 0.5 on {on_inner}" + early_stopping_note(stopping),
            "micro_f1_by_epoch": [
                {"epoch": e["epoch"], "micro_f1": e["eval_micro_f1"]} for e in history if "eval_micro_f1" in e
            ],
            "span_f1_by_epoch": [
                {"epoch": e["epoch"], "span_f1": e["eval_span_f1"]} for e in history if "eval_span_f1" in e
            ],
            "early_stopping": stopping,
        },
        "thresholds": {
            "value": dict(zip(names, thresholds)),
            "made_on": f"the {t.threshold_rule} rule (min support {t.threshold_min_support}, grid step "
            f"{t.threshold_step:g}) on {on_inner}",
        },
        "tag threshold": span_choice,
    }
    return MultiFold(
        rows,
        fitted.predicted_probs,
        fitted.predicted_tokens,
        inner_rows,
        fitted.dev_probs,
        fitted.dev_tokens,
        fitted.run.best_epoch,
        thresholds,
        span_threshold,
        choices,
        time.perf_counter() - started,
    )


def _pack_fold(o: MultiFold) -> tuple[dict[str, np.ndarray], dict]:
    arrays = {name: getattr(o, name) for name in ("rows", "probabilities", "inner_rows", "inner_probabilities")}
    arrays |= _pack(o.tokens, "tokens") | _pack(o.inner_tokens, "inner_tokens")
    record = {name: getattr(o, name) for name in ("epochs", "thresholds", "span_threshold", "choices", "seconds")}
    return arrays, record


def _unpack_fold(arrays: dict[str, np.ndarray], record: dict) -> MultiFold:
    return MultiFold(
        arrays["rows"],
        arrays["probabilities"],
        _unpack(arrays, "tokens"),
        arrays["inner_rows"],
        arrays["inner_probabilities"],
        _unpack(arrays, "inner_tokens"),
        **record,
    )


def _meta(config: Config, heads: Heads, inventory: dict, thresholds: list[float], span_threshold: float, lines: Lines):
    names = heads.setup.names
    return model_meta(
        config,
        task=heads.setup.task.name,
        unit=inventory["unit"],
        labels=names,
        thresholds=thresholds,
        pooling=heads.setup.task.pooling,
        extra={
            "train_label_counts": dict(zip(names, map(int, lines.data.targets.sum(axis=0)))),
            "span_labels": heads.span_names,
            "span_threshold": span_threshold,
            "train_span_counts": {n: heads.span_counts[n] for n in heads.span_names},
            "loss_weights": LOSS_WEIGHTS,
        },
    )


def _span_metrics(heads: Heads, lines: Lines, tokens: list, threshold: float, tried: dict) -> dict:
    """The span head's figures on ``lines`` at 0.5 and at ``threshold``, and span F1 per threshold tried."""
    tc = technique_figures(lines.spans, tokens, heads.span_names)
    return {
        "at_0.5": dev_figures(lines.spans, tokens, heads.span_names, 0.5, tc),
        "at_tuned_threshold": dev_figures(lines.spans, tokens, heads.span_names, threshold, tc),
        "span_f1_per_threshold": tried,
    }


def train_multihead(
    config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None
) -> TrainResult:
    """Fine-tune one encoder with a line head and a span head and save its folder (k-fold and refit with
    ``train.folds``)."""
    if config.train.folds:
        return train_multihead_folds(config, resume=resume, callbacks=callbacks)
    heads, inventory, train, dev = _setup_heads(config)
    fitted = fit(config, heads, train, dev, resume=resume, callbacks=callbacks)
    thresholds = _line_thresholds(config, fitted.dev_probs, dev.data.targets)
    span_threshold, choice = _span_choice(heads, dev, fitted.dev_tokens, "the dev split")
    dev_metrics = _figures(heads.setup.task, fitted.dev_probs, dev.data, heads.setup.names, thresholds)
    dev_metrics["spans"] = _span_metrics(heads, dev, fitted.dev_tokens, span_threshold, choice["span_f1_per_threshold"])
    dev_metrics["loss_weights"] = LOSS_WEIGHTS
    dev_metrics["n_dev_examples"] = len(dev.data.texts)
    meta = _meta(config, heads, inventory, thresholds, span_threshold, train)
    return finish(fitted.run, heads.setup.tokenizer, config, meta, dev_metrics)


def train_multihead_folds(
    config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None
) -> TrainResult:
    """k-fold by article over the train and dev lines, choices on inner folds, then a refit on every article.

    The line figures are the lines model's (:func:`framelab.train.folds.cross_validated`, each fold at its own
    thresholds), the span figures the tagger's (each fold at its own tag threshold, and pooled).
    """
    t = config.train
    if t.folds < MIN_NESTED_FOLDS:
        raise ConfigError(
            f"train.folds {t.folds}: each fold's epoch count and thresholds are chosen on an inner fold held out of "
            f"its training folds, which needs at least {MIN_NESTED_FOLDS} folds; set train.folds to "
            f"{MIN_NESTED_FOLDS} or more"
        )
    heads, inventory, train, dev = _setup_heads(config)
    setup, names = heads.setup, heads.setup.names
    lines = Lines(concat(train.data, dev.data), concat_span_splits(train.spans, dev.spans))
    ids, n = lines.data.ids, len(lines.data.ids)
    folds = assign_folds(ids, t.folds, t.fold_assignment_seed)
    records = FoldRecords(fold_work_folder(config, resume), FoldRecords.key(config_to_dict(config), ids, folds))
    outcomes = resumable_folds(
        records,
        t.folds,
        resume=resume,
        run=lambda k, folder: run_multihead_fold(config, heads, lines, folds, k, work=folder, callbacks=callbacks),
        pack=_pack_fold,
        unpack=_unpack_fold,
    )
    probs, inner = np.zeros(lines.data.targets.shape), np.zeros(lines.data.targets.shape)
    tokens: list = [None] * n
    found: dict = {}
    span_f1s = []
    for o in outcomes:
        probs[o.rows], inner[o.inner_rows] = o.probabilities, o.inner_probabilities
        for i, unit in zip(o.rows, o.tokens):
            tokens[i] = unit
        judged = subset_span_split(lines.spans, o.rows)
        fold_found = article_spans(
            judged.article_ids,
            judged.unit_starts,
            judged.texts,
            o.tokens,
            heads.span_names,
            [o.span_threshold] * len(heads.span_names),
        )
        found.update(fold_found)
        span_f1s.append(si_scores(fold_found, judged.gold))
    per_fold, summary = cross_validated(
        probs,
        lines.data,
        folds,
        names,
        multi_label=True,
        rule=t.threshold_rule,
        min_support=t.threshold_min_support,
        step=t.threshold_step,
        thresholds=[o.thresholds for o in outcomes],
    )
    thresholds = _line_thresholds(config, probs, lines.data.targets)
    span_threshold, span_choice = _span_choice(heads, lines, tokens, f"the out-of-fold tokens of all {n} lines")
    pooled = span_identification(lines.spans, found, heads.span_names)
    epochs = float(np.median([o.epochs for o in outcomes])) or t.epochs
    log.info(
        "cross-validated over %d folds: line micro-F1 %.3f ± %.3f, macro-F1 %.3f ± %.3f; span F1 %.3f ± %.3f; "
        "refitting on all %d lines for %.1f epochs",
        t.folds,
        summary["micro_f1"]["mean"],
        summary["micro_f1"]["std"],
        summary["macro_f1"]["mean"],
        summary["macro_f1"]["std"],
        np.mean([f["f1"] for f in span_f1s]),
        np.std([f["f1"] for f in span_f1s]),
        n,
        epochs,
    )
    refit_config = dataclasses.replace(config, train=dataclasses.replace(t, epochs=epochs))
    refit = fit(refit_config, heads, lines, None, work=fold_work_folder(config, resume=True), callbacks=callbacks)
    dev_metrics = _figures(setup.task, probs, lines.data, names, thresholds)
    dev_metrics["cross_validated"] = {
        "folds": t.folds,
        "seed": t.fold_assignment_seed,
        "how": "each outer fold k predicted by a model trained on the folds other than k and its inner fold (k + 1 "
        "round), whose predictions chose its epoch count, the line thresholds and the tag threshold fold k is "
        "decided at; fold k's labels and spans are read only to score it",
        **summary,
        "span_f1": mean_std_pooled([f["f1"] for f in span_f1s], pooled),
        "pooled_span_identification": pooled,
        "per_fold": [
            {
                "fold": k,
                "examples": len(o.rows),
                "best_epoch": o.epochs,
                "train_runtime_seconds": round(o.seconds, 1),
                "choices": o.choices,
                "scores": f,
                "span_identification": si,
            }
            for k, (o, f, si) in enumerate(zip(outcomes, per_fold, span_f1s))
        ],
    }
    dev_metrics["spans"] = _span_metrics(heads, lines, tokens, span_threshold, span_choice["span_f1_per_threshold"])
    dev_metrics["loss_weights"] = LOSS_WEIGHTS
    dev_metrics["refit"] = {"epochs": epochs, "examples": n}
    dev_metrics["choices"] = _choices(config, setup, outcomes, epochs, thresholds, n) + [
        {"choice": "tag threshold", "shown": f"{span_threshold:g}", **span_choice}
    ]
    dev_metrics["n_dev_examples"] = n
    offsets = np.array([(start, end) for _, start, end in unit_offsets(config.dataset_dir, ids)], dtype=np.int64)
    oof = OutOfFold(ids, names, folds, lines.data.targets, probs, None, offsets, inner=inner)
    meta = _meta(refit_config, heads, inventory, thresholds, span_threshold, lines)
    return finish(
        refit.run, setup.tokenizer, refit_config, meta, dev_metrics, files={OUT_OF_FOLD_FILE: out_of_fold_bytes(oof)}
    )


def card_metrics(dev_metrics: dict, config: Config) -> str:
    """The dev-metrics section of the card: the line head's as a line model's, then the span head's figures."""
    spans = dev_metrics["spans"]["at_tuned_threshold"]["span_identification"]
    lines = [
        classifier_metrics(dev_metrics, config),
        "",
        f"Span head (framelab/spans/multihead.py; loss weights {dev_metrics['loss_weights']}): span identification "
        f"F1 {shown(spans, 'f1')} at the tag threshold {dev_metrics['spans']['at_tuned_threshold']['threshold']:g}, "
        "tuned on the tokens it scores (optimistic).",
    ]
    cv = dev_metrics.get("cross_validated", {})
    if "span_f1" in cv:
        f1 = cv["span_f1"]
        lines.append(
            f"Cross-validated, each fold at the tag threshold chosen on its inner fold: **F1 {f1['mean']:.3f} ± "
            f"{f1['std']:.3f}** (mean ± std over folds), every fold's spans pooled {shown(f1, 'pooled')}."
        )
    return "\n".join(lines)
