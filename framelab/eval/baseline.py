"""The TF-IDF + logistic-regression baseline every report is measured against.

Word 1–2-grams with sublinear TF-IDF weights; one balanced logistic regression
per label (multi-label) or one multinomial regression (single-label), decided
at 0.5 / arg-max. It refits in seconds from the dataset's train split, so it
is retrained for each report instead of being stored (which would need
pickle files).
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression


def baseline_probabilities(
    train_texts: list[str], train_targets: np.ndarray, test_texts: list[str], *, multi_label: bool, seed: int = 0
) -> np.ndarray:
    """Fit on the training texts and return label probabilities for ``test_texts``."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1, max_features=200_000)
    x_train = vectorizer.fit_transform(train_texts)
    x_test = vectorizer.transform(test_texts)
    n_labels = train_targets.shape[1]
    probs = np.zeros((len(test_texts), n_labels))
    if not multi_label:
        classes = train_targets.argmax(axis=1)
        present = np.unique(classes)
        if len(present) == 1:
            probs[:, present[0]] = 1.0
            return probs
        model = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
        model.fit(x_train, classes)
        probs[:, model.classes_] = model.predict_proba(x_test)
        return probs
    for j in range(n_labels):
        column = train_targets[:, j]
        if column.min() == column.max():
            probs[:, j] = float(column.max())
            continue
        model = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed)
        model.fit(x_train, column)
        probs[:, j] = model.predict_proba(x_test)[:, 1]
    return probs
