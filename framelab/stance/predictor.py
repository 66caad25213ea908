"""Scoring with an FNC-1 model folder: relatedness first, the cross-encoder only on related pairs.

Probabilities come in the folder's label order (agree, disagree, discuss,
unrelated): P(unrelated) = 1 − P(related) from stage 1; each related class
gets P(related) × its stage-2 probability. Pairs below the relatedness
threshold skip stage 2 (their related classes share P(related) equally), and
:meth:`FncPredictor.decide` follows the two stages: unrelated below the
threshold, else stage 2's arg-max. Bodies are cut into sentences and embedded
once, however many headlines they are paired with, across calls too (the
scorer hands pairs over a chunk at a time).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from framelab.encoding import activate, encode
from framelab.errors import DataError, Problem
from framelab.models.folder import META_FILE
from framelab.models.predictor import Predictor
from framelab.stance.data import FNC1_LABELS, RELATED
from framelab.stance.features import Bodies, SentenceEncoder, StageOne, pair_features
from framelab.types import Article
from framelab.units import split_units

#: Bodies kept cut and embedded between calls: FNC-1 files pair each body with many headlines, far apart.
BODY_CACHE = 4096


class FncPredictor(Predictor):
    """The two stages of an ``fnc1`` model folder."""

    def head_outputs(self) -> int:
        """Stage two's head gives the related classes; the folder's labels must be FNC-1's four, in any order."""
        if sorted(self.meta.labels) != sorted(FNC1_LABELS):
            raise DataError(
                Problem(
                    str(self.model_dir / META_FILE),
                    None,
                    f"labels must be FNC-1's {', '.join(FNC1_LABELS)}, got {', '.join(map(str, self.meta.labels))}",
                    "use the framelab.json written with these weights: copy the whole folder again or retrain",
                )
            )
        return len(RELATED)

    def __init__(self, model_dir: str | Path, *, batch_size: int = 64, quantize: str | None = None, device=None):
        super().__init__(model_dir, batch_size=batch_size, quantize=quantize, device=device)
        self.stage_one = StageOne.load(self.model_dir)
        self.encoder = SentenceEncoder(
            self.stage_one.encoder_dir, batch_size=batch_size, device="cpu" if quantize else device
        )
        self.unrelated = self.meta.labels.index("unrelated")
        self.related_columns = [self.meta.labels.index(n) for n in RELATED]
        self._cache: OrderedDict[str, Bodies] = OrderedDict()

    def _bodies(self, texts: list[str]) -> Bodies:
        """``texts`` as bodies; each is cut and embedded once and kept for later calls (the last ``BODY_CACHE``
        of them)."""
        new = [t for t in texts if t not in self._cache]
        if new:
            sentences = [[u.text for u in split_units(Article(str(i), t), "sentence")] for i, t in enumerate(new)]
            built = Bodies.build(new, sentences, self.stage_one.tfidf, self.encoder)
            for b, text in enumerate(new):
                self._cache[text] = built.body(b)
        for text in texts:
            self._cache.move_to_end(text)
        while len(self._cache) > max(BODY_CACHE, len(texts)):
            self._cache.popitem(last=False)
        return Bodies.concat([self._cache[t] for t in texts])

    def _stage_two_logits(self, headlines: list[str], segments: list[str]) -> np.ndarray:
        encoded = encode(
            self.tokenizer, segments, pairs=headlines, max_length=self.meta.max_length, stride=0, windowed=False
        )
        out = np.zeros((len(segments), len(RELATED)), dtype=np.float64)
        if not segments:
            return out
        lengths = np.fromiter((len(ids) for ids in encoded.features["input_ids"]), dtype=np.int64, count=len(encoded))
        order = np.argsort(-lengths, kind="stable")
        with torch.inference_mode():
            for idx, batch in self._batches(encoded, order, lengths):
                self._before_batch(batch)
                batch = {k: v.to(self.device) for k, v in batch.items()}
                out[idx] = self.model(**batch).logits.float().cpu().numpy()
                self._after_batch()
        return out

    def probabilities(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """Probabilities of each (headline = ``pairs[i]``, body = ``texts[i]``) pair."""
        if pairs is None:
            raise ValueError(
                f"{self.model_dir} labels (headline, body) pairs: "
                "give each text a headline (--target, or stance.target in JSONL)"
            )
        probs = np.zeros((len(texts), len(self.meta.labels)))
        if not texts:
            return probs
        unique = list(dict.fromkeys(texts))
        row = {t: i for i, t in enumerate(unique)}
        bodies = self._bodies(unique)
        body_of = np.array([row[t] for t in texts], dtype=np.int64)
        features, segments = pair_features(
            list(pairs), body_of, bodies, self.stage_one.tfidf, self.encoder, top_k=self.stage_one.top_k
        )
        related = self.stage_one.related_probability(features)
        probs[:, self.unrelated] = 1.0 - related
        probs[:, self.related_columns] = (related / len(RELATED))[:, None]
        chosen = np.flatnonzero(related >= self.stage_one.threshold)
        if len(chosen):
            stage_two = activate(
                self._stage_two_logits([pairs[i] for i in chosen], [segments[i] for i in chosen]), multi_label=False
            )
            probs[np.ix_(chosen, self.related_columns)] = related[chosen, None] * stage_two
        return probs

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """One-hot decisions: unrelated below the relatedness threshold, else the most probable related class."""
        out = np.zeros_like(probs, dtype=np.int64)
        if not len(probs):
            return out
        related = 1.0 - probs[:, self.unrelated]
        best = np.asarray(self.related_columns)[probs[:, self.related_columns].argmax(axis=1)]
        out[np.arange(len(probs)), np.where(related >= self.stage_one.threshold, best, self.unrelated)] = 1
        return out
