"""``framelab train``: fine-tune one transformer for the configured task and save its folder.

The task's record (:mod:`framelab.tasks`) trains it; the shared sequence is
:mod:`framelab.train.trainer`.
"""

from __future__ import annotations

from transformers import TrainerCallback

from framelab.config import Config
from framelab.tasks import get_task
from framelab.train.trainer import TrainResult


def train(config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """Fine-tune the configured encoder on ``train.task`` and save it.

    Reads the dataset folder written by ``framelab data`` for this config,
    writes ``config.model_dir`` (atomically) and returns the dev figures.
    ``callbacks`` are extra Trainer callbacks (progress hooks, tests).
    """
    return get_task(config.train.task).train(config, resume=resume, callbacks=callbacks)
