"""Stage 1 of the FNC-1 model: is a headline related to a body? Cheap similarity features and a logistic regression.

For each (headline, body) pair, with the body cut into sentences once
(:mod:`framelab.units`):

- TF-IDF cosine (word unigrams, English stop words removed, fitted on the
  training headlines and bodies) between the headline and the whole body,
  its best sentence, the mean of its best three, and the best of the lead
  (first three sentences);
- sentence-embedding cosine from the default encoder (all-MiniLM-L6-v2 was
  trained for semantic similarity; mean-pooled, unit length) between the
  headline and the best sentence, the best three, the mean sentence vector
  and the lead;
- the share of the headline's content words and word bigrams found in the body.

A logistic regression on the standardised features gives P(related). The
same embeddings choose stage 2's input: the ``top_k`` sentences most similar
to the headline, in body order (:func:`closest_sentences`). Everything is
stored as JSON and safetensors (:class:`StageOne`), never pickled.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from transformers import AutoModel

from framelab.encoding import sentence_vectors
from framelab.errors import DataError, Problem
from framelab.models.folder import check_threshold
from framelab.models.predictor import load_tokenizer

FEATURES = (
    "tfidf_body",
    "tfidf_best_sentence",
    "tfidf_best3",
    "tfidf_lead",
    "embedding_best_sentence",
    "embedding_best3",
    "embedding_body_mean",
    "embedding_lead",
    "word_overlap",
    "bigram_overlap",
)
#: Sentences counted as the lead of a body.
LEAD = 3
#: Tokens per sentence for the sentence embeddings.
EMBEDDING_MAX_LENGTH = 128
STAGE_ONE_FILE = "relatedness.json"
TFIDF_FILE = "relatedness.safetensors"
ENCODER_DIR = "similarity"
_WORD = re.compile(r"[a-z0-9]+")


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def content_words(text: str, stop: frozenset[str]) -> list[str]:
    """Lower-cased words of ``text`` without English stop words."""
    return [w for w in _WORD.findall(text.lower()) if w not in stop]


class SentenceEncoder:
    """Mean-pooled, unit-length sentence embeddings from a transformer folder (no head)."""

    def __init__(self, folder: str | Path, *, batch_size: int = 64, device: str | torch.device | None = None):
        self.folder = str(folder)
        self.tokenizer = load_tokenizer(self.folder)
        self.model = AutoModel.from_pretrained(self.folder, use_safetensors=True, trust_remote_code=False).eval()
        self.device = (
            torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
        )
        self.model.to(self.device)
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit-length row per text, in input order (:func:`framelab.encoding.sentence_vectors`)."""
        return sentence_vectors(
            self.tokenizer, self.model, texts, max_length=EMBEDDING_MAX_LENGTH, batch_size=self.batch_size
        )


@dataclass
class Tfidf:
    """Unigram TF-IDF (sublinear TF, English stop words removed) with a fixed vocabulary."""

    terms: list[str]
    idf: np.ndarray

    @classmethod
    def fit(cls, texts: list[str]) -> Tfidf:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2)
        vectorizer.fit(texts)
        terms = [""] * len(vectorizer.vocabulary_)
        for term, column in vectorizer.vocabulary_.items():
            terms[column] = term
        return cls(terms, np.asarray(vectorizer.idf_, dtype=np.float32).astype(np.float64))

    def transform(self, texts: list[str]):
        """Unit-length TF-IDF rows (sparse)."""
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.preprocessing import normalize

        counter = CountVectorizer(vocabulary={t: i for i, t in enumerate(self.terms)})
        counts = counter.transform(texts).astype(np.float64)
        counts.data = np.log(counts.data) + 1.0
        return normalize(counts.multiply(self.idf).tocsr())


@dataclass
class Bodies:
    """Bodies cut into sentences, with every sentence's TF-IDF row and embedding computed once."""

    texts: list[str]
    #: Sentence texts of every body, concatenated; body ``b`` owns ``sentences[bounds[b]:bounds[b + 1]]``.
    sentences: list[str]
    bounds: np.ndarray
    sentence_tfidf: object
    body_tfidf: object
    sentence_embeddings: np.ndarray
    words: list[frozenset[str]]
    bigrams: list[frozenset[tuple[str, str]]]

    @classmethod
    def build(cls, texts: list[str], sentences: list[list[str]], tfidf: Tfidf, encoder: SentenceEncoder) -> Bodies:
        flat = [s for body in sentences for s in body]
        bounds = np.concatenate([[0], np.cumsum([len(body) for body in sentences])]).astype(np.int64)
        stop = _stop_words()
        words = [content_words(t, stop) for t in texts]
        return cls(
            texts,
            flat,
            bounds,
            tfidf.transform(flat),
            tfidf.transform(texts),
            encoder.embed(flat),
            [frozenset(w) for w in words],
            [frozenset(zip(w, w[1:])) for w in words],
        )

    def body(self, b: int) -> Bodies:
        """Body ``b`` alone."""
        lo, hi = self.bounds[b], self.bounds[b + 1]
        return Bodies(
            [self.texts[b]], self.sentences[lo:hi], np.array([0, hi - lo]),
            self.sentence_tfidf[lo:hi], self.body_tfidf[b],
            self.sentence_embeddings[lo:hi], [self.words[b]], [self.bigrams[b]],
        )  # fmt: skip

    @classmethod
    def concat(cls, parts: list[Bodies]) -> Bodies:
        """The bodies of ``parts``, in order."""
        from scipy.sparse import vstack

        sizes = [len(p.sentences) for p in parts]
        return cls(
            [t for p in parts for t in p.texts],
            [s for p in parts for s in p.sentences],
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            vstack([p.sentence_tfidf for p in parts]).tocsr(),
            vstack([p.body_tfidf for p in parts]).tocsr(),
            np.concatenate([p.sentence_embeddings for p in parts]),
            [w for p in parts for w in p.words],
            [g for p in parts for g in p.bigrams],
        )


def _top_mean(sims: np.ndarray, k: int) -> np.ndarray:
    """Per row, the mean of the ``k`` largest values (all of them when fewer)."""
    if sims.shape[1] == 0:
        return np.zeros(sims.shape[0])
    k = min(k, sims.shape[1])
    return np.sort(sims, axis=1)[:, -k:].mean(axis=1)


def _best(sims: np.ndarray) -> np.ndarray:
    return sims.max(axis=1) if sims.shape[1] else np.zeros(sims.shape[0])


@dataclass(frozen=True)
class Closest:
    """The body sentences stage 2 reads for one pair: their indices among the body's sentences, in body order,
    and each one's embedding cosine with the headline."""

    sentences: np.ndarray
    similarity: np.ndarray


def closest_sentences(sims: np.ndarray, top_k: int) -> Closest:
    """The ``top_k`` sentences of a body most similar to a headline (``sims``: its cosine with each sentence),
    in body order."""
    chosen = np.sort(np.argsort(-sims, kind="stable")[:top_k])
    return Closest(chosen, sims[chosen])


def pair_features(
    headlines: list[str], body_of: np.ndarray, bodies: Bodies, tfidf: Tfidf, encoder: SentenceEncoder, *, top_k: int
) -> tuple[np.ndarray, list[str], list[Closest]]:
    """The :data:`FEATURES` of every (headline, body) pair, stage 2's second segment for each, and the body
    sentences that segment joins (:func:`closest_sentences`).

    ``body_of[i]`` is the index in ``bodies`` of pair ``i``'s body. Each
    distinct headline is embedded once.
    """
    unique = list(dict.fromkeys(headlines))
    row_of = {h: i for i, h in enumerate(unique)}
    h_rows = np.array([row_of[h] for h in headlines], dtype=np.int64)
    h_tfidf = tfidf.transform(unique)
    h_emb = encoder.embed(unique)
    stop = _stop_words()
    h_words = [content_words(h, stop) for h in unique]
    features = np.zeros((len(headlines), len(FEATURES)))
    segments = [""] * len(headlines)
    closest = [closest_sentences(np.zeros(0), top_k)] * len(headlines)
    for b in np.unique(body_of):
        pairs = np.flatnonzero(body_of == b)
        lo, hi = bodies.bounds[b], bodies.bounds[b + 1]
        rows = h_rows[pairs]
        t_sims = (h_tfidf[rows] @ bodies.sentence_tfidf[lo:hi].T).toarray()
        e_sims = h_emb[rows] @ bodies.sentence_embeddings[lo:hi].T
        mean_vec = (
            bodies.sentence_embeddings[lo:hi].mean(axis=0) if hi > lo else np.zeros(h_emb.shape[1], dtype=np.float32)
        )
        mean_vec = mean_vec / max(float(np.linalg.norm(mean_vec)), 1e-9)
        features[pairs, 0] = (h_tfidf[rows] @ bodies.body_tfidf[b].T).toarray()[:, 0]
        features[pairs, 1] = _best(t_sims)
        features[pairs, 2] = _top_mean(t_sims, 3)
        features[pairs, 3] = _best(t_sims[:, :LEAD])
        features[pairs, 4] = _best(e_sims)
        features[pairs, 5] = _top_mean(e_sims, 3)
        features[pairs, 6] = h_emb[rows] @ mean_vec
        features[pairs, 7] = _best(e_sims[:, :LEAD])
        for i, r in zip(pairs, rows):
            words = h_words[r]
            features[i, 8] = sum(w in bodies.words[b] for w in words) / max(len(words), 1)
            grams = list(zip(words, words[1:]))
            features[i, 9] = sum(g in bodies.bigrams[b] for g in grams) / max(len(grams), 1)
        sentences = bodies.sentences[lo:hi]
        for i, sims in zip(pairs, e_sims):
            closest[i] = closest_sentences(sims, top_k)
            segments[i] = " ".join(sentences[j] for j in closest[i].sentences)
    return features, segments, closest


@dataclass
class StageOne:
    """The relatedness stage: TF-IDF vocabulary, logistic regression, decision threshold, and the encoder it
    embeds with."""

    tfidf: Tfidf
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    top_k: int
    #: Folder of the sentence encoder, copied into the model folder on save.
    encoder_dir: str

    @classmethod
    def fit(
        cls,
        tfidf: Tfidf,
        features: np.ndarray,
        related: np.ndarray,
        *,
        encoder_dir: str,
        top_k: int,
        threshold: float = 0.5,
        seed: int = 0,
    ) -> StageOne:
        from sklearn.linear_model import LogisticRegression

        mean, scale = features.mean(axis=0), features.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        model = LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
        model.fit((features - mean) / scale, related)
        return cls(
            tfidf,
            mean,
            scale,
            model.coef_[0].astype(np.float64),
            float(model.intercept_[0]),
            threshold,
            top_k,
            encoder_dir,
        )

    def related_probability(self, features: np.ndarray) -> np.ndarray:
        z = ((features - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def save(self, folder: Path) -> None:
        """Write :data:`STAGE_ONE_FILE`, :data:`TFIDF_FILE` and the encoder (:data:`ENCODER_DIR`) into ``folder``."""
        folder = Path(folder)
        record = {
            "features": list(FEATURES),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "top_k": self.top_k,
            "terms": self.tfidf.terms,
        }
        (folder / STAGE_ONE_FILE).write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        save_file({"idf": self.tfidf.idf.astype(np.float32)}, str(folder / TFIDF_FILE))
        target = folder / ENCODER_DIR
        target.mkdir()
        for name in (
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "vocab.txt",
        ):
            if (Path(self.encoder_dir) / name).is_file():
                shutil.copy2(Path(self.encoder_dir) / name, target / name)

    @classmethod
    def load(cls, folder: Path) -> StageOne:
        folder = Path(folder)
        for name in (STAGE_ONE_FILE, TFIDF_FILE, f"{ENCODER_DIR}/model.safetensors"):
            if not (folder / name).is_file():
                raise DataError(
                    Problem(
                        str(folder / name),
                        None,
                        "missing: an fnc1 model folder holds its relatedness stage",
                        "copy the whole model folder or retrain",
                    )
                )
        record = json.loads((folder / STAGE_ONE_FILE).read_text(encoding="utf-8"))
        if record["features"] != list(FEATURES):
            raise DataError(
                Problem(
                    str(folder / STAGE_ONE_FILE),
                    None,
                    "its features are not the ones this framelab computes",
                    "retrain the model",
                )
            )
        check_threshold(folder / STAGE_ONE_FILE, "threshold", record.get("threshold"))
        idf = load_file(str(folder / TFIDF_FILE))["idf"].astype(np.float64)
        tfidf = Tfidf(record["terms"], idf)
        arrays = {k: np.asarray(record[k], dtype=np.float64) for k in ("mean", "scale", "coef")}
        return cls(
            tfidf,
            arrays["mean"],
            arrays["scale"],
            arrays["coef"],
            float(record["intercept"]),
            float(record["threshold"]),
            int(record["top_k"]),
            str(folder / ENCODER_DIR),
        )
