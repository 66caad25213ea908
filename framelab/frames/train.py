"""Training ``frames_attention``: encode every sentence once, then train the attention heads on the cached vectors.

The encoder is frozen, so each sentence of the train and dev articles is
encoded once (:mod:`framelab.frames.sentences`) and every epoch of the heads
(:mod:`framelab.frames.head`) runs on those vectors: the run costs one
forward pass over the corpus plus seconds per epoch. ``train.epochs``,
``train.learning_rate``, ``train.batch_size`` (articles), ``train.weight_decay``
and ``train.seed`` are the heads'; ``model.max_length`` caps a sentence's
tokens. With ``train.lexical_weight`` the TF-IDF model is averaged in, and the
thresholds (``train.threshold_rule``) are tuned on the dev blend. The dev
figures include the cross-fitted one: each half of the dev articles decided at
the threshold tuned on the other half, mean over three cuts.

The model folder holds the encoder and tokenizer as transformers saves them,
the heads in safetensors, ``framelab.json`` and the TF-IDF model if any: all
that :class:`framelab.frames.predictor.AttentionPredictor` needs, and no pickle.
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch
import yaml
from transformers import AutoModel

import framelab
from framelab.config import Config, config_to_dict
from framelab.errors import ConfigError, DataError, Problem
from framelab.eval.scores import multilabel_scores
from framelab.frames.head import HeadSpec, apply_heads, save_heads, train_heads
from framelab.frames.sentences import article_sentences
from framelab.lexical import LexicalModel, blend
from framelab.models.card import classifier_metrics, write_model_card
from framelab.models.folder import ModelMeta, atomic_folder, write_meta
from framelab.splits import TaskData
from framelab.tasks import get_task
from framelab.thresholds import decisions_at, tuned_thresholds
from framelab.train.folds import cross_fitted_figures
from framelab.train.trainer import TrainResult, load_tokenizer, start


def card_metrics(dev_metrics: dict, config: Config) -> str:
    """The dev-metrics section of the card: the classifier's tables and the cross-fitted figure."""
    crossed = dev_metrics["cross_fitted"]
    return (
        "The frozen encoder's sentence vectors feed label-wise attention heads (framelab/frames/head.py).\n\n"
        + classifier_metrics(dev_metrics, config)
        + f"\n\nCross-fitted (each half of the dev articles decided at the threshold tuned on the other half; mean over cuts {crossed['seeds']}): "
        + f"micro-F1 {crossed['micro_f1']:.3f}, macro-F1 {crossed['macro_f1']:.3f}."
    )


def _kept(config: Config, targets: np.ndarray) -> list[int]:
    counts = targets.sum(axis=0)
    keep = [j for j, c in enumerate(counts) if c >= max(1, config.train.min_label_count)]
    if not keep:
        raise DataError(
            Problem(
                str(config.dataset_dir),
                None,
                "no frame has enough training articles",
                "check the corpus annotations or lower train.min_label_count",
            )
        )
    return keep


def frame_splits(config: Config) -> tuple[TaskData, TaskData, list[str]]:
    """The train and dev articles of ``config``'s dataset and the frames kept (seen in at least ``train.min_label_count`` train articles)."""
    task = get_task(config.train.task)
    train_data, names = task.load_split(config.dataset_dir, "train", None)
    keep = _kept(config, train_data.targets)
    names = [names[j] for j in keep]
    train_data.targets = train_data.targets[:, keep]
    dev_data, _ = task.load_split(config.dataset_dir, "dev", names)
    return train_data, dev_data, names


def train_frames_attention(config: Config, *, resume: bool = False, callbacks=None) -> TrainResult:
    """Encode the sentences of the train and dev articles, train the heads, tune thresholds on dev and save the folder."""
    if resume:
        raise ConfigError("frames_attention keeps no checkpoints (it trains in minutes): run without --resume")
    if config.train.folds:
        raise ConfigError(
            "train.folds: frames_attention has no k-fold run; set train.folds to 0 (its figures are cross-fitted over halves of the dev articles)"
        )
    t = config.train
    task = get_task(t.task)
    base, _ = start(config)
    train_data, dev_data, names = frame_splits(config)
    tokenizer = load_tokenizer(config, base)
    encoder = AutoModel.from_pretrained(base, dtype=torch.float32, use_safetensors=True, trust_remote_code=False).eval()

    started = time.perf_counter()
    encode = dict(max_length=config.model.max_length, batch_size=t.eval_batch_size)
    train_sentences = article_sentences(tokenizer, encoder, train_data.texts, **encode)
    dev_sentences = article_sentences(tokenizer, encoder, dev_data.texts, **encode)
    encoded = time.perf_counter()
    spec = HeadSpec(input_size=encoder.config.hidden_size, labels=len(names))
    heads = train_heads(
        spec,
        [s.vectors for s in train_sentences],
        train_data.targets,
        epochs=max(1, round(t.epochs)),
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        batch_size=t.batch_size,
        seed=t.seed,
    )
    seconds = time.perf_counter() - started
    dev_probs, _ = apply_heads(heads, spec, [s.vectors for s in dev_sentences])

    dev_metrics: dict = {"heads_alone_at_0.5": multilabel_scores(decisions_at(dev_probs, 0.5), dev_data.targets, names)}
    lexical = None
    if t.lexical_weight:
        lexical = LexicalModel.fit(train_data.texts, train_data.targets, seed=t.seed)
        dev_probs = blend(dev_probs, lexical.probabilities(dev_data.texts), t.lexical_weight)
    thresholds = tuned_thresholds(
        t.threshold_rule, dev_probs, dev_data.targets, t.threshold_min_support, t.threshold_step
    )
    dev_metrics["at_0.5"] = multilabel_scores(decisions_at(dev_probs, 0.5), dev_data.targets, names)
    dev_metrics["at_tuned_thresholds"] = multilabel_scores(decisions_at(dev_probs, thresholds), dev_data.targets, names)
    dev_metrics["cross_fitted"] = cross_fitted_figures(
        dev_probs,
        dev_data.targets,
        dev_data.ids,
        names,
        rule=t.threshold_rule,
        min_support=t.threshold_min_support,
        step=t.threshold_step,
    )
    dev_metrics["n_dev_examples"] = len(dev_data.texts)
    dev_metrics["encode_seconds"] = round(encoded - started, 1)
    dev_metrics["train_runtime_seconds"] = round(seconds, 1)
    dev_metrics["train_samples_per_second"] = round(
        len(train_data.texts) * max(1, round(t.epochs)) * spec.heads / max(seconds - (encoded - started), 1e-9), 1
    )

    meta = ModelMeta(
        task=task.name,
        unit="article",
        labels=names,
        thresholds=thresholds,
        max_length=config.model.max_length,
        stride=config.model.stride,
        pooling="attention",
        base_model=config.model.base,
        framelab_version=framelab.__version__,
        extra={
            "dataset": str(config.dataset_dir),
            "train_label_counts": dict(zip(names, map(int, train_data.targets.sum(axis=0)))),
        },
        lexical_weight=t.lexical_weight,
    )
    with atomic_folder(config.model_dir) as tmp:
        encoder.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        save_heads(tmp, heads, spec)
        write_meta(tmp, meta)
        if lexical is not None:
            lexical.save(tmp)
        (tmp / "training_config.yaml").write_text(
            yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8"
        )
        (tmp / "dev_metrics.json").write_text(json.dumps(dev_metrics, indent=2), encoding="utf-8")
        write_model_card(tmp, meta, config, dev_metrics)
    return TrainResult(config.model_dir, dev_metrics, seconds, dev_metrics["train_samples_per_second"])
