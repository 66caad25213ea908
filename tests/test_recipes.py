"""``framelab models``: a recipe's stages run once, skip when done, rerun with --force, resume when killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from framelab.cli import build_parser, main
from framelab.errors import ConfigError
from framelab.recipes import PROGRAMS, Progress, Stage, load_recipe

from .conftest import REPO, SAMPLE


def _tiny_recipe(tmp_path: Path, tiny_model_dir: Path) -> Path:
    """A recipe on the sample corpus and the tiny BERT: data, a 3-fold techniques run, TF-IDF on its folds."""
    run = {
        "name": "tiny",
        "output_dir": str(tmp_path / "model"),
        "data": {"path": str(SAMPLE), "output_dir": str(tmp_path / "dataset"), "unit": "sentence"},
        "model": {"base": str(tiny_model_dir)},
        "train": {
            "task": "techniques",
            "epochs": 1,
            "max_steps": 2,
            "batch_size": 32,
            "learning_rate": 0.001,
            "freeze_layers": 1,
        },
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(run), encoding="utf-8")
    figure = "cross_validated.micro_f1"
    recipe = {
        "vars": {"work": str(tmp_path), "states": str(tmp_path / "states")},
        "out": "${work}/reports",
        "stages": [
            {
                "name": "data",
                "run": ["framelab", "data", "--config", "${work}/tiny.yaml"],
                "output": "${work}/dataset",
                "minutes": 0.2,
            },
            {
                "name": "kfold",
                # Three folds: the fewest a multi-label run choosing on inner folds takes.
                "run": ["framelab", "train", "--config", "${work}/tiny.yaml", "--set", "train.folds=3"]
                + ["--set", "train.state_cache=${states}"],
                "output": "${work}/model",
                "resume": ["--resume"],
                "minutes": 0.5,
            },
            {
                "name": "tfidf",
                "run": ["python", str(REPO / "bench" / "kfold_tfidf.py"), "--data", "${work}/dataset"]
                + ["--task", "techniques", "--folds", "3", "--seed", "42"],
                "stdout": "${out}/tfidf.json",
                "output": "${out}/tfidf.json",
                "minutes": 0.2,
            },
        ],
        "summary": [
            {
                "name": "techniques (k-fold)",
                "figure": "micro-F1",
                "stages": ["kfold"],
                "model": {
                    "file": "${work}/model/dev_metrics.json",
                    "value": f"{figure}.pooled",
                    "interval": f"{figure}.ci95.pooled",
                },
                "tfidf": {"file": "${out}/tfidf.json", "value": "micro_f1.pooled", "interval": "micro_f1.ci95.pooled"},
            }
        ],
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    return path


def _state(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "reports" / "state.json").read_text(encoding="utf-8"))["stages"]


def test_a_recipe_runs_its_stages_into_a_summary_then_skips_them_until_forced(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = _tiny_recipe(tmp_path, tiny_model_dir)
    assert main(["models", "--recipe", str(recipe)]) == 0
    err = capsys.readouterr().err
    assert "[2/3] kfold: framelab train" in err and "left in all" in err
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text(encoding="utf-8"))
    (row,) = summary["rows"]
    for side in ("model", "tfidf"):
        low, high = row[side]["ci95"]
        assert 0 <= low <= high <= 1 and 0 <= row[side]["value"] <= 1
    assert row["training_minutes"] > 0 and row["paired_difference"] is None
    table = (tmp_path / "reports" / "summary.md").read_text(encoding="utf-8")
    assert f"| techniques (k-fold) | micro-F1 | {row['model']['value']:.3f} [" in table

    made = (tmp_path / "model" / "dev_metrics.json").stat().st_mtime_ns
    assert main(["models", "--recipe", str(recipe)]) == 0
    assert capsys.readouterr().err.count(": skipped, ") == 3
    assert {s["attempts"] for s in _state(tmp_path).values()} == {1}
    assert (tmp_path / "model" / "dev_metrics.json").stat().st_mtime_ns == made

    assert main(["models", "--recipe", str(recipe), "--force"]) == 0
    assert {s["attempts"] for s in _state(tmp_path).values()} == {2}
    assert (tmp_path / "model" / "dev_metrics.json").stat().st_mtime_ns != made
    assert main(["models", "--recipe", str(recipe), "--plan"]) == 0
    assert capsys.readouterr().out.count("skip ") == 3


def test_a_recipe_killed_in_a_k_fold_stage_resumes_at_its_next_fold(
    tmp_path: Path, tiny_model_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    recipe = _tiny_recipe(tmp_path, tiny_model_dir)
    kept = tmp_path / "model.work" / "fold-0.json"
    child = subprocess.Popen(
        [sys.executable, "-m", "framelab", "models", "--recipe", str(recipe)], start_new_session=True, cwd=REPO
    )
    try:
        deadline = time.monotonic() + 300
        while not kept.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert kept.exists(), "fold 0 never finished"
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    assert _state(tmp_path)["kfold"]["status"] == "started" and not (tmp_path / "model").exists()
    stored = sorted((tmp_path / "states").rglob("*.safetensors"))
    capfd.readouterr()

    assert main(["models", "--recipe", str(recipe)]) == 0
    err = capfd.readouterr().err
    assert "[1/3] data: skipped" in err and "resuming the interrupted run" in err
    assert "fold 0: finished by the interrupted run" in err
    # The frozen states of the first attempt were read back, not computed again.
    assert sorted((tmp_path / "states").rglob("*.safetensors")) == stored
    state = _state(tmp_path)
    assert state["kfold"]["attempts"] == 2 and state["kfold"]["commands"][-1][-1] == "--resume"
    assert (tmp_path / "reports" / "summary.md").is_file()


def test_the_time_left_follows_the_pace_of_the_stages_run() -> None:
    stages = [Stage(name=n, run=["framelab", "config"], output="x", minutes=m) for n, m in (("a", 10), ("b", 30))]
    progress = Progress(stages)
    assert progress.left() == 40
    progress.finished(stages[0], seconds=20 * 60)  # twice as long as estimated
    assert progress.left() == 60


def test_a_bad_recipe_or_variable_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    recipe = _tiny_recipe(tmp_path, tiny_model_dir)
    with pytest.raises(ConfigError, match="--var nope=1"):
        load_recipe(recipe, ["nope=1"])
    broken = tmp_path / "broken.yaml"
    broken.write_text("out: r\nstages:\n  - {name: a, run: [bash, -c, 'true'], output: x, minutes: 1}\n")
    with pytest.raises(ConfigError, match="a stage runs one of framelab, python"):
        load_recipe(broken)
    broken.write_text("out: r\nstages:\n  - {name: a, run: [framelab, config], output: '${nowhere}', minutes: 1}\n")
    with pytest.raises(ConfigError, match="names no variable"):
        load_recipe(broken)


def test_the_shipped_recipe_parses_and_its_commands_are_real() -> None:
    recipe = load_recipe(REPO / "configs" / "recipes" / "models.yaml", ["shared=/data"])
    parser = build_parser()
    for stage in recipe.stages:
        if stage.run[0] == "framelab":
            parser.parse_args([*stage.run[1:], *stage.resume])
        else:
            assert stage.run[0] in PROGRAMS and (REPO / stage.run[1]).is_file()
    assert any("/data/semeval2023-en" in a for a in recipe.stages[0].run)
    assert {row.model.file.split("/")[1] for row in recipe.summary} <= {Path(s.output).name for s in recipe.stages}
