"""A TF-IDF + logistic-regression model of multi-label targets, stored without pickle.

Word 1–2-grams with sublinear TF-IDF weights and one class-balanced logistic
regression per label. It is the baseline every multi-label report is measured
against (:mod:`framelab.eval.baseline`) and, with ``train.lexical_weight``
above 0, a second opinion whose probabilities are averaged into the fine-tuned
model's. Saved as its vocabulary (JSON) and arrays (safetensors), so a model
folder that carries one still holds no pickle file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from safetensors.numpy import load_file, save_file

from framelab.errors import DataError, Problem

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

# scikit-learn and SciPy are imported where they are used: they add about
# 150 MB to a scoring process, which a model without a TF-IDF part never needs.

VOCABULARY_FILE = "lexical.json"
ARRAYS_FILE = "lexical.safetensors"
NGRAM_RANGE = (1, 2)
MAX_FEATURES = 200_000


def tfidf_vectorizer() -> TfidfVectorizer:
    """The unfitted TF-IDF featuriser of every TF-IDF model here (word 1–2-grams, sublinear TF)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=NGRAM_RANGE, sublinear_tf=True, min_df=1, max_features=MAX_FEATURES)


def _as_saved(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).astype(np.float64)


@dataclass
class LexicalModel:
    """Vocabulary, IDF weights and one logistic regression per label."""

    terms: list[str]
    idf: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray

    @classmethod
    def fit(cls, texts: list[str], targets: np.ndarray, *, seed: int = 0) -> LexicalModel:
        """Fit on ``texts`` and their 0/1 ``targets`` (examples × labels).

        A label that is always or never present gets an infinite intercept,
        so its probability is exactly 1 or 0. Weights are rounded to float32,
        the precision they are saved in (half the file; probabilities move by
        about 1e-7 from scikit-learn's).
        """
        from sklearn.linear_model import LogisticRegression

        vectorizer = tfidf_vectorizer()
        features = vectorizer.fit_transform(texts)
        terms = [""] * len(vectorizer.vocabulary_)
        for term, column in vectorizer.vocabulary_.items():
            terms[column] = term
        n_labels = targets.shape[1]
        coef = np.zeros((n_labels, len(terms)))
        intercept = np.zeros(n_labels)
        for j in range(n_labels):
            column = targets[:, j]
            if column.min() == column.max():
                intercept[j] = np.inf if column.max() else -np.inf
                continue
            model = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
            model.fit(features, column)
            coef[j], intercept[j] = model.coef_[0], model.intercept_[0]
        # Kept at the float32 precision they are saved in, so a reloaded model
        # gives exactly the probabilities its dev figures were computed from.
        return cls(terms, _as_saved(vectorizer.idf_), _as_saved(coef), _as_saved(intercept))

    @cached_property
    def _counter(self) -> CountVectorizer:
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(ngram_range=NGRAM_RANGE, vocabulary={t: i for i, t in enumerate(self.terms)})

    def features(self, texts: list[str]):
        """TF-IDF rows of ``texts`` as a sparse matrix (what ``TfidfVectorizer`` gives)."""
        from sklearn.preprocessing import normalize

        counts = self._counter.transform(texts).astype(np.float64)
        counts.data = np.log(counts.data) + 1.0
        return normalize(counts.multiply(self.idf).tocsr())

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Label probabilities, shape ``(len(texts), labels)``."""
        from scipy.special import expit

        if not texts:
            return np.zeros((0, len(self.intercept)))
        return expit(self.features(texts) @ self.coef.T + self.intercept)

    def blend(self, model_probs: np.ndarray, texts: list[str], weight: float) -> np.ndarray:
        """``model_probs`` of ``texts`` with this model's averaged in at ``weight`` (see :func:`blend`)."""
        return blend(model_probs, self.probabilities(texts), weight)

    def save(self, folder: Path) -> None:
        """Write :data:`VOCABULARY_FILE` and :data:`ARRAYS_FILE` into ``folder``."""
        folder = Path(folder)
        (folder / VOCABULARY_FILE).write_text(
            json.dumps({"ngram_range": list(NGRAM_RANGE), "terms": self.terms}, ensure_ascii=False), encoding="utf-8"
        )
        save_file(
            {
                "idf": self.idf.astype(np.float32),
                "coef": self.coef.astype(np.float32),
                "intercept": self.intercept.astype(np.float32),
            },
            str(folder / ARRAYS_FILE),
        )

    @classmethod
    def load(cls, folder: Path) -> LexicalModel:
        """Read what :meth:`save` wrote, checking that the parts fit together."""
        folder = Path(folder)
        for name in (VOCABULARY_FILE, ARRAYS_FILE):
            if not (folder / name).is_file():
                raise DataError(
                    Problem(
                        str(folder / name),
                        None,
                        "missing: the model averages in a TF-IDF model",
                        "copy the whole model folder or retrain",
                    )
                )
        vocabulary = json.loads((folder / VOCABULARY_FILE).read_text(encoding="utf-8"))
        if tuple(vocabulary["ngram_range"]) != NGRAM_RANGE:
            raise DataError(
                Problem(
                    str(folder / VOCABULARY_FILE),
                    None,
                    f"word n-grams {vocabulary['ngram_range']}, this framelab reads {list(NGRAM_RANGE)}",
                    "retrain the model",
                )
            )
        terms = vocabulary["terms"]
        arrays = {k: v.astype(np.float64) for k, v in load_file(str(folder / ARRAYS_FILE)).items()}
        if arrays["idf"].shape != (len(terms),) or arrays["coef"].shape != (len(arrays["intercept"]), len(terms)):
            raise DataError(
                Problem(
                    str(folder / ARRAYS_FILE),
                    None,
                    "its arrays do not match the vocabulary in lexical.json",
                    "retrain the model",
                )
            )
        return cls(terms, arrays["idf"], arrays["coef"], arrays["intercept"])


def blend(model_probs: np.ndarray, lexical_probs: np.ndarray, weight: float) -> np.ndarray:
    """``(1 − weight) · model + weight · lexical``: the probabilities a blended model reports."""
    return (1.0 - weight) * model_probs + weight * lexical_probs
