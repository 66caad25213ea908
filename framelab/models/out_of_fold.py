"""The out-of-fold predictions a k-fold run leaves in its model folder.

``framelab train --folds K`` writes them, and ``framelab ensemble`` of such
members their weighted mean (:func:`out_of_fold_bytes`, the one writer);
threshold rules, TF-IDF weights and ensembles are then measured on every
training article without training again (:func:`load_out_of_fold`, the one
reader). Every example's probabilities come from the fold model that never
saw its article.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save

from framelab.errors import DataError, Problem

OUT_OF_FOLD_FILE = "out_of_fold.safetensors"


@dataclass
class OutOfFold:
    """Out-of-fold predictions on the train and dev examples of a k-fold run (rows: ``ids``; columns: ``labels``)."""

    ids: list[str]
    labels: list[str]
    #: Each example's fold, ``0..K-1``.
    folds: np.ndarray
    #: Gold 0/1 decisions.
    targets: np.ndarray
    #: The probabilities the saved thresholds were tuned on (the TF-IDF model blended in when the run blends).
    probabilities: np.ndarray
    #: The fine-tuned model's own probabilities when the run blends a TF-IDF model in; else ``None``.
    fine_tuned: np.ndarray | None = None
    #: Each unit's ``(start, end)`` in its article, where a finer member's units must be found inside an
    #: ensemble's (unit-level models, span taggers); else ``None``.
    offsets: np.ndarray | None = None
    #: Each example's group, the unit a bootstrap resamples and the folds never split: its article for
    #: ``frames_attention``, its story for ``fnc1``; ``None`` in files of runs that did not save it (the
    #: article of an id ``<article>#<unit>`` is the part before the ``#``).
    groups: list[str] | None = None
    #: Each example's probabilities (as ``probabilities``: blended when the run blends) from the model whose
    #: inner fold holds it, the predictions its epoch count and thresholds were chosen on: example ``i``
    #: of fold ``f`` was predicted by the model of outer fold ``f - 1`` round
    #: (:func:`framelab.train.folds.inner_fold`). An ensemble tunes its thresholds for fold ``k`` on these,
    #: never on predictions of a model that saw fold ``k``. ``None`` when no inner fold was held out
    #: (nothing to choose) and in files of runs that did not save them.
    inner: np.ndarray | None = None


def out_of_fold_bytes(oof: OutOfFold) -> bytes:
    """``oof`` as the bytes of :data:`OUT_OF_FOLD_FILE` (ids and labels in its metadata)."""
    tensors = {
        "folds": oof.folds.astype(np.int64),
        "targets": oof.targets.astype(np.int8),
        "probabilities": oof.probabilities.astype(np.float32),
    }
    if oof.fine_tuned is not None:
        tensors["fine_tuned"] = oof.fine_tuned.astype(np.float32)
    if oof.offsets is not None:
        tensors["offsets"] = oof.offsets.astype(np.int64)
    if oof.inner is not None:
        tensors["inner"] = oof.inner.astype(np.float32)
    metadata = {"ids": json.dumps(oof.ids, ensure_ascii=False), "labels": json.dumps(oof.labels, ensure_ascii=False)}
    if oof.groups is not None:
        metadata["groups"] = json.dumps(oof.groups, ensure_ascii=False)
    # C order: safetensors saves an array's memory as it lies; a column selection (a[:, cols]) is Fortran-ordered.
    return save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=metadata)


def load_out_of_fold(model_dir: str | Path) -> OutOfFold:
    """The out-of-fold predictions saved in ``model_dir`` by a k-fold run."""
    path = Path(model_dir) / OUT_OF_FOLD_FILE
    if not path.is_file():
        raise DataError(
            Problem(
                str(path),
                None,
                "missing: the model was not trained with --folds",
                "train it with `framelab train --folds K`",
            )
        )
    with safe_open(str(path), framework="numpy") as f:
        metadata = f.metadata()
    arrays = load_file(str(path))
    return OutOfFold(
        ids=json.loads(metadata["ids"]),
        labels=json.loads(metadata["labels"]),
        folds=arrays["folds"],
        targets=arrays["targets"].astype(np.int64),
        probabilities=arrays["probabilities"].astype(np.float64),
        fine_tuned=arrays["fine_tuned"].astype(np.float64) if "fine_tuned" in arrays else None,
        offsets=arrays.get("offsets"),
        groups=json.loads(metadata["groups"]) if "groups" in metadata else None,
        inner=arrays["inner"].astype(np.float64) if "inner" in arrays else None,
    )
