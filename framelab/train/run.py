"""``framelab train``: fine-tune one transformer for the configured task and save its folder.

The task's record (:mod:`framelab.tasks`) trains it; the shared sequence is
:mod:`framelab.train.trainer`.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from transformers import TrainerCallback

from framelab.config import Config
from framelab.output import check_output, claim
from framelab.processes import is_main_process
from framelab.tasks import get_task
from framelab.train.trainer import TrainResult


def train(
    config: Config,
    *,
    resume: bool = False,
    callbacks: list[TrainerCallback] | None = None,
    force: bool = False,
) -> TrainResult:
    """Fine-tune the configured encoder on ``train.task`` and save it.

    Reads the dataset folder written by ``framelab data`` for this config,
    writes ``config.model_dir`` (atomically) and returns the dev figures.
    ``callbacks`` are extra Trainer callbacks (progress hooks, tests). The
    model folder is checked before any training (:func:`framelab.output.check_output`:
    ``force`` replaces a folder framelab did not write) and, on the main
    process, held for the whole run, so that a second run cannot train into it.
    """
    base = Path(config.model.base)
    output = {
        "folder": True,
        "what": "the model folder (output_dir)",
        "kind": "model",
        "inputs": [config.dataset_dir, base if base.is_dir() else None],
        "force": force,
    }
    check_output(config.model_dir, **output)
    # Every process checks (so that all of them stop); only the main one writes the folder, so only it locks.
    with claim(config.model_dir, **output) if is_main_process() else nullcontext():
        return get_task(config.train.task).train(config, resume=resume, callbacks=callbacks)
