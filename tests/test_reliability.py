"""Outputs that never strand, mix or hide, and one clear error for every bad input (issue 24).

One test per reproduction of the issue: each failed on the code before
framelab/output.py (a traceback, a hidden file, a silent loss or a silent
cut). The fuzzing harness is in test_fuzz.py, the kill tests in
test_fault_injection.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from framelab import output
from framelab.cli import main
from framelab.config import load_config
from framelab.dataset import build_dataset, stats_table
from framelab.errors import ConfigError, DataError
from framelab.score import scorer
from framelab.score.scorer import score

from .conftest import REPO

TEXT = "Harbour levy row\n\nThe mayor called the levy a shameful scandal. Critics disagreed.\n"


def _inputs(folder: Path, n: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"story{i}.txt").write_text(TEXT, encoding="utf-8")
    return folder


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _no_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make loading a model fail loudly: a test using it shows the refusal came first."""

    def fail(*args, **kwargs):
        raise AssertionError("a model was loaded before the refusal")

    monkeypatch.setattr(scorer, "load_predictors", fail)


def _score(model: Path, *args: str) -> int:
    return main(["score", "--model", str(model), "--quiet", "--split-workers", "1", *args])


# --------------------------------------------------------------------------- where the output goes


def test_out_that_is_a_folder_is_refused_before_any_work(
    tmp_path: Path, tiny_classifier_dir: Path, monkeypatch, capsys
) -> None:
    # Before: the whole run scored, then IsADirectoryError and the result stranded in a hidden .DIR.XXXX file.
    inputs = _inputs(tmp_path / "in")
    (tmp_path / "out").mkdir()
    _no_load(monkeypatch)
    assert _score(tiny_classifier_dir, str(inputs), "--out", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "existing folder" in err and str(tmp_path / "out") in err and "Traceback" not in err
    assert _hidden(tmp_path) == [] and list((tmp_path / "out").iterdir()) == []


def test_read_only_output_folder_is_refused_before_any_work(tmp_path: Path, tiny_classifier_dir: Path) -> None:
    # Before: a PermissionError traceback after all the work. Root writes anywhere, so the CLI runs without
    # CAP_DAC_OVERRIDE.
    if not shutil.which("setpriv"):
        pytest.skip("needs setpriv to drop root's override of file permissions")
    inputs = _inputs(tmp_path / "in")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    command = [
        *drop,
        sys.executable,
        "-m",
        "framelab.cli",
        "score",
        "--model",
        str(tiny_classifier_dir),
        "--quiet",
        str(inputs),
        "--out",
        str(locked / "out.jsonl"),
    ]
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert "not writable" in done.stderr and str(locked) in done.stderr and "Traceback" not in done.stderr
    assert list(locked.iterdir()) == []
    assert time.perf_counter() - started < 120


def test_modes_follow_the_umask_and_a_replaced_file_keeps_its_mode(tmp_path: Path, tiny_classifier_dir: Path) -> None:
    # Before: every file 0600 and every folder 0700 whatever the umask; an existing 0644 output became 0600.
    inputs = _inputs(tmp_path / "in")
    old = os.umask(0o022)
    try:
        score([tiny_classifier_dir], [inputs], out=tmp_path / "new.jsonl", progress=False, split_workers=1)
        assert (tmp_path / "new.jsonl").stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.jsonl"
        kept.write_text("old\n")
        kept.chmod(0o664)
        score([tiny_classifier_dir], [inputs], out=kept, progress=False, split_workers=1)
        assert kept.stat().st_mode & 0o777 == 0o664 and kept.read_text() != "old\n"
        with output.atomic_folder(tmp_path / "model") as folder:
            (folder / "config.json").write_text("{}")
        assert (tmp_path / "model").stat().st_mode & 0o777 == 0o755
        os.umask(0o027)
        score([tiny_classifier_dir], [inputs], out=tmp_path / "group.jsonl", progress=False, split_workers=1)
        assert (tmp_path / "group.jsonl").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old)
    assert _hidden(tmp_path) == []


def test_folder_format_leaves_no_stale_file_of_an_older_run(tmp_path: Path, tiny_classifier_dir: Path) -> None:
    # Before: an older subtask-2.txt stayed beside the new subtask-3.txt, so a submission could mix two runs.
    inputs = _inputs(tmp_path / "in")
    out = tmp_path / "submission"
    out.mkdir()
    (out / "subtask-2.txt").write_text("old\tEconomic\n")
    assert _score(tiny_classifier_dir, str(inputs), "--format", "semeval2023", "--out", str(out)) == 0
    assert sorted(p.name for p in out.iterdir()) == [output.MARKER, "subtask-3.txt"]
    assert _hidden(tmp_path) == []


def test_a_second_writer_of_the_same_out_is_refused_naming_the_first(
    tmp_path: Path, tiny_classifier_dir: Path, monkeypatch, capsys
) -> None:
    # Before: both runs reported success and one run's output was silently lost.
    inputs = _inputs(tmp_path / "in")
    out = tmp_path / "out.jsonl"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys, time; from framelab.output import acquire; acquire({str(out)!r}); "
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        _no_load(monkeypatch)
        assert _score(tiny_classifier_dir, str(inputs), "--out", str(out)) == 2
        err = capsys.readouterr().err
        assert f"PID {holder.pid}" in err and "another framelab run" in err and "Traceback" not in err
    finally:
        holder.kill()
        holder.wait()
        monkeypatch.undo()
    assert not out.exists()
    # The holder was killed: its lock went with it, and the next run writes and removes the lock file.
    assert _score(tiny_classifier_dir, str(inputs), "--out", str(out)) == 0
    assert out.is_file() and _hidden(tmp_path) == []


def test_a_temporary_left_by_a_killed_run_is_removed_by_the_next(tmp_path: Path, tiny_classifier_dir: Path) -> None:
    # Before: kill -9 while scoring left a hidden partial .out.jsonl.XXXX beside the output, never cleaned.
    inputs = _inputs(tmp_path / "in")
    stale = tmp_path / ".out.jsonl.tmp-99999-deadbeef"
    stale.write_text('{"type": "unit"')
    (tmp_path / ".out.jsonl.lock").write_text("99999\n")  # the lock file of the killed run; its flock died with it
    assert _score(tiny_classifier_dir, str(inputs), "--out", str(tmp_path / "out.jsonl")) == 0
    assert _hidden(tmp_path) == []
    assert output.temporary_name(tmp_path / "x").name.startswith(".x" + output.TMP_MARK)


def test_a_failing_writer_removes_its_temporary(tmp_path: Path) -> None:
    target = output.AtomicFile(tmp_path / "out.txt")
    target.handle.write("half")
    target.abort()
    with pytest.raises(RuntimeError), output.atomic_folder(tmp_path / "folder") as folder:
        (folder / "a.txt").write_text("x")
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- errors: one line, exit 2


def test_truncated_weights_are_one_clear_error(tmp_path: Path, tiny_classifier_dir: Path, capsys) -> None:
    # Before: a 34-line traceback from safetensors.
    model = tmp_path / "model"
    shutil.copytree(tiny_classifier_dir, model)
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    assert _score(model, str(_inputs(tmp_path / "in")), "--out", str(tmp_path / "out.jsonl")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") <= 3 and "Traceback" not in err
    assert str(weights) in err and "cannot load the model's weights" in err and "copy it again or retrain" in err
    assert not (tmp_path / "out.jsonl").exists() and _hidden(tmp_path) == []


def test_unreadable_tokenizer_is_one_clear_error(tmp_path: Path, tiny_classifier_dir: Path, capsys) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_classifier_dir, model)
    (model / "tokenizer.json").write_text('{"version": "1.0", "truncated')
    assert _score(model, str(_inputs(tmp_path / "in"))) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and str(model) in err and "tokenizer files" in err


def test_verbose_shows_the_traceback(tmp_path: Path, tiny_classifier_dir: Path, capsys) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_classifier_dir, model)
    (model / "model.safetensors").write_bytes(b"\x00" * 10)
    assert main(["score", "-v", "--model", str(model), "--quiet", str(_inputs(tmp_path / "in"))]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "cannot load the model's weights" in err


def test_an_internal_error_is_one_line_with_exit_1(tmp_path: Path, monkeypatch, capsys) -> None:
    def broken(*args, **kwargs):
        raise KeyError("something internal")

    monkeypatch.setattr(scorer, "load_predictors", broken)
    assert main(["score", "--model", str(tmp_path), "--quiet", str(_inputs(tmp_path / "in"))]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "rerun with -v" in err and "KeyError" in err


@pytest.mark.parametrize(
    "setting, key",
    [
        ("train.epochs=.inf", "train.epochs"),
        ("train.learning_rate=.nan", "train.learning_rate"),
        ("train.warmup_ratio=-0.1", "train.warmup_ratio"),
        ("train.warmup_ratio=1", "train.warmup_ratio"),
        ("train.weight_decay=-0.01", "train.weight_decay"),
        ("train.max_pos_weight=-1", "train.max_pos_weight"),
        ("train.eval_batch_size=0", "train.eval_batch_size"),
        ("train.logging_steps=0", "train.logging_steps"),
        ("train.focal_gamma=-.inf", "train.focal_gamma"),
    ],
)
def test_bad_numbers_in_the_config_are_refused_naming_the_key(setting: str, key: str, capsys) -> None:
    # Before: epochs .inf gave an OverflowError traceback (and an empty .work folder); the rest passed framelab config.
    with pytest.raises(ConfigError, match=key):
        load_config(None, [setting])
    assert main(["config", "--set", setting]) == 2
    err = capsys.readouterr().err
    assert key in err and "Traceback" not in err


def test_infinite_epochs_leave_no_work_folder(tmp_path: Path, capsys) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(f"output_dir: {tmp_path / 'model'}\ntrain:\n  epochs: .inf\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "train.epochs" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]


@pytest.mark.parametrize("argv", [["--batch-size", "0"], ["--batch-size", "-3"], ["--split-workers", "0"]])
def test_cli_numbers_out_of_range_are_refused(argv: list[str], tmp_path: Path, capsys) -> None:
    # Before: --batch-size 0 answered "range() arg 3 must not be zero".
    with pytest.raises(SystemExit) as info:
        main(["score", "--model", str(tmp_path), *argv, str(tmp_path)])
    assert info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_folds_of_one_are_refused_by_the_parser(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["train", "--config", "x.yaml", "--folds", "1"])
    assert info.value.code == 2 and "at least 2" in capsys.readouterr().err


# --------------------------------------------------------------------------- inputs


def test_inputs_are_checked_before_the_model_loads(tmp_path: Path, tiny_classifier_dir: Path, monkeypatch) -> None:
    # Before: the model loaded (about 20 s on a real one) before a bad input was found.
    inputs = _inputs(tmp_path / "in")
    (inputs / "zz-broken.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    _no_load(monkeypatch)
    with pytest.raises(DataError, match="binary file"):
        score([tiny_classifier_dir], [inputs], out=tmp_path / "out.jsonl", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_on_error_skip_scores_the_rest_and_lists_the_bad_files(
    tmp_path: Path, tiny_classifier_dir: Path, capsys
) -> None:
    # Before: one unreadable file in an input folder discarded the whole run, with no way to skip it.
    inputs = _inputs(tmp_path / "in", 3)
    bad = inputs / "broken.txt"
    bad.write_bytes("caf\xe9\n".encode("latin-1"))
    out = tmp_path / "out.jsonl"
    assert _score(tiny_classifier_dir, str(inputs), str(tmp_path / "missing.txt"), "--out", str(out)) == 2
    capsys.readouterr()
    assert (
        _score(tiny_classifier_dir, str(inputs), str(tmp_path / "missing.txt"), "--out", str(out), "--on-error", "skip")
        == 0
    )
    err = capsys.readouterr().err
    assert "skipped 2 bad input(s)" in err and str(bad) in err and "missing.txt" in err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["article_id"] for r in records if r["type"] == "article") == ["story0", "story1", "story2"]
    (problems,) = [r for r in records if r["type"] == "problems"]
    assert problems["count"] == 2 and {f["path"] for f in problems["files"]} == {
        str(bad),
        str(tmp_path / "missing.txt"),
    }
    assert records[-1]["type"] == "problems"


def test_units_longer_than_max_length_are_counted_and_warned(tmp_path: Path, tiny_classifier_dir: Path, capsys) -> None:
    # Before: units longer than max_length tokens were cut silently.
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "long.txt").write_text(
        "Short one. " + "levy " * 300 + "scandal.\nAnother short line.\n", encoding="utf-8"
    )
    (folder / "short.txt").write_text(TEXT, encoding="utf-8")
    summary = score([tiny_classifier_dir], [folder], out=tmp_path / "out.jsonl", progress=False, split_workers=1)
    assert summary.cut_units == {tiny_classifier_dir.name: 1}
    assert _score(tiny_classifier_dir, str(folder), "--out", str(tmp_path / "again.jsonl")) == 0
    assert (
        f"warning: {tiny_classifier_dir.name}: 1 unit(s) longer than the model's max_length" in capsys.readouterr().err
    )


def test_a_misspelt_technique_without_a_label_list_is_named(tmp_path: Path) -> None:
    # Before: with no label list, a misspelt technique silently became a new class.
    text = "One loaded line here.\nAnother loaded line.\nA third line.\n"
    records = [
        {
            "id": f"a{i}",
            "text": text,
            "spans": [{"start": 0, "end": 10, "label": "Loaded_Language"}, {"start": 22, "end": 29, "label": "Doubt"}],
        }
        for i in range(4)
    ]
    records.append({"id": "typo", "text": text, "spans": [{"start": 0, "end": 10, "label": "Loaded_Langauge"}]})
    corpus = tmp_path / "c.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records))
    config = load_config(None, [f"data.path={corpus}", f"data.output_dir={tmp_path / 'ds'}", "data.unit=line"])
    table = stats_table(build_dataset(config).stats)
    assert (
        "no label list (data.labels): 3 technique name(s) taken from the corpus: "
        "Doubt (4), Loaded_Langauge (1), Loaded_Language (4)" in table
    )
    assert "'Loaded_Langauge' (1 use(s)) looks like 'Loaded_Language' (4)" in table


def test_a_folder_swap_killed_between_its_renames_gets_the_old_folder_back(tmp_path: Path) -> None:
    # The old folder was renamed aside, then the run died before the new one moved in.
    old = tmp_path / ".report.old-99999-deadbeef"
    old.mkdir()
    (old / "metrics.json").write_text("{}")
    (tmp_path / ".report.tmp-99999-cafebabe").mkdir()
    with output.claim(tmp_path / "report", folder=True):
        assert (tmp_path / "report" / "metrics.json").read_text() == "{}"
    assert _hidden(tmp_path) == []
