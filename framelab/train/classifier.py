"""Fine-tuning a sequence classifier: one prediction per unit, article or (target, article) pair.

The task's record says what an example is (:attr:`framelab.tasks.Task.level`;
article and pair examples are cut into windows whose logits are pooled),
whether labels combine (multi-label: sigmoid, positive weights or focal loss,
thresholds tuned on dev; single-label: softmax and arg-max) and which dev
measure picks the best epoch. A multi-label task may average a TF-IDF model
into its probabilities (``train.lexical_weight``).
"""

from __future__ import annotations

import numpy as np
import torch
from datasets import Dataset
from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, TrainerCallback

from framelab.config import Config
from framelab.encoding import activate, encode, pool
from framelab.errors import DataError, Problem
from framelab.eval.scores import multilabel_scores, single_label_scores
from framelab.lexical import LexicalModel, blend
from framelab.splits import TaskData
from framelab.tasks import Task, get_task
from framelab.thresholds import decisions_at, tuned_thresholds
from framelab.train.losses import multilabel_loss, positive_weights
from framelab.train.trainer import FineTuning, TrainResult, fine_tune, finish, load_tokenizer, model_meta, prediction_logits, start


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
        raise DataError(Problem(str(config.dataset_dir), None, f"too few labels with training examples for task '{task.name}'", "check the corpus annotations or lower train.min_label_count"))
    return keep


def dev_probabilities(task: Task, logits: np.ndarray, encoded, n_examples: int) -> np.ndarray:
    """Probabilities per dev example from the Trainer's window logits (pooled the task's way)."""
    return activate(pool(np.asarray(logits, dtype=np.float64), encoded.example, n_examples, task.pooling), task.multi_label)


def dev_scores(task: Task, probs: np.ndarray, targets: np.ndarray, names: list[str]) -> dict:
    """Scores at 0.5 (multi-label) or arg-max (single-label)."""
    if task.multi_label:
        return multilabel_scores(decisions_at(probs, 0.5), targets, names)
    return single_label_scores(probs.argmax(axis=1), targets.argmax(axis=1), names)


def train_classifier(config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """Fine-tune the configured encoder as a sequence classifier for ``train.task`` and save its folder."""
    t = config.train
    task = get_task(t.task)
    base, inventory = start(config)
    train_data, names = task.load_split(config.dataset_dir, "train", None)
    keep = _kept_labels(task, config, train_data, names)
    names = [names[i] for i in keep]
    train_data.targets = train_data.targets[:, keep]
    dev_data, _ = task.load_split(config.dataset_dir, "dev", names)

    tokenizer = load_tokenizer(config, base)
    enc = dict(max_length=config.model.max_length, stride=config.model.stride, windowed=task.windowed)
    train_enc = encode(tokenizer, train_data.texts, pairs=train_data.pairs, **enc)
    dev_enc = encode(tokenizer, dev_data.texts, pairs=dev_data.pairs, **enc)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
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
        scores = dev_scores(task, probs, dev_data.targets, names)
        return {"micro_f1": scores["micro"]["f1"], "macro_f1": scores["macro"]["f1"]}

    loss = None
    if task.multi_label:
        weights = positive_weights(train_data.targets, t.max_pos_weight) if t.rare_labels == "pos_weight" else None
        loss = multilabel_loss(t.rare_labels, pos_weight=weights, gamma=t.focal_gamma)
    job = FineTuning(
        model=model,
        train_dataset=_hf_dataset(train_enc, train_data.targets, task.multi_label),
        dev_dataset=_hf_dataset(dev_enc, dev_data.targets, task.multi_label),
        collator=DataCollatorWithPadding(tokenizer, padding="max_length" if t.pad_to_max_length else "longest", max_length=config.model.max_length),
        loss=loss,
        compute_metrics=compute_metrics,
        metric=task.selection_metric,
    )
    run = fine_tune(config, tokenizer, job, resume=resume, callbacks=callbacks)

    dev_probs = dev_probabilities(task, run.dev_logits, dev_enc, len(dev_data.texts))
    lexical = None
    dev_metrics: dict = {}
    if t.lexical_weight:
        lexical = LexicalModel.fit(train_data.texts, train_data.targets, seed=t.seed)
        alone = dev_scores(task, dev_probs, dev_data.targets, names)
        dev_probs = blend(dev_probs, lexical.probabilities(dev_data.texts), t.lexical_weight)
    thresholds = None
    if task.multi_label:
        thresholds = tuned_thresholds(t.threshold_rule, dev_probs, dev_data.targets, t.threshold_min_support)
        dev_metrics["at_0.5"] = dev_scores(task, dev_probs, dev_data.targets, names)
        dev_metrics["at_tuned_thresholds"] = multilabel_scores(decisions_at(dev_probs, thresholds), dev_data.targets, names)
    else:
        dev_metrics["argmax"] = dev_scores(task, dev_probs, dev_data.targets, names)
    if lexical is not None:
        dev_metrics["fine_tuned_alone_at_0.5"] = alone
    dev_metrics["n_dev_examples"] = len(dev_data.texts)
    meta = model_meta(
        config,
        task=task.name,
        unit="article" if task.windowed else inventory["unit"],
        labels=names,
        thresholds=thresholds,
        pooling=task.pooling,
        extra={"train_label_counts": dict(zip(names, map(int, train_data.targets.sum(axis=0))))},
        lexical_weight=t.lexical_weight,
    )
    return finish(run, tokenizer, config, meta, dev_metrics, lexical)
