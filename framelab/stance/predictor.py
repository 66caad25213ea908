"""Scoring with an FNC-1 model folder: relatedness first, the cross-encoder only on related pairs.

Probabilities come in the folder's label order (agree, disagree, discuss,
unrelated): P(unrelated) = 1 − P(related) from stage 1; each related class
gets P(related) × its stage-2 probability. Pairs below the relatedness
threshold skip stage 2 (their related classes share P(related) equally), and
:meth:`FncPredictor.decide` follows the two stages: unrelated below the
threshold, else stage 2's arg-max. Bodies are cut into sentences and embedded
once, however many headlines they are paired with, across calls too (the
scorer hands pairs over a chunk at a time).

Stage 2 is applied as it was trained (``framelab.json``'s ``stage_two_*``
records): the ``top_k`` sentences stage 1 records, every member of a seed
ensemble (their probabilities averaged) and the cue fusion when the folder
has one (:mod:`framelab.stance.stage_two`).

A related stance comes with its evidence (:meth:`FncPredictor.evidence`): the
body sentences stage 2 read, with their offsets into the body, as
``framelab score`` shows frame evidence for frames; an unrelated one has none.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification

from framelab.encoding import activate, encode
from framelab.errors import DataError, Problem
from framelab.models.folder import META_FILE, check_head
from framelab.models.predictor import Predictor, load_weights
from framelab.score.records import StanceEvidence
from framelab.stance.data import FNC1_LABELS, RELATED
from framelab.stance.features import Bodies, Closest, SentenceEncoder, StageOne, pair_features
from framelab.stance.stage_two import Fusion, mean_logits, member_folder
from framelab.types import Article
from framelab.units import split_units

#: Bodies kept cut and embedded between calls: FNC-1 files pair each body with many headlines, far apart.
BODY_CACHE = 4096

#: Where each sentence of a body sits in it: ``(start, end)`` character offsets, in body order.
Offsets = list[tuple[int, int]]


def stance_evidence(offsets: Offsets, closest: Closest) -> list[StanceEvidence]:
    """The sentences stage 2 read (``closest``, of a body whose sentences sit at ``offsets``), in body order, each
    with its similarity to the headline and its rank by it (1: the most similar)."""
    order = np.argsort(-closest.similarity, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(1, len(order) + 1)
    return [
        StanceEvidence(offsets[j][0], offsets[j][1], round(float(sim), 4), int(r))
        for j, sim, r in zip(closest.sentences, closest.similarity, rank)
    ]


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
        self.members = [self.model] + [
            self._member(member_folder(self.model_dir, m), quantize)
            for m in range(1, int(self.meta.extra.get("stage_two_seeds", 1)))
        ]
        self.fusion = Fusion.load(self.model_dir) if self.meta.extra.get("stage_two_cues") else None
        self.unrelated = self.meta.labels.index("unrelated")
        self.related_columns = [self.meta.labels.index(n) for n in RELATED]
        self._cache: OrderedDict[str, tuple[Bodies, Offsets]] = OrderedDict()

    def _member(self, folder: Path, quantize: str | None) -> torch.nn.Module:
        """Another member of stage 2's seed ensemble, loaded as the folder's own cross-encoder is."""
        model = load_weights(folder, AutoModelForSequenceClassification, quantize)
        check_head(folder, self.meta.labels, model.config.num_labels, len(RELATED), "config.json")
        return model.to(self.device)

    def _bodies(self, texts: list[str]) -> tuple[Bodies, list[Offsets]]:
        """``texts`` as bodies, and where each one's sentences sit in it; each is cut and embedded once and kept
        for later calls (the last ``BODY_CACHE`` of them)."""
        new = [t for t in texts if t not in self._cache]
        if new:
            units = [split_units(Article(str(i), t), "sentence") for i, t in enumerate(new)]
            built = Bodies.build(new, [[u.text for u in us] for us in units], self.stage_one.tfidf, self.encoder)
            for b, (text, us) in enumerate(zip(new, units)):
                self._cache[text] = (built.body(b), [(u.start, u.end) for u in us])
        for text in texts:
            self._cache.move_to_end(text)
        while len(self._cache) > max(BODY_CACHE, len(texts)):
            self._cache.popitem(last=False)
        kept = [self._cache[t] for t in texts]
        return Bodies.concat([b for b, _ in kept]), [offsets for _, offsets in kept]

    def _stage_two_logits(self, headlines: list[str], segments: list[str]) -> np.ndarray:
        encoded = encode(
            self.tokenizer, segments, pairs=headlines, max_length=self.meta.max_length, stride=0, windowed=False
        )
        if not segments:
            return np.zeros((0, len(RELATED)), dtype=np.float64)
        lengths = np.fromiter((len(ids) for ids in encoded.features["input_ids"]), dtype=np.int64, count=len(encoded))
        order = np.argsort(-lengths, kind="stable")
        outs = [np.zeros((len(segments), len(RELATED)), dtype=np.float64) for _ in self.members]
        with torch.inference_mode():
            for idx, batch in self._batches(encoded, order, lengths):
                self._before_batch(batch)
                batch = {k: v.to(self.device) for k, v in batch.items()}
                for model, out in zip(self.members, outs):
                    out[idx] = model(**batch).logits.float().cpu().numpy()
                self._after_batch()
        return mean_logits(outs)

    def explained(
        self, texts: list[str], pairs: list[str] | None = None
    ) -> tuple[np.ndarray, list[Closest], list[Offsets]]:
        """Probabilities of each (headline = ``pairs[i]``, body = ``texts[i]``) pair, the body sentences stage 2
        reads for it, and where its body's sentences sit."""
        if pairs is None:
            raise ValueError(
                f"{self.model_dir} labels (headline, body) pairs: "
                "give each text a headline (--target, or stance.target in JSONL)"
            )
        probs = np.zeros((len(texts), len(self.meta.labels)))
        if not texts:
            return probs, [], []
        unique = list(dict.fromkeys(texts))
        row = {t: i for i, t in enumerate(unique)}
        bodies, offsets = self._bodies(unique)
        body_of = np.array([row[t] for t in texts], dtype=np.int64)
        features, segments, closest = pair_features(
            list(pairs), body_of, bodies, self.stage_one.tfidf, self.encoder, top_k=self.stage_one.top_k
        )
        related = self.stage_one.related_probability(features)
        probs[:, self.unrelated] = 1.0 - related
        probs[:, self.related_columns] = (related / len(RELATED))[:, None]
        chosen = np.flatnonzero(related >= self.stage_one.threshold)
        if len(chosen):
            heads, read = [pairs[i] for i in chosen], [segments[i] for i in chosen]
            logits = self._stage_two_logits(heads, read)
            if self.fusion is not None:
                logits = self.fusion.log_probabilities(logits, heads, read, features[chosen])
            stage_two = activate(logits, multi_label=False)
            probs[np.ix_(chosen, self.related_columns)] = related[chosen, None] * stage_two
        return probs, closest, [offsets[b] for b in body_of]

    def probabilities(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """Probabilities of each (headline = ``pairs[i]``, body = ``texts[i]``) pair."""
        return self.explained(texts, pairs)[0]

    def evidence(
        self,
        texts: list[str],
        decided: np.ndarray,
        explained: tuple | None = None,
        pairs: list[str] | None = None,
    ) -> list[list[StanceEvidence]]:
        """Per pair, the body sentences stage 2 read for its related stance (:func:`stance_evidence`); none for an
        unrelated one (stage 2 read nothing). ``explained`` is :meth:`explained` of the same pairs."""
        _, closest, offsets = explained or self.explained(texts, pairs)
        return [
            [] if row[self.unrelated] else stance_evidence(where, read)
            for where, read, row in zip(offsets, closest, decided)
        ]

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """One-hot decisions: unrelated below the relatedness threshold, else the most probable related class."""
        out = np.zeros_like(probs, dtype=np.int64)
        if not len(probs):
            return out
        related = 1.0 - probs[:, self.unrelated]
        best = np.asarray(self.related_columns)[probs[:, self.related_columns].argmax(axis=1)]
        out[np.arange(len(probs)), np.where(related >= self.stage_one.threshold, best, self.unrelated)] = 1
        return out
