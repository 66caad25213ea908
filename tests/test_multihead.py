"""``techniques_multihead``: one encoder with a line head and a span head, k-fold by article, scored from its folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from framelab.cli import main
from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.errors import ConfigError
from framelab.models.ensemble import load_model
from framelab.models.out_of_fold import load_out_of_fold
from framelab.models.stock import refusal_message
from framelab.spans import multihead
from framelab.spans.multihead_model import MultiHeadPredictor
from framelab.tagging import IGNORE
from framelab.train.folds import assign_folds

from .conftest import REPO, SAMPLE, assert_stock_pipeline_refuses

TASK = "techniques_multihead"


def _config(tmp_path: Path, tiny_model_dir: Path, *extra: str):
    return load_config(
        None,
        [
            "name=tiny-multihead",
            f"data.path={SAMPLE}",
            "data.unit=line",
            f"data.output_dir={tmp_path / 'dataset'}",
            f"output_dir={tmp_path / 'model'}",
            f"model.base={tiny_model_dir}",
            f"train.task={TASK}",
            "train.epochs=2",
            "train.batch_size=32",
            "train.learning_rate=0.001",
            "train.folds=3",
            *extra,
        ],
    )


def test_the_summed_loss_reads_the_line_labels_from_the_first_row_and_the_tags_from_the_rest() -> None:
    config = load_config(None, ["train.rare_labels=none"])
    n_tags, lines = 4, 3
    labels = torch.full((2, 5, n_tags + lines), float(IGNORE))
    labels[:, 1:4, :n_tags] = 0.0
    labels[0, 2, 0] = 1.0
    labels[:, 0, n_tags:] = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    outputs = {"line_logits": torch.randn(2, lines), "tag_logits": torch.randn(2, 5, n_tags)}
    loss = multihead.summed_loss(config, np.ones((2, n_tags)), np.ones((2, lines)), n_tags)(outputs, labels)
    keep = labels[..., 0] != IGNORE
    expected = torch.nn.functional.binary_cross_entropy_with_logits(
        outputs["line_logits"], labels[:, 0, n_tags:]
    ) + torch.nn.functional.binary_cross_entropy_with_logits(outputs["tag_logits"][keep], labels[..., :n_tags][keep])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_multihead_folds_train_score_and_keep_span_offsets(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lines' CPU recipe: the lowest layer frozen, its states computed once and kept.
    config = _config(tmp_path, tiny_model_dir, "train.freeze_layers=1", f"train.state_cache={tmp_path / 'states'}")
    build_dataset(config)
    result = multihead.train_multihead(config)
    assert list((tmp_path / "states").glob("*/*.safetensors"))
    model = tmp_path / "model"
    metrics = json.loads((model / "dev_metrics.json").read_text(encoding="utf-8"))
    assert result.dev_metrics == metrics
    cv = metrics["cross_validated"]
    # The line figures are a line model's (mean, std, pooled with its interval); the span figures a tagger's.
    assert {"micro_f1", "macro_f1", "any_f1", "per_label_f1"} <= set(cv) and "ci95" in cv["micro_f1"]
    assert 0 <= cv["span_f1"]["mean"] <= 1 and len(cv["per_fold"]) == 3
    for fold in cv["per_fold"]:
        choices, inner = fold["choices"], (fold["fold"] + 1) % 3
        assert set(choices) == {"trained_on", "epochs", "thresholds", "tag threshold"}
        assert all(f"inner fold {inner} " in choices[c]["made_on"] for c in ("epochs", "thresholds", "tag threshold"))
        assert len(choices["epochs"]["micro_f1_by_epoch"]) == len(choices["epochs"]["span_f1_by_epoch"]) == 2
    assert [c["choice"] for c in metrics["choices"]] == ["epochs", "thresholds", "tag threshold"]
    assert metrics["loss_weights"] == multihead.LOSS_WEIGHTS
    card = (model / "README.md").read_text(encoding="utf-8")
    assert "- fold 1, tag threshold" in card and "Span head" in card
    # The out-of-fold line predictions are kept as a line model's, with each line's offsets.
    oof = load_out_of_fold(model)
    assert oof.probabilities.shape == oof.targets.shape and oof.inner is not None and oof.offsets is not None
    assert (oof.folds == assign_folds(oof.ids, 3, config.train.fold_assignment_seed)).all()

    predictor = load_model(model)
    assert isinstance(predictor, MultiHeadPredictor)
    meta = predictor.meta
    assert meta.task == TASK and meta.unit == "line" and len(meta.thresholds) == len(meta.labels)
    assert predictor.span_labels and 0 < predictor.span_threshold < 1
    # framelab eval reads its line labels as a line model's; transformers' stock pipeline refuses the folder.
    report = tmp_path / "report"
    assert main(["eval", "--model", str(model), "--data", str(tmp_path / "dataset"), "--out", str(report)]) == 0
    assert json.loads((report / "metrics.json").read_text(encoding="utf-8"))["task"] == TASK
    message = refusal_message(meta)
    assert_stock_pipeline_refuses(model, "text-classification", message, tmp_path / "modules", monkeypatch)
    # Lower the tag threshold so the tiny model finds spans to check the offsets of.
    extra = dict(meta.extra, span_threshold=0.05)
    saved = json.loads((model / "framelab.json").read_text(encoding="utf-8"))
    (model / "framelab.json").write_text(json.dumps(dict(saved, extra=extra)), encoding="utf-8")
    out = tmp_path / "scored.jsonl"
    assert main(["score", "--model", str(model), str(SAMPLE), "--out", str(out), "--quiet"]) == 0
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    units = [r for r in records if r["type"] == "unit"]
    assert units and {u["unit"] for u in units} == {"line"}
    predictions = [u["predictions"]["model"] for u in units]
    assert all(p["task"] == TASK and set(p["scores"]) == set(meta.labels) for p in predictions)
    spans = [(u, s) for u, p in zip(units, predictions) for s in p["spans"]]
    assert spans, "no span found even at a 0.05 tag threshold"
    for fmt in ("csv", "html"):
        written = tmp_path / f"scored.{fmt}"
        assert (
            main(["score", "--model", str(model), str(SAMPLE), "--format", fmt, "--out", str(written), "--quiet"]) == 0
        )
        text = written.read_text(encoding="utf-8")
        # The csv gives each span a row of its own; the page underlines it and names its technique.
        assert ",span," in text if fmt == "csv" else spans[0][1]["label"] in text
    articles = {a["id"]: a["text"] for a in map(json.loads, SAMPLE.read_text(encoding="utf-8").splitlines())}
    for unit, span in spans:
        assert span["label"] in predictor.span_labels and span["text"].strip()
        assert unit["text"][span["start"] : span["end"]] == span["text"]
        start = unit["start"] + span["start"]
        assert articles[unit["article_id"]][start : start + len(span["text"])] == span["text"]


def test_multihead_choices_never_see_the_outer_folds_labels_or_spans(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _config(tmp_path, tiny_model_dir, "train.epochs=3", "train.early_stopping_patience=1")
    build_dataset(config)
    heads, _, train, dev = multihead._setup_heads(config)
    lines = multihead.Lines(
        multihead.concat(train.data, dev.data), multihead.concat_span_splits(train.spans, dev.spans)
    )
    folds = assign_folds(lines.data.ids, 3, config.train.fold_assignment_seed)
    outer = folds == 0
    flipped = lines.data.targets.copy()
    flipped[outer] = 1 - flipped[outer]
    gone = {lines.spans.article_ids[i] for i in np.flatnonzero(outer)}
    relabelled = multihead.Lines(
        multihead.dataclasses.replace(lines.data, targets=flipped),
        multihead.dataclasses.replace(
            lines.spans,
            unit_spans=[[] if o else s for s, o in zip(lines.spans.unit_spans, outer)],
            gold={a: [] if a in gone else s for a, s in lines.spans.gold.items()},
        ),
    )
    first, second = (
        multihead.run_multihead_fold(config, heads, data, folds, 0, work=tmp_path / name)
        for data, name in ((lines, "first"), (relabelled, "second"))
    )
    assert "early_stopping" in first.choices["epochs"]
    assert first.choices == second.choices and first.thresholds == second.thresholds
    np.testing.assert_array_equal(first.probabilities, second.probabilities)


def test_multihead_needs_three_folds_and_takes_no_tfidf_blend(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="train.folds 2: each fold's epoch count and thresholds"):
        multihead.train_multihead(_config(tmp_path, tiny_model_dir, "train.folds=2"))
    with pytest.raises(ConfigError, match="train.lexical_weight applies to"):
        _config(tmp_path, tiny_model_dir, "train.lexical_weight=0.5")


def test_the_multihead_config_loads_on_the_line_members_folds() -> None:
    config = load_config(REPO / "configs" / "semeval2023-multihead-kfold.yaml")
    lines = load_config(REPO / "configs" / "semeval2023-lines-kfold.yaml")
    assert config.train.task == TASK and config.data == lines.data
    assert (
        config.train.folds == lines.train.folds
        and config.train.fold_assignment_seed == lines.train.fold_assignment_seed
    )
    text = (REPO / "configs" / "semeval2023-multihead-kfold.yaml").read_text(encoding="utf-8").splitlines()
    assert all(line.startswith("# ") for line in text[:3]) and not text[3].startswith("#")
