"""``framelab score`` under torchrun / accelerate launch: one shard per process, merged into --out.

The fast tests cover the refusals and run the main process's part of
``score_distributed`` in-process, with the second process simulated at the
gather; the slow test launches two real CPU processes (gloo).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from framelab.cli import main
from framelab.score import distributed
from framelab.score.distributed import check_request, part_path, score_distributed, world_size
from framelab.score.scorer import score

from .conftest import REPO, SAMPLE


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> list[Path]:
    """A techniques (sentence) and a frames (article) model folder with random heads: no training needed."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    import framelab
    from framelab.models.folder import ModelMeta, write_meta

    root = tmp_path_factory.mktemp("scoring-models")
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    folders = []
    for task, unit, labels, pooling in [
        ("techniques", "sentence", ["Loaded_Language", "Doubt", "Repetition"], "max"),
        ("frames", "article", ["Economic", "Political", "Morality"], "max"),
    ]:
        torch.manual_seed(len(folders))
        config = BertConfig.from_pretrained(
            str(tiny_model_dir), num_labels=len(labels), id2label=dict(enumerate(labels))
        )
        folder = root / f"tiny-{task}"
        BertForSequenceClassification(config).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        meta = ModelMeta(
            task, unit, labels, [0.5] * len(labels), 64, 16, pooling, str(tiny_model_dir), framelab.__version__
        )
        write_meta(folder, meta)
        folders.append(folder)
    return folders


@pytest.fixture(scope="module")
def few(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 16 sample articles, to keep the in-process tests fast."""
    path = tmp_path_factory.mktemp("few") / "few.jsonl"
    path.write_text("".join(SAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)[:16]), encoding="utf-8")
    return path


def test_world_size_comes_from_the_launcher() -> None:
    assert world_size({}) == 1
    assert world_size({"WORLD_SIZE": "1"}) == 1
    assert world_size({"WORLD_SIZE": "4", "RANK": "3"}) == 4
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        world_size({"WORLD_SIZE": "four"})


def test_what_several_processes_refuse(tmp_path: Path) -> None:
    for fmt in ("jsonl", "csv", "semeval2023"):
        check_request(2, fmt=fmt, out=tmp_path / "out")
    with pytest.raises(ValueError, match="--shard"):
        check_request(2, fmt="jsonl", out=tmp_path / "out.jsonl", shard=(0, 2))
    with pytest.raises(ValueError, match="html cannot be split"):
        check_request(2, fmt="html", out=tmp_path / "out.html")
    with pytest.raises(ValueError, match="--out is required"):
        check_request(2, fmt="jsonl", out=None)
    part = part_path(tmp_path / "all.jsonl", 1, 4)
    assert part.parent == tmp_path and part.name.startswith(".") and part.name != "all.jsonl"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--shard", "0/2", "--out", "x.jsonl"], "--shard with 2 launched processes"),
        (["--format", "html", "--out", "x.html"], "html cannot"),
        ([], "--out is required"),
    ],
)
def test_cli_refuses_under_a_launcher_before_loading_models(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.chdir(tmp_path)
    assert main(["score", "--model", str(tmp_path / "no-such-model"), *extra, str(SAMPLE)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _simulated(monkeypatch: pytest.MonkeyPatch, other: object) -> SimpleNamespace:
    """Process 0 of 2 in this process; ``other(report)`` plays process 1 at the gather."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(distributed, "_gather", lambda report, n: [report, other(report)])
    return SimpleNamespace(num_processes=2, process_index=0, is_main_process=True, device=torch.device("cpu"))


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "semeval2023"])
def test_parts_merge_into_the_single_process_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, models: list[Path], few: Path, fmt: str
) -> None:
    suffix = "" if fmt == "semeval2023" else f".{fmt}"
    whole, out = tmp_path / f"whole{suffix}", tmp_path / f"out{suffix}"
    expected = score(models, [few], fmt=fmt, out=whole, progress=False)

    seen = {}

    def process_1(report: object) -> object:
        part = score(models, [few], fmt=fmt, out=part_path(out, 1, 2), progress=False, shard=(1, 2), device="cpu")
        seen[1] = part.articles
        return distributed._Report(1, part.articles, part.units)

    summary = score_distributed(
        models, [few], fmt=fmt, out=out, progress=False, state=_simulated(monkeypatch, process_1)
    )
    assert 0 < seen[1] < expected.articles == 16  # both processes had articles
    assert (summary.articles, summary.units) == (expected.articles, expected.units)
    assert [Path(p) for p in summary.outputs] == [
        out / Path(p).relative_to(whole) if fmt == "semeval2023" else out for p in expected.outputs
    ]
    for mine, theirs in zip(summary.outputs, expected.outputs):
        assert Path(mine).read_bytes() == Path(theirs).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([whole.name, out.name])


def test_a_failed_process_leaves_no_output_and_no_parts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, models: list[Path], few: Path
) -> None:
    out = tmp_path / "out.jsonl"
    state = _simulated(monkeypatch, lambda report: distributed._Report(1, error="DataError: bad article"))
    with pytest.raises(ValueError, match="1 of 2 scoring processes failed.*process 1: DataError: bad article"):
        score_distributed(models, [few], fmt="jsonl", out=out, progress=False, state=state)
    assert list(tmp_path.iterdir()) == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launcher(name: str) -> list[str]:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} comes with torch / accelerate"
    if name == "torchrun":
        return [found, "--nproc_per_node=2", f"--master_port={_free_port()}"]
    return [
        found,
        "launch",
        "--cpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
    ]


@pytest.mark.slow
@pytest.mark.parametrize(("launcher", "fmt"), [("torchrun", "jsonl"), ("accelerate", "csv")])
def test_two_cpu_processes_write_what_one_process_writes(
    tmp_path: Path, models: list[Path], launcher: str, fmt: str
) -> None:
    whole, out = tmp_path / f"whole.{fmt}", tmp_path / "merged" / f"all.{fmt}"
    expected = score(models, [SAMPLE], fmt=fmt, out=whole, progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    model_args = [arg for m in models for arg in ("--model", str(m))]
    run = subprocess.run(
        [
            *_launcher(launcher),
            "-m",
            "framelab.cli",
            "score",
            *model_args,
            "--format",
            fmt,
            "--out",
            str(out),
            str(SAMPLE),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert out.read_bytes() == whole.read_bytes()
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no part (or temporary) file remains
    assert (
        run.stderr.count("scored ") == 1
        and f"scored {expected.articles} articles, {expected.units} units" in run.stderr
    )
