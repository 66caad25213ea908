"""Tokenising texts into model inputs, and pooling window outputs per text.

Unit tasks truncate each unit to ``max_length`` tokens (and count the units
cut, which ``framelab score`` reports). Article tasks cut each
article into windows of ``max_length`` tokens that overlap by ``stride``
tokens (the fast tokenizer's overflowing tokens), so no part of a long article
is ignored; the window outputs of one article are pooled into one prediction:
the element-wise **max** of the logits for multi-label tasks (a frame counts
when any part of the article uses it) and the **mean** for single-label tasks
(the genre is a property of the whole text).

Sentence vectors (:func:`sentence_vectors`) are the one sentence encoder of
the package: the frames heads read them and FNC-1 stage 1 compares a
headline with a body's sentences through them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class Encoded:
    """Token ids per window and the text each window came from."""

    features: dict[str, list[list[int]]]
    example: np.ndarray
    #: Unwindowed texts longer than ``max_length`` tokens, cut to it.
    cut: int = 0

    def __len__(self) -> int:
        return len(self.example)


def encode(
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    *,
    max_length: int,
    stride: int,
    windowed: bool,
    pairs: list[str] | None = None,
) -> Encoded:
    """Tokenise ``texts`` (optionally as second segments after ``pairs``).

    Returns unpadded features; padding happens per batch so that batches of
    short units stay short.
    """
    if not texts:
        return Encoded({"input_ids": [], "attention_mask": []}, np.zeros(0, dtype=np.int64))
    # Windows slide over the second segment (the article after a stance
    # target); unwindowed pairs (a span and its context) cut the longer one.
    truncation = ("only_second" if windowed else "longest_first") if pairs else True
    kwargs = {"truncation": truncation, "max_length": max_length}
    if windowed:
        kwargs.update(return_overflowing_tokens=True, stride=stride)
    args = (pairs, texts) if pairs else (texts,)
    out = tokenizer(*args, **kwargs)
    if windowed:
        example = np.asarray(out.pop("overflow_to_sample_mapping"), dtype=np.int64)
    else:
        example = np.arange(len(texts), dtype=np.int64)
    out.pop("offset_mapping", None)
    # A fast tokenizer keeps what truncation cut off in each encoding's ``overflowing``.
    cut = 0 if windowed or not out.encodings else sum(1 for e in out.encodings if e.overflowing)
    return Encoded(dict(out), example, cut)


def pool(logits: np.ndarray, example: np.ndarray, n_examples: int, how: str) -> np.ndarray:
    """Pool window ``logits`` into one row per example (``max`` or ``mean``)."""
    pooled = np.full((n_examples, logits.shape[1]), -np.inf if how == "max" else 0.0, dtype=np.float64)
    if how == "max":
        np.maximum.at(pooled, example, logits)
    else:
        np.add.at(pooled, example, logits)
        counts = np.bincount(example, minlength=n_examples).reshape(-1, 1)
        pooled /= np.maximum(counts, 1)
    return pooled


def activate(logits: np.ndarray, multi_label: bool) -> np.ndarray:
    """Sigmoid probabilities (multi-label) or softmax (single-label)."""
    if multi_label:
        return 1.0 / (1.0 + np.exp(-logits))
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def sentence_vectors(
    tokenizer: PreTrainedTokenizerBase,
    encoder: PreTrainedModel,
    texts: list[str],
    *,
    max_length: int,
    batch_size: int,
) -> np.ndarray:
    """Unit-length mean token vectors of ``texts`` from ``encoder``'s last layer, shape ``(len(texts), hidden)``.

    The mean over a text's tokens is the pooling sentence-transformers encoders
    such as all-MiniLM-L6-v2 were trained with, so cosine similarity between
    these vectors is the similarity they learned. A text longer than
    ``max_length`` tokens is cut there. Texts are batched longest first, so a
    batch pads only to its own longest text; rows come back in input order.
    """
    out = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    if not texts:
        return out
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    order = np.argsort(-lengths, kind="stable")
    # The pad id never reaches the vectors (masked in attention and in the mean); a tokenizer may have none.
    pad = tokenizer.pad_token_id or 0
    device = next(encoder.parameters()).device
    with torch.inference_mode():
        for begin in range(0, len(order), batch_size):
            idx = order[begin : begin + batch_size]
            width = int(lengths[idx].max())
            batch = np.full((len(idx), width), pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                batch[row, : lengths[i]] = ids[i]
                mask[row, : lengths[i]] = 1
            attention = torch.from_numpy(mask).to(device)
            hidden = encoder(input_ids=torch.from_numpy(batch).to(device), attention_mask=attention).last_hidden_state
            pooled = (hidden * attention.unsqueeze(-1)).sum(1) / attention.sum(1, keepdim=True)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy()
    return out
