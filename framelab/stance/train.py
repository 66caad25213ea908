"""Training the two-stage FNC-1 model into one model folder.

1. Every body of the dataset is embedded sentence by sentence once with the
   base encoder; the TF-IDF vocabulary is fitted on the training headlines and
   bodies; a logistic regression on the similarity features of
   :mod:`framelab.stance.features` learns related vs unrelated.
2. A cross-encoder (the base encoder with a 3-way head) is fine-tuned on the
   *related* training pairs only: the headline as first segment, the
   ``STAGE_TWO_TOP_K`` body sentences most similar to it (in body order) as
   second, cut to ``model.max_length`` tokens. The loss weighs each class by
   the square root of its inverse frequency (disagree is 1.7% of FNC-1); the
   best epoch is the one with the best dev macro-F1 over the three classes.

The folder holds the cross-encoder (the shared trainer writes it), the
relatedness stage and a copy of the sentence encoder (:class:`StageOne`), so
``framelab score`` needs nothing else. Dev figures are of the whole pipeline:
stage 2 decides the pairs stage 1 calls related.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, TrainerCallback

from framelab.config import Config
from framelab.encoding import encode
from framelab.eval.scores import single_label_scores, stance_scores
from framelab.stance.data import FNC1_LABELS, RELATED, load_pairs
from framelab.stance.features import Bodies, SentenceEncoder, StageOne, Tfidf, pair_features
from framelab.train.trainer import (
    FineTuning,
    TrainResult,
    fine_tune,
    finish,
    load_tokenizer,
    model_meta,
    prediction_logits,
    start,
)

#: Body sentences closest to the headline given to the cross-encoder.
STAGE_TWO_TOP_K = 5
#: Exponent of the inverse class frequency in stage 2's loss weights (0: plain cross-entropy).
CLASS_WEIGHT_POWER = 0.5


def class_weights(labels: np.ndarray, n_classes: int, power: float) -> torch.Tensor:
    """``(n / (k · count)) ** power`` per class."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = (len(labels) / (n_classes * np.maximum(counts, 1))) ** power
    return torch.tensor(weights, dtype=torch.float32)


def weighted_loss(weights: torch.Tensor):
    """A Trainer ``compute_loss_func``: class-weighted cross-entropy."""

    def loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        return F.cross_entropy(logits, labels, weight=weights.to(logits.device))

    return loss


def confusion(pred: list[str], gold: list[str], names: list[str]) -> list[list[int]]:
    """Counts of gold label (row) × predicted label (column), in ``names`` order."""
    index = {n: i for i, n in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    for g, p in zip(gold, pred):
        matrix[index[g], index[p]] += 1
    return matrix.tolist()


def pipeline_labels(related_prob: np.ndarray, threshold: float, stage_two_logits: np.ndarray) -> list[str]:
    """Unrelated below ``threshold``, else the arg-max of stage 2 (rows of ``stage_two_logits`` for every pair)."""
    return [
        "unrelated" if p < threshold else RELATED[int(row.argmax())] for p, row in zip(related_prob, stage_two_logits)
    ]


def _stage_two_dataset(
    tokenizer, headlines: list[str], segments: list[str], labels: list[int], max_length: int
) -> Dataset:
    encoded = encode(tokenizer, segments, pairs=headlines, max_length=max_length, stride=0, windowed=False)
    return Dataset.from_dict({**encoded.features, "labels": labels})


def train_fnc1(config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """Train both stages on the dataset of ``config`` and write the model folder."""
    t = config.train
    base, _ = start(config)
    started = time.perf_counter()
    train, dev = load_pairs(config.dataset_dir, "train"), load_pairs(config.dataset_dir, "dev")
    encoder = SentenceEncoder(base, batch_size=t.eval_batch_size)
    tfidf = Tfidf.fit(train.body_texts + list(dict.fromkeys(train.headlines)))
    train_bodies = Bodies.build(train.body_texts, train.body_sentences, tfidf, encoder)
    dev_bodies = Bodies.build(dev.body_texts, dev.body_sentences, tfidf, encoder)
    x_train, seg_train = pair_features(
        train.headlines, train.body_of, train_bodies, tfidf, encoder, top_k=STAGE_TWO_TOP_K
    )
    x_dev, seg_dev = pair_features(dev.headlines, dev.body_of, dev_bodies, tfidf, encoder, top_k=STAGE_TWO_TOP_K)
    related_train = np.array([s != "unrelated" for s in train.stances])
    related_dev = np.array([s != "unrelated" for s in dev.stances])
    stage_one = StageOne.fit(tfidf, x_train, related_train, encoder_dir=base, top_k=STAGE_TWO_TOP_K, seed=t.seed)
    p_dev = stage_one.related_probability(x_dev)
    stage_one_seconds = time.perf_counter() - started
    del encoder, train_bodies, dev_bodies

    tokenizer = load_tokenizer(config, base)
    tr = np.flatnonzero(related_train)
    # Stage 2's own dev set: the gold-related dev pairs (its selection measure), then the pairs stage 1 wrongly calls related.
    dv = np.flatnonzero(related_dev)
    extra = np.flatnonzero(~related_dev & (p_dev >= stage_one.threshold))
    y_train = np.array([RELATED.index(train.stances[i]) for i in tr])
    y_dev = [RELATED.index(dev.stances[i]) for i in dv]
    ml = config.model.max_length
    train_ds = _stage_two_dataset(
        tokenizer, [train.headlines[i] for i in tr], [seg_train[i] for i in tr], y_train.tolist(), ml
    )
    dev_ds = _stage_two_dataset(tokenizer, [dev.headlines[i] for i in dv], [seg_dev[i] for i in dv], y_dev, ml)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(RELATED),
        id2label=dict(enumerate(RELATED)),
        label2id={n: i for i, n in enumerate(RELATED)},
        problem_type="single_label_classification",
        dtype=torch.float32,
        use_safetensors=True,
        trust_remote_code=False,
    )

    def compute_metrics(prediction) -> dict:
        scores = single_label_scores(
            prediction_logits(prediction.predictions).argmax(axis=1), np.asarray(y_dev), RELATED
        )
        return {"micro_f1": scores["micro"]["f1"], "macro_f1": scores["macro"]["f1"]}

    job = FineTuning(
        model=model,
        train_dataset=train_ds,
        dev_dataset=dev_ds,
        collator=DataCollatorWithPadding(
            tokenizer, padding="max_length" if t.pad_to_max_length else "longest", max_length=ml
        ),
        loss=weighted_loss(class_weights(y_train, len(RELATED), CLASS_WEIGHT_POWER)) if CLASS_WEIGHT_POWER else None,
        compute_metrics=compute_metrics,
        metric="macro_f1",
    )
    run = fine_tune(config, tokenizer, job, resume=resume, callbacks=callbacks)

    logits = np.zeros((len(dev.headlines), len(RELATED)))
    logits[dv] = run.dev_logits
    if len(extra):
        extra_ds = _stage_two_dataset(
            tokenizer, [dev.headlines[i] for i in extra], [seg_dev[i] for i in extra], [0] * len(extra), ml
        )
        run.trainer.compute_metrics = None  # its measure is for the gold-related dev pairs only
        logits[extra] = prediction_logits(run.trainer.predict(extra_ds).predictions)
    predicted = pipeline_labels(p_dev, stage_one.threshold, logits)
    gold = list(dev.stances)
    dev_metrics = {
        "stance": stance_scores(predicted, gold, FNC1_LABELS),
        "confusion_matrix": {
            "labels": FNC1_LABELS,
            "rows_gold_columns_predicted": confusion(predicted, gold, FNC1_LABELS),
        },
        "relatedness_accuracy": float(np.mean((p_dev >= stage_one.threshold) == related_dev)),
        "stage_two_on_gold_related": single_label_scores(run.dev_logits.argmax(axis=1), np.asarray(y_dev), RELATED),
        "n_dev_pairs": len(gold),
        "n_train_pairs": len(train.headlines),
        "stage_one_seconds": round(stage_one_seconds, 1),
    }
    meta = model_meta(
        config,
        task="fnc1",
        unit="article",
        labels=FNC1_LABELS,
        thresholds=None,
        pooling="none",
        extra={
            "stage_two_labels": RELATED,
            "stage_two_top_k": STAGE_TWO_TOP_K,
            "class_weight_power": CLASS_WEIGHT_POWER,
            "train_label_counts": {n: int(sum(s == n for s in train.stances)) for n in FNC1_LABELS},
        },
    )
    # The relatedness stage rides along as the folder's extra part (written inside the same atomic folder).
    return finish(run, tokenizer, config, meta, dev_metrics, stage_one)
