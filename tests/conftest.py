"""Shared fixtures: a tiny randomly initialised BERT, run configs for it, and small datasets.

The tiny model (2 layers, hidden 64, a WordPiece vocabulary trained on the
sample corpus) makes a training step take milliseconds, so the whole
train → save → score round trip runs in the fast suite. ``tiny_config``
makes the run config of such a round trip (tests/README.md).
"""

from __future__ import annotations

import json
import logging
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "articles.jsonl"
SHARED_DATA = Path(os.environ.get("FRAMELAB_SHARED_DATA", REPO.parent / "shared" / "data"))


def _sample_texts() -> list[str]:
    return [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a random 2-layer BERT (hidden 64) and its fast tokenizer."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(_sample_texts(), trainers.WordPieceTrainer(vocab_size=800, special_tokens=specials))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )
    config = BertConfig(
        vocab_size=tok.get_vocab_size(),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=512,
    )
    out = tmp_path_factory.mktemp("tiny-bert")
    BertForMaskedLM(config).save_pretrained(out)
    fast.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_config(tiny_model_dir: Path) -> Callable[..., Any]:
    """Run configs for the tiny BERT on the sample corpus: ``tiny_config(workdir, task, **fields)``.

    The dataset goes to ``workdir/dataset`` and the model to
    ``workdir/model-<task>``, trained for two epochs at a learning rate the
    random model learns something at. ``fields`` maps dotted config keys to
    values (``**{"data.unit": "line"}``) and wins over these, as ``--set`` does.
    """
    from framelab.config import load_config

    def make(workdir: Path, task: str = "techniques", **fields: Any):
        settings = {
            "name": f"tiny-{task}",
            "data.path": SAMPLE,
            "data.output_dir": workdir / "dataset",
            "output_dir": workdir / f"model-{task}",
            "model.base": tiny_model_dir,
            "train.task": task,
            "train.epochs": 2,
            "train.batch_size": 32,
            "train.learning_rate": 0.001,
            "train.logging_steps": 5,
            **fields,
        }
        return load_config(None, [f"{key}={value}" for key, value in settings.items()])

    return make


@pytest.fixture(scope="session")
def tiny_classifier_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The tiny random BERT as a 3-label techniques classifier folder (untrained head, fixed seed)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from framelab.models.folder import ModelMeta

    labels = ["a", "b", "c"]
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-classifier")
    model = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=len(labels), problem_type="multi_label_classification"
    )
    model.save_pretrained(out, safe_serialization=True)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(out)
    meta = ModelMeta("techniques", "sentence", labels, [0.5] * len(labels), 64, 16, "max", str(tiny_model_dir), "test")
    (out / "framelab.json").write_text(json.dumps(asdict(meta)), encoding="utf-8")
    return out


#: transformers' alias of each pipeline task a refusing model folder declares.
PIPELINE_ALIASES = {"text-classification": "sentiment-analysis", "token-classification": "ner"}


def assert_stock_pipeline_refuses(folder: Path, task: str, message: str, modules: Path, monkeypatch) -> None:
    """transformers' stock ``pipeline(task)`` (and its alias) stops on ``folder``: it asks for ``trust_remote_code``,
    and given it raises ``message``, framelab's reason; framelab itself still loads the folder.

    ``modules`` takes the copy of the folder's refusing module that transformers makes (``monkeypatch`` points its
    module cache there)."""
    import transformers.dynamic_module_utils as dynamic
    from transformers import pipeline

    from framelab.models.ensemble import load_model

    assert "framelab" in message and "framelab score --model" in message
    for name in (task, PIPELINE_ALIASES[task]):
        with pytest.raises(ValueError, match="trust_remote_code"):
            pipeline(name, model=str(folder))
    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(modules))
    for name in (task, PIPELINE_ALIASES[task]):
        with pytest.raises(ValueError) as refused:
            pipeline(name, model=str(folder), trust_remote_code=True)
        assert str(refused.value) == message
    assert load_model(folder).meta.task


def python_blocks(markdown: str) -> list[str]:
    """The fenced ``python`` code blocks of a markdown text, in order."""
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def dry_run_push(folder: Path, out: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture):
    """``framelab push --dry-run`` of ``folder`` into ``out`` with the Hub unreachable; the card as
    ``huggingface_hub.ModelCard`` reads it there, checked for what every kind of folder must carry.

    Its first python block (``framelab.load(snapshot_download(...))``) is run on ``out`` too.
    """
    import huggingface_hub
    from huggingface_hub import HfApi, ModelCard

    from framelab.cli import main

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a dry run must not reach the Hub")

    for name in ("create_repo", "upload_folder"):
        monkeypatch.setattr(HfApi, name, refuse)
    repo = "someone/tiny-model"
    assert main(["push", "--model", str(folder), "--repo", repo, "--dry-run", "--out", str(out)]) == 0
    caplog.clear()
    hub_log = logging.getLogger("huggingface_hub")
    hub_log.addHandler(caplog.handler)  # whether or not the library's logger propagates
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            card = ModelCard.load(out / "README.md")
    finally:
        hub_log.removeHandler(caplog.handler)
    assert [r for r in caplog.records if r.name.startswith("huggingface_hub") and r.levelno >= logging.WARNING] == []
    data = card.data
    assert (data.license, data.license_name, data.license_link) == (
        "other",
        "base-model-license-and-corpus-terms",
        "LICENSE.md",
    )
    assert "third-party" in (out / "LICENSE.md").read_text(encoding="utf-8") or "whoever holds it" in card.text
    assert data.eval_results and all(isinstance(r.metric_value, float) for r in data.eval_results)
    assert data.base_model is None and "A local encoder folder" in card.text  # the tiny BERT has no Hub origin
    assert "<hub-id>" not in card.text and f'snapshot_download("{repo}")' in card.text
    assert "## Citation" in card.text and "## Base model" in card.text
    assert not (out / "logs").exists() and (folder / "README.md").read_text(encoding="utf-8").count("<hub-id>") >= 1
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kwargs: str(out))
    exec(compile(python_blocks(card.text)[0], "README.md", "exec"), {})
    return card
