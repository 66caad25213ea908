"""The csv and html outputs of ``framelab score`` from hand-made predictions: colours by label position, tags,
legends, summaries, span rows, score columns, ``--excel``."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from markupsafe import escape

from framelab.cli import main
from framelab.score.records import FrameEvidence, ModelLabels, Prediction, ScoredArticle, ScoredUnit
from framelab.score.render import PALETTE, STYLE, label_look
from framelab.score.writers import CsvWriter, HtmlWriter
from framelab.tagging import TaggedSpan
from framelab.types import Article, Unit

TECHNIQUES = ModelLabels("tech", "techniques", ("Loaded_Language", "Doubt", "Flag_Waving"))
SPANS = ModelLabels("tagger", "spans", ("Loaded_Language", "Doubt"))
FRAMES = ModelLabels("frames-model", "frames", ("Economic", "Political"))
STANCE = ModelLabels("stance-model", "stance", ("against", "favor", "none"))
MODELS = (TECHNIQUES, SPANS, FRAMES, STANCE)
TEXT = "Zürich <b>rigged</b> it.\n\nThe “plan” is a disaster. Nothing happened."


def _article(
    article_id: str = "a1", techniques: tuple[list[str], ...] = (["Doubt"], ["Loaded_Language", "Doubt"], [])
) -> ScoredArticle:
    """``TEXT`` cut into three sentences: techniques and stance on each, two spans in the first, frames with
    evidence and stance on the article."""
    bounds = [
        (0, TEXT.index("\n")),
        (TEXT.index("The"), TEXT.index("disaster.") + 9),
        (TEXT.index("Nothing"), len(TEXT)),
    ]
    units = []
    for i, ((start, end), labels) in enumerate(zip(bounds, techniques)):
        unit = Unit(article_id, i, start, end, TEXT[start:end])
        predictions = {
            "tech": Prediction("techniques", labels, {"Loaded_Language": 0.7, "Doubt": 0.9, "Flag_Waving": 0.1}),
            "stance-model": Prediction(
                "stance", ["none"], {"against": 0.1, "favor": 0.2, "none": 0.7}, target="the plan"
            ),
        }
        if i == 0:
            rigged = unit.text.index("<b>rigged</b>")
            found = [
                TaggedSpan(rigged, rigged + 13, "Loaded_Language", 0.8),
                TaggedSpan(0, len(unit.text) - 1, "Doubt", 0.6),
            ]
            predictions["tagger"] = Prediction(
                "spans", ["Doubt", "Loaded_Language"], {"Doubt": 0.6, "Loaded_Language": 0.8}, spans=found
            )
        units.append(ScoredUnit("sentence", unit, predictions))
    frames = Prediction(
        "frames",
        ["Political"],
        {"Economic": 0.2, "Political": 0.8},
        evidence=[FrameEvidence("Political", *bounds[1], 0.6)],
    )
    stance = Prediction("stance", ["against"], {"against": 0.6, "favor": 0.1, "none": 0.3}, target="the <plan>")
    return ScoredArticle(Article(article_id, TEXT), units, {"frames-model": frames, "stance-model": stance})


def _page(path: Path, *results: ScoredArticle, models: tuple[ModelLabels, ...] = MODELS) -> str:
    writer = HtmlWriter(path, models)
    for result in results:
        writer.write(result)
    writer.close()
    return path.read_text(encoding="utf-8")


def _styles(page: str, label: str) -> set[str]:
    """The style attributes of every tag naming ``label``."""
    return set(re.findall(rf'<span class="tag" data-label="{re.escape(label)}" style="([^"]*)"', page))


def test_a_labels_colour_is_its_position_in_its_models_label_list(tmp_path: Path) -> None:
    # In the first page Doubt comes first; in the second only Loaded_Language and Flag_Waving show.
    first = _page(tmp_path / "one.html", _article(techniques=(["Doubt"], ["Doubt"], [])))
    second = _page(tmp_path / "two.html", _article(techniques=(["Flag_Waving"], ["Loaded_Language"], [])))
    for page, label in ((first, "Doubt"), (second, "Loaded_Language"), (second, "Flag_Waving")):
        colour, line = label_look(TECHNIQUES.labels.index(label))
        assert _styles(page, label) == {f"--c:{colour};--t:{colour}59;--b:{line}"}
    assert _styles(first, "Doubt") != _styles(second, "Loaded_Language") != _styles(second, "Flag_Waving")
    # Past the palette the colours come round again, drawn with another line style.
    assert label_look(len(PALETTE) + 1) == (PALETTE[1], "dashed") and label_look(1) == (PALETTE[1], "solid")
    assert len(set(PALETTE)) == len(PALETTE) >= 19


def test_every_label_is_a_visible_tag_after_its_unit_or_span_and_in_its_legend(tmp_path: Path) -> None:
    page = _page(tmp_path / "page.html", _article())
    body = page[page.index("<body>") :]
    units = body[body.index('data-unit="sentence"') :].split('<span class="unit"')[1:]
    # Tags are element text, not titles: each span's where it ends, then the unit's techniques (best first) and
    # its stance.
    tagged = [re.findall(r'<span class="tag" data-label="([^"]+)"[^>]*>([^<]*)<small>', unit) for unit in units]
    assert tagged == [
        [("Loaded_Language", "Loaded_Language "), ("Doubt", "Doubt "), ("Doubt", "Doubt "), ("none", "none ")],
        [("Doubt", "Doubt "), ("Loaded_Language", "Loaded_Language "), ("none", "none ")],
        [("none", "none ")],
    ]
    assert '&lt;b&gt;rigged&lt;/b&gt;</u><span class="tag" data-label="Loaded_Language"' in units[0]
    assert '<span class="tag" data-label="Political"' in body  # the frame's evidence sentence
    legend = body[body.index('<div class="legend">') : body.index("<section")]
    units, spans, articles = (
        legend[legend.index(f"<b>{name}</b>") :].split("</p>")[0] for name in ("Units", "Spans", "Articles")
    )
    assert re.findall(r">([^<>]+)</span>", units.split(": ", 1)[1]) == ["Loaded_Language", "Doubt", "none"]
    assert re.findall(r">([^<>]+)</span>", spans.split(": ", 1)[1]) == ["Loaded_Language", "Doubt"]
    assert re.findall(r">([^<>]+)</span>", articles.split(": ", 1)[1]) == ["Political", "against"]


def test_each_article_opens_with_a_summary_of_its_frames_top_techniques_and_stance(tmp_path: Path) -> None:
    page = _page(tmp_path / "page.html", _article())
    summary = page[page.index('<div class="summary">') :].split("</div>")[0]
    badges = re.findall(r'data-label="([^"]+)"[^>]*>[^<]*<small>([^<]*)</small>', summary)
    assert badges == [
        ("Political", "0.80"),
        ("against", "0.60"),
        ("Doubt", "×2"),
        ("Loaded_Language", "×1"),
        ("none", "×3"),
        ("Loaded_Language", "×1"),
        ("Doubt", "×1"),
    ]
    assert "(techniques, 2 of 3 sentences labelled)" in summary and "(spans, 2 spans in 1 sentence)" in summary
    assert "(stance toward <q>the &lt;plan&gt;</q>)" in summary


def test_with_several_targets_each_stance_tag_names_its_target(tmp_path: Path) -> None:
    result = _article()
    for unit in result.units:
        unit.predictions = {
            f"stance-model@{t}": Prediction("stance", ["none"], {"against": 0.1, "favor": 0.2, "none": 0.7}, target=t)
            for t in ("Pier", "Toll")
        }
    page = _page(tmp_path / "page.html", result)
    units = page[page.index('data-unit="sentence"') :].split('<span class="unit"')[1:]
    assert [re.findall(r'<span class="tag"[^>]*>([^<]*)<small>', unit) for unit in units] == [
        ["Pier: none ", "Toll: none "]
    ] * 3


def test_labels_model_names_targets_and_ids_are_escaped(tmp_path: Path) -> None:
    evil = '<script>alert(1)</script>" onmouseover="x'
    result = _article(article_id=evil)
    result.units[1].predictions["tech"] = Prediction("techniques", [evil], {evil: 0.9})
    result.predictions[evil] = Prediction("stance", ["none"], {"none": 0.5}, target=evil)
    page = _page(tmp_path / "page.html", result)
    assert "<script>" not in page and 'onmouseover="x' not in page
    # Escaped as Jinja2's autoescape escapes (markupsafe): id, model name, target, tag text and attribute, legend.
    assert page.count(escape(evil)) >= 5


def test_the_print_stylesheet_keeps_tags_and_lines_and_breaks_pages_between_articles() -> None:
    screen, print_rules = STYLE.split("@media print")
    assert "display:none" not in STYLE and "visibility" not in STYLE  # nothing, on screen or paper, hides a tag
    assert "section.article+section.article{break-before:page}" in print_rules
    assert "print-color-adjust:exact" in print_rules
    # The label is in the tag's text and its colour in lines, which print whether or not backgrounds do.
    assert (
        "border:2px var(--b,solid) var(--c,#777)" in screen and "text-decoration:underline var(--b) var(--c)" in screen
    )


def _rows(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding=encoding, newline="")))


def test_csv_has_a_row_per_span_in_article_offsets_and_a_column_per_label(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    writer = CsvWriter(out, MODELS)
    writer.write(_article())
    writer.close()
    header = next(csv.reader(out.open(encoding="utf-8", newline="")))
    scores = [
        "score:Loaded_Language",
        "score:Doubt",
        "score:Flag_Waving",
        "score:Economic",
        "score:Political",
        "score:against",
        "score:favor",
        "score:none",
    ]
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
    assert (evidence["labels"], evidence["weight"], evidence["text"]) == (
        "Political",
        "0.6",
        "The “plan” is a disaster.",
    )


def test_excel_csv_starts_with_a_byte_order_mark(tmp_path: Path) -> None:
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    for out, flag in ((plain, False), (excel, True)):
        writer = CsvWriter(out, MODELS, excel=flag)
        writer.write(_article())
        writer.close()
    assert excel.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()
    assert _rows(excel, "utf-8-sig") == _rows(plain)


def test_score_excel_flows_from_the_command_line(
    tmp_path: Path, tiny_classifier_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    article = tmp_path / "article.txt"
    article.write_text("Zürich’s “plan” is a disaster. Nothing happened.", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "score",
                "--model",
                str(tiny_classifier_dir),
                "--format",
                "csv",
                "--excel",
                "--out",
                str(out),
                "--quiet",
                str(article),
            ]
        )
        == 0
    )
    assert out.read_bytes().startswith("\ufeffarticle_id,".encode())
    rows = _rows(out, "utf-8-sig")
    assert rows[0]["text"] == "Zürich’s “plan” is a disaster."
    assert {"score:a", "score:b", "score:c"} <= rows[0].keys()
    assert (
        main(
            [
                "score",
                "--model",
                str(tiny_classifier_dir),
                "--format",
                "jsonl",
                "--excel",
                "--out",
                str(tmp_path / "o.jsonl"),
                str(article),
            ]
        )
        == 2
    )
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
    assert (
        merged.read_bytes().startswith(b"\xef\xbb\xbfarticle_id,") and merged.read_bytes().count(b"\xef\xbb\xbf") == 1
    )
    assert [r["text"] for r in _rows(merged, "utf-8-sig")] == [
        r["text"] for r in _rows(tmp_path / "whole.csv", "utf-8-sig")
    ]
