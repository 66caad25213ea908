"""Per-label decision thresholds tuned on the dev split.

Rule: for each label, try thresholds 0.05, 0.10, …, 0.95 on the dev
probabilities and keep the one with the highest dev F1 of that label; ties go
to the threshold nearest 0.5. A label with fewer than ``min_support`` dev
positives keeps 0.5: with one or two positives the "best" threshold is
whatever lets those few through, which floods the other units with false
positives and lowers micro-F1. Figures computed with tuned thresholds on the
same dev split are optimistic, so reports give both the 0.5 and the tuned
figures, and a held-out test split is the honest measure.
"""

from __future__ import annotations

import numpy as np

GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def tune_thresholds(probs: np.ndarray, targets: np.ndarray, min_support: int = 1) -> list[float]:
    """One threshold per label column (see module docstring)."""
    thresholds = []
    for j in range(targets.shape[1]):
        gold = targets[:, j].astype(bool)
        if gold.sum() < max(1, min_support):
            thresholds.append(0.5)
            continue
        best, best_f1 = 0.5, -1.0
        for t in sorted(GRID, key=lambda t: abs(t - 0.5)):
            pred = probs[:, j] >= t
            tp = float(np.sum(pred & gold))
            f1 = 2 * tp / (pred.sum() + gold.sum())
            if f1 > best_f1 + 1e-12:
                best, best_f1 = float(t), f1
        thresholds.append(best)
    return thresholds
