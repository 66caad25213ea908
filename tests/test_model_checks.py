"""A model folder that cannot score right is refused on load, with one message naming the file and field (issue 42).

Reported: without ``tokenizer.json`` a folder scored with a 5-token vocabulary (every word ``[UNK]``) and exit 0;
a NaN threshold meant no label ever fired; a string or null threshold was an internal error; a label list one
shorter than the head was NumPy's broadcast message. Each case is tried on every folder kind, built here by hand
from the tiny random BERT (no training): the checks live in the shared loading code, so every kind must refuse.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

from framelab.cli import main
from framelab.errors import DataError, Problem
from framelab.frames.head import FrameAttention, HeadSpec, save_heads
from framelab.models.ensemble import load_model
from framelab.models.folder import ModelMeta
from framelab.stance.data import FNC1_LABELS, RELATED
from framelab.stance.features import ENCODER_DIR, FEATURES, STAGE_ONE_FILE, StageOne, Tfidf
from framelab.tagging import tag_names

LABELS = ["a", "b", "c"]
KINDS = ("techniques", "frames", "frames_attention", "spans", "fnc1", "ensemble")


def _meta(folder: Path, task: str, unit: str, labels: list[str], thresholds: list[float] | None, pooling: str) -> None:
    meta = ModelMeta(task, unit, labels, thresholds, 64, 16, pooling, "tiny", "test")
    (folder / "framelab.json").write_text(json.dumps(asdict(meta)), encoding="utf-8")


def _save(model, tiny: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(folder)
    return folder


def _build(kind: str, tiny: Path, classifier: Path, folder: Path) -> Path:
    """An intact ``kind`` folder at ``folder``, labels ``LABELS`` (FNC-1's for fnc1), every threshold 0.5."""
    torch.manual_seed(0)
    if kind in ("techniques", "frames"):
        shutil.copytree(classifier, folder)
        if kind == "frames":
            _meta(folder, "frames", "article", LABELS, [0.5] * 3, "max")
    elif kind == "frames_attention":
        _save(AutoModel.from_pretrained(tiny), tiny, folder)
        spec = HeadSpec(input_size=64, labels=len(LABELS), heads=1)
        save_heads(folder, [FrameAttention(spec)], spec)
        _meta(folder, "frames_attention", "article", LABELS, [0.5] * 3, "attention")
    elif kind == "spans":
        tags = tag_names(LABELS)
        model = AutoModelForTokenClassification.from_pretrained(
            tiny, num_labels=len(tags), id2label=dict(enumerate(tags)), label2id={t: i for i, t in enumerate(tags)}
        )
        _save(model, tiny, folder)
        _meta(folder, "spans", "sentence", LABELS, [0.5] * 3, "none")
    elif kind == "fnc1":
        model = AutoModelForSequenceClassification.from_pretrained(
            tiny,
            num_labels=len(RELATED),
            id2label=dict(enumerate(RELATED)),
            label2id={n: i for i, n in enumerate(RELATED)},
        )
        _save(model, tiny, folder)
        _meta(folder, "fnc1", "article", list(FNC1_LABELS), None, "none")
        zeros = np.zeros(len(FEATURES))
        tfidf = Tfidf(["mayor", "levy"], np.ones(2))
        StageOne(tfidf, zeros, np.ones(len(FEATURES)), zeros, 0.0, 0.5, 2, str(tiny)).save(folder)
    else:
        for name in ("a", "b"):
            shutil.copytree(classifier, folder / "members" / name)
        members = [{"name": n, "folder": f"members/{n}", "unit": "sentence", "weight": 0.5} for n in ("a", "b")]
        spec = {"task": "techniques", "unit": "sentence", "labels": LABELS, "thresholds": [0.5] * 3}
        spec |= {"members": members, "framelab_version": "test"}
        (folder / "ensemble.json").write_text(json.dumps(spec), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def intact(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, tiny_classifier_dir: Path) -> dict:
    root = tmp_path_factory.mktemp("model-checks")
    return {kind: _build(kind, tiny_model_dir, tiny_classifier_dir, root / kind) for kind in KINDS}


@pytest.fixture
def copy(intact: dict, tmp_path: Path):
    def copier(kind: str) -> Path:
        folder = tmp_path / kind
        shutil.copytree(intact[kind], folder)
        return folder

    return copier


def _refusal(folder: Path) -> Problem:
    """The one problem loading ``folder`` is refused with."""
    with pytest.raises(DataError) as info:
        load_model(folder, split_workers=1)
    (problem,) = info.value.problems
    assert problem.hint, problem
    return problem


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")  # NaN is written as JSON's NaN, as json.dumps does


def _threshold_file(folder: Path, kind: str) -> tuple[Path, str]:
    """The file holding ``kind``'s decision thresholds and the key in it."""
    if kind == "fnc1":
        return folder / STAGE_ONE_FILE, "threshold"  # its one relatedness threshold; the labels take the arg-max
    return folder / ("ensemble.json" if kind == "ensemble" else "framelab.json"), "thresholds"


@pytest.mark.parametrize("kind", KINDS)
def test_intact_folders_of_every_kind_load(intact: dict, kind: str) -> None:
    predictor = load_model(intact[kind], split_workers=1)
    assert predictor.meta.labels == (list(FNC1_LABELS) if kind == "fnc1" else LABELS)


@pytest.mark.parametrize("kind", [*KINDS, "fnc1-encoder"])
def test_folder_without_tokenizer_json_is_refused(copy, kind: str) -> None:
    folder = copy(kind.removesuffix("-encoder"))
    holder = {"ensemble": folder / "members" / "a", "fnc1-encoder": folder / ENCODER_DIR}.get(kind, folder)
    (holder / "tokenizer.json").unlink()  # tokenizer_config.json stays: transformers builds a 5-token tokenizer
    rows = json.loads((holder / "config.json").read_text(encoding="utf-8"))["vocab_size"]
    problem = _refusal(folder)
    assert problem.path == str(holder / "tokenizer.json")
    assert f"holds 5 tokens (there is no tokenizer.json) but config.json's vocab_size is {rows}" in problem.message


@pytest.mark.parametrize("kind", KINDS)
def test_nan_threshold_is_refused(copy, kind: str) -> None:
    folder = copy(kind)
    path, key = _threshold_file(folder, kind)
    _edit(path, lambda data: data.__setitem__(key, float("nan") if key == "threshold" else [float("nan"), 0.5, 0.5]))
    problem = _refusal(folder)
    assert problem.path == str(path) and f"{key}" in problem.message and "is nan" in problem.message


@pytest.mark.parametrize("value", ["0.5", None])
@pytest.mark.parametrize("kind", KINDS)
def test_string_or_null_threshold_is_refused(copy, kind: str, value: str | None) -> None:
    folder = copy(kind)
    path, key = _threshold_file(folder, kind)
    _edit(path, lambda data: data.__setitem__(key, value if key == "threshold" else [0.5, value, 0.5]))
    problem = _refusal(folder)
    assert problem.path == str(path) and f"is {value!r}" in problem.message
    assert ("thresholds[1] (label 'b')" if key == "thresholds" else "threshold is") in problem.message


@pytest.mark.parametrize("kind", KINDS)
def test_label_list_one_shorter_than_the_head_is_refused(copy, kind: str) -> None:
    folder = copy(kind)
    meta = folder / "members" / "a" / "framelab.json" if kind == "ensemble" else folder / "framelab.json"

    def drop_last(data: dict) -> None:
        data["labels"].pop()
        if data["thresholds"]:
            data["thresholds"].pop()

    _edit(meta, drop_last)
    problem = _refusal(folder)
    assert problem.path == str(meta) and "labels" in problem.message
    if kind == "fnc1":
        assert "FNC-1's agree, disagree, discuss, unrelated" in problem.message
    else:
        source = "head.json" if kind == "frames_attention" else "config.json"
        assert "labels lists 2 name(s)" in problem.message and f"but {source} has" in problem.message


@pytest.mark.parametrize("case", ["tokenizer", "nan", "string", "short"])
def test_the_cli_refuses_a_broken_folder_with_exit_2_naming_the_file(
    copy, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    folder = copy("techniques")
    if case == "tokenizer":
        (folder / "tokenizer.json").unlink()
    elif case == "short":
        _edit(folder / "framelab.json", lambda data: data.update(labels=LABELS[:2], thresholds=[0.5, 0.5]))
    else:
        broken = {"nan": [float("nan")] * 3, "string": ["0.5"] * 3}[case]
        _edit(folder / "framelab.json", lambda data: data.__setitem__("thresholds", broken))
    article = tmp_path / "story.txt"
    article.write_text("The mayor called the levy a shameful scandal.\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["score", "--model", str(folder), str(article), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(folder / ("tokenizer.json" if case == "tokenizer" else "framelab.json")) in err
    assert {"tokenizer": "vocab_size", "nan": "is nan", "string": "is '0.5'", "short": "labels lists 2"}[case] in err
    assert not out.exists()
