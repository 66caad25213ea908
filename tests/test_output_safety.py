"""Outputs replace only what framelab made (issue 42): one matrix of every writing stage against every unsafe --out.

Before the fix, ``framelab score --format semeval2023 --out DIR`` emptied an unrelated DIR (``--out "$PWD"``
took the input articles with it), ``framelab eval --out M`` deleted the model M, ``--out`` equal to an input
file overwrote the corpus, a FIFO or a link to ``/proc/self/fd/1`` was replaced by a regular file, and a symbolic
link planted at ``.<out>.lock`` had framelab write its PID into the file it pointed to.

Every case runs the CLI in this process with the stage's expensive step (model load, training, corpus read,
merge) replaced by a failure, so a refusal that came late shows as exit 1; and the whole test folder must be
byte for byte as it was (:func:`_snapshot`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from framelab import output
from framelab.cli import main
from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.errors import DataError

from .conftest import REPO, SAMPLE

TEXT = "Harbour levy row\n\nThe mayor called the levy a shameful scandal. Critics disagreed.\n"
PTC_TEXT = "The plan was approved. The harbour will reopen in May.\nMore news follows tomorrow.\n"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """Inputs of every stage: articles, a JSONL and a PTC corpus, a dataset, two models, shard outputs of both kinds."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from framelab.models.folder import ModelMeta

    w = tmp_path_factory.mktemp("safety")
    for i in range(6):
        (w / "articles").mkdir(exist_ok=True)
        (w / "articles" / f"story{i}.txt").write_text(TEXT.replace("levy", f"levy {i}"), encoding="utf-8")
    for i in range(1, 4):
        (w / "ptc").mkdir(exist_ok=True)
        (w / "ptc" / f"article{i}.txt").write_text(PTC_TEXT, encoding="utf-8")
        (w / "ptc" / f"article{i}.task2-TC.labels").write_text("", encoding="utf-8")
    shutil.copy(SAMPLE, w / "corpus.jsonl")
    (w / "run.yaml").write_text("name: safety\n", encoding="utf-8")
    (w / "base").symlink_to(tiny_model_dir)
    build_dataset(load_config(None, [f"data.path={w / 'corpus.jsonl'}", f"data.output_dir={w / 'dataset'}"]))
    labels = json.loads((w / "dataset" / "labels.json").read_text(encoding="utf-8"))["techniques"]
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=len(labels), problem_type="multi_label_classification"
    )
    model.save_pretrained(w / "model", safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(w / "model")
    meta = ModelMeta("techniques", "sentence", labels, [0.5] * len(labels), 64, 16, "max", "base", "test")
    (w / "model" / "framelab.json").write_text(json.dumps(asdict(meta)), encoding="utf-8")
    shutil.copytree(w / "model", w / "model2")
    for k in (0, 1):
        for fmt, out in (("jsonl", f"part{k}.jsonl"), ("semeval2023", f"shard{k}")):
            argv = ["score", "-q", "--model", str(w / "model"), "--split-workers", "1", "--shard", f"{k}/2"]
            assert main([*argv, "--format", fmt, "--out", str(w / out), str(w / "articles")]) == 0
    return w


# --------------------------------------------------------------------------- the stages


@dataclass(frozen=True)
class Stage:
    """How one stage is run with ``--out OUT``: as a folder output, as a file output (if it has one), its inputs."""

    folder_argv: Callable[[Path, Path], list[str]]
    #: The input folder that folder cases overlap.
    folder_input: str
    #: The work a refusal must come before (module attribute, patched to fail).
    expensive: tuple[str, ...]
    file_argv: Callable[[Path, Path], list[str]] | None = None
    #: The input file the file case "is_input" names as --out.
    file_input: str | None = None


def _score(fmt: str, source: str) -> Callable[[Path, Path], list[str]]:
    def argv(w: Path, out: Path) -> list[str]:
        model = ["--model", str(w / "model"), "--split-workers", "1"]
        return ["score", *model, "--format", fmt, "--out", str(out), str(w / source)]

    return argv


def _merge(fmt: str, shards: tuple[str, str]) -> Callable[[Path, Path], list[str]]:
    def argv(w: Path, out: Path) -> list[str]:
        parts = [str(w / s) for s in shards]
        return ["merge", *parts, "--inputs", str(w / "articles"), "--format", fmt, "--out", str(out)]

    return argv


def _data_folder(w: Path, out: Path) -> list[str]:
    sets = ["data.format=ptc", f"data.path={w / 'ptc'}", f"data.output_dir={out}", "data.unit=sentence"]
    return ["data", "--config", str(w / "run.yaml"), *[a for s in sets for a in ("--set", s)]]


def _data_file(w: Path, out: Path) -> list[str]:
    corpus = ["--set", f"data.path={w / 'corpus.jsonl'}"]
    return ["data", "--config", str(w / "run.yaml"), *corpus, "--export", "jsonl", "--out", str(out)]


def _train(w: Path, out: Path) -> list[str]:
    sets = [
        f"data.path={w / 'corpus.jsonl'}",
        f"data.output_dir={w / 'dataset'}",
        f"output_dir={out}",
        f"model.base={w / 'base'}",
        "train.task=techniques",
    ]
    return ["train", "--config", str(w / "run.yaml"), *[a for s in sets for a in ("--set", s)]]


STAGES = {
    "score": Stage(
        _score("semeval2023", "articles"),
        "articles",
        ("framelab.score.scorer.load_predictors",),
        _score("jsonl", "corpus.jsonl"),
        "corpus.jsonl",
    ),
    "eval": Stage(
        lambda w, out: ["eval", "--model", str(w / "model"), "--data", str(w / "dataset"), "--out", str(out)],
        "model",
        ("framelab.eval.report.load_model",),
    ),
    "baseline": Stage(
        lambda w, out: ["baseline", "--data", str(w / "dataset"), "--task", "techniques", "--out", str(out)],
        "dataset",
        ("framelab.eval.report.baseline_decisions",),
    ),
    "train": Stage(_train, "dataset", ("framelab.train.run.get_task",)),
    "ensemble": Stage(
        lambda w, out: [
            *("ensemble", "--model", str(w / "model"), "--model", str(w / "model2")),
            *("--data", str(w / "dataset"), "--out", str(out)),
        ],
        "model2",
        ("framelab.train.ensemble.Predictor",),
    ),
    "merge": Stage(
        _merge("semeval2023", ("shard0", "shard1")),
        "shard0",
        ("framelab.score.shard._merge",),
        _merge("jsonl", ("part0.jsonl", "part1.jsonl")),
        "part0.jsonl",
    ),
    "data": Stage(
        _data_folder,
        "ptc",
        ("framelab.dataset.read_corpus", "framelab.readers.read_corpus"),
        _data_file,
        "corpus.jsonl",
    ),
}

#: Cases of a folder output (every stage) and of a file output (stages that write one file), with what the error says.
FOLDER_CASES = {
    "foreign_folder": "framelab did not write",
    "is_input": "is the input",
    "contains_input_even_with_force": "contains the input",
    "inside_input": "lies inside the input",
    "link_to_a_folder": "is a symbolic link",
    "link_at_the_lock": "lock file of this output is a symbolic link",
}
FILE_CASES = {
    "is_input": "is the input",
    "fifo": "is a FIFO",
    "link_to_stdout": "is a symbolic link",
    "character_device": "is a character device",
}
MATRIX = [(stage, "folder", case) for stage in STAGES for case in FOLDER_CASES] + [
    (stage, "file", case) for stage, spec in STAGES.items() if spec.file_argv for case in FILE_CASES
]


def _snapshot(root: Path) -> dict[str, object]:
    """Every path under ``root``: a link's target, a file's digest, a special file's type (never read)."""
    seen: dict[str, object] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                seen[str(path)] = ("link", os.readlink(path))
            elif stat.S_ISREG(mode):
                seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                seen[str(path)] = stat.S_IFMT(mode)
    return seen


def _plant(case: str, w: Path, tmp_path: Path, stage: Stage, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the situation of ``case``; returns the --out to give."""
    if case == "foreign_folder":
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "keep.txt").write_text("a folder of the user's\n", encoding="utf-8")
        return tmp_path / "mine"
    if case == "contains_input_even_with_force":
        monkeypatch.chdir(w)
        return Path(os.getcwd())  # --out "$PWD"
    if case == "inside_input":
        return w / stage.folder_input / "out"
    if case == "link_to_a_folder":
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "elsewhere" / "keep.txt").write_text("kept\n", encoding="utf-8")
        (tmp_path / "out").symlink_to(tmp_path / "elsewhere")
        return tmp_path / "out"
    if case == "link_at_the_lock":
        (tmp_path / "victim.txt").write_text("not a lock file\n", encoding="utf-8")
        (tmp_path / ".out.lock").symlink_to(tmp_path / "victim.txt")
        return tmp_path / "out"
    if case == "fifo":
        os.mkfifo(tmp_path / "out.jsonl")
        return tmp_path / "out.jsonl"
    if case == "link_to_stdout":
        (tmp_path / "out.jsonl").symlink_to("/proc/self/fd/1")
        return tmp_path / "out.jsonl"
    if case == "character_device":
        try:  # the same device numbers as /dev/null, but a node of this test's own
            os.mknod(tmp_path / "out.jsonl", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device node needs root")
        return tmp_path / "out.jsonl"
    raise AssertionError(case)


@pytest.mark.parametrize(("stage_name", "mode", "case"), MATRIX, ids=["-".join(m) for m in MATRIX])
def test_an_unsafe_out_is_refused_before_any_work_and_nothing_changes(
    stage_name: str, mode: str, case: str, workspace: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    stage = STAGES[stage_name]
    w = tmp_path / "w"
    shutil.copytree(workspace, w, symlinks=True)
    if case == "is_input":
        out = w / (stage.folder_input if mode == "folder" else stage.file_input)
    else:
        out = _plant(case, w, tmp_path, stage, monkeypatch)
    argv = (stage.folder_argv if mode == "folder" else stage.file_argv)(w, out)
    if case == "contains_input_even_with_force":
        argv.append("--force")
    before = _snapshot(tmp_path)

    def expensive(*args, **kwargs):
        raise AssertionError("the stage's work began before the refusal")

    for target in stage.expensive:
        monkeypatch.setattr(target, expensive)

    assert main(argv) == 2
    err = capsys.readouterr().err
    expected = (FOLDER_CASES if mode == "folder" else FILE_CASES)[case]
    assert expected in err and "Traceback" not in err
    named = out.with_name(f".{out.name}.lock") if case == "link_at_the_lock" else out
    assert str(named) in err
    if case == "foreign_folder":
        assert "--force" in err
    assert _snapshot(tmp_path) == before


# --------------------------------------------------------------------------- what is replaced, and --force


def _score_semeval(model: Path, inputs: Path, out: Path, *extra: str) -> int:
    argv = ["score", "-q", "--model", str(model), "--split-workers", "1", "--format", "semeval2023"]
    return main([*argv, "--out", str(out), str(inputs), *extra])


def test_force_replaces_a_foreign_folder_and_reruns_replace_framelab_output(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "submission"
    out.mkdir()
    (out / "keep.txt").write_text("x\n", encoding="utf-8")
    assert _score_semeval(workspace / "model", workspace / "articles", out, "--force") == 0
    assert sorted(p.name for p in out.iterdir()) == [output.MARKER, "subtask-3.txt"]
    assert output.framelab_kind(out) == "scores"
    # framelab's own output of the same kind is replaced without --force, and no lock or temporary is left.
    assert _score_semeval(workspace / "model", workspace / "articles", out) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["submission"]


def test_eval_into_another_model_folder_is_refused(workspace: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    # A model folder written before the marker existed is known by framelab.json: a model, not a report.
    other = tmp_path / "other-model"
    shutil.copytree(workspace / "model", other)
    monkeypatch.setattr("framelab.eval.report.load_model", lambda *a, **k: pytest.fail("model loaded"))
    argv = ["eval", "--model", str(workspace / "model"), "--data", str(workspace / "dataset"), "--out", str(other)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "holds a framelab model, not a report" in err and str(other) in err and "--force" in err
    assert (other / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("files", "kind"),
    [
        ({"framelab.json": "{}", "model.safetensors": ""}, "model"),
        ({"ensemble.json": "{}"}, "model"),
        ({"data_config.json": "{}", "dataset_dict.json": "{}"}, "dataset"),
        ({"metrics.json": '{"task": "techniques", "split": "dev"}', "report.md": ""}, "report"),
        ({"subtask-2.txt": "", "subtask-3.txt": ""}, "scores"),
        ({"SI.txt": "", "TC.txt": ""}, "scores"),
        ({output.MARKER: '{"kind": "report"}', "anything": ""}, "report"),
        ({output.MARKER: "not JSON", "anything": ""}, output.ANY_KIND),
        ({"metrics.json": "{}", "notes.txt": ""}, None),
        ({"subtask-3.txt": "", "notes.txt": ""}, None),
    ],
)
def test_folders_framelab_wrote_before_the_marker_are_known_by_their_files(
    files: dict[str, str], kind: str | None, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    assert output.framelab_kind(folder) == kind
    for wanted in output.KINDS:
        if kind in (wanted, output.ANY_KIND):
            assert output.check_output(folder, folder=True, kind=wanted) == folder
        else:
            with pytest.raises(DataError, match="--force"):
                output.check_output(folder, folder=True, kind=wanted)
            assert output.check_output(folder, folder=True, kind=wanted, force=True) == folder


def test_files_put_into_the_output_folder_during_the_run_stop_the_swap(tmp_path: Path) -> None:
    out = tmp_path / "report"
    with pytest.raises(DataError, match="framelab did not write"), output.atomic_folder(out) as built:
        (built / "metrics.json").write_text("{}", encoding="utf-8")
        out.mkdir()
        (out / "notes.txt").write_text("written meanwhile\n", encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


# --------------------------------------------------------------------------- the lock file


def test_a_stale_lock_file_is_never_written_to(tmp_path: Path) -> None:
    # A lock file left by a killed run, here a hard link to a file of the user's: taking the lock must not truncate it.
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's text\n", encoding="utf-8")
    os.link(victim, tmp_path / ".out.jsonl.lock")
    held = output.acquire(tmp_path / "out.jsonl")
    lock = tmp_path / ".out.jsonl.lock"
    assert lock.read_text() == f"{os.getpid()}\n" and not os.path.samefile(lock, victim)
    output.release(held)
    assert victim.read_text(encoding="utf-8") == "the user's text\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim.txt"]


def test_without_fcntl_the_lock_file_itself_is_the_lock(tmp_path: Path, monkeypatch) -> None:
    # Issue 39 (Windows, no fcntl): creating the lock file with O_EXCL is the lock; a leftover one is named.
    monkeypatch.setattr(output, "fcntl", None)
    held = output.acquire(tmp_path / "out.jsonl")
    output.release(held)
    assert list(tmp_path.iterdir()) == []
    (tmp_path / ".out.jsonl.lock").write_text("99999\n", encoding="utf-8")
    with pytest.raises(DataError, match="PID 99999") as info:
        output.acquire(tmp_path / "out.jsonl")
    assert f"delete {tmp_path / '.out.jsonl.lock'}" in str(info.value)
    assert (tmp_path / ".out.jsonl.lock").read_text(encoding="utf-8") == "99999\n"


def test_the_library_refuses_as_the_cli_does(workspace: Path, tmp_path: Path) -> None:
    # Python callers of a stage get the same refusal (framelab.score.scorer.score here, before any model loads).
    from framelab.score.scorer import score

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("x\n", encoding="utf-8")
    with pytest.raises(DataError, match="framelab did not write"):
        score([workspace / "model"], [workspace / "articles"], fmt="semeval2023", out=mine, progress=False)
    assert [p.name for p in mine.iterdir()] == ["keep.txt"]


#: Run in a fresh interpreter where ``import fcntl`` fails, as on Windows: import framelab, then score one
#: article from Python and one through the command line, whose --out takes the lock.
_WITHOUT_FCNTL = """
import sys

sys.modules["fcntl"] = None  # import fcntl now raises ImportError
import framelab
from framelab import output
from framelab.cli import main

assert output.fcntl is None
model, article, out = sys.argv[1:]
scored = framelab.load(model).score("Only a fool would trust this disastrous plan. The council met on Tuesday.")
assert len(scored[0].units) == 2
sys.exit(main(["-q", "score", "--model", model, "--out", out, article]))
"""


def test_framelab_imports_and_scores_where_there_is_no_fcntl(tiny_classifier_dir: Path, tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text("Only a fool would trust this disastrous plan. The council met on Tuesday.", encoding="utf-8")
    out = tmp_path / "scored.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_FCNTL, str(tiny_classifier_dir), str(article), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["type"] for r in records] == ["unit", "unit", "article"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["article.txt", "scored.jsonl"]  # the lock file is gone
