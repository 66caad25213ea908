"""The whole path with the tiny BERT: data → train → save → reload → eval → score."""

from __future__ import annotations

import csv
import functools
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from transformers import TrainerCallback

import framelab
from framelab.dataset import build_dataset
from framelab.errors import DataError
from framelab.eval.report import evaluate_model
from framelab.figures import shown
from framelab.models.folder import read_meta
from framelab.models.predictor import Predictor
from framelab.models.stock import MODULE_FILE, THRESHOLDS_KEY, refusal_message
from framelab.score.scorer import score
from framelab.splits import load_table
from framelab.train.run import train

from .conftest import REPO, SAMPLE, assert_stock_pipeline_refuses, dry_run_push, python_blocks


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pipeline")


@pytest.fixture(scope="module")
def techniques_model(workdir: Path, tiny_config: Callable) -> Path:
    config = tiny_config(workdir, "techniques")
    build_dataset(config)
    return train(config).model_dir


@pytest.fixture(scope="module")
def frames_model(workdir: Path, tiny_config: Callable, techniques_model: Path) -> Path:
    config = tiny_config(
        workdir,
        "frames",
        **{"model.max_length": "64", "model.stride": "16", "train.min_label_count": "2"},
    )
    return train(config).model_dir


def test_dataset_split_by_article(workdir: Path, techniques_model: Path) -> None:
    from datasets import load_from_disk

    units = load_from_disk(str(workdir / "dataset"))  # the top folder is the unit table
    train_ids, dev_ids = set(units["train"]["article_id"]), set(units["dev"]["article_id"])
    assert train_ids and dev_ids and not train_ids & dev_ids
    stats = json.loads((workdir / "dataset" / "stats.json").read_text())
    assert stats["splits"]["train"]["articles"] == len(train_ids)
    articles = {
        json.loads(line)["id"]: json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()
    }
    for row in units["dev"]:
        assert articles[row["article_id"]][row["start"] : row["end"]] == row["text"]
        for span in row["spans"]:
            assert 0 <= span["start"] < span["end"] <= len(row["text"])


def test_dataset_labels_are_class_labels_and_the_folder_has_a_card(workdir: Path, techniques_model: Path) -> None:
    from datasets import ClassLabel, load_from_disk
    from huggingface_hub import DatasetCard

    folder = workdir / "dataset"
    inventory = json.loads((folder / "labels.json").read_text(encoding="utf-8"))
    units, articles = load_from_disk(str(folder)), load_from_disk(str(folder / "articles"))
    label_feature = units["train"].features["labels"].feature
    assert isinstance(label_feature, ClassLabel) and label_feature.names == inventory["techniques"]
    assert units["train"].features["spans"].feature["label"].names == inventory["techniques"]
    assert articles["train"].features["frames"].feature.names == inventory["frames"]
    # framelab's reader gives the same rows back with names, in the same order.
    named = load_table(folder, "units", "train")
    coded = units["train"]
    assert [[label_feature.int2str(i) for i in row] for row in coded["labels"]] == list(named["labels"])
    assert any(named["labels"]) and all(isinstance(n, str) for row in named["labels"] for n in row)
    card = DatasetCard.load(folder / "README.md")
    assert card.data.task_categories == ["text-classification"] and "framelab" in card.data.tags
    assert f"| train | {len(set(coded['article_id']))} | {len(coded)} |" in card.text


def test_dataset_of_other_settings_is_not_overwritten(
    workdir: Path, tiny_config: Callable, techniques_model: Path
) -> None:
    config = tiny_config(workdir, "techniques", **{"data.unit": "line"})
    with pytest.raises(DataError, match="other data settings"):
        build_dataset(config)


def test_model_folder_holds_everything_scoring_needs(techniques_model: Path) -> None:
    names = {p.name for p in techniques_model.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "framelab.json",
        "training_config.yaml",
        "dev_metrics.json",
        "README.md",
        "logs",
    } <= names
    assert not list(techniques_model.glob("*.bin")) and not list(techniques_model.glob("*.pt"))
    meta = json.loads((techniques_model / "framelab.json").read_text())
    config = json.loads((techniques_model / "config.json").read_text())
    assert meta["task"] == "techniques" and meta["unit"] == "sentence"
    assert len(meta["thresholds"]) == len(meta["labels"]) == len(config["id2label"])
    assert config["id2label"]["0"] == meta["labels"][0]
    assert "micro" in json.loads((techniques_model / "dev_metrics.json").read_text())["at_tuned_thresholds"]
    assert not techniques_model.with_name(techniques_model.name + ".work").exists()


def test_eval_report_shows_model_beside_baseline(workdir: Path, techniques_model: Path) -> None:
    result = evaluate_model(techniques_model, workdir / "dataset", "dev", workdir / "report")
    files = {p.name for p in result.report_dir.iterdir()}
    assert {"metrics.json", "report.md", "per_label_f1.png", "pr_curves.png", "label_matrix.png"} <= files
    metrics = json.loads((result.report_dir / "metrics.json").read_text())
    for system in ("model", "baseline"):
        assert {"micro", "macro", "per_label", "any", "article_level"} <= set(metrics[system])
    # Same model, same split: the report must reproduce the figures saved at training time.
    dev = json.loads((techniques_model / "dev_metrics.json").read_text())
    assert metrics["model_at_0.5"]["micro"]["f1"] == pytest.approx(dev["at_0.5"]["micro"]["f1"])
    assert metrics["model"]["micro"]["f1"] == pytest.approx(dev["at_tuned_thresholds"]["micro"]["f1"])
    assert dev["at_tuned_thresholds"]["micro"]["f1"] >= dev["at_0.5"]["micro"]["f1"] - 1e-9
    report = (result.report_dir / "report.md").read_text()
    assert "TF-IDF baseline" in report and "framelab model" in report
    for system in ("model", "baseline"):
        micro = metrics[system]["micro"]
        assert micro["ci95"]["f1"][0] <= micro["f1"] <= micro["ci95"]["f1"][1]
    assert metrics["model"]["micro"]["ci95"]["f1"] == pytest.approx(dev["at_tuned_thresholds"]["micro"]["ci95"]["f1"])


def test_score_jsonl_keeps_every_unit_with_round_trip_offsets(
    workdir: Path, techniques_model: Path, frames_model: Path
) -> None:
    article = workdir / "article.txt"
    text = "Harbour plan\r\n\r\nThe reckless plan is a disaster.It will cost 3.5 million.\r\nMr. Ito disagreed."
    article.write_bytes(text.encode("utf-8"))
    out = workdir / "pred.jsonl"
    summary = score([techniques_model, frames_model], [article], fmt="jsonl", out=out, progress=False)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    units = [r for r in records if r["type"] == "unit"]
    raw = article.read_bytes().decode("utf-8")
    assert [u["text"] for u in units] == [
        "Harbour plan",
        "The reckless plan is a disaster.",
        "It will cost 3.5 million.",
        "Mr. Ito disagreed.",
    ]
    for u in units:
        assert raw[u["start"] : u["end"]] == u["text"]
        pred = u["predictions"][techniques_model.name]
        assert set(pred["scores"]) == set(json.loads((techniques_model / "framelab.json").read_text())["labels"])
    (art,) = [r for r in records if r["type"] == "article"]
    assert art["predictions"][frames_model.name]["task"] == "frames"
    assert summary.units == 4 and summary.articles == 1


def test_thresholds_are_read_at_scoring(workdir: Path, techniques_model: Path) -> None:
    copy = workdir / "thresholds-copy"
    shutil.copytree(techniques_model, copy)
    meta = json.loads((copy / "framelab.json").read_text())
    texts = ["A shameful, reckless betrayal by a corrupt council.", "The meeting starts at noon."]
    meta["thresholds"] = [0.0] * len(meta["labels"])
    (copy / "framelab.json").write_text(json.dumps(meta))
    predictor = Predictor(copy)
    assert predictor.decide(predictor.probabilities(texts)).all()
    meta["thresholds"] = [1.0] * len(meta["labels"])  # the highest a threshold may be: no probability here reaches it
    (copy / "framelab.json").write_text(json.dumps(meta))
    predictor = Predictor(copy)
    assert not predictor.decide(predictor.probabilities(texts)).any()


def test_splitting_in_worker_processes_writes_the_same_file(
    workdir: Path, techniques_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from framelab import unit_pool

    if not unit_pool._can_fork():
        pytest.skip("worker processes are forked, which needs Linux")
    monkeypatch.setattr(unit_pool, "MIN_POOL_CHARS", 0)
    unit_pool.shutdown_pool()  # an earlier build may have started one
    outs = {}
    try:
        for workers in (1, 2):
            outs[workers] = workdir / f"pool-{workers}.jsonl"
            score(
                [techniques_model],
                [SAMPLE],
                fmt="jsonl",
                out=outs[workers],
                progress=False,
                split_workers=workers,
                chunk_articles=16,
            )
        assert unit_pool._pool is not None, "the pool was not used"
    finally:
        unit_pool.shutdown_pool()
    assert outs[1].read_bytes() == outs[2].read_bytes()


def test_dataset_cut_in_worker_processes_has_the_units_cut_in_one(
    workdir: Path, tiny_config: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datasets import load_from_disk

    import framelab.dataset
    from framelab import unit_pool

    if not unit_pool._can_fork():
        pytest.skip("worker processes are forked, which needs Linux")
    unit_pool.shutdown_pool()  # an earlier build may have started one
    tables = {}
    try:
        for mode in ("pool", "one process"):
            if mode == "one process":
                monkeypatch.setattr(framelab.dataset, "split_many", functools.partial(unit_pool.split_many, workers=1))
            config = tiny_config(workdir, "techniques", **{"data.output_dir": str(workdir / f"dataset-{mode}")})
            build_dataset(config)
            tables[mode] = load_from_disk(str(workdir / f"dataset-{mode}"))
            if mode == "pool":
                assert unit_pool._pool is not None, "the pool was not used"
    finally:
        unit_pool.shutdown_pool()
    assert list(tables["pool"]) == list(tables["one process"])
    for split in tables["pool"]:
        assert tables["pool"][split].to_list() == tables["one process"][split].to_list()


def test_every_input_unit_in_csv_and_html_escapes(workdir: Path, techniques_model: Path) -> None:
    src = workdir / "html-in"
    src.mkdir()
    (src / "evil.txt").write_text(
        '<script>alert("x")</script> headline\n\nA "quoted" claim\' onmouseover="x". Fine.', encoding="utf-8"
    )
    html_out = workdir / "out.html"
    score([techniques_model], [src], fmt="html", out=html_out, progress=False)
    page = html_out.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'onmouseover="x"' not in page
    csv_out = workdir / "out.csv"
    summary = score([techniques_model], [src], fmt="csv", out=csv_out, progress=False)
    rows = list(csv.DictReader(csv_out.open(encoding="utf-8", newline="")))
    assert len(rows) == summary.units == 3


def test_semeval2023_output_has_a_line_for_every_non_empty_line(
    workdir: Path, techniques_model: Path, frames_model: Path
) -> None:
    folder = workdir / "semeval-in"
    folder.mkdir()
    texts = {"111": "Title one\n\nFirst para. Second sentence.\n\n\ufeff\nLast para.\n", "222": "Only a title"}
    for article_id, text in texts.items():
        (folder / f"article{article_id}.txt").write_text(text, encoding="utf-8")
    (folder / "dev-labels-subtask-3.txt").write_text("not an article\n", encoding="utf-8")
    out = workdir / "semeval-out"
    score([techniques_model, frames_model], [folder], fmt="semeval2023", out=out, progress=False)
    lines = [line.split("\t") for line in (out / "subtask-3.txt").read_text().splitlines()]
    expected = [("111", "1"), ("111", "3"), ("111", "5"), ("111", "6"), ("222", "1")]
    assert [(row[0], row[1]) for row in lines] == expected
    assert all(len(row) == 3 for row in lines)
    frames = (out / "subtask-2.txt").read_text().splitlines()
    assert [row.split("\t")[0] for row in frames] == ["111", "222"]


def test_binary_input_is_refused(workdir: Path, techniques_model: Path) -> None:
    binary = workdir / "image.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(DataError, match="binary file"):
        score([techniques_model], [binary], fmt="jsonl", out=workdir / "never.jsonl", progress=False)
    assert not (workdir / "never.jsonl").exists()


def test_model_folder_without_thresholds_or_tokenizer_is_refused(workdir: Path, techniques_model: Path) -> None:
    broken = workdir / "broken"
    shutil.copytree(techniques_model, broken)
    meta = json.loads((broken / "framelab.json").read_text())
    meta["thresholds"] = None
    (broken / "framelab.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="thresholds"):
        Predictor(broken)
    meta["thresholds"] = [0.5] * len(meta["labels"])
    (broken / "framelab.json").write_text(json.dumps(meta))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (broken / name).unlink(missing_ok=True)
    with pytest.raises(DataError, match="tokenizer"):
        Predictor(broken)


def test_train_without_dataset_says_what_to_do(workdir: Path, tiny_config: Callable) -> None:
    config = tiny_config(workdir, "techniques", **{"data.output_dir": str(workdir / "missing")})
    with pytest.raises(DataError, match="framelab data --config"):
        train(config)


class _Interrupt(TrainerCallback):
    """Stops training like a kill would, once the first epoch's checkpoint is on disk."""

    def on_epoch_begin(self, args, state, control, **kwargs):
        if state.epoch >= 1:
            raise KeyboardInterrupt


def test_interrupted_training_resumes_from_the_last_checkpoint(
    workdir: Path, tiny_config: Callable, techniques_model: Path
) -> None:
    config = tiny_config(workdir, "techniques", output_dir=str(workdir / "resumed"))
    with pytest.raises(KeyboardInterrupt):
        train(config, callbacks=[_Interrupt()])
    work = workdir / "resumed.work"
    assert (work / "checkpoint-epoch-1").is_dir() or any(p.name.startswith("checkpoint-") for p in work.iterdir())
    assert not (workdir / "resumed").exists()
    result = train(config, resume=True)
    history = json.loads((result.model_dir / "logs" / "log_history.json").read_text())
    assert max(entry.get("epoch", 0) for entry in history) == pytest.approx(2.0)
    assert not work.exists()


def test_genre_is_single_label(workdir: Path, tiny_config: Callable, techniques_model: Path) -> None:
    config = tiny_config(workdir, "genre", **{"model.max_length": "64", "model.stride": "16", "train.epochs": "1"})
    result = train(config)
    meta = json.loads((result.model_dir / "framelab.json").read_text())
    assert meta["thresholds"] is None and meta["pooling"] == "mean"
    predictor = Predictor(result.model_dir)
    decided = predictor.decide(predictor.probabilities(["A short satirical piece.", "News report on the budget."]))
    assert decided.sum(axis=1).tolist() == [1, 1]
    assert "accuracy" in result.dev_metrics["argmax"]


def test_stance_model_scores_articles_and_units_toward_a_target(
    workdir: Path, tiny_config: Callable, techniques_model: Path
) -> None:
    config = tiny_config(workdir, "stance", **{"model.max_length": "64", "model.stride": "16"})
    result = train(config)
    meta = json.loads((result.model_dir / "framelab.json").read_text())
    assert meta["labels"] == ["against", "favor", "none"] and meta["task"] == "stance"
    report = evaluate_model(result.model_dir, workdir / "dataset", "dev", workdir / "stance-report")
    for system in ("model", "baseline", "majority_baseline"):
        assert {"macro_f1", "f_avg", "accuracy"} <= set(report.metrics[system]["stance"])
    assert "majority-class baseline" in (report.report_dir / "report.md").read_text()
    article = workdir / "stance.txt"
    article.write_text("Rent control\n\nRent control protects tenants. Landlords hate it.", encoding="utf-8")
    with pytest.raises(ValueError, match="--target"):
        score([result.model_dir], [article], fmt="jsonl", out=workdir / "stance-none.jsonl", progress=False)
    out = workdir / "stance.jsonl"
    score([result.model_dir], [article], fmt="jsonl", out=out, progress=False, target="rent control")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    units = [r for r in records if r["type"] == "unit"]
    assert len(units) == 3 and all(u["predictions"][result.model_dir.name]["target"] == "rent control" for u in units)
    (art,) = [r for r in records if r["type"] == "article"]
    stance = art["predictions"][result.model_dir.name]
    assert len(stance["labels"]) == 1 and abs(sum(stance["scores"].values()) - 1) < 1e-3


def _same_values(a: object, b: object) -> bool:
    # A unit's probabilities depend in their last bits on the other units in its
    # batch (padding changes the shapes of the matrix products), and a shard
    # batches other units: a probability near a rounding edge may then move by
    # one unit of the 4th decimal. Everything else must be identical.
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1.5e-4
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_values(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_values(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _csv_records(path: Path) -> list[list]:
    """A CSV's header and rows, the score and weight cells as numbers."""
    header, *rows = csv.reader(path.open(encoding="utf-8", newline=""))
    numeric = [name.startswith("score:") or name == "weight" for name in header]
    return [header, *([float(cell) if number and cell else cell for cell, number in zip(row, numeric)] for row in rows)]


def _assert_same_records(merged: Path, whole: Path, fmt: str) -> None:
    if fmt == "jsonl":
        rows = [
            [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] for path in (merged, whole)
        ]
    else:
        rows = [_csv_records(path) for path in (merged, whole)]
    assert len(rows[0]) == len(rows[1])
    for got, want in zip(*rows):
        assert _same_values(got, want), (got, want)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "semeval2023"])
def test_sharded_scoring_merged_equals_unsharded(
    workdir: Path, techniques_model: Path, frames_model: Path, fmt: str
) -> None:
    from framelab.score.shard import merge

    models = [techniques_model, frames_model]
    suffix = "" if fmt == "semeval2023" else f".{fmt}"
    whole = workdir / f"whole-{fmt}{suffix}"
    score(models, [SAMPLE], fmt=fmt, out=whole, progress=False)
    shards = []
    for k in range(3):
        shards.append(workdir / f"shard-{fmt}-{k}{suffix}")
        summary = score(models, [SAMPLE], fmt=fmt, out=shards[-1], progress=False, shard=(k, 3))
        assert 0 < summary.articles < 58
    merged = workdir / f"merged-{fmt}{suffix}"
    merge(shards, [SAMPLE], fmt=fmt, out=merged)
    if fmt == "semeval2023":
        for name in ("subtask-2.txt", "subtask-3.txt"):
            assert (merged / name).read_bytes() == (whole / name).read_bytes()
    else:
        _assert_same_records(merged, whole, fmt)
    # Every format, CSV included (no row for an article without units), is checked by the shards' manifests.
    with pytest.raises(DataError, match="given twice"):
        merge([*shards, shards[0]], [SAMPLE], fmt=fmt, out=workdir / f"dup-{fmt}{suffix}")
    with pytest.raises(DataError, match="shard 2/3: missing"):
        merge(shards[:2], [SAMPLE], fmt=fmt, out=workdir / f"partial-{fmt}{suffix}")


def test_label_names_are_escaped_in_html(workdir: Path, techniques_model: Path) -> None:
    evil = workdir / "evil-labels"
    shutil.copytree(techniques_model, evil)
    meta = json.loads((evil / "framelab.json").read_text())
    meta["labels"][0] = '<script>alert(1)</script>" onmouseover="x'
    meta["thresholds"] = [0.0] * len(meta["labels"])
    (evil / "framelab.json").write_text(json.dumps(meta))
    article = workdir / "plain.txt"
    article.write_text("A sentence. Another one.", encoding="utf-8")
    out = workdir / "evil.html"
    score([evil], [article], fmt="html", out=out, progress=False)
    page = out.read_text(encoding="utf-8")
    assert "<script>" not in page and 'onmouseover="x' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34; onmouseover=&#34;x" in page


def test_no_code_path_trusts_remote_code_or_unpickles_weights() -> None:
    package = Path(__file__).resolve().parents[1] / "framelab"
    sources = {p: p.read_text(encoding="utf-8") for p in package.rglob("*.py")}
    assert not [p for p, text in sources.items() if "trust_remote_code=True" in text]
    assert not [
        p
        for p, text in sources.items()
        if any(call in text for call in ("torch.load(", "pickle.load", "import pickle", "joblib"))
    ]
    loaders = [p for p, text in sources.items() if "ForSequenceClassification.from_pretrained(" in text]
    assert loaders and all("use_safetensors=True" in sources[p] for p in loaders)


def test_ids_from_inputs_never_become_output_paths(workdir: Path, techniques_model: Path) -> None:
    source = workdir / "hostile.jsonl"
    source.write_text(json.dumps({"id": "../../escaped", "text": "Title\n\nA shameful plan."}) + "\n", encoding="utf-8")
    out = workdir / "hostile-out" / "inner"
    before = {p for p in workdir.rglob("*")}
    score([techniques_model], [source], fmt="semeval2023", out=out, progress=False)
    created = {p for p in workdir.rglob("*")} - before
    assert created and all(out in p.parents or p == out or p in out.parents for p in created)
    assert (out / "subtask-3.txt").read_text().startswith("../../escaped\t1\t")


def test_lenient_data_flag_keeps_going(workdir: Path, tmp_path: Path) -> None:
    from framelab.cli import main

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        json.dumps({"id": "a", "text": "Good text here. Another one."})
        + "\n"
        + "{not json\n"
        + json.dumps({"id": "b", "text": "More text. And more."})
        + "\n",
        encoding="utf-8",
    )
    sets = [
        "--set",
        f"data.path={corpus}",
        "--set",
        f"data.output_dir={tmp_path / 'ds'}",
        "--set",
        "data.dev_fraction=0.5",
    ]
    assert main(["data", "--config", str(REPO / "configs" / "sample.yaml"), *sets]) == 2
    assert main(["data", "--config", str(REPO / "configs" / "sample.yaml"), "--lenient", *sets]) == 0
    stats = json.loads((tmp_path / "ds" / "stats.json").read_text())
    assert len(stats["problems"]) == 1 and ":2" in stats["problems"][0]


def test_push_dry_run_of_a_techniques_folder_and_its_transformers_snippet_gives_framelabs_answers(
    techniques_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import numpy as np
    import torch

    card = dry_run_push(techniques_model, tmp_path / "upload", monkeypatch, caplog)
    assert card.data.library_name == "transformers" and "dev micro-F1" in card.data.eval_results[0].metric_name
    units = ["The mayor's reckless plan will destroy our city.", "Council met on Tuesday.", "Short."]
    snippet, replaced = re.subn(r"(?m)^units = \[.*\]$", f"units = {units!r}", python_blocks(card.text)[1])
    assert replaced == 1
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    predictor = Predictor(tmp_path / "upload")
    expected = predictor.probabilities(units)
    assert np.allclose(namespace["probs"].numpy(), expected, atol=1e-5)
    decided = predictor.decide(expected)
    assert namespace["labels"] == [[predictor.meta.labels[j] for j in np.flatnonzero(row)] for row in decided]
    assert isinstance(namespace["probs"], torch.Tensor)


def test_push_dry_run_of_a_frames_folder_says_transformers_alone_pools_no_windows(
    frames_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    card = dry_run_push(frames_model, tmp_path / "upload", monkeypatch, caplog)
    assert "Transformers alone does not give framelab's answers here: an article is cut into windows" in card.text
    assert len(python_blocks(card.text)) == 1


def test_model_card_metadata_reads_with_huggingface_hub(techniques_model: Path) -> None:
    from huggingface_hub import ModelCard

    card = ModelCard.load(techniques_model / "README.md")
    data = card.data.to_dict()
    assert (
        data["license"] == "other"
        and data["library_name"] == "transformers"
        and data["pipeline_tag"] == "text-classification"
    )
    assert "base_model" not in data  # the tiny BERT is a local folder of no Hub origin: no id is made up for it
    dev = json.loads((techniques_model / "dev_metrics.json").read_text(encoding="utf-8"))
    (result,) = data["model-index"][0]["results"]
    assert result["metrics"][0]["value"] == round(dev["at_tuned_thresholds"]["micro"]["f1"], 4)
    assert "## Intended use" in card.text and "## Limitations" in card.text
    # The dev figures carry their 95% intervals over the dev articles, and the card shows them.
    micro = dev["at_tuned_thresholds"]["micro"]
    assert micro["ci95"]["f1"][0] <= micro["f1"] <= micro["ci95"]["f1"][1]
    assert f"| **micro** | {shown(micro, 'precision')} |" in card.text and "fewer than 100" in card.text


def _long_article(words: int) -> str:
    """Sample articles joined until the text has more than ``words`` words."""
    texts = [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    joined = ""
    for text in texts:
        joined = f"{joined}\n\n{text}" if joined else text
        if len(joined.split()) > words:
            return joined
    raise AssertionError("the sample corpus is too short")


def test_the_stock_pipeline_gives_a_unit_classifiers_labels_with_the_thresholds_of_config_json(
    techniques_model: Path,
) -> None:
    from transformers import AutoConfig, AutoTokenizer, pipeline

    meta = read_meta(techniques_model)
    text = _long_article(2 * meta.max_length)
    assert len(AutoTokenizer.from_pretrained(techniques_model)(text)["input_ids"]) > meta.max_length
    (scored,) = framelab.load(techniques_model).score([text])
    units = [u.unit.text for u in scored.units]
    predictions = [u.predictions[techniques_model.name] for u in scored.units]
    assert len(units) > 3

    # What the card shows, word for word.
    thresholds = getattr(AutoConfig.from_pretrained(techniques_model), THRESHOLDS_KEY)
    assert thresholds == dict(zip(meta.labels, meta.thresholds))
    classify = pipeline(
        "text-classification", model=str(techniques_model), truncation=True, max_length=meta.max_length, top_k=None
    )
    answers = classify(units)
    labels = [[s["label"] for s in scores if s["score"] >= thresholds[s["label"]]] for scores in answers]
    assert labels == [p.labels for p in predictions]
    for scores, prediction in zip(answers, predictions):
        assert prediction.scores == pytest.approx({s["label"]: s["score"] for s in scores}, abs=1e-3)
    card = (techniques_model / "README.md").read_text(encoding="utf-8")
    assert f'classify = pipeline("text-classification", model="{techniques_model}", truncation=True' in card
    assert f".{THRESHOLDS_KEY}" in card and "refuses" not in card
    assert not (techniques_model / MODULE_FILE).exists()


def test_the_stock_pipeline_refuses_a_windowed_frames_model(
    frames_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoConfig, AutoModelForSequenceClassification

    meta = read_meta(frames_model)
    message = refusal_message(meta)
    assert f"windows of {meta.max_length} tokens that overlap by {meta.stride} and max-pools" in message
    # The weights still load for framelab (which windows and pools them); config.json holds the thresholds.
    assert AutoModelForSequenceClassification.from_pretrained(frames_model).config.num_labels == len(meta.labels)
    assert AutoConfig.from_pretrained(frames_model).framelab_thresholds == dict(zip(meta.labels, meta.thresholds))
    card = (frames_model / "README.md").read_text(encoding="utf-8")
    assert "stock pipeline refuses this folder" in card and "max-pools their logits" in card
    assert_stock_pipeline_refuses(frames_model, "text-classification", message, tmp_path / "modules", monkeypatch)
