"""Training the ``spans`` task: per-token B/I tags for every technique (see :mod:`framelab.tagging`).

The Trainer set-up (epochs, checkpoints, best epoch restored, ``--resume``,
the model folder) is the shared one of :mod:`framelab.train.trainer`; what differs is the
token-classification head, the masked multi-label loss, the collator that pads
tag targets, and the dev measure: SemEval-2020 span-identification F1 over
article offsets, which also picks the best epoch and the tag threshold.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import AutoModelForTokenClassification, TrainerCallback

from framelab.config import Config
from framelab.errors import DataError, Problem
from framelab.spans import stock_pipeline
from framelab.spans.analysis import answer_gold_spans, article_spans, article_tokens, si_scores, tc_scores, tune_threshold
from framelab.spans.data import SpanSplit, label_counts, load_span_split
from framelab.tagging import IGNORE, Windows, merge_windows, tag_names, token_targets, tokenize_windows, window_starts
from framelab.train.frozen import cacheable, cached_datasets, collate_cached, top_layers_only
from framelab.train.losses import multilabel_loss, weights_from_counts
from framelab.train.trainer import FineTuning, TrainResult, fine_tune, finish, freeze, load_tokenizer, model_meta, prediction_logits, start


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


def tag_loss(kind: str, *, pos_weight: torch.Tensor | None, gamma: float):
    """A Trainer ``compute_loss_func``: the multi-label loss on text tokens only."""
    inner = multilabel_loss(kind, pos_weight=pos_weight, gamma=gamma)

    def loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        keep = labels[..., 0] != IGNORE
        logits, labels = logits[keep], labels[keep].to(logits.dtype)
        if inner is None:
            return F.binary_cross_entropy_with_logits(logits, labels)
        return inner({"logits": logits}, labels)

    return loss


def _tag_dataset(windows: Windows, split: SpanSplit, labels: list[str]) -> tuple[Dataset, np.ndarray]:
    starts = window_starts(windows)
    targets = [token_targets(o, split.unit_spans[windows.example[w]], labels, window_start=starts[w]) for w, o in enumerate(windows.offsets)]
    features = dict(windows.features)
    features["labels"] = [t.tolist() for t in targets]
    counts = np.zeros((2, 2 * len(labels)))
    for t in targets:
        text = t[t[:, 0] != IGNORE]
        counts[0] += text.sum(axis=0)
        counts[1] += len(text)
    return Dataset.from_dict(features), counts


def window_probabilities(logits: np.ndarray, windows: Windows) -> list[np.ndarray]:
    """Sigmoid tag probabilities of each window's own tokens (padding cut off)."""
    return [1.0 / (1.0 + np.exp(-logits[w, : len(o)].astype(np.float64))) for w, o in enumerate(windows.offsets)]


def dev_figures(split: SpanSplit, tokens: list, labels: list[str], threshold: float, tc: dict) -> dict:
    """Span identification of ``split`` at one threshold, beside the (threshold-free) technique classification ``tc``."""
    found = article_spans(split.article_ids, split.unit_starts, split.texts, tokens, labels, [threshold] * len(labels))
    return {"threshold": threshold, "span_identification": si_scores(found, split.gold), "technique_classification": tc}


def train_spans(config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """Fine-tune a token tagger for technique spans and save its model folder."""
    t = config.train
    base, _ = start(config)
    dataset_dir = config.dataset_dir
    train_split, inventory = load_span_split(dataset_dir, "train")
    counts = label_counts(train_split)
    names = [n for n in inventory if counts[n] >= max(1, t.min_label_count)]
    if not names:
        raise DataError(Problem(str(dataset_dir), None, "no technique spans in the train split", "the spans task needs a corpus with character spans (PTC, SemEval-2023, JSONL spans)"))
    if names != inventory:
        train_split, _ = load_span_split(dataset_dir, "train", names)
    dev_split, _ = load_span_split(dataset_dir, "dev", names)
    tokenizer = load_tokenizer(config, base)
    window = dict(max_length=config.model.max_length, stride=config.model.stride)
    train_windows = tokenize_windows(tokenizer, train_split.texts, **window)
    dev_windows = tokenize_windows(tokenizer, dev_split.texts, **window)
    train_ds, tag_counts = _tag_dataset(train_windows, train_split, names)
    dev_ds, _ = _tag_dataset(dev_windows, dev_split, names)

    tags = tag_names(names)
    model = AutoModelForTokenClassification.from_pretrained(
        base,
        num_labels=len(tags),
        id2label=dict(enumerate(tags)),
        label2id={n: i for i, n in enumerate(tags)},
        dtype=torch.float32,
        use_safetensors=True,
        trust_remote_code=False,
    )
    stock_pipeline.declare(model)

    def unit_tokens(logits: np.ndarray) -> list:
        return merge_windows(dev_windows, window_probabilities(logits, dev_windows), len(dev_split.texts))

    def compute_metrics(prediction) -> dict:
        tokens = unit_tokens(prediction_logits(prediction.predictions))
        found = article_spans(dev_split.article_ids, dev_split.unit_starts, dev_split.texts, tokens, names, [0.5] * len(names))
        scores = si_scores(found, dev_split.gold)
        return {"span_f1": scores["f1"], "span_precision": scores["precision"], "span_recall": scores["recall"]}

    freeze(model, config)
    collator = TagCollator(tokenizer, len(tags), config.model.max_length if t.pad_to_max_length else None)
    cached = cacheable(model, t.freeze_layers)
    if cached:
        # As for the classifier: the frozen layers' outputs are computed once, not at every step.
        train_ds, dev_ds = cached_datasets(model, config, [(train_windows.features, train_ds["labels"]), (dev_windows.features, dev_ds["labels"])])
        collator = partial(collate_cached, pad_label=float(IGNORE))
    job = FineTuning(
        model=model,
        train_dataset=train_ds,
        dev_dataset=dev_ds,
        collator=collator,
        loss=tag_loss(t.rare_labels, pos_weight=weights_from_counts(*tag_counts, t.max_pos_weight), gamma=t.focal_gamma),
        compute_metrics=compute_metrics,
        metric="span_f1",
    )
    with top_layers_only(model, t.freeze_layers) if cached else nullcontext():
        run = fine_tune(config, tokenizer, job, resume=resume, callbacks=callbacks)

    tokens = unit_tokens(run.dev_logits)
    # Naming the technique of a gold span uses no tag threshold.
    tc = tc_scores(answer_gold_spans(article_tokens(dev_split.article_ids, dev_split.unit_starts, tokens), dev_split.gold, names), dev_split.gold)
    threshold, tried = tune_threshold(dev_split.article_ids, dev_split.unit_starts, dev_split.texts, tokens, names, dev_split.gold)
    dev_metrics = {
        "at_0.5": dev_figures(dev_split, tokens, names, 0.5, tc),
        "at_tuned_threshold": dev_figures(dev_split, tokens, names, threshold, tc),
        "span_f1_per_threshold": {str(k): v for k, v in tried.items()},
        "n_dev_articles": len(dev_split.gold),
        "n_dev_units": len(dev_split.texts),
    }
    meta = model_meta(
        config,
        task="spans",
        unit=config.data.unit,
        labels=names,
        thresholds=[threshold] * len(names),
        pooling="none",
        extra={"tags": "B-/I- per technique, sigmoid", "train_span_counts": {n: counts[n] for n in names}},
    )
    return finish(run, tokenizer, config, meta, dev_metrics, files=stock_pipeline.module_file())
