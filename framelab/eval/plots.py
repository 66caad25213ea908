"""PNG figures for evaluation reports (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402


def per_label_f1(path: Path, names: list[str], model_f1: list[float], baseline_f1: list[float], support: list[int]) -> None:
    """Horizontal bars of per-label F1, model beside baseline."""
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(names) + 1)))
    ax.barh(y - 0.2, model_f1, height=0.4, label="model")
    ax.barh(y + 0.2, baseline_f1, height=0.4, label="TF-IDF baseline", color="#bbbbbb")
    ax.set_yticks(y, [f"{n} ({s})" for n, s in zip(names, support)], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("F1 (support in brackets)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pr_curves(path: Path, names: list[str], probs: np.ndarray, gold: np.ndarray, top: int = 6) -> None:
    """Precision–recall curves of the ``top`` most frequent labels."""
    order = np.argsort(-gold.sum(axis=0))[:top]
    fig, ax = plt.subplots(figsize=(6, 5))
    for j in order:
        if gold[:, j].sum() == 0:
            continue
        precision, recall, _ = precision_recall_curve(gold[:, j], probs[:, j])
        ax.plot(recall, precision, label=f"{names[j]} ({int(gold[:, j].sum())})")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    ax.set_title("Precision–recall, most frequent labels")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def label_matrix(path: Path, names: list[str], gold: np.ndarray, pred: np.ndarray, title: str) -> None:
    """Counts of examples with gold label i (rows) and predicted label j (columns).

    For single-label tasks this is the confusion matrix; for multi-label tasks
    the diagonal holds true positives and the rest shows which labels are
    predicted in place of, or beside, which.
    """
    matrix = gold.T.astype(np.int64) @ pred.astype(np.int64)
    size = max(4.0, 0.4 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    if len(names) <= 25:
        for i in range(len(names)):
            for j in range(len(names)):
                if matrix[i, j]:
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
