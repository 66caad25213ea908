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

The states are kept in a :class:`StateStore`: a k-fold run opens one for
all its folds and the refit, so each example's states are computed once per
run; with ``train.state_cache`` the store also keeps them on disk, where
every later run (another member of an ensemble, a rerun) finds them. They
are filed under the encoder's fingerprint (:func:`encoder_fingerprint`: the
weights of the embeddings and of the frozen layers, the layer count, the
precision) and each example's tokens (:func:`example_key`), so a different
encoder, layer count or tokenisation never reads another's states.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn
from transformers import PreTrainedModel

from framelab.config import Config

log = logging.getLogger(__name__)

#: Model types whose forward pass the patch reproduces exactly (tests/test_training_options.py checks BERT).
CACHEABLE = ("bert", "roberta", "xlm-roberta")
#: Changes whenever stored states would mean something else: a store of another version is never read.
STORE_VERSION = 1
#: The encoder settings besides its weights that shape the lower layers' output.
_SETTINGS = (
    "model_type",
    "hidden_size",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "layer_norm_eps",
    "position_embedding_type",
    "max_position_embeddings",
    "type_vocab_size",
    "pad_token_id",
)
#: The model inputs that decide an example's states, in the order they are hashed.
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


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
    names = [n for n in _INPUTS if n in features]
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
            hidden = _lower_forward(model, batch, layers)
            for row, i in enumerate(idx):
                states[i] = hidden[row, : lengths[i]].to(torch.bfloat16 if bf16 else torch.float32).clone()
    model.train()
    return states


def _lower_forward(model: PreTrainedModel, batch: dict[str, torch.Tensor], layers: int) -> torch.Tensor:
    """The encoder's forward pass over one padded batch: its hidden states after layer ``layers``."""
    return model.base_model(**batch, output_hidden_states=True).hidden_states[layers]


def encoder_fingerprint(model: PreTrainedModel, layers: int, bf16: bool) -> str:
    """What the lower ``layers`` layers' output depends on besides the tokens, hashed: the weights of the
    embeddings and of those layers, the encoder's shape settings, the layer count and the precision."""
    base = model.base_model
    digest = hashlib.blake2b(digest_size=16)
    settings = {k: getattr(model.config, k, None) for k in _SETTINGS}
    head = {"version": STORE_VERSION, "layers": layers, "bf16": bf16, "settings": settings}
    digest.update(json.dumps(head, sort_keys=True, default=str).encode())
    parts = [("embeddings", base.embeddings), *((f"layer.{i}", m) for i, m in enumerate(base.encoder.layer[:layers]))]
    for prefix, module in parts:
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(f"{prefix}.{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def example_key(features: dict[str, list[list[int]]], i: int) -> str:
    """Example ``i``'s model inputs (token ids, mask, segment ids) hashed: its tokenisation, whatever made it."""
    digest = hashlib.blake2b(digest_size=16)
    for name in _INPUTS:
        if name in features:
            digest.update(name.encode())
            digest.update(np.asarray(features[name][i], dtype=np.int64).tobytes())
    return digest.hexdigest()


class StateStore:
    """Lower-layer states computed once: kept in memory for the run and, with a ``folder``, on disk for later runs.

    On disk, ``folder/<encoder fingerprint>/`` holds safetensors files of
    states named by :func:`example_key` (each written whole under a
    temporary name, then renamed, so a killed run leaves no half file) and
    ``encoder.json``, which says whose states they are. Delete the folder to
    free the space; nothing else refers to it. ``computed`` counts the
    examples the encoder ran on.
    """

    def __init__(self, folder: Path | str | None = None):
        self.folder = Path(folder) if folder else None
        self.states: dict[tuple[str, str], torch.Tensor] = {}
        self.computed = 0
        self._files: dict[str, dict[str, Path]] = {}

    @classmethod
    def of(cls, config: Config) -> StateStore:
        """The store of a run: on disk under ``train.state_cache`` when set, else in memory only."""
        return cls(config.train.state_cache or None)

    def states_of(
        self, model: PreTrainedModel, features: dict[str, list[list[int]]], layers: int, *, batch_size: int, bf16: bool
    ) -> list[torch.Tensor]:
        """:func:`lower_states` of every example, each computed only if no run has stored it yet."""
        fingerprint = encoder_fingerprint(model, layers, bf16)
        keys = [(fingerprint, example_key(features, i)) for i in range(len(features["input_ids"]))]
        first: dict[tuple[str, str], int] = {}
        for i, key in enumerate(keys):
            first.setdefault(key, i)
        missing = [key for key in first if key not in self.states]
        read = self._read(fingerprint, missing, features, first, model.config.hidden_size) if missing else 0
        todo = [key for key in missing if key not in self.states]
        if todo:
            rows = [first[key] for key in todo]
            made = lower_states(
                model, {n: [v[i] for i in rows] for n, v in features.items()}, layers, batch_size=batch_size, bf16=bf16
            )
            self.computed += len(made)
            self.states.update(zip(todo, made))
            self._write(fingerprint, model, layers, bf16, {key[1]: state for key, state in zip(todo, made)})
        log.debug(
            "frozen states of %d examples: %d computed, %d read from %s, %d kept from this run",
            len(first),
            len(todo),
            read,
            self.folder,
            len(first) - len(todo) - read,
        )
        return [self.states[key] for key in keys]

    def _shards(self, fingerprint: str) -> dict[str, Path]:
        """Which file on disk holds each stored example of ``fingerprint`` (read once per run)."""
        if fingerprint not in self._files:
            found: dict[str, Path] = {}
            for path in sorted((self.folder / fingerprint).glob("*.safetensors")) if self.folder else []:
                try:
                    with safe_open(str(path), framework="pt") as f:
                        found.update(dict.fromkeys(f.keys(), path))
                except (OSError, SafetensorError) as exc:
                    log.warning("frozen states: skipping unreadable %s (%s)", path, exc)
            self._files[fingerprint] = found
        return self._files[fingerprint]

    def _read(self, fingerprint: str, keys: list, features: dict, first: dict, hidden: int) -> int:
        """Load the stored states of ``keys`` into memory; returns how many were found whole."""
        shards = self._shards(fingerprint)
        by_file: dict[Path, list] = {}
        for key in keys:
            if key[1] in shards:
                by_file.setdefault(shards[key[1]], []).append(key)
        read = 0
        for path, wanted in by_file.items():
            with safe_open(str(path), framework="pt") as f:
                for key in wanted:
                    state = f.get_tensor(key[1])
                    # A state of the wrong shape is never used: the example is computed again.
                    if tuple(state.shape) == (len(features["input_ids"][first[key]]), hidden):
                        self.states[key] = state
                        read += 1
        return read

    def _write(self, fingerprint: str, model: PreTrainedModel, layers: int, bf16: bool, made: dict) -> None:
        if self.folder is None:
            return
        folder = self.folder / fingerprint
        folder.mkdir(parents=True, exist_ok=True)
        about = folder / "encoder.json"
        if not about.exists():
            encoder = {"encoder": str(model.config._name_or_path), "frozen_layers": layers, "bf16": bf16}
            _atomic(about, lambda tmp: tmp.write_text(json.dumps(encoder, indent=2), encoding="utf-8"))
        name = hashlib.blake2b("".join(sorted(made)).encode(), digest_size=16).hexdigest()
        path = folder / f"{name}.safetensors"
        _atomic(path, lambda tmp: save_file(made, str(tmp)))
        self._shards(fingerprint).update(dict.fromkeys(made, path))


def _atomic(path: Path, write) -> None:
    """``write(tmp)`` to a temporary sibling of ``path``, then renamed onto it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class CachedDataset(torch.utils.data.Dataset):
    """Cached states with their labels; ``input_ids`` is kept only so the Trainer can group batches by length."""

    def __init__(self, states: list[torch.Tensor], features: dict[str, list[list[int]]], labels: list):
        self.states, self.input_ids, self.labels = states, features["input_ids"], labels

    def __len__(self) -> int:
        return len(self.states)

    def __getitem__(self, i: int) -> dict:
        return {"inputs_embeds": self.states[i], "input_ids": self.input_ids[i], "labels": self.labels[i]}


def cached_datasets(
    model: PreTrainedModel,
    config: Config,
    splits: list[tuple[dict[str, list[list[int]]], list]],
    store: StateStore | None = None,
) -> list[CachedDataset]:
    """One :class:`CachedDataset` per ``(features, labels)`` split, its lower states at the run's precision taken
    from ``store`` (default: :meth:`StateStore.of` the config), which computes each example's only once."""
    t = config.train
    store = StateStore.of(config) if store is None else store
    bf16 = t.mixed_precision == "bf16"
    return [
        CachedDataset(
            store.states_of(model, features, t.freeze_layers, batch_size=t.eval_batch_size, bf16=bf16),
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
