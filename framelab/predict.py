"""Loading a saved model folder and computing label probabilities fast.

Inputs are tokenised in one call with the fast tokenizer, windows are sorted
by length and batched so each batch pads only to its own longest window, and
the forward pass runs under ``torch.inference_mode``. Results come back in
input order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from framelab.encoding import activate, encode, pool
from framelab.models.folder import ModelMeta, read_meta


class Predictor:
    """A trained framelab model ready to score texts."""

    def __init__(self, model_dir: str | Path, *, batch_size: int = 64, quantize: str | None = None):
        self.model_dir = Path(model_dir)
        self.meta: ModelMeta = read_meta(self.model_dir)
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.model_dir), trust_remote_code=False)
        model = AutoModelForSequenceClassification.from_pretrained(
            str(self.model_dir), use_safetensors=True, trust_remote_code=False
        )
        model.eval()
        if quantize == "int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        elif quantize is not None:
            raise ValueError(f"unknown quantisation {quantize!r}; the only choice is int8")
        self.model = model

    @property
    def name(self) -> str:
        """The model folder's name, used to key its predictions."""
        return self.model_dir.name

    def logits(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """Logits per text (pooled over windows for article models)."""
        meta = self.meta
        encoded = encode(
            self.tokenizer, texts, max_length=meta.max_length, stride=meta.stride, windowed=meta.article_level, pairs=pairs
        )
        n_labels = len(meta.labels)
        if len(encoded) == 0:
            return np.zeros((len(texts), n_labels))
        lengths = np.fromiter((len(ids) for ids in encoded.features["input_ids"]), dtype=np.int64, count=len(encoded))
        order = np.argsort(-lengths, kind="stable")
        window_logits = np.zeros((len(encoded), n_labels), dtype=np.float32)
        names = list(encoded.features)
        with torch.inference_mode():
            for begin in range(0, len(order), self.batch_size):
                idx = order[begin : begin + self.batch_size]
                batch = self.tokenizer.pad(
                    {k: [encoded.features[k][i] for i in idx] for k in names}, return_tensors="pt"
                )
                window_logits[idx] = self.model(**batch).logits.float().numpy()
        if not meta.article_level:
            return window_logits.astype(np.float64)
        return pool(window_logits, encoded.example, len(texts), meta.pooling)

    def probabilities(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """Label probabilities per text, shape ``(len(texts), len(labels))``."""
        return activate(self.logits(texts, pairs), self.meta.multi_label)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """0/1 decisions: per-label thresholds, or the arg-max for single-label models."""
        if self.meta.multi_label:
            return (probs >= np.asarray(self.meta.thresholds)).astype(np.int64)
        out = np.zeros_like(probs, dtype=np.int64)
        if len(probs):
            out[np.arange(len(probs)), probs.argmax(axis=1)] = 1
        return out
