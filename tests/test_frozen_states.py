"""The frozen layers' states: computed once per example across folds, refits and members, never reused wrongly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from framelab.dataset import build_dataset
from framelab.train import frozen
from framelab.train.frozen import StateStore, encoder_fingerprint, example_key
from framelab.train.run import train

TEXTS = [
    "A short one.",
    "A somewhat longer sentence with more words in it than the first.",
    "A short one.",
    "Yet another sentence, of middling length.",
]


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Every example the encoder's lower layers ran on, counted by (encoder fingerprint, tokens)."""
    seen: Counter = Counter()
    real = frozen.lower_states

    def counting(model, features, layers, *, batch_size, bf16):
        fingerprint = encoder_fingerprint(model, layers, bf16)
        seen.update((fingerprint, example_key(features, i)) for i in range(len(features["input_ids"])))
        return real(model, features, layers, batch_size=batch_size, bf16=bf16)

    monkeypatch.setattr(frozen, "lower_states", counting)
    return seen


def test_each_unit_is_encoded_once_across_folds_refit_and_members(
    tmp_path: Path, tiny_config, computed: Counter
) -> None:
    cache = tmp_path / "states"
    shared = {
        "train.freeze_layers": 1,
        "train.state_cache": cache,
        "train.epochs": 1,
        "train.max_steps": 2,
        "data.unit": "sentence",
    }
    first_member = tiny_config(tmp_path, "techniques", **shared, **{"train.folds": 3})
    build_dataset(first_member)
    train(first_member)
    first = sum(computed.values())
    assert first > 0 and set(computed.values()) == {1}, "a unit encoded twice across the folds and the refit"

    # A second member on the same units (another loss, another folder) encodes nothing.
    other = {"train.folds": 3, "train.rare_labels": "focal", "output_dir": tmp_path / "member"}
    train(tiny_config(tmp_path, "techniques", **shared, **other))
    assert sum(computed.values()) == first

    # A span tagger over the same units encodes only the windows no earlier run tokenised alike.
    tagger = tiny_config(tmp_path, "spans", **shared, **{"train.folds": 3})
    train(tagger)
    assert set(computed.values()) == {1}
    assert (tmp_path / "model-spans" / "framelab.json").is_file()


def _model_and_features(tiny_model_dir: Path, max_length: int = 64):
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    features = {k: v for k, v in tokenizer(TEXTS, truncation=True, max_length=max_length).items()}
    return model, features


def test_the_store_reads_back_only_states_of_the_same_encoder_layers_precision_and_tokens(
    tmp_path: Path, tiny_model_dir: Path, computed: Counter
) -> None:
    model, features = _model_and_features(tiny_model_dir)
    store = StateStore(tmp_path)
    states = store.states_of(model, features, 1, batch_size=2, bf16=False)
    # The repeated text is encoded once; the run keeps the rest in memory.
    assert store.computed == 3 and torch.equal(states[0], states[2])
    store.states_of(model, features, 1, batch_size=2, bf16=False)
    assert store.computed == 3

    # A later run reads them from disk, equal to what the encoder gives.
    again = StateStore(tmp_path)
    read = again.states_of(model, features, 1, batch_size=4, bf16=False)
    assert again.computed == 0
    for a, b in zip(read, states):
        assert torch.equal(a, b)

    # Another layer count, precision, encoder or tokenisation never reads them.
    assert StateStore(tmp_path).states_of(model, features, 2, batch_size=2, bf16=False) and computed.total() == 6
    StateStore(tmp_path).states_of(model, features, 1, batch_size=2, bf16=True)
    assert computed.total() == 9
    other, _ = _model_and_features(tiny_model_dir)
    with torch.no_grad():
        other.base_model.embeddings.word_embeddings.weight[5] += 1.0
    StateStore(tmp_path).states_of(other, features, 1, batch_size=2, bf16=False)
    assert computed.total() == 12
    _, cut = _model_and_features(tiny_model_dir, max_length=6)
    longer = sum(len(features["input_ids"][i]) > 6 for i in (0, 1, 3))  # the distinct texts cut shorter
    store = StateStore(tmp_path)
    store.states_of(model, cut, 1, batch_size=2, bf16=False)
    assert store.computed == longer > 0


def test_a_damaged_store_file_is_skipped_and_its_states_computed_again(tmp_path: Path, tiny_model_dir: Path) -> None:
    model, features = _model_and_features(tiny_model_dir)
    StateStore(tmp_path).states_of(model, features, 1, batch_size=2, bf16=False)
    (stored,) = tmp_path.glob("*/*.safetensors")
    stored.write_bytes(stored.read_bytes()[:40])
    store = StateStore(tmp_path)
    store.states_of(model, features, 1, batch_size=2, bf16=False)
    assert store.computed == 3
