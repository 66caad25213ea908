"""Training the ``spans`` task: per-token B/I tags for every technique (see :mod:`framelab.tagging`).

The Trainer set-up (epochs, checkpoints, best epoch restored, ``--resume``,
the model folder) is the shared one of :mod:`framelab.train.trainer`; what differs is the
token-classification head, the masked multi-label loss, the collator that pads
tag targets, and the dev measure: SemEval-2020 span-identification F1 over
article offsets, which also picks the best epoch and the tag threshold. With
``train.folds`` k, k taggers are trained on k-fold splits of the train and dev
articles, each choosing its epoch count and tag threshold on an inner fold
held out of its training folds, as for the classifier
(:func:`train_spans_folds`); the saved tagger is refit on every article. Every
dev (or out-of-fold) figure carries its 95% interval over resampled articles
(:mod:`framelab.spans.report`); a k-fold run also pools every fold's spans, each
fold at its own threshold, into one figure with its interval.
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

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import AutoModelForTokenClassification, TrainerCallback, set_seed

from framelab.config import Config, config_to_dict
from framelab.errors import ConfigError, DataError, Problem
from framelab.eval.bootstrap import Resamples
from framelab.models.out_of_fold import OUT_OF_FOLD_FILE, OutOfFold, out_of_fold_bytes
from framelab.spans.analysis import (
    answer_gold_spans,
    article_spans,
    article_tokens,
    si_scores,
    tc_scores,
    tune_threshold,
)
from framelab.spans.data import SpanSplit, concat_span_splits, label_counts, load_span_split, subset_span_split
from framelab.spans.report import (
    si_credits,
    si_with_intervals,
    tc_credits,
    tc_with_intervals,
)
from framelab.tagging import (
    IGNORE,
    Windows,
    merge_windows,
    tag_names,
    text_label_scores,
    token_targets,
    tokenize_windows,
    window_starts,
)
from framelab.train.folds import (
    MIN_NESTED_FOLDS,
    FoldRecords,
    assign_folds,
    folds_named,
    inner_fold,
    mean_std_pooled,
    resumable_folds,
)
from framelab.train.frozen import StateStore, cacheable, cached_datasets, collate_cached, top_layers_only
from framelab.train.losses import multilabel_loss, weights_from_counts
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


class TagCollator:
    """Pads model inputs with the tokenizer and tag targets ``(tokens, tags)`` with ``IGNORE``."""

    def __init__(self, tokenizer, n_tags: int, pad_to: int | None = None):
        self.tokenizer = tokenizer
        self.n_tags = n_tags
        self.pad_to = pad_to

    def __call__(self, features: list[dict]) -> dict:
        targets = [f["labels"] for f in features]
        inputs = [{k: v for k, v in f.items() if k != "labels"} for f in features]
        padding = "max_length" if self.pad_to else "longest"
        batch = self.tokenizer.pad(inputs, padding=padding, max_length=self.pad_to, return_tensors="pt")
        labels = torch.full((len(features), batch["input_ids"].shape[1], self.n_tags), float(IGNORE))
        for i, rows in enumerate(targets):
            labels[i, : len(rows)] = torch.as_tensor(rows, dtype=torch.float32)
        batch["labels"] = labels
        return batch


def tag_loss(
    kind: str,
    *,
    pos_weight: torch.Tensor | None,
    gamma: float,
    unit_weight: float = 0.0,
    unit_pos_weight: torch.Tensor | None = None,
):
    """A Trainer ``compute_loss_func``: the multi-label loss on text tokens only, plus ``unit_weight`` times the
    unit-level term.

    The unit term scores each technique's highest inside-logit ``max(B, I)``
    over a window's text tokens (the logit of :func:`framelab.tagging.text_label_scores`)
    against whether any of those tokens is tagged with it, with the same loss
    ``kind`` as the tags (``unit_pos_weight``: its per-technique positive
    weights, counted over windows), so the two terms agree on calibration.
    """
    inner = multilabel_loss(kind, pos_weight=pos_weight, gamma=gamma)
    unit_inner = multilabel_loss(kind, pos_weight=unit_pos_weight, gamma=gamma)

    def binary(inner_loss, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if inner_loss is None:
            return F.binary_cross_entropy_with_logits(logits, targets)
        return inner_loss({"logits": logits}, targets)

    def loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        keep = labels[..., 0] != IGNORE
        tags = binary(inner, logits[keep], labels[keep].to(logits.dtype))
        if not unit_weight:
            return tags
        n = logits.shape[-1] // 2
        inside = torch.maximum(logits[..., :n], logits[..., n:]).masked_fill(
            ~keep.unsqueeze(-1), torch.finfo(logits.dtype).min
        )
        tagged = labels.clamp(min=0)
        present = torch.maximum(tagged[..., :n], tagged[..., n:]).amax(dim=1).to(logits.dtype)
        return tags + unit_weight * binary(unit_inner, inside.amax(dim=1), present)

    return loss


def _tag_dataset(
    windows: Windows, split: SpanSplit, labels: list[str], unit_targets: np.ndarray | None = None
) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The windows with their tag targets; per tag, its positive and all text tokens; per technique, windows holding it
    and all windows.

    ``unit_targets`` (units × columns), when given, are appended to every token row of each window of their unit
    (the line labels of :mod:`framelab.spans.multihead`; the first row, a special token, is never padding).
    """
    starts = window_starts(windows)
    targets = [
        token_targets(o, split.unit_spans[windows.example[w]], labels, window_start=starts[w])
        for w, o in enumerate(windows.offsets)
    ]
    features = dict(windows.features)
    rows = targets
    if unit_targets is not None:
        rows = [
            np.hstack([t, np.broadcast_to(unit_targets[windows.example[w]], (len(t), unit_targets.shape[1]))])
            for w, t in enumerate(targets)
        ]
    features["labels"] = [t.tolist() for t in rows]
    n = len(labels)
    counts, unit_counts = np.zeros((2, 2 * n)), np.zeros((2, n))
    for t in targets:
        text = t[t[:, 0] != IGNORE]
        counts[0] += text.sum(axis=0)
        counts[1] += len(text)
        unit_counts[0] += np.maximum(text[:, :n], text[:, n:]).max(axis=0, initial=0)
        unit_counts[1] += 1
    return Dataset.from_dict(features), counts, unit_counts


def window_probabilities(logits: np.ndarray, windows: Windows) -> list[np.ndarray]:
    """Sigmoid tag probabilities of each window's own tokens (padding cut off)."""
    return [1.0 / (1.0 + np.exp(-logits[w, : len(o)].astype(np.float64))) for w, o in enumerate(windows.offsets)]


def article_draws(split: SpanSplit) -> Resamples:
    """The resamples of the articles of ``split`` behind every dev figure's 95% interval."""
    return Resamples.draw(sorted(split.gold))


def span_identification(split: SpanSplit, found: dict, labels: list[str]) -> dict:
    """SemEval-2020 SI of the spans ``found`` in the articles of ``split``, with 95% intervals over its articles."""
    si = si_scores(found, split.gold)
    return si_with_intervals(si, si_credits(found, split.gold, labels), labels, article_draws(split))


def technique_figures(split: SpanSplit, tokens: list, labels: list[str]) -> dict:
    """Technique classification of the gold spans of ``split`` (no tag threshold), with its 95% interval."""
    answers = answer_gold_spans(article_tokens(split.article_ids, split.unit_starts, tokens), split.gold, labels)
    tc = tc_scores(answers, split.gold)
    return tc_with_intervals(tc, tc_credits(answers, split.gold, labels), labels, article_draws(split))


def dev_figures(split: SpanSplit, tokens: list, labels: list[str], threshold: float, tc: dict) -> dict:
    """Span identification of ``split`` at one threshold, beside the (threshold-free) technique classification
    ``tc``."""
    found = article_spans(split.article_ids, split.unit_starts, split.texts, tokens, labels, [threshold] * len(labels))
    return {
        "threshold": threshold,
        "span_identification": span_identification(split, found, labels),
        "technique_classification": tc,
    }


def _tagger_splits(config: Config) -> tuple[SpanSplit, SpanSplit, list[str], Counter]:
    """The train and dev splits with the techniques that have at least ``train.min_label_count`` training spans, and the
    span counts."""
    dataset_dir = config.dataset_dir
    train_split, inventory = load_span_split(dataset_dir, "train")
    counts = label_counts(train_split)
    names = [n for n in inventory if counts[n] >= max(1, config.train.min_label_count)]
    if not names:
        raise DataError(
            Problem(
                str(dataset_dir),
                None,
                "no technique spans in the train split",
                "the spans task needs a corpus with character spans (PTC, SemEval-2023, JSONL spans)",
            )
        )
    if names != inventory:
        train_split, _ = load_span_split(dataset_dir, "train", names)
    dev_split, _ = load_span_split(dataset_dir, "dev", names)
    return train_split, dev_split, names, counts


@dataclass
class Tagged:
    """A fine-tuned tagger and its token probabilities of the dev split and of the split it was asked to predict."""

    run: FineTuned
    dev_tokens: list | None
    predicted_tokens: list | None = None


def blank(split: SpanSplit) -> SpanSplit:
    """``split`` without its spans: what a k-fold tagger is given of the outer fold it predicts."""
    return dataclasses.replace(split, unit_spans=[[] for _ in split.texts], gold={a: [] for a in split.gold})


def fit_tagger(
    config: Config,
    base: str,
    tokenizer,
    names: list[str],
    train_split: SpanSplit,
    dev_split: SpanSplit | None,
    *,
    predict: SpanSplit | None = None,
    work=None,
    resume: bool = False,
    callbacks=None,
    states: StateStore | None = None,
) -> Tagged:
    """Fine-tune a tagger on ``train_split``, choosing the epoch by span F1 on ``dev_split`` (without it: the
    configured epochs); its tokens of ``dev_split`` and of ``predict`` (whose spans it never reads).

    ``states`` holds the frozen layers' states the runs of one training share (default: the config's store)."""
    t = config.train
    window = dict(max_length=config.model.max_length, stride=config.model.stride)
    train_windows = tokenize_windows(tokenizer, train_split.texts, **window)
    train_ds, tag_counts, unit_counts = _tag_dataset(train_windows, train_split, names)
    dev_windows = tokenize_windows(tokenizer, dev_split.texts, **window) if dev_split is not None else None
    dev_ds = _tag_dataset(dev_windows, dev_split, names)[0] if dev_split is not None else None
    predict_windows = tokenize_windows(tokenizer, predict.texts, **window) if predict is not None else None
    predict_ds = _tag_dataset(predict_windows, blank(predict), names)[0] if predict is not None else None

    tags = tag_names(names)
    # The head starts from the same draw whatever ran before: a fold's tagger depends only on its own data.
    set_seed(t.seed)
    model = AutoModelForTokenClassification.from_pretrained(
        base,
        num_labels=len(tags),
        id2label=dict(enumerate(tags)),
        label2id={n: i for i, n in enumerate(tags)},
        dtype=torch.float32,
        use_safetensors=True,
        trust_remote_code=False,
    )

    def unit_tokens(logits: np.ndarray, windows: Windows | None = None, n: int | None = None) -> list:
        windows = dev_windows if windows is None else windows
        return merge_windows(windows, window_probabilities(logits, windows), len(dev_split.texts) if n is None else n)

    def compute_metrics(prediction) -> dict:
        tokens = unit_tokens(prediction_logits(prediction.predictions))
        found = article_spans(
            dev_split.article_ids, dev_split.unit_starts, dev_split.texts, tokens, names, [0.5] * len(names)
        )
        scores = si_scores(found, dev_split.gold)
        return {"span_f1": scores["f1"], "span_precision": scores["precision"], "span_recall": scores["recall"]}

    freeze(model, config)
    collator = TagCollator(tokenizer, len(tags), config.model.max_length if t.pad_to_max_length else None)
    cached = cacheable(model, t.freeze_layers)
    if cached:
        # As for the classifier: the frozen layers' outputs are computed once, not at every step.
        given = ((train_windows, train_ds), (dev_windows, dev_ds), (predict_windows, predict_ds))
        splits = [(w.features, d["labels"]) for w, d in given if d is not None]
        made = iter(cached_datasets(model, config, splits, states))
        train_ds = next(made)
        dev_ds = next(made) if dev_ds is not None else None
        predict_ds = next(made) if predict_ds is not None else None
        collator = partial(collate_cached, pad_label=float(IGNORE))
    job = FineTuning(
        model=model,
        train_dataset=train_ds,
        dev_dataset=dev_ds,
        collator=collator,
        loss=tag_loss(
            t.rare_labels,
            pos_weight=weights_from_counts(*tag_counts, t.max_pos_weight),
            gamma=t.focal_gamma,
            unit_weight=t.unit_loss_weight,
            unit_pos_weight=weights_from_counts(*unit_counts, t.max_pos_weight),
        ),
        compute_metrics=compute_metrics if dev_split is not None else None,
        metric="span_f1",
    )
    predicted = None
    with top_layers_only(model, t.freeze_layers) if cached else nullcontext():
        run = fine_tune(config, tokenizer, job, work=work, resume=resume, callbacks=callbacks)
        if predict_ds is not None:
            run.trainer.compute_metrics = None  # its measure is for its own dev units only
            logits = prediction_logits(run.trainer.predict(predict_ds).predictions)
            predicted = unit_tokens(logits, predict_windows, len(predict.texts))
    return Tagged(run, unit_tokens(run.dev_logits) if dev_split is not None else None, predicted)


def _meta(config: Config, names: list[str], threshold: float, counts: Counter):
    return model_meta(
        config,
        task="spans",
        unit=config.data.unit,
        labels=names,
        thresholds=[threshold] * len(names),
        pooling="none",
        extra={"tags": "B-/I- per technique, sigmoid", "train_span_counts": {n: counts[n] for n in names}},
    )


def _files(oof: OutOfFold | None = None) -> dict[str, str | bytes]:
    return {OUT_OF_FOLD_FILE: out_of_fold_bytes(oof)} if oof is not None else {}


def train_spans(config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """Fine-tune a token tagger for technique spans and save its model folder (k-fold and refit with
    ``train.folds``)."""
    if config.train.folds:
        return train_spans_folds(config, resume=resume, callbacks=callbacks)
    base, _ = start(config)
    train_split, dev_split, names, counts = _tagger_splits(config)
    tokenizer = load_tokenizer(config, base)
    tagged = fit_tagger(config, base, tokenizer, names, train_split, dev_split, resume=resume, callbacks=callbacks)
    run, tokens = tagged.run, tagged.dev_tokens
    # Naming the technique of a gold span uses no tag threshold.
    tc = technique_figures(dev_split, tokens, names)
    threshold, tried = tune_threshold(
        dev_split.article_ids, dev_split.unit_starts, dev_split.texts, tokens, names, dev_split.gold
    )
    dev_metrics = {
        "at_0.5": dev_figures(dev_split, tokens, names, 0.5, tc),
        "at_tuned_threshold": dev_figures(dev_split, tokens, names, threshold, tc),
        "span_f1_per_threshold": {str(k): v for k, v in tried.items()},
        "bootstrap": article_draws(dev_split).describe(),
        "n_dev_articles": len(dev_split.gold),
        "n_dev_units": len(dev_split.texts),
    }
    return finish(run, tokenizer, config, _meta(config, names, threshold, counts), dev_metrics, files=_files())


@dataclass
class SpanFold:
    """One outer fold of a k-fold tagger: its out-of-fold tokens, its inner fold's, and the choices made there."""

    #: Rows (units of the pooled train and dev splits) of the outer fold and their token probabilities.
    rows: np.ndarray
    tokens: list
    #: Rows of the inner fold and the tagger's tokens there, which the choices were made on.
    inner_rows: np.ndarray
    inner_tokens: list
    epochs: float
    threshold: float
    #: Every choice made from data for this fold's tagger, with the data it was made on.
    choices: dict
    seconds: float


def run_span_fold(
    config: Config,
    base: str,
    tokenizer,
    names: list[str],
    data: SpanSplit,
    folds: np.ndarray,
    k: int,
    *,
    work,
    callbacks: list[TrainerCallback] | None = None,
    states: StateStore | None = None,
) -> SpanFold:
    """Train outer fold ``k``'s tagger without fold ``k`` and its inner fold, choose on the inner fold, predict ``k``.

    The epoch count is the inner fold's best span F1 at 0.5 (the Trainer restores it) and the tag threshold
    the one with the best span F1 on the inner fold's tokens. Fold ``k`` reaches the tagger without its spans.
    """
    started = time.perf_counter()
    n_folds = int(folds.max()) + 1
    inner = inner_fold(k, n_folds)
    rows, inner_rows = np.flatnonzero(folds == k), np.flatnonzero(folds == inner)
    train_rows = np.flatnonzero((folds != k) & (folds != inner))
    held = subset_span_split(data, inner_rows)
    tagged = fit_tagger(
        config,
        base,
        tokenizer,
        names,
        subset_span_split(data, train_rows),
        held,
        predict=blank(subset_span_split(data, rows)),
        work=work,
        callbacks=callbacks,
        states=states,
    )
    shutil.rmtree(tagged.run.work, ignore_errors=True)
    threshold, tried = tune_threshold(
        held.article_ids, held.unit_starts, held.texts, tagged.dev_tokens, names, held.gold
    )
    trained_on = f"the {len(train_rows)} units of {folds_named(k, inner, n_folds)}"
    on_inner = (
        f"the {len(inner_rows)} units of inner fold {inner} ({len(held.gold)} articles), tagged by the tagger trained "
        f"on {trained_on}"
    )
    history = tagged.run.trainer.state.log_history
    stopping = early_stopping(config, history, "span_f1")
    choices = {
        "trained_on": trained_on,
        "epochs": {
            "value": tagged.run.best_epoch,
            "made_on": f"span F1 at 0.5 on {on_inner}" + early_stopping_note(stopping),
            "span_f1_by_epoch": [
                {"epoch": e["epoch"], "span_f1": e["eval_span_f1"]} for e in history if "eval_span_f1" in e
            ],
            "early_stopping": stopping,
        },
        "threshold": {
            "value": threshold,
            "made_on": f"span-identification F1 over the threshold grid on {on_inner}",
            "span_f1_per_threshold": {str(t): f for t, f in tried.items()},
        },
    }
    return SpanFold(
        rows,
        tagged.predicted_tokens,
        inner_rows,
        tagged.dev_tokens,
        tagged.run.best_epoch,
        threshold,
        choices,
        time.perf_counter() - started,
    )


def _pack(tokens: list[tuple[np.ndarray, np.ndarray]], name: str) -> dict[str, np.ndarray]:
    """Units' token offsets and probabilities as three arrays (:class:`framelab.train.folds.FoldRecords` keeps them)."""
    width = max((p.shape[1] for _, p in tokens), default=0)
    return {
        f"{name}_lengths": np.array([len(o) for o, _ in tokens], dtype=np.int64),
        f"{name}_offsets": np.concatenate([o.reshape(-1, 2) for o, _ in tokens] or [np.zeros((0, 2), np.int64)]),
        f"{name}_probs": np.concatenate([p.reshape(-1, width) for _, p in tokens] or [np.zeros((0, width))]),
    }


def _unpack(arrays: dict[str, np.ndarray], name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    ends = np.cumsum(arrays[f"{name}_lengths"])
    offsets, probs = arrays[f"{name}_offsets"], arrays[f"{name}_probs"]
    return [(offsets[e - n : e], probs[e - n : e]) for n, e in zip(arrays[f"{name}_lengths"], ends)]


def _span_folds(
    config: Config,
    base: str,
    tokenizer,
    names: list[str],
    data: SpanSplit,
    folds: np.ndarray,
    *,
    resume: bool,
    callbacks: list[TrainerCallback] | None,
    states: StateStore,
) -> list[SpanFold]:
    """Every outer fold's tagging: trained, or with ``resume`` the ones an interrupted run finished, read back."""
    work = fold_work_folder(config, resume)
    records = FoldRecords(work, FoldRecords.key(config_to_dict(config), data.unit_ids, folds))

    def unpack(arrays: dict[str, np.ndarray], record: dict) -> SpanFold:
        tokens, inner = _unpack(arrays, "tokens"), _unpack(arrays, "inner_tokens")
        return SpanFold(arrays["rows"], tokens, arrays["inner_rows"], inner, **record)

    def pack(o: SpanFold) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {"rows": o.rows, "inner_rows": o.inner_rows, **_pack(o.tokens, "tokens")}
        arrays |= _pack(o.inner_tokens, "inner_tokens")
        return arrays, {"epochs": o.epochs, "threshold": o.threshold, "choices": o.choices, "seconds": o.seconds}

    return resumable_folds(
        records,
        config.train.folds,
        resume=resume,
        run=lambda k, folder: run_span_fold(
            config, base, tokenizer, names, data, folds, k, work=folder, callbacks=callbacks, states=states
        ),
        pack=pack,
        unpack=unpack,
    )


def train_spans_folds(
    config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None
) -> TrainResult:
    """k-fold by article over the train and dev articles, choices on inner folds, then a refit on every article.

    Each outer fold is judged (span identification F1) at the tag threshold chosen on its inner fold
    (:func:`run_span_fold`). The out-of-fold predictions kept in the folder are per unit: each
    technique's highest token probability there, as the tagger gives it to an ensemble, with the unit's
    article offsets, beside the same of the inner folds' tokens. Each finished fold is kept in the work
    folder; ``resume`` reads back those an interrupted run finished.
    """
    t = config.train
    if t.folds < MIN_NESTED_FOLDS:
        raise ConfigError(
            f"train.folds {t.folds}: each fold's epoch count and tag threshold are chosen on an inner fold held out "
            f"of its training folds, which needs at least {MIN_NESTED_FOLDS} folds; set train.folds to "
            f"{MIN_NESTED_FOLDS} or more"
        )
    base, _ = start(config)
    train_split, dev_split, names, counts = _tagger_splits(config)
    tokenizer = load_tokenizer(config, base)
    data = concat_span_splits(train_split, dev_split)
    folds = assign_folds(data.unit_ids, t.folds, t.fold_assignment_seed)
    # Every fold and the refit read each unit's frozen states from this one store.
    states = StateStore.of(config)
    outcomes = _span_folds(
        config, base, tokenizer, names, data, folds, resume=resume, callbacks=callbacks, states=states
    )
    work = fold_work_folder(config, resume=True)
    tokens: list = [None] * len(data.texts)
    inner_tokens: list = [None] * len(data.texts)
    found_everywhere: dict = {}
    per_fold = []
    for k, o in enumerate(outcomes):
        for i, unit in zip(o.rows, o.tokens):
            tokens[i] = unit
        for i, unit in zip(o.inner_rows, o.inner_tokens):
            inner_tokens[i] = unit
        judged = subset_span_split(data, o.rows)
        found = article_spans(
            judged.article_ids, judged.unit_starts, judged.texts, o.tokens, names, [o.threshold] * len(names)
        )
        found_everywhere.update(found)
        per_fold.append(
            {
                "fold": k,
                "units": len(o.rows),
                "best_epoch": o.epochs,
                "train_runtime_seconds": round(o.seconds, 1),
                "threshold": o.threshold,
                "choices": o.choices,
                "span_identification": si_scores(found, judged.gold),
            }
        )
    f1s = [f["span_identification"]["f1"] for f in per_fold]
    pooled = span_identification(data, found_everywhere, names)
    threshold, tried = tune_threshold(data.article_ids, data.unit_starts, data.texts, tokens, names, data.gold)
    chosen = [o.epochs for o in outcomes]
    epochs = float(np.median(chosen)) or t.epochs
    log.info(
        "cross-validated over %d folds: span F1 %.3f ± %.3f; refitting on all %d articles for %.1f epochs",
        t.folds,
        np.mean(f1s),
        np.std(f1s),
        len(data.gold),
        epochs,
    )
    refit_config = dataclasses.replace(config, train=dataclasses.replace(t, epochs=epochs))
    refit = fit_tagger(
        refit_config, base, tokenizer, names, data, None, work=work, callbacks=callbacks, states=states
    ).run
    tc = technique_figures(data, tokens, names)
    # At the saved threshold, tuned on the out-of-fold tokens it scores (optimistic); the cross-validated figure is not.
    dev_metrics = {
        "at_0.5": dev_figures(data, tokens, names, 0.5, tc),
        "at_tuned_threshold": dev_figures(data, tokens, names, threshold, tc),
        "span_f1_per_threshold": {str(k): v for k, v in tried.items()},
        "cross_validated": {
            "folds": t.folds,
            "seed": t.fold_assignment_seed,
            "how": "each outer fold k tagged by a tagger trained on the folds other than k and its inner fold (k + 1 "
            "round), whose tokens chose the tagger's epoch count and the tag threshold fold k is judged at; fold k's "
            "spans are read only to score it",
            "span_f1": mean_std_pooled(f1s, pooled),
            "pooled_span_identification": pooled,
            "per_fold": per_fold,
        },
        "bootstrap": article_draws(data).describe(),
        "refit": {"epochs": epochs, "articles": len(data.gold), "units": len(data.texts)},
        "choices": [
            {
                "choice": "epochs",
                "value": epochs,
                "shown": f"{epochs:g}",
                "made_on": f"median of the {t.folds} folds' choices {chosen}, each made on its inner fold",
            },
            {
                "choice": "tag threshold",
                "value": threshold,
                "shown": f"{threshold:g}",
                "made_on": f"span-identification F1 on the out-of-fold tokens of all {len(data.gold)} articles",
            },
        ],
        "n_dev_articles": len(data.gold),
        "n_dev_units": len(data.texts),
    }
    targets = np.array(
        [[int(any(s.label == n for s in spans)) for n in names] for spans in data.unit_spans], dtype=np.int64
    )
    offsets = np.array(
        [(start, start + len(text)) for start, text in zip(data.unit_starts, data.texts)], dtype=np.int64
    ).reshape(-1, 2)
    oof = OutOfFold(
        data.unit_ids,
        names,
        folds,
        targets,
        text_label_scores(tokens, len(names)),
        offsets=offsets,
        inner=text_label_scores(inner_tokens, len(names)),
    )
    return finish(
        refit, tokenizer, refit_config, _meta(refit_config, names, threshold, counts), dev_metrics, files=_files(oof)
    )
