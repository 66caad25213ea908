"""Training only the top of an encoder on cached outputs of its frozen lower layers.

With ``train.freeze_layers`` N, the embeddings and the lowest N layers never
change, so their output for an example is the same at every epoch. It is
computed once per example (under the run's precision) and kept; the Trainer
then runs only the layers above N, the pooler and the classifier on it. The
model object is patched for the run (its embeddings pass the cached states
through, its layer list holds only the top layers) and restored afterwards,
so the saved folder is the whole, ordinary encoder.

Only encoders whose layers sit in ``encoder.layer`` and whose embeddings take
``inputs_embeds`` (the BERT family: BERT, MiniLM, RoBERTa, XLM-R) are
patched; for others the lower layers are only frozen.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel

from framelab.config import Config

#: Model types whose forward pass the patch reproduces exactly (tests/test_training_options.py checks BERT).
CACHEABLE = ("bert", "roberta", "xlm-roberta")


def cacheable(model: PreTrainedModel, layers: int) -> bool:
    """Whether the lowest ``layers`` layers of ``model`` can be cached."""
    return layers > 0 and model.config.model_type in CACHEABLE


class _CachedStates(nn.Module):
    """Stands in for the embeddings: hands the cached layer-N states (``inputs_embeds``) to the top layers."""

    def forward(self, inputs_embeds: torch.Tensor, **_: object) -> torch.Tensor:
        return inputs_embeds


def lower_states(
    model: PreTrainedModel, features: dict[str, list[list[int]]], layers: int, *, batch_size: int, bf16: bool
) -> list[torch.Tensor]:
    """Each example's hidden states after the lowest ``layers`` layers (``tokens × hidden``; kept in bfloat16
    when the run computes in it)."""
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]
    lengths = np.array([len(ids) for ids in features["input_ids"]])
    order = np.argsort(-lengths, kind="stable")
    states: list[torch.Tensor] = [torch.empty(0)] * len(lengths)
    model.eval()
    precision = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext()
    with torch.inference_mode(), precision:
        for begin in range(0, len(order), batch_size):
            idx = order[begin : begin + batch_size]
            width = int(lengths[idx].max())
            batch = {n: torch.zeros((len(idx), width), dtype=torch.long) for n in names}
            for row, i in enumerate(idx):
                for n in names:
                    batch[n][row, : lengths[i]] = torch.as_tensor(features[n][i])
            hidden = model.base_model(**batch, output_hidden_states=True).hidden_states[layers]
            for row, i in enumerate(idx):
                states[i] = hidden[row, : lengths[i]].to(torch.bfloat16 if bf16 else torch.float32).clone()
    model.train()
    return states


class CachedDataset(torch.utils.data.Dataset):
    """Cached states with their labels; ``input_ids`` is kept only so the Trainer can group batches by length."""

    def __init__(self, states: list[torch.Tensor], features: dict[str, list[list[int]]], labels: list):
        self.states, self.input_ids, self.labels = states, features["input_ids"], labels

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, i: int) -> dict:
        return {"inputs_embeds": self.states[i], "input_ids": self.input_ids[i], "labels": self.labels[i]}


def cached_datasets(
    model: PreTrainedModel, config: Config, splits: list[tuple[dict[str, list[list[int]]], list]]
) -> list[CachedDataset]:
    """One :class:`CachedDataset` per ``(features, labels)`` split, its lower states computed once at the run's
    precision."""
    t = config.train
    return [
        CachedDataset(
            lower_states(
                model, features, t.freeze_layers, batch_size=t.eval_batch_size, bf16=t.mixed_precision == "bf16"
            ),
            features,
            labels,
        )
        for features, labels in splits
    ]


def collate_cached(items: list[dict], *, pad_label: float | None = None) -> dict[str, torch.Tensor]:
    """Pads cached states with zeros (masked out) and stacks the labels.

    Per-token labels (rows of tags, for token classification) are padded to
    the batch's width with ``pad_label``, the value the loss ignores.
    """
    width = max(len(item["inputs_embeds"]) for item in items)
    hidden = items[0]["inputs_embeds"].shape[1]
    states = torch.zeros((len(items), width, hidden), dtype=torch.float32)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, item in enumerate(items):
        n = len(item["inputs_embeds"])
        states[row, :n] = item["inputs_embeds"].float()
        mask[row, :n] = 1
    if pad_label is None:
        labels = torch.as_tensor([item["labels"] for item in items])
    else:
        rows = [torch.as_tensor(item["labels"], dtype=torch.float32) for item in items]
        labels = torch.full((len(items), width, rows[0].shape[1]), pad_label)
        for row, tags in enumerate(rows):
            labels[row, : len(tags)] = tags
    return {"inputs_embeds": states, "attention_mask": mask, "labels": labels}


@contextmanager
def top_layers_only(model: PreTrainedModel, layers: int) -> Iterator[PreTrainedModel]:
    """``model`` running only the layers above ``layers`` on cached states, restored on exit."""
    base = model.base_model
    embeddings, full = base.embeddings, base.encoder.layer
    base.embeddings, base.encoder.layer = _CachedStates(), nn.ModuleList(list(full)[layers:])
    try:
        yield model
    finally:
        base.embeddings, base.encoder.layer = embeddings, full
