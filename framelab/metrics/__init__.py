"""Local evaluate modules for framelab's tasks, loadable without network access.

Each metric lives in ``framelab/metrics/<name>/<name>.py`` as a self-contained
evaluate module (evaluate copies the script into its cache, so the scripts do
not import framelab):

* ``multilabel_prf`` - micro/macro/per-label/"any label" P, R, F1 over 0/1 rows.
* ``span_f1`` - SemEval-2020 Task 11 partial-credit span P, R, F1.
* ``technique_f1`` - SemEval-2020 Task 11 technique classification micro P/R/F1 over given spans.
* ``stance_scores`` - accuracy, macro-F1, SemEval-2016 F_avg, FNC-1 score.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import evaluate

METRIC_NAMES: tuple[str, ...] = ("multilabel_prf", "span_f1", "stance_scores", "technique_f1")

_HERE = Path(__file__).resolve().parent


def metric_path(name: str) -> Path:
    """Return the folder of the local evaluate module called ``name``.

    Raises:
        ValueError: ``name`` is not one of :data:`METRIC_NAMES`.
    """
    if name not in METRIC_NAMES:
        # Checked here because evaluate would otherwise treat an unknown name as a Hub id.
        raise ValueError(f"unknown metric {name!r}; choose one of {', '.join(METRIC_NAMES)}")
    return _HERE / name


def load_metric(name: str, **kwargs) -> evaluate.EvaluationModule:
    """Load one of framelab's local evaluate modules by name, offline.

    Args:
        name: one of :data:`METRIC_NAMES`.
        **kwargs: passed on to ``evaluate.load`` (e.g. ``experiment_id`` when
            several processes compute the same metric at once).

    Returns:
        A fresh module; call ``.compute(predictions=..., references=...)`` on it.
    """
    path = metric_path(name)
    # evaluate reads HF_EVALUATE_OFFLINE once, when it is first imported, so the
    # variable is set before the (deliberately lazy) import; setdefault leaves a
    # user's own choice alone. Loading a folder never needs the network anyway.
    os.environ.setdefault("HF_EVALUATE_OFFLINE", "1")
    import evaluate

    return evaluate.load(str(path), **kwargs)
