"""Scoring with a ``frames_attention`` model folder: frame probabilities and the sentences that carry each frame.

The folder holds the frozen encoder and its tokenizer (as transformers saves
them), the heads (``head.safetensors``, ``head.json``), ``framelab.json``
with the labels and thresholds, and the TF-IDF model when one is blended in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel

from framelab.cpus import usable_cpus
from framelab.frames.head import HEAD_CONFIG_FILE, apply_heads, load_heads
from framelab.frames.sentences import ArticleSentences, article_sentences
from framelab.lexical import LexicalModel
from framelab.models.folder import ModelMeta, check_head, read_meta
from framelab.models.predictor import inference_device, load_tokenizer, quantized
from framelab.score.records import FrameEvidence

#: Evidence for a frame: its most attended sentences, until their weights add up to this share…
EVIDENCE_MASS = 0.5
#: …and at most this many sentences.
EVIDENCE_SENTENCES = 5


def frame_evidence(
    offsets: list[tuple[int, int]], attention: np.ndarray, labels: list[str], decided: np.ndarray
) -> list[FrameEvidence]:
    """The sentences that carry each decided frame: the most attended first, until :data:`EVIDENCE_MASS` of
    the frame's attention (at most :data:`EVIDENCE_SENTENCES`).

    ``attention`` is ``(labels, sentences)``, each row summing to 1 over the
    article's sentences; an article without sentences has no evidence.
    """
    out: list[FrameEvidence] = []
    if not offsets:
        return out
    for j in np.flatnonzero(decided):
        row = attention[j, : len(offsets)]
        mass = 0.0
        for s in np.argsort(-row, kind="stable")[:EVIDENCE_SENTENCES]:
            start, end = offsets[s]
            out.append(FrameEvidence(labels[j], int(start), int(end), round(float(row[s]), 4)))
            mass += float(row[s])
            if mass >= EVIDENCE_MASS:
                break
    return out


class AttentionPredictor:
    """A trained ``frames_attention`` model ready to score articles."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        batch_size: int = 64,
        quantize: str | None = None,
        device: str | torch.device | None = None,
    ):
        self.model_dir = Path(model_dir)
        self.meta: ModelMeta = read_meta(self.model_dir)
        self.batch_size = batch_size
        if torch.get_num_threads() > usable_cpus():
            torch.set_num_threads(usable_cpus())
        self.tokenizer = load_tokenizer(self.model_dir)
        encoder = AutoModel.from_pretrained(str(self.model_dir), use_safetensors=True, trust_remote_code=False).eval()
        encoder = quantized(encoder, quantize)
        self.device = inference_device(quantize, device)
        self.encoder = encoder.to(self.device)
        self.heads, self.spec = load_heads(self.model_dir)
        check_head(self.model_dir, self.meta.labels, self.spec.labels, len(self.meta.labels), HEAD_CONFIG_FILE)
        self.lexical = LexicalModel.load(self.model_dir) if self.meta.lexical_weight else None

    @property
    def name(self) -> str:
        """The model folder's name, used to key its predictions."""
        return self.model_dir.name

    def sentences(self, texts: list[str]) -> list[ArticleSentences]:
        """Each text's sentences, with offsets and vectors."""
        return article_sentences(
            self.tokenizer, self.encoder, texts, max_length=self.meta.max_length, batch_size=self.batch_size
        )

    def explained(
        self, texts: list[str], pairs: list[str] | None = None
    ) -> tuple[np.ndarray, list[ArticleSentences], list[np.ndarray]]:
        """Frame probabilities per text, its sentences, and the heads' attention ``(labels, sentences)`` over them."""
        sentences = self.sentences(texts)
        probs, attention = apply_heads(self.heads, self.spec, [s.vectors for s in sentences])
        if self.lexical is not None and texts:
            probs = self.lexical.blend(probs, texts, self.meta.lexical_weight)
        return probs, sentences, attention

    def probabilities(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """Frame probabilities per text, shape ``(len(texts), len(labels))``."""
        return self.explained(texts, pairs)[0]

    def evidence(
        self, texts: list[str], decided: np.ndarray, explained: tuple | None = None
    ) -> list[list[FrameEvidence]]:
        """Per text, the sentences that carry each frame decided in ``decided`` (:func:`frame_evidence`)."""
        _, sentences, attention = explained or self.explained(texts)
        return [frame_evidence(s.offsets, a, self.meta.labels, row) for s, a, row in zip(sentences, attention, decided)]

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """0/1 decisions at the saved per-label thresholds."""
        return (probs >= np.asarray(self.meta.thresholds)).astype(np.int64)
