"""The frames head: label-wise attention over an article's sentence vectors.

For every frame f the head scores each sentence s of an article
(``q_f · h_s``, with ``h_s = GELU(W x_s + b)`` the projected sentence vector),
turns the scores into weights over the article's sentences (softmax), and
decides the frame from the weighted sum of the sentences
(``w_f · Σ_s α_fs h_s + b_f``). The weights ``α_f`` are what
:func:`evidence` reports: where in the article the head found frame f.

Several heads, started from different seeds, are trained and their
probabilities and weights averaged (:data:`HEADS`): on 287 training articles
one head's figures move by a few points from seed to seed. Heads are saved as
safetensors with their sizes in ``head.json``; nothing is pickled.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

HEAD_CONFIG_FILE = "head.json"
HEAD_WEIGHTS_FILE = "head.safetensors"

#: Heads trained from seeds ``seed``, ``seed + 1``, … and averaged.
HEADS = 5


@dataclass
class HeadSpec:
    """Sizes and training settings of the heads in a model folder."""

    input_size: int
    labels: int
    hidden: int = 64
    dropout: float = 0.2
    heads: int = HEADS


class FrameAttention(nn.Module):
    """One label-wise attention head (see the module docstring)."""

    def __init__(self, spec: HeadSpec):
        super().__init__()
        self.project = nn.Sequential(nn.Dropout(spec.dropout), nn.Linear(spec.input_size, spec.hidden), nn.GELU())
        self.query = nn.Parameter(torch.randn(spec.labels, spec.hidden) * 0.02)
        self.weight = nn.Parameter(torch.randn(spec.labels, spec.hidden) * 0.02)
        self.bias = nn.Parameter(torch.zeros(spec.labels))
        self.dropout = nn.Dropout(spec.dropout)

    def forward(self, vectors: torch.Tensor, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(articles, labels)`` and attention ``(articles, labels, sentences)``.

        ``vectors`` are the sentences of every article one after the other,
        ``lengths`` how many each article has (at least 1). Sentences are
        projected unpadded, the costly step; only the projections are padded.
        """
        hidden = nn.utils.rnn.pad_sequence(self.project(vectors).split(lengths), batch_first=True)
        mask = torch.arange(hidden.shape[1])[None, :] < torch.tensor(lengths)[:, None]
        scores = torch.einsum("bsh,lh->bls", hidden, self.query)
        attention = scores.masked_fill(~mask[:, None, :], torch.finfo(scores.dtype).min).softmax(-1)
        pooled = torch.einsum("bls,bsh->blh", attention, hidden)
        return (self.dropout(pooled) * self.weight).sum(-1) + self.bias, attention


def _stacked(articles: list[np.ndarray], input_size: int) -> tuple[torch.Tensor, list[int]]:
    """The articles' sentence vectors one after the other, and each article's count; an article with no
    sentence gets one zero vector."""
    parts = [a if len(a) else np.zeros((1, input_size), dtype=np.float32) for a in articles]
    return torch.from_numpy(np.concatenate(parts).astype(np.float32)), [len(a) for a in parts]


def train_heads(
    spec: HeadSpec,
    articles: list[np.ndarray],
    targets: np.ndarray,
    *,
    epochs: int,
    learning_rate: float,
    weight_decay: float,
    batch_size: int,
    seed: int,
    on_epoch: Callable[[int, int, FrameAttention], None] | None = None,
) -> list[FrameAttention]:
    """``spec.heads`` heads trained with binary cross-entropy on the articles' sentence vectors and 0/1 ``targets``.

    ``on_epoch(head, epoch, module)`` is called after every epoch of every head
    (both 0-based), the module in eval mode, so a caller can read the heads of
    every epoch count from one run: the heads draw no random number while it
    runs, and nothing decays with the epoch count, so the heads after ``e``
    epochs are those that ``epochs=e`` trains.
    """
    vectors, lengths = _stacked(articles, spec.input_size)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    gold = torch.from_numpy(np.asarray(targets, dtype=np.float32))
    heads = []
    for k in range(spec.heads):
        torch.manual_seed(seed + k)
        order = torch.Generator().manual_seed(seed + k)
        head = FrameAttention(spec)
        optimiser = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=weight_decay)
        head.train()
        for epoch in range(epochs):
            for batch in torch.randperm(len(articles), generator=order).split(batch_size):
                rows = torch.cat([torch.arange(starts[i], starts[i + 1]) for i in batch.tolist()])
                logits, _ = head(vectors[rows], [lengths[i] for i in batch.tolist()])
                loss = nn.functional.binary_cross_entropy_with_logits(logits, gold[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            if on_epoch is not None:
                on_epoch(k, epoch, head.eval())
                head.train()
        heads.append(head.eval())
    return heads


def apply_heads(
    heads: list[FrameAttention], spec: HeadSpec, articles: list[np.ndarray], batch_size: int = 64
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Mean probabilities ``(articles, labels)`` of the heads, and per article its mean attention
    ``(labels, sentences)``."""
    probs = np.zeros((len(articles), spec.labels))
    weights: list[np.ndarray] = []
    with torch.inference_mode():
        for begin in range(0, len(articles), batch_size):
            chunk = articles[begin : begin + batch_size]
            vectors, lengths = _stacked(chunk, spec.input_size)
            attention = torch.zeros(len(chunk), spec.labels, max(lengths))
            for head in heads:
                logits, a = head(vectors, lengths)
                probs[begin : begin + len(chunk)] += torch.sigmoid(logits).double().numpy() / len(heads)
                attention += a / len(heads)
            weights.extend(attention[row, :, : len(a)].numpy() for row, a in enumerate(chunk))
    return probs, weights


def save_heads(folder: Path, heads: list[FrameAttention], spec: HeadSpec) -> None:
    """Write ``head.json`` and ``head.safetensors`` into ``folder``."""
    tensors = {
        f"{k}.{name}": value.detach().contiguous()
        for k, head in enumerate(heads)
        for name, value in head.state_dict().items()
    }
    save_file(tensors, str(Path(folder) / HEAD_WEIGHTS_FILE))
    (Path(folder) / HEAD_CONFIG_FILE).write_text(json.dumps(asdict(spec), indent=2), encoding="utf-8")


def load_heads(folder: Path) -> tuple[list[FrameAttention], HeadSpec]:
    """The heads saved by :func:`save_heads`, ready to apply."""
    spec = HeadSpec(**json.loads((Path(folder) / HEAD_CONFIG_FILE).read_text(encoding="utf-8")))
    tensors = load_file(str(Path(folder) / HEAD_WEIGHTS_FILE))
    heads = []
    for k in range(spec.heads):
        head = FrameAttention(spec)
        prefix = f"{k}."
        head.load_state_dict({name[len(prefix) :]: value for name, value in tensors.items() if name.startswith(prefix)})
        heads.append(head.eval())
    return heads, spec
