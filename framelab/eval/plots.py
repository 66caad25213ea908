"""PNG figures for evaluation reports (matplotlib, headless; scikit-learn's displays).

matplotlib is the ``eval`` extra (``pip install 'framelab[eval]'``): scoring
never needs it, so it is imported when a figure is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from framelab.errors import ConfigError


def _pyplot():
    """matplotlib's pyplot on the headless Agg backend, or a clear error naming the extra to install."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ConfigError("framelab eval draws its plots with matplotlib: pip install 'framelab[eval]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def per_label_f1(
    path: Path, names: list[str], model_f1: list[float], baseline_f1: list[float], support: list[int]
) -> None:
    """Horizontal bars of per-label F1, model beside baseline."""
    plt = _pyplot()
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


def pr_curves(
    path: Path,
    names: list[str],
    probs: np.ndarray,
    gold: np.ndarray,
    thresholds: list[float] | None = None,
    top: int = 6,
) -> None:
    """Precision–recall steps of the ``top`` most frequent labels with their average precision, the decision
    threshold marked on each."""
    from sklearn.metrics import PrecisionRecallDisplay

    plt = _pyplot()
    order = [j for j in np.argsort(-gold.sum(axis=0))[:top] if gold[:, j].sum()]
    fig, ax = plt.subplots(figsize=(6, 5))
    for j in order:
        display = PrecisionRecallDisplay.from_predictions(
            gold[:, j],
            probs[:, j],
            ax=ax,
            name=f"{names[j]} ({int(gold[:, j].sum())})",
            curve_kwargs={"drawstyle": "steps-post"},
        )
        if thresholds is not None:
            decided = probs[:, j] >= thresholds[j]
            tp = int((decided & (gold[:, j] == 1)).sum())
            precision = tp / decided.sum() if decided.sum() else 1.0
            ax.plot(tp / gold[:, j].sum(), precision, marker="o", color=display.line_.get_color())
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    ax.set_title(
        "Precision–recall of the most frequent labels (dots: the decision threshold)"
        if thresholds is not None
        else "Precision–recall of the most frequent labels",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def label_counts(gold: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Counts of (gold label, predicted label) pairs per example, with a last "none" row and column.

    An example with gold labels G and predicted labels P adds one to every
    (g, p) in G × P, an empty G or P counting as "none": the diagonal holds
    true positives, the "none" column the missed labels and the "none" row the
    false positives on examples without any gold label. For single-label
    tasks this is the confusion matrix (with empty "none" row and column).
    """
    n = gold.shape[1]
    counts = np.zeros((n + 1, n + 1), dtype=np.int64)
    for g, p in zip(gold.astype(bool), pred.astype(bool)):
        rows = np.flatnonzero(g) if g.any() else [n]
        cols = np.flatnonzero(p) if p.any() else [n]
        for r in rows:
            counts[r, cols] += 1
    return counts


def label_matrix(path: Path, names: list[str], gold: np.ndarray, pred: np.ndarray, title: str) -> None:
    """:func:`label_counts` drawn by scikit-learn's ``ConfusionMatrixDisplay`` (cell text light on dark cells)."""
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _pyplot()
    size = max(4.0, 0.4 * len(names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    display = ConfusionMatrixDisplay(label_counts(gold, pred), display_labels=[*names, "none"])
    display.plot(
        ax=ax,
        cmap="Blues",
        colorbar=False,
        xticks_rotation="vertical",
        include_values=len(names) <= 25,
        text_kw={"fontsize": 6},
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
