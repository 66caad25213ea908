"""The ``techniques_multihead`` model: one encoder, a line-label head and a B/I technique span head.

Both heads read one forward pass of the encoder over a window of a line (long lines are cut into overlapping
windows, :func:`framelab.tagging.tokenize_windows`): the line head reads the window's first token and gives one
logit per technique label of the line (a line's probabilities are its windows' max-pooled, as
:attr:`framelab.tasks.Task.pooling` says), the span head gives every token a ``B-`` and an ``I-`` logit per
technique (:mod:`framelab.tagging`). The folder holds ``config.json`` (the encoder's, with the heads' sizes),
``model.safetensors`` (encoder and heads), the tokenizer and ``framelab.json``, whose ``labels`` and
``thresholds`` are the line head's and whose ``extra`` names the span head's techniques and tag threshold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel

from framelab.encoding import activate, pool
from framelab.models.folder import check_head, read_meta
from framelab.models.predictor import Predictor, _limit_threads, _load, inference_device, load_tokenizer, quantized
from framelab.tagging import TaggedSpan, decode, merge_windows, tokenize_windows
from framelab.tasks import get_task

#: The ``config.json`` keys of the heads' output counts.
LINE_OUTPUTS, TAG_OUTPUTS = "framelab_line_outputs", "framelab_tag_outputs"


class MultiHeadModel(PreTrainedModel):
    """An encoder (``AutoModel``) with a line head on each window's first token and a tag head on every token.

    ``forward`` returns ``{"line_logits": (windows, line labels), "tag_logits": (windows, tokens, 2 x span
    labels)}``; the loss is the training's (``compute_loss_func``). It is a ``PreTrainedModel`` so the Trainer
    checkpoints it and restores its best epoch as any other, and so the shared layer freezing and state cache
    (:mod:`framelab.train.frozen`) find the encoder as ``base_model``.
    """

    config_class = PretrainedConfig
    base_model_prefix = "encoder"
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True

    def __init__(self, config: PretrainedConfig, encoder: PreTrainedModel | None = None, dropout: float = 0.1):
        super().__init__(config)
        self.encoder = encoder if encoder is not None else AutoModel.from_config(config)
        self.dropout = nn.Dropout(dropout)
        self.line_head = nn.Linear(config.hidden_size, getattr(config, LINE_OUTPUTS))
        self.tag_head = nn.Linear(config.hidden_size, getattr(config, TAG_OUTPUTS))
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """Only the heads start from a draw; the encoder keeps the weights it was given."""
        if module is self.line_head or module is self.tag_head:
            module.weight.data.normal_(0.0, 0.02)
            module.bias.data.zero_()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask, "inputs_embeds": inputs_embeds}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden = self.dropout(self.encoder(**inputs).last_hidden_state)
        return {"line_logits": self.line_head(hidden[:, 0]), "tag_logits": self.tag_head(hidden)}


def multihead_model(base: str, line_labels: int, span_labels: int) -> MultiHeadModel:
    """The encoder ``base`` (float32 master weights, safetensors only) with fresh heads for the label counts."""
    encoder = AutoModel.from_pretrained(base, dtype=torch.float32, use_safetensors=True, trust_remote_code=False)
    setattr(encoder.config, LINE_OUTPUTS, line_labels)
    setattr(encoder.config, TAG_OUTPUTS, 2 * span_labels)
    return MultiHeadModel(encoder.config, encoder)


class MultiHeadPredictor(Predictor):
    """A ``techniques_multihead`` folder ready to score lines: line labels (:meth:`probabilities`, decided at the
    folder's thresholds) and technique spans inside them (:meth:`spans`), from one forward pass (:meth:`explained`).
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        batch_size: int = 64,
        quantize: str | None = None,
        device: str | torch.device | None = None,
    ):
        self.model_dir = Path(model_dir)
        self.meta = read_meta(self.model_dir)
        self.batch_size = batch_size
        self.cut_units = 0
        self.lexical = None
        _limit_threads()
        self.tokenizer = load_tokenizer(self.model_dir)
        config = _load(self.model_dir / "config.json", "config", AutoConfig.from_pretrained, str(self.model_dir))
        model = MultiHeadModel(config)
        weights = _load(
            self.model_dir / "model.safetensors", "weights", load_file, str(self.model_dir / "model.safetensors")
        )
        _load(self.model_dir / "model.safetensors", "weights", model.load_state_dict, weights)
        check_head(
            self.model_dir, self.meta.labels, getattr(config, LINE_OUTPUTS), len(self.meta.labels), "config.json"
        )
        #: The span head's techniques and tag threshold.
        self.span_labels: list[str] = list(self.meta.extra["span_labels"])
        self.span_threshold = float(self.meta.extra["span_threshold"])
        check_head(
            self.model_dir, self.span_labels, getattr(config, TAG_OUTPUTS), 2 * len(self.span_labels), "config.json"
        )
        model = quantized(model.eval(), quantize)
        self.device = inference_device(quantize, device)
        self.model = model.to(self.device)
        self.task = get_task(self.meta.task)

    def explained(
        self, texts: list[str], pairs: list[str] | None = None
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Per text: line-label probabilities ``(texts, labels)`` and its tokens' offsets and tag probabilities."""
        meta = self.meta
        windows = tokenize_windows(self.tokenizer, texts, max_length=meta.max_length, stride=meta.stride)
        n_tags = 2 * len(self.span_labels)
        if len(windows) == 0:
            return np.zeros((len(texts), len(meta.labels))), [
                (np.zeros((0, 2), np.int64), np.zeros((0, n_tags)))
            ] * len(texts)
        lengths = np.fromiter((len(ids) for ids in windows.features["input_ids"]), dtype=np.int64, count=len(windows))
        order = np.argsort(-lengths, kind="stable")
        left = self.tokenizer.padding_side == "left"
        line_logits = np.zeros((len(windows), len(meta.labels)))
        window_probs: list[np.ndarray] = [np.zeros(0)] * len(windows)
        with torch.inference_mode():
            for idx, batch in self._batches(windows, order, lengths):
                self._before_batch(batch)
                out = self.model(**{k: v.to(self.device) for k, v in batch.items()})
                line_logits[idx] = out["line_logits"].float().cpu().numpy()
                tags = out["tag_logits"].float().cpu().numpy().astype(np.float64)
                width = tags.shape[1]
                for row, i in enumerate(idx):
                    own = tags[row, width - lengths[i] :] if left else tags[row, : lengths[i]]
                    window_probs[i] = 1.0 / (1.0 + np.exp(-own))
                self._after_batch()
        probs = activate(pool(line_logits, windows.example, len(texts), meta.pooling), True)
        return probs, merge_windows(windows, window_probs, len(texts))

    def probabilities(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """Line-label probabilities per text, shape ``(len(texts), len(labels))``."""
        return self.explained(texts, pairs)[0]

    def token_probabilities(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per text: token offsets ``(tokens, 2)`` and the span head's B/I tag probabilities, windows merged."""
        return self.explained(texts)[1]

    def spans(self, texts: list[str], explained: tuple | None = None) -> list[list[TaggedSpan]]:
        """Per text, the technique spans the span head finds at the folder's tag threshold (offsets into the text)."""
        _, tokens = explained or self.explained(texts)
        thresholds = [self.span_threshold] * len(self.span_labels)
        return [
            [
                TaggedSpan(s.start, s.end, s.label, round(s.score, 4))
                for s in decode(text, offsets, probs, self.span_labels, thresholds)
            ]
            for text, (offsets, probs) in zip(texts, tokens)
        ]
