"""Trainer options set from ``train:``: frozen layers, bf16 on the CPU, accumulation, schedule, step limit, loggers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.errors import ConfigError
from framelab.train.run import train

from .conftest import SAMPLE


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def test_frozen_layers_stay_put_and_the_options_reach_the_trainer(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = load_config(
        None,
        [
            "name=tiny-options",
            f"data.path={SAMPLE}",
            f"data.output_dir={tmp_path / 'dataset'}",
            f"output_dir={tmp_path / 'model'}",
            f"model.base={tiny_model_dir}",
            "train.batch_size=8",
            "train.learning_rate=0.01",
            "train.freeze_layers=1",
            "train.mixed_precision=bf16",
            "train.gradient_accumulation_steps=2",
            "train.lr_scheduler_type=cosine",
            "train.max_steps=3",
            "train.report_to=[]",
            "train.save_total_limit=1",
        ],
    )
    build_dataset(config)
    train(config)
    base, tuned = _weights(tiny_model_dir), _weights(tmp_path / "model")
    same = [name for name in tuned if name in base and torch.equal(tuned[name].float(), base[name].float())]
    assert any(n.startswith("bert.embeddings.") for n in same)
    assert any(n.startswith("bert.encoder.layer.0.") for n in same)
    assert not any(n.startswith("bert.encoder.layer.1.") for n in same)
    history = json.loads((tmp_path / "model" / "logs" / "log_history.json").read_text(encoding="utf-8"))
    assert max(entry.get("step", 0) for entry in history) == 3


@pytest.mark.parametrize(
    "override",
    [
        "train.freeze_layers=-1",
        "train.gradient_accumulation_steps=0",
        "train.max_steps=-2",
        "train.save_total_limit=0",
        "train.lr_scheduler_type=wavy",
    ],
)
def test_bad_trainer_options_fail_on_load(override: str) -> None:
    with pytest.raises(ConfigError, match=override.split("=")[0]):
        load_config(None, [override])


def _whole_and_cached(model_class, tiny_model_dir: Path, num_labels: int):
    """A tiny model of ``model_class``, its logits on two padded texts, their features and their states after
    layer 1."""
    from transformers import AutoTokenizer

    from framelab.train.frozen import lower_states

    torch.manual_seed(0)
    model = model_class.from_pretrained(tiny_model_dir, num_labels=num_labels).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = ["A short one.", "A somewhat longer sentence with more words in it than the first."]
    features = {k: v for k, v in tokenizer(texts).items()}
    with torch.inference_mode():
        whole = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits
    states = lower_states(model, features, 1, batch_size=8, bf16=False)
    model.eval()
    return model, whole, features, states


def test_the_top_layers_on_cached_states_give_the_whole_model_logits(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForSequenceClassification

    from framelab.train.frozen import collate_cached, top_layers_only

    model, whole, _, states = _whole_and_cached(AutoModelForSequenceClassification, tiny_model_dir, 3)
    batch = collate_cached([{"inputs_embeds": s, "labels": 0} for s in states])
    batch.pop("labels")
    with top_layers_only(model, 1), torch.inference_mode():
        top = model(**batch).logits
    assert torch.allclose(whole, top, atol=1e-5)
    assert len(model.base_model.encoder.layer) == 2 and hasattr(model.base_model.embeddings, "word_embeddings")


def test_a_span_tagger_trains_its_top_layers_on_cached_states(tmp_path: Path, tiny_model_dir: Path) -> None:
    from transformers import AutoModelForTokenClassification

    from framelab.tagging import IGNORE
    from framelab.train.frozen import collate_cached, top_layers_only

    model, whole, features, states = _whole_and_cached(AutoModelForTokenClassification, tiny_model_dir, 4)
    tags = [[[0.0, 1.0, 0.0, 0.0]] * len(ids) for ids in features["input_ids"]]
    batch = collate_cached([{"inputs_embeds": s, "labels": t} for s, t in zip(states, tags)], pad_label=float(IGNORE))
    # Token targets are padded with the value the loss skips.
    assert batch["labels"].shape == (2, whole.shape[1], 4) and (batch["labels"][0, len(tags[0]) :] == IGNORE).all()
    batch.pop("labels")
    with top_layers_only(model, 1), torch.inference_mode():
        top = model(**batch).logits
    # Padding positions differ (pad-token embeddings against zero states) and are never read.
    for row, ids in enumerate(features["input_ids"]):
        assert torch.allclose(whole[row, : len(ids)], top[row, : len(ids)], atol=1e-5)

    config = load_config(
        None,
        [
            "name=tiny-tagger-frozen",
            f"data.path={SAMPLE}",
            "data.unit=sentence",
            f"data.output_dir={tmp_path / 'dataset'}",
            f"output_dir={tmp_path / 'model'}",
            f"model.base={tiny_model_dir}",
            "train.task=spans",
            "train.batch_size=8",
            "train.learning_rate=0.01",
            "train.freeze_layers=1",
            "train.mixed_precision=bf16",
            "train.max_steps=3",
        ],
    )
    build_dataset(config)
    train(config)
    base, tuned = _weights(tiny_model_dir), _weights(tmp_path / "model")
    same = [name for name in tuned if name in base and torch.equal(tuned[name].float(), base[name].float())]
    assert any(n.startswith("bert.encoder.layer.0.") for n in same)
    assert not any(n.startswith("bert.encoder.layer.1.") for n in same)
