"""The csv output of ``framelab score`` from hand-made predictions: span rows, score columns, ``--excel``."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from framelab.cli import main
from framelab.score.records import FrameEvidence, ModelLabels, Prediction, ScoredArticle, ScoredUnit
from framelab.score.writers import CsvWriter
from framelab.tagging import TaggedSpan
from framelab.types import Article, Unit

TECHNIQUES = ModelLabels("tech", "techniques", ("Loaded_Language", "Doubt", "Flag_Waving"))
SPANS = ModelLabels("tagger", "spans", ("Loaded_Language", "Doubt"))
FRAMES = ModelLabels("frames-model", "frames", ("Economic", "Political"))
STANCE = ModelLabels("stance-model", "stance", ("against", "favor", "none"))
MODELS = (TECHNIQUES, SPANS, FRAMES, STANCE)
TEXT = "Zürich <b>rigged</b> it.\n\nThe “plan” is a disaster. Nothing happened."


def _article(article_id: str = "a1", techniques: tuple[list[str], ...] = (["Doubt"], ["Loaded_Language", "Doubt"], [])) -> ScoredArticle:
    """``TEXT`` cut into three sentences: techniques and stance on each, two spans in the first, frames with evidence and stance on the article."""
    bounds = [(0, TEXT.index("\n")), (TEXT.index("The"), TEXT.index("disaster.") + 9), (TEXT.index("Nothing"), len(TEXT))]
    units = []
    for i, ((start, end), labels) in enumerate(zip(bounds, techniques)):
        unit = Unit(article_id, i, start, end, TEXT[start:end])
        predictions = {
            "tech": Prediction("techniques", labels, {"Loaded_Language": 0.7, "Doubt": 0.9, "Flag_Waving": 0.1}),
            "stance-model": Prediction("stance", ["none"], {"against": 0.1, "favor": 0.2, "none": 0.7}, target="the plan"),
        }
        if i == 0:
            rigged = unit.text.index("<b>rigged</b>")
            found = [TaggedSpan(rigged, rigged + 13, "Loaded_Language", 0.8), TaggedSpan(0, len(unit.text) - 1, "Doubt", 0.6)]
            predictions["tagger"] = Prediction("spans", ["Doubt", "Loaded_Language"], {"Doubt": 0.6, "Loaded_Language": 0.8}, spans=found)
        units.append(ScoredUnit("sentence", unit, predictions))
    frames = Prediction("frames", ["Political"], {"Economic": 0.2, "Political": 0.8}, evidence=[FrameEvidence("Political", *bounds[1], 0.6)])
    stance = Prediction("stance", ["against"], {"against": 0.6, "favor": 0.1, "none": 0.3}, target="the <plan>")
    return ScoredArticle(Article(article_id, TEXT), units, {"frames-model": frames, "stance-model": stance})


def _rows(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding=encoding, newline="")))


def test_csv_has_a_row_per_span_in_article_offsets_and_a_column_per_label(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    writer = CsvWriter(out, MODELS)
    writer.write(_article())
    writer.close()
    header = next(csv.reader(out.open(encoding="utf-8", newline="")))
    scores = ["score:Loaded_Language", "score:Doubt", "score:Flag_Waving", "score:Economic", "score:Political", "score:against", "score:favor", "score:none"]
    assert header[-len(scores) :] == scores and "scores" not in header
    rows = _rows(out)
    assert [r["level"] for r in rows].count("unit") == 7 and [r["level"] for r in rows].count("article") == 2
    spans = [r for r in rows if r["level"] == "span"]
    assert [(r["labels"], r["text"], r["score:" + r["labels"]]) for r in spans] == [
        ("Loaded_Language", "<b>rigged</b>", "0.8"),
        ("Doubt", "Zürich <b>rigged</b> it", "0.6"),
    ]
    for r in rows:
        if r["level"] != "article":
            assert TEXT[int(r["start"]) : int(r["end"])] == r["text"]
    tech = next(r for r in rows if r["model"] == "tech")
    assert (tech["score:Doubt"], tech["score:Economic"]) == ("0.9", "")  # a model fills only its own labels
    (evidence,) = [r for r in rows if r["level"] == "frame_evidence"]
    assert (evidence["labels"], evidence["weight"], evidence["text"]) == ("Political", "0.6", "The “plan” is a disaster.")


def test_excel_csv_starts_with_a_byte_order_mark(tmp_path: Path) -> None:
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    for out, flag in ((plain, False), (excel, True)):
        writer = CsvWriter(out, MODELS, excel=flag)
        writer.write(_article())
        writer.close()
    assert excel.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()
    assert _rows(excel, "utf-8-sig") == _rows(plain)


def test_score_excel_flows_from_the_command_line(tmp_path: Path, tiny_classifier_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    article = tmp_path / "article.txt"
    article.write_text("Zürich’s “plan” is a disaster. Nothing happened.", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["score", "--model", str(tiny_classifier_dir), "--format", "csv", "--excel", "--out", str(out), "--quiet", str(article)]) == 0
    assert out.read_bytes().startswith("\ufeffarticle_id,".encode())
    rows = _rows(out, "utf-8-sig")
    assert rows[0]["text"] == "Zürich’s “plan” is a disaster." and {"score:a", "score:b", "score:c"} <= rows[0].keys()
    assert main(["score", "--model", str(tiny_classifier_dir), "--format", "jsonl", "--excel", "--out", str(tmp_path / "o.jsonl"), str(article)]) == 2
    assert "--excel is for --format csv, not jsonl" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_csv_refuses_a_score_of_a_label_its_models_did_not_list(tmp_path: Path) -> None:
    writer = CsvWriter(tmp_path / "out.csv", (FRAMES,))
    with pytest.raises(ValueError, match="score:Loaded_Language"):
        writer.write(_article())
    writer.abort()
    assert not list(tmp_path.iterdir())


def test_merged_excel_shards_keep_one_byte_order_mark(tmp_path: Path, tiny_classifier_dir: Path) -> None:
    inputs = tmp_path / "articles"
    inputs.mkdir()
    for n in range(6):
        (inputs / f"article{n}.txt").write_text(f"Article {n} über “quotes”. A second sentence.", encoding="utf-8")
    common = ["--model", str(tiny_classifier_dir), "--format", "csv", "--excel", "--quiet"]
    shards = [tmp_path / f"shard-{k}.csv" for k in range(2)]
    for k, shard in enumerate(shards):
        assert main(["score", *common, "--shard", f"{k}/2", "--out", str(shard), str(inputs)]) == 0
    assert main(["score", *common, "--out", str(tmp_path / "whole.csv"), str(inputs)]) == 0
    merged = tmp_path / "merged.csv"
    assert main(["merge", *map(str, shards), "--inputs", str(inputs), "--format", "csv", "--out", str(merged)]) == 0
    assert merged.read_bytes().startswith(b"\xef\xbb\xbfarticle_id,") and merged.read_bytes().count(b"\xef\xbb\xbf") == 1
    assert [r["text"] for r in _rows(merged, "utf-8-sig")] == [r["text"] for r in _rows(tmp_path / "whole.csv", "utf-8-sig")]
