"""Training under torchrun: two CPU processes (gloo) write one model folder."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, SAMPLE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_cpu_training_writes_the_model_once(tmp_path: Path, tiny_model_dir: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    assert torchrun, "torchrun comes with torch"
    model_dir = tmp_path / "ddp-model"
    common = [
        "name=ddp",
        f"data.path={SAMPLE}",
        f"data.output_dir={tmp_path / 'dataset'}",
        f"model.base={tiny_model_dir}",
    ]
    sets = [*common, f"output_dir={model_dir}", "train.epochs=2", "train.batch_size=16", "train.learning_rate=0.001"]
    args = [arg for item in sets for arg in ("--set", item)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_EVALUATE_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "-m", "framelab.cli", "data", "--config", "configs/sample-techniques.yaml", *args],
        check=True,
        env=env,
        cwd=REPO,
    )
    run = subprocess.run(
        [
            torchrun,
            "--nproc_per_node=2",
            f"--master_port={_free_port()}",
            "-m",
            "framelab.cli",
            "train",
            "--config",
            "configs/sample-techniques.yaml",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("model: ") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "ddp-model"]
    meta = json.loads((model_dir / "framelab.json").read_text())
    history = json.loads((model_dir / "logs" / "log_history.json").read_text())
    assert meta["task"] == "techniques" and (model_dir / "dev_metrics.json").is_file()
    assert any("eval_micro_f1" in entry for entry in history)
