"""Label Studio in and out: ``framelab score --format labelstudio`` tasks, the shipped label config, and the
``labelstudio`` reader on exports built by the label-studio-sdk package's own classes (no hand-written JSON).

The slow test that runs a real Label Studio server is ``test_labelstudio_server.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from label_studio_sdk.label_interface.objects import AnnotationValue, TaskValue

from framelab.cli import main
from framelab.errors import DataError, ProblemLog
from framelab.labelstudio import interface, label_config, labels_by_control, tasks_from_records
from framelab.readers import read_corpus, read_jsonl
from framelab.readers.labelstudio import read_labelstudio
from framelab.score.records import ModelLabels, Prediction, ScoredArticle, ScoredUnit
from framelab.score.writers import LabelStudioWriter, article_records, open_writer
from framelab.tagging import TaggedSpan
from framelab.types import Article, Span, Unit
from framelab.units import iter_lines

from .conftest import REPO, SAMPLE

TECHNIQUES = ModelLabels("tech", "techniques", ("Loaded_Language", "Doubt", "Flag_Waving"))
SPANS = ModelLabels("tagger", "spans", ("Loaded_Language", "Doubt"))
FRAMES = ModelLabels("frames-model", "frames", ("Economic", "Political"))
GENRE = ModelLabels("genre-model", "genre", ("news", "opinion"))
STANCE = ModelLabels("stance-model", "stance", ("against", "favor", "none"))
MODELS = (TECHNIQUES, SPANS, FRAMES, GENRE, STANCE)
#: Astral characters (🚀 is two UTF-16 units), a combining mark, CRLF and a BOM: code-point offsets must hold.
TEXT = "\ufeffZürich 🚀 <b>rigged</b> it.\r\n\r\nThe “plan” is a disaste\u0301r.\r\nNothing 🙂 happened."
#: Each line's techniques, in line order.
LINE_LABELS = (["Doubt"], [], ["Doubt", "Loaded_Language"])


def _scored(article_id: str = "a1", text: str = TEXT) -> ScoredArticle:
    """Techniques on each line (none on the second), two spans in each labelled line, frames, genre, stance."""
    units = []
    for i, ((number, start, end), labels) in enumerate(zip(iter_lines(text), LINE_LABELS)):
        u = Unit(article_id, i, start, end, text[start:end], line=number)
        scores = {"Loaded_Language": 0.7, "Doubt": 0.9, "Flag_Waving": 0.1}
        found = [TaggedSpan(1, 4, "Doubt", 0.55), TaggedSpan(2, len(u.text) - 1, "Loaded_Language", 0.8)]
        predictions = {
            "tech": Prediction("techniques", labels, scores),
            "stance-model": Prediction("stance", ["none"], {"against": 0.1, "favor": 0.2, "none": 0.7}, "it"),
        }
        if labels:
            predictions["tagger"] = Prediction("spans", ["Doubt", "Loaded_Language"], {"Doubt": 0.55}, spans=found)
        units.append(ScoredUnit("line", u, predictions))
    article = {
        "frames-model": Prediction("frames", ["Economic", "Political"], {"Economic": 0.6, "Political": 0.8}),
        "genre-model": Prediction("genre", ["opinion"], {"news": 0.3, "opinion": 0.7}),
        "stance-model": Prediction("stance", ["against"], {"against": 0.6, "favor": 0.1, "none": 0.3}, "the <plan>"),
    }
    return ScoredArticle(Article(article_id, text), units, article)


def _write(folder: Path, *results: ScoredArticle, models: tuple[ModelLabels, ...] = MODELS) -> tuple[list, str]:
    writer = open_writer("labelstudio", folder, models)
    for result in results:
        writer.write(result)
    assert sorted(Path(p).name for p in writer.close()) == ["label_config.xml", "tasks.json"]
    return json.loads((folder / "tasks.json").read_text(encoding="utf-8")), (folder / "label_config.xml").read_text()


def _spans_of(result: ScoredArticle) -> list[Span]:
    """The scored spans in article offsets."""
    return sorted(
        Span(s.unit.start + t.start, s.unit.start + t.end, t.label)
        for s in result.units
        for p in s.predictions.values()
        for t in p.spans or ()
    )


def _export(tasks: list[dict], annotators: list[list[int]] | None = None) -> list[dict]:
    """A Label Studio JSON export of ``tasks`` built with the SDK's ``TaskValue``/``AnnotationValue``: each
    annotator (a user id) accepts every prediction of the task, as a reviewer who changes nothing would;
    ``annotators[i]`` lists task ``i``'s."""
    exported = []
    for i, task in enumerate(tasks):
        result = [region for p in task["predictions"] for region in p["result"]]
        users = annotators[i] if annotators else [1]
        annotations = [AnnotationValue(completed_by=user, result=result) for user in users]
        value = TaskValue(data=task["data"], annotations=annotations, predictions=[]).model_dump()
        for n, annotation in enumerate(value["annotations"], start=1):
            annotation["id"] = 100 * (i + 1) + n
        exported.append({"id": i + 1, **value})
    return exported


def _read(tmp_path: Path, export: list[dict], **kwargs) -> tuple[list[Article], ProblemLog]:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    log = ProblemLog(strict=False)
    return read_labelstudio(path, log=log, **kwargs), log


def test_tasks_hold_each_models_prediction_with_model_version_scores_and_code_point_offsets(tmp_path: Path) -> None:
    result = _scored()
    tasks, config = _write(tmp_path / "ls", result)
    ui = interface(config)
    assert ui.validate() is None
    [task] = tasks
    assert task["data"] == {"text": TEXT, "article_id": "a1", "target": "the <plan>"}
    by_model = {p["model_version"]: p for p in task["predictions"]}
    assert set(by_model) == {"tech", "tagger", "frames-model", "genre-model", "stance-model"}
    for prediction in task["predictions"]:
        assert ui.validate_prediction(prediction, return_errors=True) == []
        assert prediction["score"] == pytest.approx(
            sum(r["score"] for r in prediction["result"]) / len(prediction["result"])
        )
        for region in prediction["result"]:
            value = region["value"]
            if "start" in value:
                assert value["text"] == TEXT[value["start"] : value["end"]]
    spans = sorted(
        Span(r["value"]["start"], r["value"]["end"], *r["value"]["labels"]) for r in by_model["tagger"]["result"]
    )
    assert spans == _spans_of(result)
    assert [r["score"] for r in by_model["tagger"]["result"]] == [0.55, 0.8, 0.55, 0.8]
    units = [r for r in by_model["tech"]["result"] if r["from_name"] == "unit"]
    choices = [r for r in by_model["tech"]["result"] if r["from_name"] == "unit_labels"]
    assert [r["value"]["labels"] for r in units] == [["line"], ["line"]]  # the second line has no label
    assert [r["value"]["choices"] for r in choices] == [["Doubt"], ["Doubt", "Loaded_Language"]]
    assert [r["id"] for r in units] == [r["id"] for r in choices]
    assert [r["score"] for r in choices] == [0.9, pytest.approx(0.8)]
    assert by_model["frames-model"]["result"][0]["value"] == {"choices": ["Economic", "Political"]}
    [stance] = by_model["stance-model"]["result"]  # the article's stance only, not each sentence's
    assert (stance["from_name"], stance["value"], stance["score"]) == ("stance", {"choices": ["against"]}, 0.6)


def test_pre_annotations_accepted_in_an_sdk_export_read_back_offset_for_offset(tmp_path: Path) -> None:
    results = [_scored("a1"), _scored("a2", "Short 🙂 one.\nA second line here.")]
    tasks, _ = _write(tmp_path / "ls", *results)
    articles, log = _read(tmp_path, _export(tasks))
    assert log.problems == [] and log.warnings == []
    assert [a.id for a in articles] == ["a1", "a2"]
    for article, result in zip(articles, results):
        assert article.text == result.article.text
        assert article.spans == _spans_of(result)
        assert [article.text[s.start : s.end] for s in article.spans] == [
            result.article.text[s.start : s.end] for s in _spans_of(result)
        ]
        assert (article.frames, article.genre, article.stance) == (["Economic", "Political"], "opinion", "against")
        assert article.stance_target == "the <plan>"
    assert articles[0].line_labels == {1: ["Doubt"], 3: [], 4: ["Doubt", "Loaded_Language"]}
    assert articles[1].line_labels == {1: ["Doubt"], 2: []}
    # Read through the registry, as `framelab data` does (data.format: labelstudio).
    again = read_corpus("labelstudio", tmp_path / "export.json", log=ProblemLog(), labels=list(TECHNIQUES.labels))
    assert [a.spans for a in again] == [a.spans for a in articles]


def test_annotators_disagreeing_are_reported_and_the_majority_kept(tmp_path: Path) -> None:
    tasks, config = _write(tmp_path / "ls", _scored())
    doubt = interface(config).get_control("span").label(label=["Doubt"], start=1, end=7)._dict()
    export = _export(tasks, [[1, 2, 3]])
    first, second, third = (a["result"] for a in export[0]["annotations"])
    first.append(doubt)
    second.append(doubt)  # the new span: 2 of 3
    third[:] = [r for r in third if r["from_name"] != "frames"]  # frames: 2 of 3
    second[:] = [r for r in second if r["from_name"] != "stance"]  # stance: 2 of 3
    # A skipped task (cancelled annotation) counts for nothing.
    export[0]["annotations"].append(AnnotationValue(completed_by=4, result=[], was_cancelled=True).model_dump())
    [article], log = _read(tmp_path, export)
    assert Span(1, 7, "Doubt") in article.spans
    assert (article.frames, article.stance) == (["Economic", "Political"], "against")
    [warning] = log.warnings
    assert "task 1 (article a1): 3 annotators disagree (majority rule)" in warning.message
    assert "span 1–7 Doubt ('Zürich'): 2 of 3, kept" in warning.message
    assert "frames Economic: 2 of 3, kept" in warning.message and "stance against: 2 of 3, kept" in warning.message
    second.clear()
    third.clear()
    [article], log = _read(tmp_path, export)
    assert (article.spans, article.frames, article.stance) == ([], [], None)  # each 1 of 3
    assert "span 1–7 Doubt ('Zürich'): 1 of 3, dropped" in log.warnings[0].message


def test_offsets_counted_on_other_text_are_refused_naming_the_task_and_region(tmp_path: Path) -> None:
    tasks, config = _write(tmp_path / "ls", _scored())
    export = _export(tasks)
    # Offsets in UTF-16 units (as JavaScript counts them): the region's text no longer matches data.text.
    start = TEXT.index("<b>") + 1
    moved = interface(config).get_control("span").label(label=["Doubt"], start=start, end=start + 6)._dict()
    moved["value"]["text"] = "<b>rig"
    export[0]["annotations"][0]["result"].append(moved)
    with pytest.raises(DataError) as caught:
        read_labelstudio(_dump(tmp_path, export), log=(log := ProblemLog()))
        log.raise_if_any()
    message = str(caught.value)
    assert "export.json" in message and "task 1 (article a1)" in message and f"region {moved['id']}" in message
    assert "character (code point) offsets" in message


def _dump(tmp_path: Path, export: list[dict]) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    return path


def test_bad_exports_name_the_file_the_task_and_what_to_do(tmp_path: Path) -> None:
    tasks, _ = _write(tmp_path / "ls", _scored())
    export = _export(tasks)
    export[0]["annotations"][0]["result"][0]["from_name"] = "label"
    with pytest.raises(
        DataError, match=r"task 1 \(article a1\): region .* unknown control 'label'.*configs/labelstudio"
    ):
        log = ProblemLog()
        read_labelstudio(_dump(tmp_path, export), log=log)
        log.raise_if_any()
    path = tmp_path / "min.json"
    path.write_text(json.dumps({"text": TEXT, "span": []}), encoding="utf-8")
    with pytest.raises(DataError, match="min.json.*expected a JSON list of tasks.*not JSON-MIN"):
        read_labelstudio(path, log=ProblemLog())
    export = _export(tasks)
    export[0]["annotations"][0]["result"] = [
        r for r in export[0]["annotations"][0]["result"] if r["from_name"] != "unit"
    ]
    unannotated = {**export[0], "id": 7, "annotations": [], "data": {**export[0]["data"], "article_id": "b"}}
    articles, log = _read(tmp_path, [export[0], unannotated], labels=["Doubt"])
    assert [a.id for a in articles] == ["a1"] and articles[0].line_labels is None
    assert any("1 task(s) without an annotation left out: task 7" in w.message for w in log.warnings)
    assert [p.message for p in log.problems] == ["task 1 (article a1): unknown technique 'Loaded_Language'"] * 2


def test_shipped_label_config_is_the_one_built_for_the_sample_corpus_names() -> None:
    articles = read_jsonl(SAMPLE, log=ProblemLog())
    techniques = sorted({s.label for a in articles for s in a.spans})
    names = {
        "span": techniques,
        "unit_labels": techniques,
        "frames": sorted({f for a in articles for f in a.frames or ()}),
        "genre": sorted({a.genre for a in articles if a.genre}),
        "stance": sorted({a.stance for a in articles if a.stance}),
    }
    shipped = (REPO / "configs" / "labelstudio" / "sample.xml").read_text(encoding="utf-8")
    assert shipped == label_config(names)
    assert interface(shipped).validate() is None
    assert labels_by_control([("techniques", ["b", "a"]), ("spans", ["a"]), ("frames", ["x"])]) == {
        "span": ["a"],
        "unit_labels": ["b", "a"],
        "frames": ["x"],
    }


def test_a_label_outside_the_config_is_refused() -> None:
    result = _scored()
    config = label_config(labels_by_control([("spans", ["Doubt"])]))
    spans_only = [{**r, "predictions": {"tagger": r["predictions"]["tagger"]}} for r in article_records(result)[:1]]
    with pytest.raises(ValueError, match="not defined in labeling config"):
        tasks_from_records(spans_only, {"a1": TEXT}, config)
    with pytest.raises(ValueError, match="the label config has no 'unit' control for model tech"):
        tasks_from_records(article_records(result), {"a1": TEXT}, config)
    with pytest.raises(ValueError, match="no text for article"):
        tasks_from_records(article_records(result), {}, config)


def test_score_writes_label_studio_tasks_from_the_command_line(tmp_path: Path, tiny_classifier_dir: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text("Zürich’s 🚀 “plan” is a disaster. Nothing happened.", encoding="utf-8")
    out = tmp_path / "ls"
    assert (
        main(
            [
                "score",
                "--model",
                str(tiny_classifier_dir),
                "--format",
                "labelstudio",
                "--out",
                str(out),
                "--quiet",
                str(article),
            ]
        )
        == 0
    )
    config = (out / "label_config.xml").read_text(encoding="utf-8")
    [task] = json.loads((out / "tasks.json").read_text(encoding="utf-8"))
    assert task["data"]["text"] == article.read_text(encoding="utf-8")
    ui = interface(config)
    assert all(ui.validate_prediction(p, return_errors=True) == [] for p in task["predictions"])
    assert {p["model_version"] for p in task["predictions"]} <= {tiny_classifier_dir.name}
    assert main(["score", "--model", str(tiny_classifier_dir), "--format", "labelstudio", str(article)]) == 2


def test_the_writer_needs_a_folder() -> None:
    with pytest.raises(ValueError, match="--format labelstudio needs --out FOLDER"):
        LabelStudioWriter(None, MODELS)


def test_without_the_sdk_the_writer_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "label_studio_sdk.label_interface", None)
    with pytest.raises(ValueError, match=r"labelstudio extra .*pip install 'framelab\[labelstudio\]'"):
        interface(label_config({"frames": ["Economic"]}))
