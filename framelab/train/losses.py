"""Multi-label losses that keep rare techniques from being ignored.

``pos_weight``: binary cross-entropy where each label's positives weigh
``negatives / positives`` in the training set, capped at ``max_pos_weight``
(uncapped weights for a label seen twice blow up the gradients).
``focal``: the focal loss of Lin et al. (2017), which down-weights easy
examples by ``(1 - p_t) ** gamma`` and so leaves more of the gradient to rare,
hard positives.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F


def positive_weights(targets: np.ndarray, cap: float) -> torch.Tensor:
    """``negatives / positives`` per label column of a 0/1 matrix, capped."""
    return weights_from_counts(targets.sum(axis=0), len(targets), cap)


def weights_from_counts(positives: np.ndarray, total: np.ndarray | int, cap: float) -> torch.Tensor:
    """``(total - positives) / positives`` per label, between 1 and ``cap`` (1 for a label never positive)."""
    positives = np.asarray(positives, dtype=np.float64)
    weights = np.where(positives > 0, (total - positives) / np.maximum(positives, 1), 1.0)
    return torch.tensor(np.clip(weights, 1.0, cap), dtype=torch.float32)


def multilabel_loss(kind: str, *, pos_weight: torch.Tensor | None = None, gamma: float = 2.0) -> Callable | None:
    """A ``compute_loss_func`` for the Trainer, or None for the model's own BCE."""
    if kind == "none":
        return None

    def loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        labels = labels.to(logits.dtype)
        if kind == "pos_weight":
            return F.binary_cross_entropy_with_logits(logits, labels, pos_weight=pos_weight.to(logits.device))
        bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
        p_t = torch.exp(-bce)
        return ((1 - p_t) ** gamma * bce).mean()

    return loss
