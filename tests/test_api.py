"""Scoring from Python (``framelab.load``): the README's example runs, and the records match ``framelab score``."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from pathlib import Path

import pytest

import framelab
from framelab.errors import DataError
from framelab.score.scorer import score
from framelab.types import Article

from .conftest import REPO


@pytest.fixture(scope="module")
def sample_techniques(tmp_path_factory: pytest.TempPathFactory, tiny_classifier_dir: Path) -> Path:
    """The tiny classifier under the README's folder name, since a model's folder name keys its predictions."""
    folder = tmp_path_factory.mktemp("api") / "sample-techniques"
    shutil.copytree(tiny_classifier_dir, folder)
    return folder


def test_the_readme_python_example_runs(sample_techniques: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## From Python") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace('"models/sample-techniques"', repr(str(sample_techniques)))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    start, end, labels = lines[0].split(" ", 2)
    assert (int(start), int(end)) == (0, len("Only a fool would trust this disastrous plan."))
    assert labels.startswith("[")


def test_records_are_what_the_cli_writes(sample_techniques: Path, tmp_path: Path) -> None:
    texts = {"a1": "First sentence here. Second one follows!", "a2": "A line.\nAnother line."}
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in texts.items()), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    score([sample_techniques], [inputs], fmt="jsonl", out=out, progress=False, split_workers=1)
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    model = framelab.load(sample_techniques)
    records = model.score_records([{"id": k, "text": v} for k, v in texts.items()])
    for record in (*written, *records):
        record.pop("source", None)
    assert records == written
    assert model.labels == {"sample-techniques": ["a", "b", "c"]}


def test_bad_items_are_refused_by_position(sample_techniques: Path) -> None:
    model = framelab.load(sample_techniques)
    with pytest.raises(DataError, match="item 1"):
        model.score(["fine", 3.5])
    with pytest.raises(DataError, match="empty"):
        model.score("   ")
    assert model.score(Article("x", "One sentence."))[0].article.id == "x"


def test_a_plain_hugging_face_multi_label_classifier_scores_at_one_half_with_a_warning(
    tiny_classifier_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(tiny_classifier_dir, plain)
    (plain / "framelab.json").unlink()
    config = json.loads((plain / "config.json").read_text(encoding="utf-8"))
    config["id2label"], config["label2id"] = {"0": "a", "1": "b", "2": "c"}, {"a": 0, "b": 1, "c": 2}
    (plain / "config.json").write_text(json.dumps(config), encoding="utf-8")
    article = tmp_path / "a.txt"
    article.write_text("Only a fool would trust this disastrous plan. The council met on Tuesday.", encoding="utf-8")
    with caplog.at_level("WARNING", logger="framelab"):
        model = framelab.load(plain)
    assert "has no framelab.json" in caplog.text and "0.5" in caplog.text
    assert model.labels == {"plain": ["a", "b", "c"]} and model.predictors[0].meta.thresholds == [0.5] * 3
    out = tmp_path / "plain.jsonl"
    score([plain], [article], fmt="jsonl", out=out, progress=False)
    units = [r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines()) if r["type"] == "unit"]
    assert len(units) == 2
    probs = model.predictors[0].probabilities([u["text"] for u in units])
    for unit, row in zip(units, probs):
        prediction = unit["predictions"]["plain"]
        assert prediction["labels"] == [name for name, p in zip(["a", "b", "c"], row) if p >= 0.5]


def test_a_plain_single_label_classifier_is_refused_naming_its_problem_type(
    tiny_classifier_dir: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "single"
    shutil.copytree(tiny_classifier_dir, plain)
    (plain / "framelab.json").unlink()
    config = json.loads((plain / "config.json").read_text(encoding="utf-8"))
    config["problem_type"] = "single_label_classification"
    (plain / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(DataError, match="problem_type is 'single_label_classification'"):
        framelab.load(plain)
