"""``framelab train``: fine-tune one transformer for one task and save its folder.

The Hugging Face Trainer does the loop: dynamic padding with length-grouped
batches (or max-length padding on request), an evaluation and a checkpoint
each epoch, the best checkpoint by dev micro-F1 restored at the end, and
``--resume`` from the last checkpoint in ``<model folder>.work/``. After
training, decision thresholds are tuned on dev and the model folder is written
atomically with everything scoring needs.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from datasets import Dataset, load_from_disk
from torch.utils.data import SequentialSampler
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

import framelab
from framelab.config import Config, config_to_dict
from framelab.encoding import activate, encode, pool
from framelab.errors import ConfigError, DataError, Problem
from framelab.eval.scores import decisions_at, multilabel_scores, single_label_scores
from framelab.lexical import LexicalModel, blend
from framelab.models.card import write_model_card
from framelab.models.folder import ARTICLE_TASKS, MULTI_LABEL_TASKS, ModelMeta, atomic_folder, resolve_base_model, write_meta
from framelab.spans.context import span_with_context
from framelab.train.losses import multilabel_loss, positive_weights
from framelab.train.thresholds import tuned_thresholds


@dataclass
class TaskData:
    """Texts and 0/1 targets of one split for one task."""

    ids: list[str]
    texts: list[str]
    targets: np.ndarray
    pairs: list[str] | None = None


def load_task_split(dataset_dir: Path, task: str, split: str, labels: list[str] | None = None) -> tuple[TaskData, list[str]]:
    """Texts and targets of ``split`` for ``task`` from a dataset folder.

    ``labels`` fixes the label order (a trained model's); otherwise it comes
    from the dataset's label inventory. Single-label tasks (genre, stance)
    keep only the articles that carry a label; stance also returns each
    article's target as ``pairs``.
    """
    dataset_dir = Path(dataset_dir)
    inventory = json.loads((dataset_dir / "labels.json").read_text(encoding="utf-8"))
    if task == "span_techniques":
        return _span_technique_split(dataset_dir, split, labels or inventory["techniques"]), labels or inventory["techniques"]
    if task == "techniques":
        table = load_from_disk(str(dataset_dir / "units"))
        column, inventory_key = "labels", "techniques"
    else:
        table = load_from_disk(str(dataset_dir / "articles"))
        column, inventory_key = {"frames": ("frames", "frames"), "genre": ("genre", "genres"), "stance": ("stance", "stances")}[task]
    names = labels or inventory[inventory_key]
    if split not in table:
        raise DataError(Problem(str(dataset_dir), None, f"has no '{split}' split (it has {', '.join(table)})", "rebuild it with a dev_fraction/test_fraction above 0"))
    rows = table[split]
    if task in ("genre", "stance"):
        rows = rows.filter(lambda row: row[column] is not None)
    index = {name: i for i, name in enumerate(names)}
    targets = np.zeros((len(rows), len(names)), dtype=np.int64)
    for r, value in enumerate(rows[column]):
        for name in value if isinstance(value, list) else ([value] if value else []):
            if name in index:
                targets[r, index[name]] = 1
    if task == "techniques":
        ids = [f"{a}#{i}" for a, i in zip(rows["article_id"], rows["index"])]
    else:
        ids = list(rows["id"])
    pairs = list(rows["stance_target"]) if task == "stance" else None
    return TaskData(ids, list(rows["text"]), targets, pairs), names


def _span_technique_split(dataset_dir: Path, split: str, names: list[str]) -> TaskData:
    """One example per gold span line: the span's text paired with its context, one technique.

    A span with k techniques gives k examples with the same input; ids are
    ``<article>:<start>-<end>``.
    """
    articles = load_from_disk(str(dataset_dir / "articles"))
    if split not in articles:
        raise DataError(Problem(str(dataset_dir), None, f"has no '{split}' split (it has {', '.join(articles)})", "rebuild it with a dev_fraction/test_fraction above 0"))
    index = {name: i for i, name in enumerate(names)}
    ids, spans, contexts, rows = [], [], [], []
    for article in articles[split]:
        for s in sorted(article["spans"], key=lambda s: (s["start"], s["end"], s["label"])):
            if s["label"] not in index:
                continue
            span, context = span_with_context(article["text"], s["start"], s["end"])
            ids.append(f"{article['id']}:{s['start']}-{s['end']}")
            spans.append(span)
            contexts.append(context)
            rows.append(index[s["label"]])
    targets = np.zeros((len(rows), len(names)), dtype=np.int64)
    targets[np.arange(len(rows)), rows] = 1
    return TaskData(ids, contexts, targets, spans)


class _Trainer(Trainer):
    """Trainer whose evaluation keeps the dataset order.

    With ``train_sampling_strategy="group_by_length"`` transformers 5 also
    length-groups the *evaluation* batches, which returns predictions in a
    shuffled order; per-article pooling and threshold tuning need them in
    dataset order.
    """

    def _get_eval_sampler(self, eval_dataset):
        if eval_dataset is None or self.args.world_size > 1:
            return None
        return SequentialSampler(eval_dataset)


@dataclass
class TrainResult:
    """Where the model went and how it did on dev."""

    model_dir: Path
    dev_metrics: dict
    train_seconds: float
    train_examples_per_second: float


def _hf_dataset(encoded, targets: np.ndarray, multi_label: bool) -> Dataset:
    features = dict(encoded.features)
    rows = targets[encoded.example]
    features["labels"] = rows.astype(np.float32).tolist() if multi_label else rows.argmax(axis=1).tolist()
    return Dataset.from_dict(features)


def _logs_to_folder(trainer: Trainer, work: Path, dest: Path) -> None:
    logs = dest / "logs"
    logs.mkdir()
    (logs / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=2), encoding="utf-8")
    runs = work / "runs"
    if runs.is_dir():
        shutil.copytree(runs, logs / "runs")


def train(config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """Fine-tune the configured encoder on the configured task and save it.

    Reads the dataset folder written by ``framelab data`` for this config,
    writes ``config.model_dir`` (atomically) and returns the dev figures.
    ``callbacks`` are extra Trainer callbacks (progress hooks, tests).
    """
    if config.train.task == "spans":
        from framelab.spans.train import train_spans

        return train_spans(config, resume=resume, callbacks=callbacks)
    t = config.train
    task = t.task
    base = resolve_base_model(config.model.base)
    multi_label = task in MULTI_LABEL_TASKS
    windowed = task in ARTICLE_TASKS
    dataset_dir = config.dataset_dir
    if not (dataset_dir / "labels.json").is_file():
        raise DataError(Problem(str(dataset_dir), None, "no dataset here", "build it first: framelab data --config <this config>"))
    if t.num_threads:
        torch.set_num_threads(t.num_threads)
    set_seed(t.seed)

    train_data, names = load_task_split(dataset_dir, task, "train")
    counts = train_data.targets.sum(axis=0)
    keep = [i for i, c in enumerate(counts) if c >= max(1, t.min_label_count)]
    if len(keep) < (1 if multi_label else 2):
        raise DataError(Problem(str(dataset_dir), None, f"too few labels with training examples for task '{task}'", "check the corpus annotations or lower train.min_label_count"))
    names = [names[i] for i in keep]
    train_data.targets = train_data.targets[:, keep]
    dev_data, _ = load_task_split(dataset_dir, task, "dev", names)

    tokenizer = load_tokenizer(config, base)
    enc = dict(max_length=config.model.max_length, stride=config.model.stride, windowed=windowed)
    train_enc = encode(tokenizer, train_data.texts, pairs=train_data.pairs, **enc)
    dev_enc = encode(tokenizer, dev_data.texts, pairs=dev_data.pairs, **enc)
    train_ds = _hf_dataset(train_enc, train_data.targets, multi_label)
    dev_ds = _hf_dataset(dev_enc, dev_data.targets, multi_label)
    pooling = "max" if multi_label else "mean"

    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(names),
        id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
        problem_type="multi_label_classification" if multi_label else "single_label_classification",
        # Master weights stay in float32 even when the base was saved in half
        # precision; mixed precision, if any, is applied by the Trainer.
        dtype=torch.float32,
        # Never unpickle weights from a folder we did not write.
        use_safetensors=True,
        trust_remote_code=False,
    )

    def compute_metrics(prediction) -> dict:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        pooled = pool(np.asarray(logits, dtype=np.float64), dev_enc.example, len(dev_data.texts), pooling)
        probs = activate(pooled, multi_label)
        if multi_label:
            scores = multilabel_scores(decisions_at(probs, 0.5), dev_data.targets, names)
        else:
            scores = single_label_scores(probs.argmax(axis=1), dev_data.targets.argmax(axis=1), names)
        return {"micro_f1": scores["micro"]["f1"], "macro_f1": scores["macro"]["f1"]}

    work, last = work_folder(config, resume)
    args = training_arguments(config, work, "macro_f1" if task == "stance" else "micro_f1")
    collator = DataCollatorWithPadding(
        tokenizer, padding="max_length" if t.pad_to_max_length else "longest", max_length=config.model.max_length
    )
    loss = None
    if multi_label:
        weights = positive_weights(train_data.targets, t.max_pos_weight) if t.rare_labels == "pos_weight" else None
        loss = multilabel_loss(t.rare_labels, pos_weight=weights, gamma=t.focal_gamma)
    trainer = build_trainer(config, model, args, train_ds, dev_ds, collator, tokenizer, loss, compute_metrics, callbacks)
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=last)
    train_seconds = time.perf_counter() - started

    dev_logits = trainer.predict(dev_ds).predictions
    dev_logits = dev_logits[0] if isinstance(dev_logits, tuple) else dev_logits
    dev_probs = activate(pool(np.asarray(dev_logits, dtype=np.float64), dev_enc.example, len(dev_data.texts), pooling), multi_label)
    lexical = None
    fine_tuned_alone = None
    if t.lexical_weight:
        lexical = LexicalModel.fit(train_data.texts, train_data.targets, seed=t.seed)
        fine_tuned_alone = multilabel_scores(decisions_at(dev_probs, 0.5), dev_data.targets, names)
        dev_probs = blend(dev_probs, lexical.probabilities(dev_data.texts), t.lexical_weight)
    if multi_label:
        thresholds = tuned_thresholds(t.threshold_rule, dev_probs, dev_data.targets, t.threshold_min_support)
        dev_metrics = {
            "at_0.5": multilabel_scores(decisions_at(dev_probs, 0.5), dev_data.targets, names),
            "at_tuned_thresholds": multilabel_scores(decisions_at(dev_probs, thresholds), dev_data.targets, names),
        }
    else:
        thresholds = None
        dev_metrics = {"argmax": single_label_scores(dev_probs.argmax(axis=1), dev_data.targets.argmax(axis=1), names)}
    if fine_tuned_alone is not None:
        dev_metrics["fine_tuned_alone_at_0.5"] = fine_tuned_alone
    dev_metrics["n_dev_examples"] = len(dev_data.texts)
    dev_metrics["train_runtime_seconds"] = round(train_seconds, 1)
    dev_metrics["train_samples_per_second"] = output.metrics.get("train_samples_per_second")

    meta = ModelMeta(
        task=task,
        unit="article" if windowed else json.loads((dataset_dir / "labels.json").read_text(encoding="utf-8"))["unit"],
        labels=names,
        thresholds=thresholds,
        max_length=config.model.max_length,
        stride=config.model.stride,
        pooling=pooling,
        base_model=config.model.base,
        framelab_version=framelab.__version__,
        extra={"dataset": str(dataset_dir), "train_label_counts": dict(zip(names, map(int, train_data.targets.sum(axis=0))))},
        lexical_weight=t.lexical_weight,
    )
    write_model_folder(trainer, tokenizer, config, meta, dev_metrics, work, lexical)
    return TrainResult(config.model_dir, dev_metrics, train_seconds, float(output.metrics.get("train_samples_per_second", 0.0)))


def build_trainer(config: Config, model, args, train_ds, dev_ds, collator, tokenizer, loss, compute_metrics, callbacks) -> Trainer:
    """The Trainer of every task, with early stopping when ``train.early_stopping_patience`` is set."""
    callbacks = list(callbacks or [])
    if config.train.early_stopping_patience > 0:
        callbacks.append(EarlyStoppingCallback(config.train.early_stopping_patience))
    return _Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=dev_ds,
        data_collator=collator,
        processing_class=tokenizer,
        compute_loss_func=loss,
        compute_metrics=compute_metrics,
        callbacks=callbacks,
    )


def training_arguments(config: Config, work: Path, metric: str) -> TrainingArguments:
    """Trainer arguments shared by every task: an evaluation and checkpoint per
    epoch, the best epoch by dev ``metric`` restored at the end, length-grouped
    batches unless ``train.pad_to_max_length``, mixed precision per config."""
    t = config.train
    return TrainingArguments(
        output_dir=str(work),
        num_train_epochs=t.epochs,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        learning_rate=t.learning_rate,
        warmup_steps=t.warmup_ratio,
        weight_decay=t.weight_decay,
        seed=t.seed,
        data_seed=t.seed,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=metric,
        greater_is_better=True,
        logging_steps=t.logging_steps,
        report_to=_reporters(),
        train_sampling_strategy="random" if t.pad_to_max_length else "group_by_length",
        save_only_model=False,
        disable_tqdm=False,
        use_cpu=not torch.cuda.is_available(),
        **_precision(t.mixed_precision),
    )


def work_folder(config: Config, resume: bool) -> tuple[Path, str | None]:
    """The checkpoint folder of a run and, with ``resume``, its last checkpoint.

    A fresh run clears the folder (on the main process only).
    """
    work = config.model_dir.with_name(config.model_dir.name + ".work")
    last = get_last_checkpoint(str(work)) if resume and work.is_dir() else None
    if resume and last is None:
        raise ConfigError(f"--resume: no checkpoint in {work}; start without --resume")
    if not resume and work.exists() and int(os.environ.get("RANK", "0")) == 0:
        shutil.rmtree(work)
    return work, last


def write_model_folder(
    trainer: Trainer, tokenizer, config: Config, meta: ModelMeta, dev_metrics: dict, work: Path, lexical: LexicalModel | None = None
) -> None:
    """Write the model folder once (main process only) and drop the checkpoints.

    ``lexical`` is the TF-IDF model a blended model averages in.
    """
    # Under torchrun / accelerate launch every process gets here; only the
    # main one writes, so the folder and its metrics are written once.
    trainer.accelerator.wait_for_everyone()
    if not trainer.is_world_process_zero():
        return
    with atomic_folder(config.model_dir) as tmp:
        trainer.save_model(str(tmp))
        # The Trainer also pickles its arguments; scoring never needs them and
        # model folders must hold no pickle files.
        (tmp / "training_args.bin").unlink(missing_ok=True)
        tokenizer.save_pretrained(str(tmp))
        write_meta(tmp, meta)
        if lexical is not None:
            lexical.save(tmp)
        (tmp / "training_config.yaml").write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")
        (tmp / "dev_metrics.json").write_text(json.dumps(dev_metrics, indent=2), encoding="utf-8")
        write_model_card(tmp, meta, config, dev_metrics)
        _logs_to_folder(trainer, work, tmp)
    shutil.rmtree(work, ignore_errors=True)


def load_tokenizer(config: Config, base: str):
    """The base model's fast tokenizer, with errors that say what to fix."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
    except OSError as exc:
        raise ConfigError(f"model.base {config.model.base}: cannot load a tokenizer ({exc}); give a local model folder or a reachable hub name") from exc
    if not tokenizer.is_fast:
        raise ConfigError(f"model.base {base}: framelab needs a fast tokenizer (tokenizer.json)")
    return tokenizer


def _precision(mode: str) -> dict[str, bool]:
    """TrainingArguments for ``train.mixed_precision`` (auto: bf16 or fp16 on a GPU, none on CPU)."""
    if mode == "auto":
        if not torch.cuda.is_available():
            return {}
        mode = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return {"bf16": True} if mode == "bf16" else {"fp16": True} if mode == "fp16" else {}


def _reporters() -> list[str]:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return []
    return ["tensorboard"]
