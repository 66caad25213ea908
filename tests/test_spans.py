"""The spans task: tag alignment, windows, training, eval and scoring with the tiny BERT."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer

from framelab.cli import main
from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.errors import DataError
from framelab.eval.report import evaluate_model
from framelab.models.folder import read_meta
from framelab.models.stock import refusal_message
from framelab.score.scorer import score
from framelab.spans.classify import classify_span_file
from framelab.spans.tasks import SPANS
from framelab.spans.train import tag_loss
from framelab.tagging import (
    IGNORE,
    decode,
    merge_windows,
    text_label_scores,
    token_targets,
    tokenize_windows,
    trim_span,
    window_starts,
)
from framelab.train.run import train
from framelab.types import Span

from .conftest import SAMPLE, assert_stock_pipeline_refuses, dry_run_push

LABELS = ["Loaded_Language", "Doubt", "Slogans"]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def _round_trip(
    tokenizer, text: str, spans: list[Span], max_length: int = 512, stride: int = 0
) -> list[tuple[int, int, str]]:
    """Char spans -> B/I targets per window -> merged -> decoded char spans (targets used as probabilities)."""
    windows = tokenize_windows(tokenizer, [text], max_length=max_length, stride=stride)
    trimmed = [Span(*trim_span(text, s.start, s.end), s.label) for s in spans]
    starts = window_starts(windows)
    probs = [
        np.where(t == IGNORE, 0.0, t)
        for t in (token_targets(o, trimmed, LABELS, window_start=st) for o, st in zip(windows.offsets, starts))
    ]
    ((offsets, merged),) = merge_windows(windows, probs, 1)
    return [(s.start, s.end, s.label) for s in decode(text, offsets, merged, LABELS, [0.5] * len(LABELS))]


def _spans(text: str, *pieces: tuple[str, str]) -> list[Span]:
    out = []
    for piece, label in pieces:
        start = text.index(piece)
        out.append(Span(start, start + len(piece), label))
    return out


ADVERSARIAL = [
    # punctuation around and inside spans, trimmed of . , : ; but not of ! or quotes
    (
        "They called it a “total disaster”, a sham; truly awful!",
        [("total disaster", "Loaded_Language"), ("a sham;", "Doubt"), ("truly awful!", "Loaded_Language")],
    ),
    # unicode: accents, a BOM at the start, an emoji, CJK
    (
        "\ufeffÉlite bureaucrats 😡 ruin everything — 完全に wrong.",
        [("Élite bureaucrats", "Loaded_Language"), ("ruin everything", "Doubt"), ("完全に wrong", "Slogans")],
    ),
    # CRLF line ends inside and between spans
    (
        "First line here.\r\nSecond line is shameful\r\nand third.",
        [("Second line is shameful", "Loaded_Language"), ("shameful\r\nand third", "Doubt")],
    ),
    # spans at both text edges, overlapping spans of different techniques
    (
        "Lock them up and stop the steal",
        [
            ("Lock them up", "Slogans"),
            ("Lock them up and stop the steal", "Loaded_Language"),
            ("stop the steal", "Slogans"),
        ],
    ),
]


@pytest.mark.parametrize("text,pieces", ADVERSARIAL)
def test_bio_round_trip_adversarial(tokenizer, text: str, pieces: list) -> None:
    spans = _spans(text, *pieces)
    expected = sorted((*trim_span(text, s.start, s.end), s.label) for s in spans)
    assert sorted(_round_trip(tokenizer, text, spans)) == expected
    for start, end, _ in expected:
        assert text[start:end] == text[start:end].strip(" .,:;")


def test_adjacent_spans_of_one_technique_stay_apart(tokenizer) -> None:
    text = "Disgraceful traitors betrayed us"
    spans = [Span(0, 11, "Loaded_Language"), Span(12, 20, "Loaded_Language")]
    assert _round_trip(tokenizer, text, spans) == [(0, 11, "Loaded_Language"), (12, 20, "Loaded_Language")]


def test_overlapping_spans_of_one_technique_merge(tokenizer) -> None:
    text = "a truly shameful disgraceful act"
    spans = _spans(text, ("truly shameful", "Doubt"), ("shameful disgraceful", "Doubt"))
    assert _round_trip(tokenizer, text, spans) == [(2, 28, "Doubt")]


def test_span_inside_a_word_widens_to_whole_tokens(tokenizer) -> None:
    text = "unbelievably corrupt"
    # A span starting mid-token comes back from the token's start.
    got = _round_trip(tokenizer, text, [Span(2, 12, "Doubt")])
    assert len(got) == 1 and got[0][0] <= 2 and got[0][1] >= 12


def test_text_scores_are_the_highest_b_or_i_probability_of_each_technique() -> None:
    # Two techniques: columns B-first, B-second, I-first, I-second.
    tokens = [
        (np.array([[0, 4], [5, 9]]), np.array([[0.1, 0.2, 0.7, 0.3], [0.9, 0.05, 0.2, 0.1]])),
        (np.zeros((0, 2), dtype=np.int64), np.zeros((0, 0))),
    ]
    np.testing.assert_allclose(text_label_scores(tokens, 2), [[0.9, 0.3], [0.0, 0.0]])
    assert text_label_scores([], 2).shape == (0, 2)


def test_the_unit_term_scores_each_windows_highest_text_token_against_its_tags() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 6, requires_grad=True)  # 2 windows, 5 tokens, B/I of 3 techniques
    labels = torch.zeros(2, 5, 6)
    labels[:, 0] = IGNORE  # [CLS]
    labels[0, 4] = IGNORE  # padding of the shorter window
    labels[0, 2, 0] = 1.0  # window 0: B of the first technique
    labels[1, 3, 4] = 1.0  # window 1: I of the second
    text_tokens = ([1, 2, 3], [1, 2, 3, 4])
    highest = torch.stack(
        [torch.maximum(logits[w, t, :3], logits[w, t, 3:]).amax(dim=0) for w, t in enumerate(text_tokens)]
    )
    present = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

    tags_only = tag_loss("none", pos_weight=None, gamma=2.0)({"logits": logits}, labels)
    joint = tag_loss("none", pos_weight=None, gamma=2.0, unit_weight=0.5)({"logits": logits}, labels)
    assert torch.isclose(joint - tags_only, 0.5 * F.binary_cross_entropy_with_logits(highest, present))
    # Special and padding tokens get no gradient from either term.
    (joint - tags_only).backward()
    assert logits.grad[:, 0].abs().sum() == 0 and logits.grad[0, 4].abs().sum() == 0

    # With positive weights, the unit term takes its own (counted over windows), not the tags'.
    tag_weights, unit_weights = torch.full((6,), 3.0), torch.tensor([2.0, 5.0, 7.0])
    weighted = tag_loss("pos_weight", pos_weight=tag_weights, gamma=2.0)({"logits": logits}, labels)
    weighted_joint = tag_loss(
        "pos_weight", pos_weight=tag_weights, gamma=2.0, unit_weight=1.0, unit_pos_weight=unit_weights
    )({"logits": logits}, labels)
    assert torch.isclose(
        weighted_joint - weighted, F.binary_cross_entropy_with_logits(highest, present, pos_weight=unit_weights)
    )


def test_windowing_loses_and_duplicates_no_span(tokenizer) -> None:
    words = [f"word{i}" for i in range(300)]
    text = " ".join(words)
    spans = []
    for i in range(0, 290, 7):
        start = text.index(f"word{i} ")
        end = text.index(f"word{i + 3} ") + len(f"word{i + 3}")
        spans.append(Span(start, end, LABELS[i % 3]))
    expected = sorted((s.start, s.end, s.label) for s in spans)
    for max_length, stride in ((512, 0), (32, 8), (16, 4), (64, 20)):
        assert sorted(_round_trip(tokenizer, text, spans, max_length, stride)) == expected, (max_length, stride)


@pytest.fixture(scope="module")
def spans_model(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    workdir = tmp_path_factory.mktemp("spans")
    config = load_config(
        None,
        [
            "name=tiny-spans",
            f"data.path={SAMPLE}",
            f"data.output_dir={workdir / 'dataset'}",
            f"output_dir={workdir / 'model'}",
            f"model.base={tiny_model_dir}",
            "model.max_length=64",
            "model.stride=16",
            "train.task=spans",
            "train.epochs=1",
            "train.batch_size=32",
            "train.learning_rate=0.001",
        ],
    )
    build_dataset(config)
    return train(config).model_dir


def test_push_dry_run_of_a_span_tagger(
    spans_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    card = dry_run_push(spans_model, tmp_path / "upload", monkeypatch, caplog)
    assert card.data.pipeline_tag == "token-classification"
    assert "span-identification F1" in card.data.eval_results[0].metric_name
    assert "independent sigmoids with no O tag" in card.text


def test_spans_model_folder_and_dev_metrics(spans_model: Path) -> None:
    meta = json.loads((spans_model / "framelab.json").read_text())
    assert meta["task"] == "spans" and meta["thresholds"] and len(meta["thresholds"]) == len(meta["labels"])
    config = json.loads((spans_model / "config.json").read_text())
    assert sorted(config["id2label"].values()) == sorted(
        [f"B-{n}" for n in meta["labels"]] + [f"I-{n}" for n in meta["labels"]]
    )
    dev = json.loads((spans_model / "dev_metrics.json").read_text())
    tuned = dev["at_tuned_threshold"]
    assert tuned["span_identification"]["f1"] >= dev["at_0.5"]["span_identification"]["f1"]
    assert tuned["technique_classification"]["n_gold"] > 0
    assert "span identification" in (spans_model / "README.md").read_text()


def _interval(block: dict, key: str) -> str:
    low, high = block["ci95"][key]
    return f"{block[key]:.3f} [{low:.3f}, {high:.3f}]"


def test_spans_card_and_summary_show_dev_intervals(spans_model: Path) -> None:
    dev = json.loads((spans_model / "dev_metrics.json").read_text())
    tuned = dev["at_tuned_threshold"]
    si, tc = tuned["span_identification"], tuned["technique_classification"]
    for block in (si, tc, dev["at_0.5"]["span_identification"]):
        assert block["ci95"]["f1"][0] <= block["f1"] <= block["ci95"]["f1"][1]
    assert dev["bootstrap"]["n_groups"] == dev["n_dev_articles"]
    card = (spans_model / "README.md").read_text()
    assert f"P {_interval(si, 'precision')}, R {_interval(si, 'recall')}, **F1 {_interval(si, 'f1')}**" in card
    assert f"**micro-F1 {_interval(tc, 'f1')}**" in card
    name, per = next(iter(si["per_label"].items()))
    assert f"| {name} | {per['n_gold']} | {_interval(per, 'f1')} | " in card
    assert f"only {dev['n_dev_articles']} articles in this split (fewer than 100)" in card
    summary = SPANS.summarize_training(dev)
    assert f"span F1 {_interval(si, 'f1')}" in summary and f"micro-F1 {_interval(tc, 'f1')}" in summary


def test_spans_folds_card_pools_every_folds_spans_with_an_interval(tmp_path: Path, tiny_model_dir: Path) -> None:
    sets = [f"data.path={SAMPLE}", f"data.output_dir={tmp_path / 'dataset'}", f"output_dir={tmp_path / 'model'}"]
    sets += [f"model.base={tiny_model_dir}", "model.max_length=64", "model.stride=16", "train.task=spans"]
    config = load_config(None, [*sets, "train.epochs=1", "train.batch_size=32", "train.folds=3"])
    build_dataset(config)
    model = train(config).model_dir
    dev = json.loads((model / "dev_metrics.json").read_text())
    cv = dev["cross_validated"]
    pooled = cv["pooled_span_identification"]
    assert cv["span_f1"]["pooled"] == pooled["f1"]
    assert pooled["ci95"]["f1"][0] <= pooled["f1"] <= pooled["ci95"]["f1"][1]
    # Pooled: every fold's spans, each at its own threshold; its counts are the folds' together.
    assert pooled["n_gold"] == sum(f["span_identification"]["n_gold"] for f in cv["per_fold"])
    assert pooled["n_pred"] == sum(f["span_identification"]["n_pred"] for f in cv["per_fold"])
    assert dev["bootstrap"]["n_groups"] == dev["n_dev_articles"]
    card = (model / "README.md").read_text()
    f1 = cv["span_f1"]
    assert f"**F1 {f1['mean']:.3f} ± {f1['std']:.3f}** (mean ± std over folds)" in card
    assert f"**F1 {_interval(pooled, 'f1')}** (P {_interval(pooled, 'precision')}" in card
    assert f"only {dev['n_dev_articles']} articles in this split (fewer than 100)" in card
    assert f"pooled {_interval(pooled, 'f1')}" in SPANS.summarize_training(dev)


def test_the_stock_pipeline_refuses_a_span_tagger_instead_of_mislabelling(
    spans_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoConfig, AutoModelForTokenClassification

    meta = read_meta(spans_model)
    message = refusal_message(meta)
    assert "no O tag" in message and (spans_model / "README.md").read_text().count("refuses this folder") == 1
    # Auto classes still load it (framelab's own scoring does so), and config.json holds the thresholds.
    assert AutoModelForTokenClassification.from_pretrained(spans_model).config.custom_pipelines["token-classification"]
    thresholds = AutoConfig.from_pretrained(spans_model).framelab_thresholds
    assert thresholds == dict(zip(meta.labels, meta.thresholds))
    assert_stock_pipeline_refuses(spans_model, "token-classification", message, tmp_path / "modules", monkeypatch)


def test_spans_eval_reproduces_dev_figures(spans_model: Path, tmp_path: Path) -> None:
    meta = json.loads((spans_model / "framelab.json").read_text())
    data_dir = Path(meta["extra"]["dataset"])
    result = evaluate_model(spans_model, data_dir, "dev", tmp_path / "report")
    dev = json.loads((spans_model / "dev_metrics.json").read_text())["at_tuned_threshold"]
    model = result.metrics["model"]
    assert model["span_identification"]["f1"] == pytest.approx(dev["span_identification"]["f1"], abs=1e-4)
    assert model["technique_classification"]["f1"] == pytest.approx(dev["technique_classification"]["f1"], abs=1e-4)
    assert (
        result.metrics["baseline"]["technique_classification"]["n_gold"] == model["technique_classification"]["n_gold"]
    )
    assert (tmp_path / "report" / "report.md").read_text().count("| framelab model |") == 1
    # Every figure carries its 95% interval over the dev articles, which holds it.
    for system in ("model", "baseline"):
        for block in ("span_identification", "technique_classification"):
            figures = result.metrics[system][block]
            assert figures["ci95"]["f1"][0] <= figures["f1"] <= figures["ci95"]["f1"][1], (system, block)
    assert result.metrics["bootstrap"]["n_groups"] == result.metrics["n_articles"]
    assert result.lead.name == "span F1" and result.lead.tally.point() == pytest.approx(
        model["span_identification"]["f1"]
    )


def _sample_articles(n: int = 3) -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()[:n]]


def test_score_jsonl_spans_lie_inside_their_unit(spans_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "spans.jsonl"
    score([spans_model], [SAMPLE], fmt="jsonl", out=out, progress=False)
    texts = {a["id"]: a["text"] for a in (json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines())}
    n_spans = 0
    for record in map(json.loads, out.read_text(encoding="utf-8").splitlines()):
        if record["type"] != "unit":
            continue
        pred = record["predictions"][spans_model.name]
        assert pred["task"] == "spans"
        for span in pred["spans"]:
            n_spans += 1
            assert record["text"][span["start"] : span["end"]] == span["text"]
            assert (
                texts[record["article_id"]][record["start"] + span["start"] : record["start"] + span["end"]]
                == span["text"]
            )
            assert span["text"] == span["text"].strip().strip(".,:;") and span["label"] in pred["labels"]
            assert 0.0 <= span["score"] <= 1.0
    assert n_spans > 0


def test_score_html_escapes_text_around_spans(spans_model: Path, tmp_path: Path) -> None:
    source = tmp_path / "article.txt"
    source.write_text("The <script>corrupt</script> elite & their shameful lies.\nA second line.", encoding="utf-8")
    out = tmp_path / "page.html"
    score([spans_model], [source], fmt="html", out=out, progress=False)
    page = out.read_text(encoding="utf-8")
    # Escaping happens per segment, so no underline can rebuild a raw tag,
    # and without the underlines and the label tags the escaped text reads as written.
    assert "<script>" not in page
    assert "&lt;script&gt;corrupt&lt;/script&gt; elite &amp; their" in re.sub(
        r'<span class="tag"[^>]*>.*?</span>|</?u[^>]*>', "", page
    )


def test_html_underlines_overlapping_spans_inside_their_unit(tmp_path: Path) -> None:
    from framelab.score.records import Prediction, ScoredArticle, ScoredUnit
    from framelab.score.writers import HtmlWriter
    from framelab.tagging import TaggedSpan
    from framelab.types import Article, Unit

    text = "Intro. They <b>rigged</b> the vote & lied."
    start = text.index("They")
    unit = Unit("a1", 1, start, len(text), text[start:])
    rigged = unit.text.index("rigged")
    spans = [TaggedSpan(rigged, rigged + 6, "Loaded_Language", 0.9), TaggedSpan(0, len(unit.text) - 1, "Doubt", 0.6)]
    prediction = Prediction("spans", ["Doubt", "Loaded_Language"], {"Doubt": 0.6, "Loaded_Language": 0.9}, spans=spans)
    writer = HtmlWriter(tmp_path / "page.html")
    writer.write(ScoredArticle(Article("a1", text), [ScoredUnit("sentence", unit, {"m": prediction})], {}))
    page = (tmp_path / "page.html").read_text(encoding="utf-8") if writer.close() else ""
    assert page.count('<u class="span"') == 3  # before, inside and after the nested span
    assert (
        'title="Loaded_Language 0.90: rigged; Doubt 0.60: They &lt;b&gt;rigged&lt;/b&gt; the vote &amp; lied"' in page
    )
    assert "&lt;b&gt;" in page and "<b>rigged" not in page
    assert '<span class="unit"' in page and page.index('<span class="unit"') < page.index('<u class="span"')


def test_score_semeval2020_si_and_tc_files(spans_model: Path, tmp_path: Path) -> None:
    articles = _sample_articles()
    folder = tmp_path / "inputs"
    folder.mkdir()
    for a in articles:
        (folder / f"{a['id']}.txt").write_text(a["text"], encoding="utf-8", newline="")
    score([spans_model], [folder], fmt="semeval2020", out=tmp_path / "sub", progress=False)
    si = [line.split("\t") for line in (tmp_path / "sub" / "SI.txt").read_text().splitlines()]
    tc = [line.split("\t") for line in (tmp_path / "sub" / "TC.txt").read_text().splitlines()]
    assert si and tc and all(len(r) == 3 for r in si) and all(len(r) == 4 for r in tc)
    texts = {a["id"]: a["text"] for a in articles}
    for aid, start, end in si:
        assert 0 <= int(start) < int(end) <= len(texts[aid])
    by_article: dict[str, list[tuple[int, int]]] = {}
    for aid, start, end in si:
        by_article.setdefault(aid, []).append((int(start), int(end)))
    for spans in by_article.values():
        assert all(a[1] <= b[0] for a, b in zip(sorted(spans), sorted(spans)[1:])), "SI spans must not overlap"
    meta = json.loads((spans_model / "framelab.json").read_text())
    assert {r[1] for r in tc} <= set(meta["labels"])


def test_score_spans_file_names_each_given_span(spans_model: Path, tmp_path: Path) -> None:
    articles = _sample_articles(2)
    folder = tmp_path / "inputs"
    folder.mkdir()
    for a in articles:
        (folder / f"{a['id']}.txt").write_text(a["text"], encoding="utf-8", newline="")
    first = articles[0]
    template = tmp_path / "dev-TC-template.labels"
    rows = [(first["id"], 0, 12), (first["id"], 5, 30), (first["id"], 5, 30), (articles[1]["id"], 3, 9)]
    template.write_text("".join(f"{a}\t?\t{s}\t{e}\n" for a, s, e in rows), encoding="utf-8")
    out = tmp_path / "tc.txt"
    assert main(["score", "--model", str(spans_model), "--spans", str(template), "--out", str(out), str(folder)]) == 0
    answers = [line.split("\t") for line in out.read_text().splitlines()]
    assert [(a, int(s), int(e)) for a, _, s, e in answers] == [(a, s, e) for a, s, e in rows]
    labels = set(json.loads((spans_model / "framelab.json").read_text())["labels"])
    assert all(r[1] in labels for r in answers)
    assert answers[1][1] != answers[2][1], "a span listed twice gets two different techniques"


def test_spans_file_problems_name_the_line(spans_model: Path, tmp_path: Path) -> None:
    article = _sample_articles(1)[0]
    (tmp_path / f"{article['id']}.txt").write_text(article["text"], encoding="utf-8")
    template = tmp_path / "bad.labels"
    template.write_text(f"{article['id']}\t?\t0\t5\n{article['id']}\t?\tx\t5\nmissing\t?\t0\t4\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.labels:2"):
        classify_span_file(spans_model, [tmp_path / f"{article['id']}.txt"], template, tmp_path / "out.txt")
    template.write_text(f"other\t?\t0\t5\n{article['id']}\t?\t0\t{len(article['text']) + 5}\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        classify_span_file(spans_model, [tmp_path / f"{article['id']}.txt"], template, tmp_path / "out.txt")
    assert "bad.labels:1" in str(err.value) and "bad.labels:2" in str(err.value) and "past the end" in str(err.value)
    assert not (tmp_path / "out.txt").exists()


@pytest.fixture(scope="module")
def span_classifier(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, spans_model: Path) -> Path:
    workdir = tmp_path_factory.mktemp("span-techniques")
    dataset = json.loads((spans_model / "framelab.json").read_text())["extra"]["dataset"]
    config = load_config(
        None,
        [
            "name=tiny-span-techniques",
            f"data.path={SAMPLE}",
            f"data.output_dir={dataset}",
            f"output_dir={workdir / 'model'}",
            f"model.base={tiny_model_dir}",
            "model.max_length=64",
            "model.stride=16",
            "train.task=span_techniques",
            "train.epochs=1",
            "train.batch_size=32",
            "train.learning_rate=0.001",
        ],
    )
    return train(config).model_dir


def test_span_context_is_whole_words_around_the_span() -> None:
    from framelab.spans.context import CONTEXT_CHARS, span_with_context

    text = "word " * 100 + "the shameful plot" + " word" * 100
    start = text.index("shameful")
    span, context = span_with_context(text, start, start + 8)
    assert span == "shameful" and "the shameful plot" in context
    assert context.startswith("word") and context.endswith("word")
    assert 2 * CONTEXT_CHARS <= len(context) - len(span) <= 2 * CONTEXT_CHARS + 8


def test_span_classifier_eval_and_spans_file(span_classifier: Path, tmp_path: Path) -> None:
    meta = json.loads((span_classifier / "framelab.json").read_text())
    assert meta["task"] == "span_techniques"
    data_dir = Path(meta["extra"]["dataset"])
    result = evaluate_model(span_classifier, data_dir, "dev", tmp_path / "report")
    tc = result.metrics["model"]["technique_classification"]
    assert tc["n_gold"] == result.metrics["n_examples"] and 0.0 <= tc["f1"] <= 1.0
    assert tc["ci95"]["f1"][0] <= tc["f1"] <= tc["ci95"]["f1"][1]
    assert "SemEval-2020 TC micro-F1" in (tmp_path / "report" / "report.md").read_text()

    article = _sample_articles(1)[0]
    (tmp_path / f"{article['id']}.txt").write_text(article["text"], encoding="utf-8")
    template = tmp_path / "t.labels"
    template.write_text(
        f"{article['id']}\t?\t0\t9\n{article['id']}\t?\t0\t9\n{article['id']}\t?\t10\t30\n", encoding="utf-8"
    )
    out = tmp_path / "tc.txt"
    assert classify_span_file(span_classifier, [tmp_path / f"{article['id']}.txt"], template, out) == 3
    answers = [line.split("\t") for line in out.read_text().splitlines()]
    assert [(r[0], r[2], r[3]) for r in answers] == [
        (article["id"], "0", "9"),
        (article["id"], "0", "9"),
        (article["id"], "10", "30"),
    ]
    assert answers[0][1] != answers[1][1] and {r[1] for r in answers} <= set(meta["labels"])


def test_span_classifier_cannot_score_whole_articles(span_classifier: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--spans FILE"):
        score([span_classifier], [SAMPLE], fmt="jsonl", out=tmp_path / "x.jsonl", progress=False)
