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
    section = readme[readme.index("### From Python") :]
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
