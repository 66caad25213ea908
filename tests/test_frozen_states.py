"""The frozen layers' states: computed once per example across folds, refits and members, never reused wrongly."""

from __future__ import annotations

import importlib
import json
from collections import Counter
from pathlib import Path

import numpy as np
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


@pytest.mark.parametrize(
    ("task", "module", "runner", "fold_arg"),
    [
        ("techniques", "framelab.train.classifier", "run_fold", 4),
        # A tiny tagger's folds take minutes: the packing of its tokens is checked in the fast suite below.
        pytest.param("spans", "framelab.spans.train", "run_span_fold", 6, marks=pytest.mark.slow),
    ],
)
def test_an_interrupted_k_fold_run_resumes_at_the_fold_it_stopped_in(
    tmp_path: Path, tiny_config, monkeypatch: pytest.MonkeyPatch, task: str, module: str, runner: str, fold_arg: int
) -> None:
    trainer = importlib.import_module(module)
    real = getattr(trainer, runner)
    calls: list[int] = []
    stop_at = {2}

    def stopping(*args, **kwargs):
        calls.append(args[fold_arg])
        if args[fold_arg] in stop_at:
            stop_at.clear()
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, runner, stopping)
    settings = {"train.folds": 3, "train.epochs": 1, "train.max_steps": 2, "data.unit": "sentence"}
    config = tiny_config(tmp_path, task, **settings)
    build_dataset(config)
    with pytest.raises(KeyboardInterrupt):
        train(config)
    assert calls == [0, 1, 2] and not config.model_dir.exists()

    # A run of other settings never reads the folds kept: it starts at fold 0 (stopped there).
    stop_at.add(0)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path, task, **settings, **{"train.learning_rate": 0.002}), resume=True)
    assert calls == [0]

    calls.clear()
    train(config, resume=True)
    assert calls == [2]
    metrics = json.loads((config.model_dir / "dev_metrics.json").read_text(encoding="utf-8"))
    assert [f["fold"] for f in metrics["cross_validated"]["per_fold"]] == [0, 1, 2]
    assert not config.model_dir.with_name(config.model_dir.name + ".work").exists()


def test_a_kept_span_fold_reads_back_its_tokens_as_they_were(tmp_path: Path) -> None:
    from framelab.spans.train import _pack, _unpack
    from framelab.train.folds import FoldRecords

    rng = np.random.default_rng(0)
    tokens = [(rng.integers(0, 99, (n, 2)), rng.random((n, 4))) for n in (3, 0, 5)]
    records = FoldRecords(tmp_path, "run")
    records.save(1, {"rows": np.arange(3), **_pack(tokens, "tokens")}, {"threshold": np.float64(0.4)})
    arrays, record = records.load(1)
    assert record == {"threshold": 0.4} and FoldRecords(tmp_path, "another run").load(1) is None
    for (offsets, probs), (offsets_back, probs_back) in zip(tokens, _unpack(arrays, "tokens"), strict=True):
        np.testing.assert_array_equal(offsets, offsets_back)
        np.testing.assert_array_equal(probs, probs_back)
