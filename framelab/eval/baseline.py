"""The TF-IDF + logistic-regression baseline every report is measured against.

Word 1–2-grams with sublinear TF-IDF weights; one balanced logistic regression
per label (multi-label: :class:`framelab.lexical.LexicalModel`) or one
multinomial regression (single-label), decided at 0.5 / arg-max. It refits in
seconds from the dataset's train split, so it is retrained for each report.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from framelab.lexical import LexicalModel, tfidf_vectorizer


def baseline_probabilities(
    train_texts: list[str], train_targets: np.ndarray, test_texts: list[str], *, multi_label: bool, seed: int = 0
) -> np.ndarray:
    """Fit on the training texts and return label probabilities for ``test_texts``."""
    if multi_label:
        return LexicalModel.fit(train_texts, train_targets, seed=seed).probabilities(test_texts)
    vectorizer = tfidf_vectorizer()
    x_train = vectorizer.fit_transform(train_texts)
    probs = np.zeros((len(test_texts), train_targets.shape[1]))
    classes = train_targets.argmax(axis=1)
    present = np.unique(classes)
    if len(present) == 1:
        probs[:, present[0]] = 1.0
        return probs
    model = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
    model.fit(x_train, classes)
    probs[:, model.classes_] = model.predict_proba(vectorizer.transform(test_texts))
    return probs
