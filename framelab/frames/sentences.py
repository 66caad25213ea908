"""Articles as sentence vectors: each sentence cut with its offsets and encoded once by the frozen encoder.

A sentence's vector is the mean of the encoder's last-layer token vectors
(the pooling all-MiniLM-L6-v2 was trained with), L2-normalised; a sentence
longer than ``max_length`` tokens is cut there. Sentences of many articles
are sorted by length and batched together, so a batch pads only to its own
longest sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from framelab.types import Article
from framelab.unit_pool import split_many


@dataclass
class ArticleSentences:
    """One article's sentences: ``(start, end)`` offsets into its text and one vector each."""

    offsets: list[tuple[int, int]]
    vectors: np.ndarray


def mean_tokens(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Each row's mean token vector over its unmasked tokens: ``(rows, tokens, hidden)`` → ``(rows, hidden)``."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1)


def encode_sentences(tokenizer, encoder, sentences: list[str], *, max_length: int, batch_size: int) -> np.ndarray:
    """L2-normalised mean token vectors of ``sentences``, shape ``(len(sentences), hidden)``, in input order."""
    out = np.zeros((len(sentences), encoder.config.hidden_size), dtype=np.float32)
    if not sentences:
        return out
    ids = tokenizer(sentences, truncation=True, max_length=max_length)["input_ids"]
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    order = np.argsort(-lengths, kind="stable")
    device = next(encoder.parameters()).device
    with torch.inference_mode():
        for begin in range(0, len(order), batch_size):
            idx = order[begin : begin + batch_size]
            width = int(lengths[idx].max())
            input_ids = np.full((len(idx), width), tokenizer.pad_token_id, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                input_ids[row, : lengths[i]] = ids[i]
                mask[row, : lengths[i]] = 1
            attention = torch.from_numpy(mask).to(device)
            hidden = encoder(
                input_ids=torch.from_numpy(input_ids).to(device), attention_mask=attention
            ).last_hidden_state
            out[idx] = mean_tokens(hidden, attention).float().cpu().numpy()
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


def article_sentences(
    tokenizer, encoder, texts: list[str], *, max_length: int, batch_size: int = 64, split_workers: int | None = None
) -> list[ArticleSentences]:
    """Every text cut into sentences (:func:`framelab.unit_pool.split_many`) and each sentence encoded."""
    units = split_many([Article(str(i), text) for i, text in enumerate(texts)], "sentence", workers=split_workers)
    flat = [u.text for own in units for u in own]
    vectors = encode_sentences(tokenizer, encoder, flat, max_length=max_length, batch_size=batch_size)
    out, cursor = [], 0
    for own in units:
        out.append(ArticleSentences([(u.start, u.end) for u in own], vectors[cursor : cursor + len(own)]))
        cursor += len(own)
    return out
