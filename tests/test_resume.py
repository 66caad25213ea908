"""kill -9 in the middle of training, then --resume: no half model, same result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO, SAMPLE


def _train_args(tmp_path: Path, base: Path, out: Path) -> list[str]:
    sets = [
        "name=resume",
        f"data.path={SAMPLE}",
        f"data.output_dir={tmp_path / 'dataset'}",
        f"model.base={base}",
        f"output_dir={out}",
        "train.epochs=4",
        "train.batch_size=16",
        "train.learning_rate=0.001",
        "train.seed=7",
        "train.num_threads=1",
    ]
    return ["--config", "configs/sample-techniques.yaml", *[arg for item in sets for arg in ("--set", item)]]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "framelab.cli", *args]


@pytest.mark.slow
def test_kill_9_then_resume_ends_near_an_uninterrupted_run(tmp_path: Path, tiny_model_dir: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(_cli("data", *_train_args(tmp_path, tiny_model_dir, whole)), check=True, cwd=REPO, env=env)
    subprocess.run(_cli("train", *_train_args(tmp_path, tiny_model_dir, whole)), check=True, cwd=REPO, env=env)

    process = subprocess.Popen(
        _cli("train", *_train_args(tmp_path, tiny_model_dir, killed)),
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    work = tmp_path / "killed.work"
    deadline = time.time() + 300
    while time.time() < deadline and not list(work.glob("checkpoint-*/trainer_state.json")):
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert list(work.glob("checkpoint-*")), "no checkpoint was written before the kill"
    assert not killed.exists(), "a killed run must not leave a model folder behind"

    subprocess.run(
        _cli("train", "--resume", *_train_args(tmp_path, tiny_model_dir, killed)), check=True, cwd=REPO, env=env
    )
    a = json.loads((whole / "dev_metrics.json").read_text())["at_0.5"]["micro"]["f1"]
    b = json.loads((killed / "dev_metrics.json").read_text())["at_0.5"]["micro"]["f1"]
    assert abs(a - b) <= 0.02, (a, b)
