"""``framelab.encoding.sentence_vectors``: the one sentence encoder, used by the frames heads and FNC-1 stage 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from framelab.encoding import sentence_vectors
from framelab.frames.sentences import article_sentences
from framelab.stance.features import EMBEDDING_MAX_LENGTH, SentenceEncoder
from framelab.types import Article
from framelab.units import split_units

TEXTS = [
    "The reckless plan is a disaster.",
    "Mr. Ito disagreed, and the union said jobs would go, all of them, before the winter came to the harbour.",
    "",
    "Rain.",
    "It will cost 3.5 million.",
]


@pytest.fixture(scope="module")
def encoder(tiny_model_dir: Path):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModel.from_pretrained(tiny_model_dir).eval()
    return tokenizer, model


def _one_by_one(tokenizer, model, texts: list[str], max_length: int) -> np.ndarray:
    """Each text alone (no padding): its last layer's mean token vector over its length."""
    rows = []
    with torch.inference_mode():
        for text in texts:
            ids = tokenizer(text, truncation=True, max_length=max_length, return_tensors="pt")
            mean = model(**ids).last_hidden_state[0].mean(0)
            rows.append((mean / mean.norm()).numpy())
    return np.stack(rows)


def test_unit_length_mean_token_vectors_in_input_order_whatever_the_batches(encoder) -> None:
    tokenizer, model = encoder
    expected = _one_by_one(tokenizer, model, TEXTS, max_length=16)
    for batch_size in (1, 2, 64):
        vectors = sentence_vectors(tokenizer, model, TEXTS, max_length=16, batch_size=batch_size)
        assert vectors.shape == (len(TEXTS), model.config.hidden_size) and vectors.dtype == np.float32
        np.testing.assert_allclose(vectors, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)
    # Cut at max_length: the long text's vector changes when fewer of its tokens are read.
    longer = sentence_vectors(tokenizer, model, TEXTS[1:2], max_length=64, batch_size=8)
    assert not np.allclose(longer[0], vectors[1], atol=1e-3)
    assert sentence_vectors(tokenizer, model, [], max_length=16, batch_size=8).shape == (0, model.config.hidden_size)


def test_frames_and_stance_encode_sentences_with_it(encoder, tiny_model_dir: Path) -> None:
    tokenizer, model = encoder
    stance = SentenceEncoder(tiny_model_dir, batch_size=2, device="cpu")
    np.testing.assert_array_equal(
        stance.embed(TEXTS),
        sentence_vectors(stance.tokenizer, stance.model, TEXTS, max_length=EMBEDDING_MAX_LENGTH, batch_size=2),
    )
    article = " ".join(TEXTS)
    (frames,) = article_sentences(tokenizer, model, [article], max_length=16, batch_size=3, split_workers=1)
    sentences = [u.text for u in split_units(Article("a", article), "sentence")]
    np.testing.assert_array_equal(
        frames.vectors, sentence_vectors(tokenizer, model, sentences, max_length=16, batch_size=3)
    )
