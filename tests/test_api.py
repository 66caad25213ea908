"""Scoring from Python (``framelab.load``): the README's example runs, and the records match ``framelab score``."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import typing
from pathlib import Path

import pytest

import framelab
from framelab.errors import DataError
from framelab.score.records import FrameEvidence, Prediction, ScoredArticle, ScoredUnit, StanceEvidence
from framelab.score.scorer import score
from framelab.score.writers import article_records
from framelab.tagging import TaggedSpan
from framelab.types import Article, Unit

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


def test_a_dataframe_is_scored_by_its_text_column(sample_techniques: Path) -> None:
    pd = pytest.importorskip("pandas")
    model = framelab.load(sample_techniques)
    frame = pd.DataFrame(
        {
            "id": ["a1", "a2"],
            "title": ["Headline", None],
            "text": ["First sentence here. Second one follows!", "A line.\nAnother line."],
        }
    )
    scored = model.score(frame)
    assert [r.article.id for r in scored] == ["a1", "a2"]  # not the column names, as before (issue 39)
    assert scored[0].article.text == "Headline\n\nFirst sentence here. Second one follows!"
    mappings = [{"id": "a1", "title": "Headline", "text": frame.text[0]}, {"id": "a2", "text": frame.text[1]}]
    assert model.score_records(frame) == model.score_records(mappings)
    by_index = model.score(pd.DataFrame({"text": ["One.", "Two."]}, index=["x", "y"]))
    assert [r.article.id for r in by_index] == ["x", "y"]  # no id column: the index labels


@pytest.mark.parametrize(
    ("columns", "refusal"),
    [
        ({"body": ["Some text."]}, "has no 'text' column (its columns: 'body')"),
        ({"text": ["Some text."], "date": ["2024-01-01"]}, "'date' that framelab would not use"),
    ],
)
def test_any_other_dataframe_is_refused_naming_its_columns(
    sample_techniques: Path, columns: dict, refusal: str
) -> None:
    pd = pytest.importorskip("pandas")
    model = framelab.load(sample_techniques)
    with pytest.raises(DataError, match=re.escape(refusal)):
        model.score(pd.DataFrame(columns))
    with pytest.raises(DataError, match=re.escape(refusal)):
        model.iter_score(pd.DataFrame(columns))  # checked at the call, before the first result is asked for
    with pytest.raises(DataError, match=r"DataFrame row 1: has no text"):
        model.score(pd.DataFrame({"text": ["Fine.", None]}))


def test_to_pandas_makes_a_row_per_unit_and_model(sample_techniques: Path) -> None:
    pytest.importorskip("pandas")
    model = framelab.load(sample_techniques)
    texts = ["First sentence here. Second one follows!", "A line."]
    scored = model.score(texts)
    table = scored.to_pandas()
    units = [r for r in model.score_records(texts) if r["type"] == "unit"]
    assert len(table) == len(units) == 3
    assert list(table.columns[:3]) == ["article_id", "unit", "index"]
    assert list(table.columns[-3:]) == ["score:a", "score:b", "score:c"]
    for (_, row), unit in zip(table.iterrows(), units):
        prediction = unit["predictions"]["sample-techniques"]
        assert (row.article_id, row.start, row.end, row.text) == (
            unit["article_id"],
            unit["start"],
            unit["end"],
            unit["text"],
        )
        assert row.labels == prediction["labels"]
        assert [row[f"score:{label}"] for label in "abc"] == [prediction["scores"][label] for label in "abc"]
    assert len(scored[1].to_pandas()) == 1
    assert scored.to_pandas("span").empty and list(scored.to_pandas("span").columns)[-2:] == ["score", "text"]
    with pytest.raises(ValueError, match="unknown level 'words'"):
        scored.to_pandas("words")


def test_to_pandas_spans_articles_and_evidence_index_the_article_text() -> None:
    pytest.importorskip("pandas")
    text = "Title\n\nThey lie. Rain falls."
    unit = Unit(article_id="x", index=1, start=7, end=16, text="They lie.", line=3)
    spans = Prediction("spans", ["Loaded"], {"Loaded": 0.9}, spans=[TaggedSpan(5, 8, "Loaded", 0.9)])
    frames = Prediction(
        "frames_attention", ["Crime"], {"Crime": 0.8, "Health": 0.1}, evidence=[FrameEvidence("Crime", 7, 16, 0.7)]
    )
    result = ScoredArticle(
        Article("x", text, source="x.txt"), [ScoredUnit("sentence", unit, {"s": spans})], {"f": frames}
    )
    span = result.to_pandas("span").iloc[0]
    assert (span.start, span.end, span.label, span.text) == (12, 15, "Loaded", "lie")
    article = result.to_pandas("article").iloc[0]
    assert (article.model, article.labels, article["score:Health"], article.units) == ("f", ["Crime"], 0.1, 1)
    evidence = result.to_pandas("evidence").iloc[0]
    assert (evidence.label, evidence.weight, evidence.text) == ("Crime", 0.7, "They lie.")
    stance = Prediction("fnc1", ["agree"], {"agree": 0.7}, evidence=[StanceEvidence(7, 16, 0.9, 1)])
    result.predictions["c"] = stance
    rows = result.to_pandas("evidence")
    assert rows.iloc[-1][["label", "weight", "rank", "text"]].tolist() == ["agree", 0.9, 1, "They lie."]


def test_iter_score_streams_one_chunk_at_a_time(sample_techniques: Path) -> None:
    model = framelab.load(sample_techniques)
    texts = [f"Sentence number {n}. Another one." for n in range(5)]
    taken = []

    def given():
        for text in texts:
            taken.append(text)
            yield text

    stream = model.iter_score(given(), chunk_articles=2)
    first = next(stream)
    assert first.article.id == "0" and len(taken) == 2  # the first chunk only
    rest = list(stream)
    assert len(taken) == 5
    streamed = [first, *rest]
    assert [r.article.id for r in streamed] == ["0", "1", "2", "3", "4"]
    assert [article_records(r) for r in streamed] == [article_records(r) for r in model.score(texts)]


def test_load_is_visible_to_help_and_typed() -> None:
    import pydoc

    assert "load" in vars(framelab) and framelab.load.__module__ == "framelab"  # not behind __getattr__
    shown = pydoc.render_doc(framelab, renderer=pydoc.plaintext)
    assert "load(*model_dirs: 'str | Path'" in shown and "-> 'Model'" in shown
    assert "iter_score(self" in shown  # the class it returns, documented alongside
    import torch

    hints = typing.get_type_hints(framelab.load, localns={"Model": framelab.api.Model, "torch": torch})
    assert hints["return"] is framelab.api.Model and framelab.Model is framelab.api.Model
    done = subprocess.run(
        [sys.executable, "-c", "import sys, framelab; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.stdout.strip() == "False"  # import framelab stays light: the scoring stack loads in load()
