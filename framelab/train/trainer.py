"""The training sequence every task shares, on the Hugging Face Trainer.

A task package loads its splits, builds its model, datasets, collator, loss
and dev measure, and hands them to :func:`fine_tune` as a :class:`FineTuning`;
the sequence here does the rest: the Trainer (an evaluation and a checkpoint
each epoch, the best epoch by the task's dev measure restored at the end,
``--resume`` from the last checkpoint in ``<model folder>.work/``), the dev
predictions, and (:func:`finish`) the model folder, written atomically with
everything scoring needs.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from datasets import Dataset
from torch.utils.data import SequentialSampler
from transformers import (
    AutoTokenizer,
    EarlyStoppingCallback,
    PreTrainedModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_utils import get_last_checkpoint

import framelab
from framelab.config import Config, config_to_dict
from framelab.errors import ConfigError
from framelab.lexical import LexicalModel
from framelab.models import stock
from framelab.models.card import write_model_card
from framelab.models.folder import ModelMeta, atomic_folder, resolve_base_model, write_meta
from framelab.processes import is_main_process
from framelab.progress import bars_shown
from framelab.splits import label_inventory


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


@dataclass
class FineTuning:
    """What a task hands the shared sequence: a model with its head, the encoded splits and how to train and judge it.

    Without a dev split (a refit on every article) the run trains for the
    configured epochs, with no evaluation, checkpoint or best-epoch choice.
    """

    model: PreTrainedModel
    train_dataset: Dataset
    dev_dataset: Dataset | None
    collator: Callable
    #: A Trainer ``compute_loss_func``, or None for the model's own loss.
    loss: Callable | None
    #: The Trainer's ``compute_metrics`` on the dev split; must return the task's selection metric.
    compute_metrics: Callable | None
    #: Dev measure that picks the best epoch.
    metric: str


@dataclass
class FineTuned:
    """A finished Trainer run: the trainer, its work folder, the dev logits (None without dev), the epoch kept
    and the time it took."""

    trainer: Trainer
    work: Path
    dev_logits: np.ndarray | None
    best_epoch: float
    seconds: float
    samples_per_second: float
    #: The dev predictions as the Trainer gave them (a tuple when the model returns several outputs).
    dev_outputs: object = None


def start(config: Config) -> tuple[str, dict]:
    """Check the dataset folder, apply ``train.num_threads`` and the seed; returns the base model's path or hub
    name and the dataset's label inventory."""
    base = resolve_base_model(config.model.base)
    inventory = label_inventory(config.dataset_dir)
    if config.train.num_threads:
        torch.set_num_threads(config.train.num_threads)
    set_seed(config.train.seed)
    return base, inventory


def prediction_logits(predictions) -> np.ndarray:
    """The logits of a Trainer prediction (the first array when the model also returned others)."""
    return np.asarray(predictions[0] if isinstance(predictions, tuple) else predictions)


def fine_tune(
    config: Config,
    tokenizer,
    job: FineTuning,
    *,
    work: Path | None = None,
    resume: bool = False,
    callbacks: list[TrainerCallback] | None = None,
) -> FineTuned:
    """Train ``job`` with the Trainer, restore its best epoch and predict the dev split.

    ``work`` is the checkpoint folder (default: ``<model folder>.work``, cleared unless ``resume``).
    """
    if work is None:
        work, last = work_folder(config, resume)
    else:
        last = None
    args = training_arguments(config, work, job.metric if job.dev_dataset is not None else None)
    trainer = build_trainer(
        config,
        job.model,
        args,
        job.train_dataset,
        job.dev_dataset,
        job.collator,
        tokenizer,
        job.loss,
        job.compute_metrics,
        callbacks,
    )
    started = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - started
    samples_per_second = float(output.metrics.get("train_samples_per_second", 0.0))
    if job.dev_dataset is None:
        return FineTuned(trainer, work, None, float(config.train.epochs), seconds, samples_per_second)
    dev_outputs = trainer.predict(job.dev_dataset).predictions
    return FineTuned(
        trainer,
        work,
        prediction_logits(dev_outputs),
        best_epoch(trainer.state.log_history, job.metric),
        seconds,
        samples_per_second,
        dev_outputs,
    )


def early_stopping(config: Config, log_history: list[dict], metric: str) -> dict:
    """What ``train.early_stopping_patience`` did to a run judged on dev ``metric``, for the record of its epoch choice.

    ``patience`` (0: off), the epoch of the run's last evaluation (``stopped_after_epoch``), how many epochs were
    configured, and whether training ended before them (``stopped_early``); the Trainer restored the best epoch.
    """
    evaluated = [float(entry["epoch"]) for entry in log_history if f"eval_{metric}" in entry]
    last = evaluated[-1] if evaluated else 0.0
    t = config.train
    return {
        "patience": t.early_stopping_patience,
        "stopped_after_epoch": last,
        "configured_epochs": float(t.epochs),
        "stopped_early": bool(t.early_stopping_patience and not t.max_steps and round(last, 6) < t.epochs),
    }


def early_stopping_note(record: dict) -> str:
    """The clause a choice's ``made_on`` gets when early stopping was on (``""`` when it was off)."""
    if not record["patience"]:
        return ""
    patience, total = record["patience"], record["configured_epochs"]
    if not record["stopped_early"]:
        return f"; early stopping (patience {patience}) did not fire: all {total:g} epochs ran"
    return (
        f"; early stopping (patience {patience}) ended training after epoch {record['stopped_after_epoch']:g} "
        f"of {total:g}"
    )


def best_epoch(log_history: list[dict], metric: str) -> float:
    """The epoch whose evaluation scored highest on ``metric`` (the one ``load_best_model_at_end`` restores;
    ties: the first)."""
    evaluations = [entry for entry in log_history if f"eval_{metric}" in entry]
    if not evaluations:
        return 0.0
    return float(max(evaluations, key=lambda entry: entry[f"eval_{metric}"])["epoch"])


def model_meta(
    config: Config,
    *,
    task: str,
    unit: str,
    labels: list[str],
    thresholds: list[float] | None,
    pooling: str,
    extra: dict,
    lexical_weight: float = 0.0,
) -> ModelMeta:
    """The ``framelab.json`` record of a model trained under ``config``."""
    return ModelMeta(
        task=task,
        unit=unit,
        labels=labels,
        thresholds=thresholds,
        max_length=config.model.max_length,
        stride=config.model.stride,
        pooling=pooling,
        base_model=config.model.base,
        framelab_version=framelab.__version__,
        extra={"dataset": str(config.dataset_dir), **extra},
        lexical_weight=lexical_weight,
    )


def finish(
    run: FineTuned,
    tokenizer,
    config: Config,
    meta: ModelMeta,
    dev_metrics: dict,
    lexical: LexicalModel | None = None,
    files: dict[str, str | bytes] | None = None,
) -> TrainResult:
    """Add the run's time to ``dev_metrics``, write the model folder (with the task's own ``files``: name → text
    or bytes) and return the result."""
    dev_metrics["train_runtime_seconds"] = round(run.seconds, 1)
    dev_metrics["train_samples_per_second"] = run.samples_per_second
    write_model_folder(run.trainer, tokenizer, config, meta, dev_metrics, run.work, lexical, files)
    return TrainResult(config.model_dir, dev_metrics, run.seconds, run.samples_per_second)


def _logs_to_folder(trainer: Trainer, work: Path, dest: Path) -> None:
    logs = dest / "logs"
    logs.mkdir()
    (logs / "log_history.json").write_text(json.dumps(trainer.state.log_history, indent=2), encoding="utf-8")
    runs = work / "runs"
    if runs.is_dir():
        shutil.copytree(runs, logs / "runs")


def build_trainer(
    config: Config, model, args, train_ds, dev_ds, collator, tokenizer, loss, compute_metrics, callbacks
) -> Trainer:
    """The Trainer of every task, with early stopping when ``train.early_stopping_patience`` is set."""
    callbacks = list(callbacks or [])
    if config.train.early_stopping_patience > 0 and dev_ds is not None:
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


def training_arguments(config: Config, work: Path, metric: str | None) -> TrainingArguments:
    """Trainer arguments shared by every task: an evaluation and checkpoint per
    epoch, the best epoch by dev ``metric`` restored at the end (with no
    ``metric``, no dev split: neither), length-grouped batches unless
    ``train.pad_to_max_length``, mixed precision per config."""
    t = config.train
    evaluate = metric is not None
    return TrainingArguments(
        output_dir=str(work),
        num_train_epochs=t.epochs,
        max_steps=t.max_steps or -1,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        lr_scheduler_type=t.lr_scheduler_type,
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        learning_rate=t.learning_rate,
        warmup_steps=t.warmup_ratio,
        weight_decay=t.weight_decay,
        seed=t.seed,
        data_seed=t.seed,
        eval_strategy="epoch" if evaluate else "no",
        save_strategy="epoch" if evaluate else "no",
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=evaluate,
        metric_for_best_model=metric,
        greater_is_better=True,
        logging_steps=t.logging_steps,
        report_to=_reporters() if t.report_to is None else t.report_to,
        train_sampling_strategy="random" if t.pad_to_max_length else "group_by_length",
        save_only_model=False,
        disable_tqdm=not bars_shown(),
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
    if not resume and work.exists() and is_main_process():
        shutil.rmtree(work)
    return work, last


def fold_work_folder(config: Config, resume: bool) -> Path:
    """The work folder of a k-fold run: cleared, or with ``resume`` kept with the folds it finished
    (:class:`framelab.train.folds.FoldRecords`)."""
    if resume:
        return config.model_dir.with_name(config.model_dir.name + ".work")
    return work_folder(config, resume=False)[0]


def write_model_folder(
    trainer: Trainer,
    tokenizer,
    config: Config,
    meta: ModelMeta,
    dev_metrics: dict,
    work: Path,
    lexical: LexicalModel | None = None,
    files: dict[str, str | bytes] | None = None,
) -> None:
    """Write the model folder once (main process only) and drop the checkpoints.

    ``lexical`` is the TF-IDF model a blended model averages in; ``files`` are
    files a task adds (name → text or bytes).
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
        stock.declare(tmp, meta)
        if lexical is not None:
            lexical.save(tmp)
        (tmp / "training_config.yaml").write_text(
            yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8"
        )
        (tmp / "dev_metrics.json").write_text(json.dumps(dev_metrics, indent=2), encoding="utf-8")
        write_model_card(tmp, meta, config, dev_metrics)
        for name, content in (files or {}).items():
            if isinstance(content, bytes):
                (tmp / name).write_bytes(content)
            else:
                (tmp / name).write_text(content, encoding="utf-8")
        _logs_to_folder(trainer, work, tmp)
    shutil.rmtree(work, ignore_errors=True)


def load_tokenizer(config: Config, base: str):
    """The base model's fast tokenizer, with errors that say what to fix."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(base, trust_remote_code=False)
    except OSError as exc:
        raise ConfigError(
            f"model.base {config.model.base}: cannot load a tokenizer ({exc}); "
            "give a local model folder or a reachable hub name"
        ) from exc
    if not tokenizer.is_fast:
        raise ConfigError(f"model.base {base}: framelab needs a fast tokenizer (tokenizer.json)")
    return tokenizer


def freeze(model: PreTrainedModel, config: Config) -> None:
    """Fix the embeddings and the lowest ``train.freeze_layers`` encoder layers (``train.freeze_embeddings``,
    ``train.freeze_layers``)."""
    t = config.train
    if not t.freeze_embeddings and not t.freeze_layers:
        return
    encoder = model.base_model
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not hasattr(encoder, "embeddings") or layers is None:
        raise ConfigError(
            f"train.freeze_embeddings / train.freeze_layers: {type(encoder).__name__} "
            "has no embeddings and encoder.layer to freeze; set them to false / 0"
        )
    if t.freeze_layers > len(layers):
        raise ConfigError(f"train.freeze_layers is {t.freeze_layers} but model.base has {len(layers)} layers")
    for module in [encoder.embeddings, *layers[: t.freeze_layers]]:
        module.requires_grad_(False)


def _precision(mode: str) -> dict[str, bool]:
    """TrainingArguments for ``train.mixed_precision`` (auto: bf16 or fp16 on a GPU, none on CPU).

    bf16 on a CPU is the Trainer's CPU autocast.
    """
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
