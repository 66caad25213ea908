"""``framelab ensemble``: line and sentence models and span taggers averaged on lines, saved as a folder that scores on
its own."""

from __future__ import annotations

import json
import re
import shutil
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml
from datasets import load_from_disk
from safetensors.torch import load_file, save_file

from bench.compare_folds import compare
from bench.kfold_tfidf import model_decisions
from framelab.cli import main
from framelab.dataset import build_dataset
from framelab.errors import ConfigError, DataError
from framelab.eval.report import evaluate_model
from framelab.eval.scores import multilabel_scores
from framelab.models import ensemble as ensemble_models
from framelab.models.ensemble import EnsemblePredictor, load_model
from framelab.models.out_of_fold import OUT_OF_FOLD_FILE, load_out_of_fold, out_of_fold_bytes
from framelab.models.predictor import Predictor
from framelab.models.stock import THRESHOLDS_KEY, ensemble_message
from framelab.score.scorer import score
from framelab.splits import TaskData, load_task_split
from framelab.thresholds import decisions_at, global_threshold, tuned_thresholds
from framelab.train.ensemble import INNER_THRESHOLDS, build_ensemble
from framelab.train.folds import cross_validated, fold_thresholds
from framelab.train.run import train

from .conftest import SAMPLE, assert_stock_pipeline_refuses, dry_run_push


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ensemble")


def _trained(workdir: Path, tiny_config: Callable, unit: str, task: str = "techniques", **extra: object) -> Path:
    """A tiny ``task`` model on ``unit`` units, on the dataset of those units shared by the module."""
    config = tiny_config(
        workdir,
        task,
        **{
            "name": f"tiny-{unit}-{task}",
            "data.unit": unit,
            "data.output_dir": workdir / f"dataset-{unit}",
            "output_dir": workdir / f"model-{unit}-{task}",
            **extra,
        },
    )
    if not Path(config.data.output_dir).is_dir():
        build_dataset(config)
    return train(config).model_dir


@pytest.fixture(scope="module")
def members(workdir: Path, tiny_config: Callable) -> tuple[Path, Path]:
    return _trained(workdir, tiny_config, "line"), _trained(workdir, tiny_config, "sentence")


@pytest.fixture(scope="module")
def ensemble(workdir: Path, members: tuple[Path, Path]) -> Path:
    return build_ensemble(list(members), workdir / "dataset-line", workdir / "ensemble").model_dir


def test_line_probabilities_average_the_line_model_and_the_best_sentence_of_each_line(
    workdir: Path, members: tuple[Path, Path], ensemble: Path
) -> None:
    line_model, sentence_model = Predictor(members[0]), Predictor(members[1])
    labels = line_model.meta.labels
    dev, _ = load_task_split(workdir / "dataset-line", "techniques", "dev", labels)
    lines = load_from_disk(str(workdir / "dataset-line"))["dev"]
    # The sentence dataset cut the whole articles; the ensemble cuts each line on its own.
    sentences = load_from_disk(str(workdir / "dataset-sentence"))["dev"]
    sentence_probs = sentence_model.probabilities(list(sentences["text"]))[
        :, [sentence_model.meta.labels.index(n) for n in labels]
    ]
    best = defaultdict(lambda: np.zeros(len(labels)))
    for k, key in enumerate(zip(sentences["article_id"], sentences["line"])):
        best[key] = np.maximum(best[key], sentence_probs[k])
    by_hand = 0.5 * line_model.probabilities(dev.texts) + 0.5 * np.stack(
        [best[key] for key in zip(lines["article_id"], lines["line"])]
    )

    probs = EnsemblePredictor(ensemble).probabilities(dev.texts)
    np.testing.assert_allclose(probs, by_hand, atol=1e-6)

    spec = json.loads((ensemble / "ensemble.json").read_text(encoding="utf-8"))
    assert spec["unit"] == "line" and [m["weight"] for m in spec["members"]] == [0.5, 0.5]
    threshold = global_threshold(probs, dev.targets)
    assert spec["thresholds"] == [threshold] * len(labels)
    metrics = json.loads((ensemble / "dev_metrics.json").read_text(encoding="utf-8"))
    assert metrics["at_tuned_thresholds"]["micro"]["f1"] == pytest.approx(
        multilabel_scores(decisions_at(probs, threshold), dev.targets, labels)["micro"]["f1"]
    )
    assert set(metrics["members"]) == {members[0].name, members[1].name}
    assert 0.0 <= metrics["cross_fitted"]["micro_f1"] <= 1.0
    assert f"framelab score --model {ensemble} " in (ensemble / "README.md").read_text(encoding="utf-8")


def test_transformers_refuses_an_ensemble_folder_with_its_reason(
    members: tuple[Path, Path], ensemble: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoConfig, AutoModelForSequenceClassification

    spec = json.loads((ensemble / "ensemble.json").read_text(encoding="utf-8"))
    message = ensemble_message("line", 2)
    assert_stock_pipeline_refuses(ensemble, "text-classification", message, tmp_path / "modules", monkeypatch)
    # Every loader built on AutoConfig stops the same way; config.json holds nothing else but the thresholds.
    for load in (AutoConfig.from_pretrained, AutoModelForSequenceClassification.from_pretrained):
        with pytest.raises(ValueError) as refused:
            load(str(ensemble), trust_remote_code=True)
        assert str(refused.value) == message
    config = json.loads((ensemble / "config.json").read_text(encoding="utf-8"))
    assert config[THRESHOLDS_KEY] == dict(zip(spec["labels"], spec["thresholds"]))
    assert "transformers cannot load this folder" in (ensemble / "README.md").read_text(encoding="utf-8")


def test_a_span_tagger_member_gives_each_line_its_best_token_of_each_technique(
    workdir: Path, tiny_config: Callable, members: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    tagger_dir = _trained(workdir, tiny_config, "sentence", "spans")
    line_model, sentence_model, tagger = Predictor(members[0]), Predictor(members[1]), Predictor(tagger_dir)
    labels = line_model.meta.labels
    assert set(labels) <= set(tagger.meta.labels)
    dev, _ = load_task_split(workdir / "dataset-line", "techniques", "dev", labels)
    lines = load_from_disk(str(workdir / "dataset-line"))["dev"]
    sentences = load_from_disk(str(workdir / "dataset-sentence"))["dev"]
    keys = list(zip(sentences["article_id"], sentences["line"]))
    n, columns = len(tagger.meta.labels), [tagger.meta.labels.index(name) for name in labels]
    best_token, best_sentence = defaultdict(lambda: np.zeros(len(labels))), defaultdict(lambda: np.zeros(len(labels)))
    for key, (offsets, probs) in zip(keys, tagger.token_probabilities(list(sentences["text"]))):
        for token in range(len(offsets)):
            best_token[key] = np.maximum(best_token[key], np.maximum(probs[token, :n], probs[token, n:])[columns])
    sentence_probs = sentence_model.probabilities(list(sentences["text"]))[
        :, [sentence_model.meta.labels.index(name) for name in labels]
    ]
    for key, row in zip(keys, sentence_probs):
        best_sentence[key] = np.maximum(best_sentence[key], row)
    line_keys = list(zip(lines["article_id"], lines["line"]))
    by_hand = (
        line_model.probabilities(dev.texts)
        + np.stack([best_sentence[k] for k in line_keys])
        + np.stack([best_token[k] for k in line_keys])
    ) / 3

    result = build_ensemble([members[0], members[1], tagger_dir], workdir / "dataset-line", workdir / "with-tagger")
    cut_kinds = []
    real_split = ensemble_models.split_many
    monkeypatch.setattr(
        ensemble_models,
        "split_many",
        lambda articles, kind, **kw: cut_kinds.append(kind) or real_split(articles, kind, **kw),
    )
    np.testing.assert_allclose(EnsemblePredictor(result.model_dir).probabilities(dev.texts), by_hand, atol=1e-6)
    assert cut_kinds == ["sentence"]  # once for both sentence-unit members

    fewer = workdir / "fewer-labels"
    shutil.copytree(members[1], fewer)
    meta = json.loads((fewer / "framelab.json").read_text(encoding="utf-8"))
    dropped = meta["labels"].pop()
    meta["thresholds"].pop()
    (fewer / "framelab.json").write_text(json.dumps(meta), encoding="utf-8")
    _drop_last_output(fewer)  # the head too: a model folder refuses labels that do not fit its head
    with pytest.raises(
        ConfigError, match=f"lacks techniques of .*: {re.escape(dropped)}; list first the member with the fewest labels"
    ):
        build_ensemble([members[0], fewer], workdir / "dataset-line", workdir / "refused")


def _drop_last_output(folder: Path) -> None:
    """Cut the classifier's last output from ``folder``'s weights and ``config.json``: a model of one label fewer."""
    weights = load_file(str(folder / "model.safetensors"))
    for name in ("classifier.weight", "classifier.bias"):
        weights[name] = weights[name][:-1].contiguous()
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    kept = {str(i): config["id2label"][str(i)] for i in range(len(config["id2label"]) - 1)}
    config |= {"id2label": kept, "label2id": {name: int(i) for i, name in kept.items()}}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


def test_ensemble_folder_scores_on_its_own_and_evaluates(workdir: Path, ensemble: Path) -> None:
    moved = workdir / "elsewhere" / "ensemble-copy"
    shutil.copytree(ensemble, moved)
    assert isinstance(load_model(moved), EnsemblePredictor)
    out = workdir / "scored.jsonl"
    summary = score([moved], [SAMPLE], out=out, progress=False)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    units = [r for r in records if r["type"] == "unit"]
    assert summary.units == len(units) > 0
    assert {r["unit"] for r in units} == {"line"}
    assert all(r["predictions"]["ensemble-copy"]["task"] == "techniques" for r in units)

    report = evaluate_model(moved, workdir / "dataset-line", report_dir=workdir / "report")
    saved = json.loads((ensemble / "dev_metrics.json").read_text(encoding="utf-8"))
    assert report.metrics["model"]["micro"]["f1"] == pytest.approx(saved["at_tuned_thresholds"]["micro"]["f1"])


def test_push_dry_run_of_an_ensemble_folder(
    ensemble: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    card = dry_run_push(ensemble, tmp_path / "upload", monkeypatch, caplog)
    dev = json.loads((ensemble / "dev_metrics.json").read_text(encoding="utf-8"))
    figures = {r.metric_name: r.metric_value for r in card.data.eval_results}
    assert figures["dev, cross-fitted micro-F1"] == round(dev["cross_fitted"]["micro_f1"], 4)
    assert "ensemble" in card.data.tags and (tmp_path / "upload" / "members").is_dir()
    member_cards = list((tmp_path / "upload" / "members").rglob("README.md"))
    assert member_cards and all("<hub-id>" not in c.read_text(encoding="utf-8") for c in member_cards)


def test_weights_are_normalised(workdir: Path, members: tuple[Path, Path]) -> None:
    result = build_ensemble(list(members), workdir / "dataset-line", workdir / "weighted", weights=[3.0, 1.0])
    spec = json.loads((result.model_dir / "ensemble.json").read_text(encoding="utf-8"))
    assert [m["weight"] for m in spec["members"]] == [0.75, 0.25]


def test_what_cannot_be_averaged_is_refused(workdir: Path, tiny_config: Callable, members: tuple[Path, Path]) -> None:
    line_model, sentence_model = members
    with pytest.raises(ConfigError, match="at least two"):
        build_ensemble([line_model], workdir / "dataset-line", workdir / "refused")
    with pytest.raises(ConfigError, match="coarser than the dataset's sentence units"):
        build_ensemble([line_model, sentence_model], workdir / "dataset-sentence", workdir / "refused")
    with pytest.raises(
        ConfigError, match=r"ensemble.weights \(--weight\) must give one finite, non-negative weight per member"
    ):
        build_ensemble([line_model, sentence_model], workdir / "dataset-line", workdir / "refused", weights=[1.0])
    frames = _trained(
        workdir,
        tiny_config,
        "line",
        "frames",
        **{"model.max_length": "64", "model.stride": "16", "train.min_label_count": "2"},
    )
    with pytest.raises(ConfigError, match="is a frames model"):
        build_ensemble([line_model, frames], workdir / "dataset-line", workdir / "refused")
    with pytest.raises(DataError, match="not a dataset folder"):
        build_ensemble([line_model, sentence_model], workdir, workdir / "refused")
    assert not (workdir / "refused").exists()


def test_framelab_ensemble_reads_its_config_section_and_the_flags_override_it(
    workdir: Path, members: tuple[Path, Path], ensemble: Path, capsys: pytest.CaptureFixture
) -> None:
    settings = {
        "output_dir": str(workdir / "from-config"),
        "data": {"output_dir": str(workdir / "dataset-line")},
        "ensemble": {"models": [str(m) for m in members], "weights": [3, 1], "threshold_step": 0.1},
    }
    config = workdir / "ensemble.yaml"
    config.write_text(yaml.safe_dump(settings), encoding="utf-8")

    def built(folder: str) -> tuple[dict, dict]:
        spec = json.loads((workdir / folder / "ensemble.json").read_text(encoding="utf-8"))
        return spec, json.loads((workdir / folder / "dev_metrics.json").read_text(encoding="utf-8"))

    assert main(["-q", "ensemble", "--config", str(config)]) == 0
    spec, metrics = built("from-config")
    assert [m["weight"] for m in spec["members"]] == [0.75, 0.25] and metrics["threshold_step"] == 0.1
    # Each flag overrides its field: here back to the defaults the fixture's ensemble was built with.
    flags = ["--weight", "1", "--weight", "1", "--threshold-step", "0.05", "--out", str(workdir / "overridden")]
    assert main(["-q", "ensemble", "--config", str(config), *flags]) == 0
    # Flags alone, as before the config section: --data and --out name the folders.
    alone = ["--model", str(members[0]), "--model", str(members[1]), "--data", str(workdir / "dataset-line")]
    assert main(["-q", "ensemble", *alone, "--out", str(workdir / "flags-alone")]) == 0
    reference = json.loads((ensemble / "ensemble.json").read_text(encoding="utf-8"))
    for folder in ("overridden", "flags-alone"):
        spec, metrics = built(folder)
        assert spec["thresholds"] == reference["thresholds"] and metrics["threshold_step"] == 0.05
        assert [m["weight"] for m in spec["members"]] == [0.5, 0.5]

    capsys.readouterr()
    config.write_text(yaml.safe_dump({**settings, "ensemble": {**settings["ensemble"], "threshold_step": 0.7}}))
    assert main(["-q", "ensemble", "--config", str(config), "--out", str(workdir / "refused")]) == 2
    err = capsys.readouterr().err
    assert str(config) in err and "ensemble.threshold_step must be within (0, 0.5], got 0.7" in err
    assert main(["-q", "ensemble", "--config", str(config), "--threshold-step", "0.05", "--weight", "1"]) == 2
    assert "ensemble.weights (--weight) must give one finite" in capsys.readouterr().err
    assert main(["-q", "ensemble", *alone]) == 2
    assert "give --config FILE" in capsys.readouterr().err
    assert not (workdir / "refused").exists()


def test_missing_member_folder_or_field_is_named(workdir: Path, ensemble: Path) -> None:
    broken = workdir / "broken-ensemble"
    shutil.copytree(ensemble, broken)
    spec = json.loads((broken / "ensemble.json").read_text(encoding="utf-8"))
    del spec["thresholds"], spec["members"][1]["weight"]
    (broken / "ensemble.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(DataError, match=r"lacks thresholds, members\[1\]\.weight"):
        load_model(broken)
    shutil.copytree(ensemble, broken, dirs_exist_ok=True)
    shutil.rmtree(next((broken / "members").iterdir()))
    with pytest.raises(DataError, match="member folder members/.* is missing"):
        load_model(broken)


def test_scoring_with_one_process_writes_the_same_file(workdir: Path, ensemble: Path) -> None:
    outputs = []
    for workers in (1, 2):
        out = workdir / f"scored-workers{workers}.jsonl"
        score([ensemble], [SAMPLE], out=out, progress=False, split_workers=workers)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_members_trained_with_folds_set_the_threshold_out_of_fold(
    workdir: Path, tiny_config: Callable, members: tuple[Path, Path]
) -> None:
    folded = [
        _trained(
            workdir,
            tiny_config,
            "line",
            **{
                "name": f"tiny-folds-{lr}",
                "output_dir": workdir / f"folds-{lr}",
                "train.folds": "3",
                "train.learning_rate": lr,
            },
        )
        for lr in ("0.001", "0.002")
    ]
    result = build_ensemble(folded, workdir / "dataset-line", workdir / "out-of-fold", weights=[1.0, 3.0])
    metrics = result.dev_metrics
    assert metrics["source"] == "out_of_fold" and metrics["folds"] == 3
    # The threshold and figures come from the members' out-of-fold probabilities, never from the dev split their weights
    # saw.
    oofs = [load_out_of_fold(d) for d in folded]
    probs = 0.25 * oofs[0].probabilities + 0.75 * oofs[1].probabilities
    inner = 0.25 * oofs[0].inner + 0.75 * oofs[1].inner
    spec = json.loads((result.model_dir / "ensemble.json").read_text(encoding="utf-8"))
    assert spec["thresholds"][0] == global_threshold(probs, oofs[0].targets)
    # Each outer fold is decided at thresholds tuned on the weighted mean of the members' inner predictions.
    data = TaskData(oofs[0].ids, [""] * len(oofs[0].ids), oofs[0].targets)
    chosen = fold_thresholds(inner, oofs[0].targets, oofs[0].folds, rule="global", min_support=1, step=0.05)
    expected = cross_validated(
        probs, data, oofs[0].folds, oofs[0].labels, multi_label=True, rule="global", min_support=1, thresholds=chosen
    )[1]
    assert metrics["cross_validated"]["micro_f1"]["mean"] == pytest.approx(expected["micro_f1"]["mean"])
    assert metrics["cross_validated"]["per_fold_thresholds"] == [dict(zip(oofs[0].labels, t)) for t in chosen]
    assert metrics["thresholds_made_on"] == INNER_THRESHOLDS
    assert set(metrics["members"]) == {d.name for d in folded}
    card = (result.model_dir / "README.md").read_text(encoding="utf-8")
    assert f"Cross-validated over the members' 3 folds ({INNER_THRESHOLDS};" in card
    # Per-label thresholds are tuned on the same out-of-fold mean, and judged fold by fold the same way.
    per_label = build_ensemble(
        folded,
        workdir / "dataset-line",
        workdir / "out-of-fold-per-label",
        weights=[1.0, 3.0],
        threshold_rule="per_label_or_global",
        min_support=1,
    )
    spec = json.loads((per_label.model_dir / "ensemble.json").read_text(encoding="utf-8"))
    assert spec["thresholds"] == tuned_thresholds("per_label_or_global", probs, oofs[0].targets, 1)
    chosen = fold_thresholds(
        inner, oofs[0].targets, oofs[0].folds, rule="per_label_or_global", min_support=1, step=0.05
    )
    expected = cross_validated(
        probs,
        data,
        oofs[0].folds,
        oofs[0].labels,
        multi_label=True,
        rule="per_label_or_global",
        min_support=1,
        thresholds=chosen,
    )[1]
    assert per_label.dev_metrics["cross_validated"]["macro_f1"]["mean"] == pytest.approx(expected["macro_f1"]["mean"])
    assert per_label.dev_metrics["threshold_rule"] == "per_label_or_global"
    # The ensemble keeps its own out-of-fold predictions, so it pairs with other k-fold runs on the same folds:
    # decided fold by fold as it decided them, they give its cross-validated pooled figure.
    own = load_out_of_fold(per_label.model_dir)
    assert own.ids == oofs[0].ids and np.array_equal(own.folds, oofs[0].folds)
    np.testing.assert_allclose(own.probabilities, probs, rtol=1e-6)
    np.testing.assert_allclose(own.inner, inner, rtol=1e-6)
    ids, decided = model_decisions(per_label.model_dir, own.labels, own)
    pooled = multilabel_scores(decided, own.targets, own.labels)["micro"]["f1"]
    assert pooled == pytest.approx(per_label.dev_metrics["cross_validated"]["micro_f1"]["pooled"])
    assert compare(per_label.model_dir, folded[0], [], resamples=50, seed=0)["examples"] == len(ids)
    with pytest.raises(ConfigError, match="'ensemble.threshold_rule' must be one of"):
        build_ensemble(folded, workdir / "dataset-line", workdir / "refused", threshold_rule="by_eye")
    # A member without out-of-fold predictions, or with other folds, cannot join.
    with pytest.raises(ConfigError, match="no out-of-fold predictions"):
        build_ensemble([folded[0], members[0]], workdir / "dataset-line", workdir / "refused")
    other = _trained(
        workdir,
        tiny_config,
        "line",
        **{"name": "tiny-folds-seed", "output_dir": workdir / "folds-seed", "train.folds": "3", "train.seed": "7"},
    )
    with pytest.raises(ConfigError, match="folds differ"):
        build_ensemble([folded[0], other], workdir / "dataset-line", workdir / "refused")
    # Another seed of a model joins when its folds are dealt by the members' seed (train.fold_seed).
    reseeded = _trained(
        workdir,
        tiny_config,
        "line",
        **{
            "name": "tiny-folds-reseeded",
            "output_dir": workdir / "folds-reseeded",
            "train.folds": "3",
            "train.seed": "7",
            "train.fold_seed": "42",
        },
    )
    assert (
        build_ensemble([folded[0], reseeded], workdir / "dataset-line", workdir / "reseeded").dev_metrics["source"]
        == "out_of_fold"
    )
    # A finer threshold grid is searched on the same out-of-fold mean, and recorded.
    fine = build_ensemble(
        folded,
        workdir / "dataset-line",
        workdir / "out-of-fold-fine",
        weights=[1.0, 3.0],
        threshold_rule="per_label_or_global",
        min_support=1,
        step=0.01,
    )
    spec = json.loads((fine.model_dir / "ensemble.json").read_text(encoding="utf-8"))
    assert spec["thresholds"] == tuned_thresholds("per_label_or_global", probs, oofs[0].targets, 1, 0.01)
    assert fine.dev_metrics["threshold_step"] == 0.01
    with pytest.raises(ConfigError, match=r"ensemble.threshold_step must be within \(0, 0.5\]"):
        build_ensemble(folded, workdir / "dataset-line", workdir / "refused", step=0.7)
    _ensemble_choices_never_see_the_folds_labels(workdir, folded)


def _relabelled(folder: Path, dest: Path, seed: int, inner_fold_too: bool = False) -> Path:
    """A copy of member ``folder`` as if retrained with fold 0's labels flipped: every prediction by a model that
    saw them redrawn (the out-of-fold ones of folds 1 and 2, the inner ones of folds 0 and 2); with
    ``inner_fold_too``, fold 1's inner predictions too, which outer fold 0's choices are made on."""
    shutil.copytree(folder, dest)
    oof = load_out_of_fold(dest)
    rng = np.random.default_rng(seed)
    flipped = oof.folds == 0
    oof.targets[flipped] = 1 - oof.targets[flipped]
    oof.probabilities[~flipped] = rng.random(oof.probabilities[~flipped].shape)
    redrawn = oof.folds != 1 if not inner_fold_too else np.ones(len(oof.ids), dtype=bool)
    oof.inner[redrawn] = rng.random(oof.inner[redrawn].shape)
    (dest / OUT_OF_FOLD_FILE).write_bytes(out_of_fold_bytes(oof))
    return dest


def _ensemble_choices_never_see_the_folds_labels(workdir: Path, folded: list[Path]) -> None:
    def fold_zero_thresholds(members: list[Path], out: str) -> dict:
        result = build_ensemble(
            members,
            workdir / "dataset-line",
            workdir / out,
            weights=[1.0, 3.0],
            threshold_rule="per_label_or_global",
            min_support=1,
        )
        return result.dev_metrics["cross_validated"]["per_fold_thresholds"][0]

    before = fold_zero_thresholds(folded, "leak-before")
    copies = [_relabelled(d, workdir / f"relabelled-{d.name}", seed=i) for i, d in enumerate(folded)]
    assert fold_zero_thresholds(copies, "leak-after") == before
    moved = [_relabelled(d, workdir / f"moved-{d.name}", seed=i, inner_fold_too=True) for i, d in enumerate(folded)]
    assert fold_zero_thresholds(moved, "leak-moved") != before


def test_a_span_tagger_trained_with_folds_joins_an_out_of_fold_ensemble_on_lines(
    workdir: Path, tiny_config: Callable
) -> None:
    folds = {"train.folds": "3", "train.seed": "3"}
    lines = _trained(
        workdir, tiny_config, "line", **{"name": "tiny-folds-lines", "output_dir": workdir / "folds-lines", **folds}
    )
    tagger = _trained(
        workdir,
        tiny_config,
        "sentence",
        "spans",
        **{"name": "tiny-folds-tagger", "output_dir": workdir / "folds-tagger", **folds},
    )
    metrics = json.loads((tagger / "dev_metrics.json").read_text(encoding="utf-8"))
    cv = metrics["cross_validated"]
    assert cv["folds"] == 3 and 0 <= cv["span_f1"]["mean"] <= 1 and len(cv["per_fold"]) == 3
    low, high = cv["span_f1"]["ci95"]["pooled"]
    assert low <= cv["span_f1"]["pooled"] <= high
    for fold in cv["per_fold"]:
        assert fold["threshold"] == fold["choices"]["threshold"]["value"] and fold["best_epoch"] >= 1
        assert f"inner fold {(fold['fold'] + 1) % 3} " in fold["choices"]["threshold"]["made_on"]
    assert metrics["refit"]["epochs"] == float(np.median([f["best_epoch"] for f in cv["per_fold"]]))
    assert metrics["refit"]["units"] == sum(f["units"] for f in cv["per_fold"])
    sentences = load_out_of_fold(tagger)
    assert sentences.offsets is not None and sentences.probabilities.shape == (
        len(sentences.ids),
        len(sentences.labels),
    )
    assert sentences.inner is not None and sentences.inner.shape == sentences.probabilities.shape
    # Both runs dealt the same articles to the same folds.
    line_oof = load_out_of_fold(lines)
    fold_of = {i.rsplit("#", 1)[0]: f for i, f in zip(line_oof.ids, line_oof.folds)}
    assert all(fold_of[i.rsplit("#", 1)[0]] == f for i, f in zip(sentences.ids, sentences.folds))

    result = build_ensemble([lines, tagger], workdir / "dataset-line", workdir / "lines+tagger-out-of-fold")
    assert result.dev_metrics["source"] == "out_of_fold"
    # Each line gets the tagger's best sentence inside it, by the sentences' article offsets.
    by_hand = _best_inside_each_line(workdir, line_oof, sentences)
    probs = (line_oof.probabilities + by_hand) / 2
    spec = json.loads((result.model_dir / "ensemble.json").read_text(encoding="utf-8"))
    assert spec["thresholds"][0] == global_threshold(probs, line_oof.targets)
    assert (by_hand > 0).any()


def test_a_sentence_model_trained_with_folds_joins_an_out_of_fold_ensemble_on_lines(
    workdir: Path, tiny_config: Callable
) -> None:
    folds = {"train.folds": "3", "train.seed": "5"}
    lines = _trained(
        workdir,
        tiny_config,
        "line",
        **{"name": "tiny-folds-lines-5", "output_dir": workdir / "folds-lines-5", **folds},
    )
    sentences = _trained(
        workdir,
        tiny_config,
        "sentence",
        **{"name": "tiny-folds-sentences", "output_dir": workdir / "folds-sentences", **folds},
    )
    line_oof, sentence_oof = load_out_of_fold(lines), load_out_of_fold(sentences)
    # Every unit's saved offsets give its text back.
    for oof, unit in ((line_oof, "line"), (sentence_oof, "sentence")):
        articles, texts = {}, {}
        for split in ("train", "dev"):
            texts.update(
                (f"{row['article_id']}#{row['index']}", row["text"])
                for row in load_from_disk(str(workdir / f"dataset-{unit}"))[split]
            )
            articles.update(
                (row["id"], row["text"]) for row in load_from_disk(str(workdir / f"dataset-{unit}" / "articles"))[split]
            )
        assert oof.offsets is not None and len(oof.offsets) == len(oof.ids)
        for uid, (start, end) in zip(oof.ids, oof.offsets):
            assert articles[uid.rsplit("#", 1)[0]][start:end] == texts[uid]

    result = build_ensemble([lines, sentences], workdir / "dataset-line", workdir / "lines+sentences-out-of-fold")
    assert result.dev_metrics["source"] == "out_of_fold"
    assert set(result.dev_metrics["members"]) == {lines.name, sentences.name}
    probs = (line_oof.probabilities + _best_inside_each_line(workdir, line_oof, sentence_oof)) / 2
    spec = json.loads((result.model_dir / "ensemble.json").read_text(encoding="utf-8"))
    assert spec["thresholds"][0] == global_threshold(probs, line_oof.targets)


def _best_inside_each_line(workdir: Path, line_oof, finer) -> np.ndarray:
    """Per line of ``line_oof``, each label's highest out-of-fold probability over ``finer``'s units inside it, found by
    hand."""
    table = {}
    for split in ("train", "dev"):
        for row in load_from_disk(str(workdir / "dataset-line"))[split]:
            table[f"{row['article_id']}#{row['index']}"] = (row["article_id"], row["start"], row["end"])
    columns = [finer.labels.index(n) for n in line_oof.labels]
    by_hand = np.zeros((len(line_oof.ids), len(line_oof.labels)))
    for i, uid in enumerate(line_oof.ids):
        article, start, end = table[uid]
        inside = [
            r
            for r, fid in enumerate(finer.ids)
            if fid.rsplit("#", 1)[0] == article and finer.offsets[r, 0] >= start and finer.offsets[r, 1] <= end
        ]
        if inside:
            by_hand[i] = finer.probabilities[np.ix_(inside, columns)].max(axis=0)
    return by_hand


def _interval(value: float, interval: list[float]) -> str:
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def test_ensemble_cards_show_intervals_and_warn_of_few_articles(
    workdir: Path, tiny_config: Callable, ensemble: Path
) -> None:
    stats = json.loads((workdir / "dataset-line" / "stats.json").read_text(encoding="utf-8"))["splits"]
    # Members scored on the dev split: the cross-fitted figures with their 95% intervals.
    card = (ensemble / "README.md").read_text(encoding="utf-8")
    crossed = json.loads((ensemble / "dev_metrics.json").read_text(encoding="utf-8"))["cross_fitted"]
    cells = [_interval(crossed[k], crossed["ci95"][k]) for k in ("micro_f1", "macro_f1", "any_f1")]
    assert f"| ensemble, cross-fitted | {' | '.join(cells)} |" in card
    assert f"over the {stats['dev']['articles']} articles of the dev split" in card
    assert f"only {stats['dev']['articles']} articles in this split (fewer than 100)" in card
    # Members trained with folds: mean ± std over folds beside the pooled figure and its interval.
    folded = [
        _trained(
            workdir,
            tiny_config,
            "line",
            **{
                "name": f"tiny-card-{lr}",
                "output_dir": workdir / f"card-{lr}",
                "train.folds": "3",
                "train.epochs": "1",
            },
            **{"train.learning_rate": lr},
        )
        for lr in ("0.001", "0.002")
    ]
    result = build_ensemble(folded, workdir / "dataset-line", workdir / "card-out-of-fold")
    card = (result.model_dir / "README.md").read_text(encoding="utf-8")
    micro = result.dev_metrics["cross_validated"]["micro_f1"]
    pooled = _interval(micro["pooled"], micro["ci95"]["pooled"])
    assert f"| ensemble, cross-validated | {micro['mean']:.3f} ± {micro['std']:.3f}; pooled {pooled} | " in card
    articles = stats["train"]["articles"] + stats["dev"]["articles"]
    assert f"over the {articles} articles of the train and dev splits" in card
    assert f"only {articles} articles in this split (fewer than 100)" in card
