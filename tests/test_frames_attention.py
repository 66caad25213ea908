"""frames_attention with the tiny BERT: train on cached sentence vectors, reload, evaluate, score, and show where each
frame is."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from framelab.cli import main
from framelab.dataset import build_dataset
from framelab.errors import ConfigError
from framelab.eval.report import evaluate_model
from framelab.frames import sentences as frame_sentences
from framelab.frames.head import HeadSpec, apply_heads
from framelab.frames.predictor import AttentionPredictor, frame_evidence
from framelab.frames.tasks import FRAMES_ATTENTION
from framelab.frames.train import LEXICAL_WEIGHTS, HeadRun, cross_validate_heads, epoch_probabilities
from framelab.models.ensemble import load_model
from framelab.models.folder import read_meta
from framelab.models.out_of_fold import load_out_of_fold
from framelab.models.stock import refusal_message
from framelab.score.scorer import score
from framelab.splits import load_table
from framelab.tasks import register
from framelab.train.folds import assign_folds
from framelab.train.run import train
from framelab.types import Article
from framelab.units import split_units

from .conftest import SAMPLE, assert_stock_pipeline_refuses, dry_run_push

# Declared as an entry point in pyproject.toml; registered here too, so the tests run in an
# environment installed before the entry point was added.
register(FRAMES_ATTENTION)

TEXT = (
    "Harbour plan\r\n\r\nThe reckless plan is a disaster. It will cost 3.5 million.\r\n"
    "Mr. Ito disagreed, and the union said jobs would go."
)


#: This task's recipe for the tiny BERT, over the shared tiny run (conftest.tiny_config).
RECIPE = {
    "name": "tiny-frames-attention",
    "model.max_length": 64,
    "model.stride": 16,
    "train.epochs": 3,
    "train.batch_size": 8,
    "train.learning_rate": 0.003,
    "train.min_label_count": 2,
    "train.lexical_weight": 0.5,
}


@pytest.fixture(scope="module")
def config(workdir: Path, tiny_config: Callable):
    return tiny_config(workdir, "frames_attention", output_dir=workdir / "model", **RECIPE)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("frames-attention")


@pytest.fixture(scope="module")
def model(config) -> Path:
    build_dataset(config)
    return train(config).model_dir


@pytest.fixture(scope="module")
def eager_model(workdir: Path, model: Path) -> Path:
    """The trained folder with every threshold at 0: every frame is predicted, so every frame needs evidence."""
    copy = workdir / "eager"
    shutil.copytree(model, copy)
    meta = json.loads((copy / "framelab.json").read_text())
    meta["thresholds"] = [0.0] * len(meta["labels"])
    (copy / "framelab.json").write_text(json.dumps(meta))
    return copy


def test_folder_holds_everything_scoring_needs_and_no_pickle(model: Path) -> None:
    names = {p.name for p in model.iterdir()}
    assert {
        "framelab.json",
        "config.json",
        "model.safetensors",
        "head.safetensors",
        "head.json",
        "lexical.safetensors",
        "dev_metrics.json",
        "README.md",
    } <= names
    assert not [p for p in model.rglob("*") if p.suffix in (".bin", ".pkl", ".pt", ".pickle")]
    dev = json.loads((model / "dev_metrics.json").read_text())
    assert {"at_0.5", "at_tuned_thresholds", "cross_fitted", "heads_alone_at_0.5"} <= set(dev)
    assert 0.0 <= dev["cross_fitted"]["micro_f1"] <= 1.0
    assert isinstance(load_model(model), AttentionPredictor)


def test_card_shows_every_dev_figure_with_its_interval(workdir: Path, model: Path) -> None:
    dev = json.loads((model / "dev_metrics.json").read_text())
    articles = len(load_table(workdir / "dataset", "articles", "dev"))
    assert dev["bootstrap"]["n_groups"] == articles and dev["bootstrap"]["groups"] == "articles"
    tuned, crossed = dev["at_tuned_thresholds"]["micro"], dev["cross_fitted"]
    assert tuned["ci95"]["f1"][0] <= tuned["f1"] <= tuned["ci95"]["f1"][1]
    card = (model / "README.md").read_text()
    low, high = tuned["ci95"]["f1"]
    assert f"| **micro** | {tuned['precision']:.3f} [" in card and f"{tuned['f1']:.3f} [{low:.3f}, {high:.3f}]" in card
    low, high = crossed["ci95"]["micro_f1"]
    assert f"micro-F1 {crossed['micro_f1']:.3f} [{low:.3f}, {high:.3f}], macro-F1 {crossed['macro_f1']:.3f} [" in card
    assert f"only {articles} articles in this split (fewer than 100)" in card


def test_the_stock_pipeline_refuses_a_frames_attention_folder(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoConfig

    meta = read_meta(model)
    message = refusal_message(meta)
    # Its config.json is the encoder's alone: a stock text classifier would put a random head on it.
    assert "label-wise attention heads" in message and "TF-IDF model (weight 0.5" in message
    assert AutoConfig.from_pretrained(model).framelab_thresholds == dict(zip(meta.labels, meta.thresholds))
    assert "stock pipeline refuses this folder" in (model / "README.md").read_text()
    assert_stock_pipeline_refuses(model, "text-classification", message, tmp_path / "modules", monkeypatch)


def test_push_dry_run_of_a_frames_attention_folder(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    card = dry_run_push(model, tmp_path / "upload", monkeypatch, caplog)
    dev = json.loads((model / "dev_metrics.json").read_text(encoding="utf-8"))
    assert card.data.eval_results[0].metric_value == round(dev["at_tuned_thresholds"]["micro"]["f1"], 4)
    assert card.data.library_name is None  # transformers loads the encoder but not the attention heads
    assert "its head is not a transformers head" in card.text


def test_resume_and_too_many_folds_are_refused(config, model: Path) -> None:
    with pytest.raises(ConfigError, match="without --resume"):
        train(config, resume=True)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, folds=200))
    with pytest.raises(ConfigError, match="train.folds 200: 200 folds need at least 200 articles"):
        train(config)


def test_reloaded_model_gives_the_same_probabilities(model: Path) -> None:
    texts = [TEXT, "One sentence only.", ""]
    first = AttentionPredictor(model).probabilities(texts)
    second = load_model(model).probabilities(texts)
    assert first.shape == (3, len(json.loads((model / "framelab.json").read_text())["labels"]))
    np.testing.assert_allclose(first, second, atol=1e-6)
    assert ((first >= 0) & (first <= 1)).all()


def test_evaluate_writes_a_report_beside_tfidf(workdir: Path, model: Path) -> None:
    result = evaluate_model(model, workdir / "dataset", "dev", workdir / "report")
    assert result.metrics["task"] == "frames_attention"
    assert "TF-IDF baseline" in (result.report_dir / "report.md").read_text()


def test_frame_evidence_offsets_round_trip_and_cover_every_predicted_frame(workdir: Path, eager_model: Path) -> None:
    article = workdir / "article.txt"
    article.write_bytes(TEXT.encode("utf-8"))
    out = workdir / "pred.jsonl"
    score([eager_model], [article, SAMPLE], fmt="jsonl", out=out, progress=False)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    articles = [r for r in records if r["type"] == "article"]
    texts = {
        "article": TEXT,
        **{
            json.loads(line)["id"]: json.loads(line)["text"]
            for line in SAMPLE.read_text(encoding="utf-8").splitlines()
            if line.strip()
        },
    }
    assert len(articles) == len(texts)
    for record in articles:
        text = texts[record["article_id"]]
        sentences = {(u.start, u.end) for u in split_units(Article(record["article_id"], text), "sentence")}
        prediction = record["predictions"][eager_model.name]
        assert prediction["labels"], "every threshold is 0: every frame is predicted"
        evidence = prediction["frame_evidence"]
        assert {v["frame"] for v in evidence} == set(prediction["labels"])
        for v in evidence:
            assert text[v["start"] : v["end"]] == v["text"]
            assert (v["start"], v["end"]) in sentences
            assert 0.0 < v["weight"] <= 1.0


def test_evidence_in_csv_and_highlighted_in_html(workdir: Path, eager_model: Path) -> None:
    article = workdir / "article-csv.txt"
    article.write_bytes(TEXT.encode("utf-8"))
    out = workdir / "pred.csv"
    score([eager_model], [article], fmt="csv", out=out, progress=False)
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    (frames_row,) = [r for r in rows if r["level"] == "article"]
    evidence = [r for r in rows if r["level"] == "frame_evidence"]
    assert {r["labels"] for r in evidence} == set(frames_row["labels"].split(";"))
    for r in evidence:
        assert TEXT[int(r["start"]) : int(r["end"])] == r["text"]
        assert 0.0 < float(r["weight"]) <= 1.0
    page = workdir / "pred.html"
    score([eager_model], [article], fmt="html", out=page, progress=False)
    html = page.read_text(encoding="utf-8")
    assert 'class="evidence"' in html and "The reckless plan is a disaster." in html


def test_semeval2023_subtask2(workdir: Path, model: Path) -> None:
    folder = workdir / "semeval-in"
    folder.mkdir()
    for article_id, text in {"111": "Title one\n\nFirst para. Second sentence.\n", "222": "Only a title"}.items():
        (folder / f"article{article_id}.txt").write_text(text, encoding="utf-8")
    out = workdir / "semeval-out"
    score([model], [folder], fmt="semeval2023", out=out, progress=False)
    rows = [line.split("\t") for line in (out / "subtask-2.txt").read_text().splitlines()]
    assert [row[0] for row in rows] == ["111", "222"]
    labels = set(json.loads((model / "framelab.json").read_text())["labels"])
    assert all(set(filter(None, row[1].split(","))) <= labels for row in rows)


def test_frame_evidence_takes_the_most_attended_sentences_until_half_the_weight() -> None:
    offsets = [(0, 5), (6, 10), (11, 20)]
    attention = np.array([[0.1, 0.6, 0.3], [0.3, 0.3, 0.4], [1.0, 0.0, 0.0]])
    found = frame_evidence(offsets, attention, ["A", "B", "C"], np.array([1, 1, 0]))
    assert [(v.frame, v.start, v.end) for v in found] == [("A", 6, 10), ("B", 11, 20), ("B", 0, 5)]
    assert frame_evidence([], attention, ["A", "B", "C"], np.array([1, 1, 1])) == []


def _synthetic(
    n: int = 30, labels: int = 3, seed: int = 0
) -> tuple[list[np.ndarray], list[str], np.ndarray, list[str]]:
    """Articles of 1-4 sentence vectors that lean toward their labels, texts that name them, and their ids."""
    rng = np.random.default_rng(seed)
    targets = rng.integers(0, 2, size=(n, labels))
    lean = rng.normal(size=(labels, 8))
    vectors = [(rng.normal(size=(int(rng.integers(1, 5)), 8)) + targets[i] @ lean).astype(np.float32) for i in range(n)]
    texts = [" ".join([f"frame{j}" for j in np.flatnonzero(targets[i])] + ["words", f"w{i % 7}"]) for i in range(n)]
    return vectors, texts, targets, [f"a{i}" for i in range(n)]


def _head_run(labels: int = 3) -> HeadRun:
    return HeadRun(
        HeadSpec(input_size=8, labels=labels, hidden=8, heads=2),
        max_epochs=4, learning_rate=0.02, weight_decay=0.0, batch_size=4, seed=3, weights=LEXICAL_WEIGHTS,
        rule="global", min_support=1, step=0.05, inner_folds=2,
    )  # fmt: skip


def test_heads_after_e_epochs_are_those_of_a_longer_run_after_e() -> None:
    vectors, _, targets, _ = _synthetic()
    run = _head_run()
    by_epoch = epoch_probabilities(run, vectors[:20], targets[:20], vectors[20:])
    heads = run.train(vectors[:20], targets[:20], 2)
    np.testing.assert_allclose(by_epoch[1], apply_heads(heads, run.spec, vectors[20:])[0], atol=1e-6)
    assert not np.allclose(by_epoch[1], by_epoch[3])


def test_frames_fold_choices_never_see_the_folds_labels() -> None:
    vectors, texts, targets, ids = _synthetic()
    run = _head_run()
    folds = assign_folds(ids, 3, seed=1)
    first = cross_validate_heads(run, vectors, texts, targets, ids, folds)
    flipped = targets.copy()
    flipped[folds == 0] = 1 - flipped[folds == 0]  # every label of outer fold 0 changes
    second = cross_validate_heads(run, vectors, texts, flipped, ids, folds)
    # Epochs, TF-IDF weight, thresholds and the inner score they were chosen by: all from the other folds.
    assert first.choices[0] == second.choices[0]
    np.testing.assert_array_equal(first.probabilities[folds == 0], second.probabilities[folds == 0])
    # Fold 0's labels are training data of the other folds: their models, hence predictions, move.
    assert not np.array_equal(first.probabilities[folds != 0], second.probabilities[folds != 0])


def test_frames_folds_end_to_end(
    tmp_path: Path,
    tiny_model_dir: Path,
    tiny_config: Callable,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    encoded: list[str] = []
    encode = frame_sentences.sentence_vectors

    def counted(tokenizer, encoder, sentences: list[str], **kwargs) -> np.ndarray:
        encoded.extend(sentences)
        return encode(tokenizer, encoder, sentences, **kwargs)

    monkeypatch.setattr(frame_sentences, "sentence_vectors", counted)
    config = tiny_config(tmp_path, "frames_attention", output_dir=tmp_path / "model", **RECIPE)
    build_dataset(config)
    sets = [f"name={config.name}", f"data.path={SAMPLE}", f"data.output_dir={tmp_path / 'dataset'}"]
    sets += [f"output_dir={tmp_path / 'model'}", f"model.base={tiny_model_dir}", "model.max_length=64"]
    sets += ["model.stride=16", "train.task=frames_attention", "train.epochs=3", "train.batch_size=8"]
    sets += ["train.learning_rate=0.003", "train.min_label_count=2", "train.lexical_weight=0.5", "train.folds=3"]
    (tmp_path / "frames.yaml").write_text("name: tiny-frames-folds\n", encoding="utf-8")
    assert main(["train", "--config", str(tmp_path / "frames.yaml"), *(a for s in sets for a in ("--set", s))]) == 0
    model = tmp_path / "model"
    # A long run says where it is: the encoding, then each fold's choices.
    said = capsys.readouterr().err
    assert "encoding the sentences of" in said and "fold 3/3:" in said
    articles = {s: load_table(tmp_path / "dataset", "articles", s) for s in ("train", "dev")}
    texts = [t for s in ("train", "dev") for t in articles[s]["text"]]
    ids = [i for s in ("train", "dev") for i in articles[s]["id"]]
    # Every sentence of every article encoded once, for the three folds and the refit.
    assert len(encoded) == sum(len(split_units(Article(str(n), t), "sentence")) for n, t in enumerate(texts))

    dev = json.loads((model / "dev_metrics.json").read_text())
    cv = dev["cross_validated"]
    assert cv["folds"] == 3 and len(cv["per_fold"]) == 3 and cv["groups"]["articles"] == len(ids)
    assert sum(f["examples"] for f in cv["per_fold"]) == dev["refit"]["examples"] == len(ids)
    for fold in cv["per_fold"]:
        choice = fold["choices"]
        assert 1 <= choice["epochs"] <= 3 and choice["lexical_weight"] in LEXICAL_WEIGHTS
        assert "inner 2-fold cross-validation" in choice["made_on"]
    assert dev["refit"]["lexical_weight"] == float(np.median([f["choices"]["lexical_weight"] for f in cv["per_fold"]]))
    assert [c["choice"] for c in dev["choices"]] == ["epochs", "TF-IDF weight (train.lexical_weight)", "thresholds"]
    meta = json.loads((model / "framelab.json").read_text())
    assert meta["lexical_weight"] == dev["refit"]["lexical_weight"]
    assert meta["thresholds"] == list(dev["choices"][2]["value"].values())
    card = (model / "README.md").read_text()
    assert "How the groups were made: by article" in card and "Choices made from data" in card
    # Beside mean ± std over folds, every fold's decisions pooled, with its 95% interval over resampled articles.
    assert dev["bootstrap"]["n_groups"] == len(ids)
    micro = cv["micro_f1"]
    assert micro["pooled"] == dev["out_of_fold"]["micro"]["f1"]
    low, high = micro["ci95"]["pooled"]
    assert low <= micro["pooled"] <= high
    assert f"| pooled [95% interval] | {len(ids)} | {micro['pooled']:.3f} [{low:.3f}, {high:.3f}] | " in card
    assert f"only {len(ids)} articles in this split (fewer than 100)" in card

    oof = load_out_of_fold(model)
    assert sorted(oof.ids) == sorted(ids) and oof.groups == oof.ids and oof.labels == meta["labels"]
    assert oof.fine_tuned is not None and oof.probabilities.shape == oof.targets.shape == (len(ids), len(oof.labels))
    assert sorted(np.bincount(oof.folds).tolist()) == sorted(f["examples"] for f in cv["per_fold"])
    assert AttentionPredictor(model).probabilities([TEXT]).shape == (1, len(meta["labels"]))
