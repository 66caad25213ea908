"""framelab: framing, persuasion-technique and stance classifiers for news.

``framelab.load(folder).score(texts)`` scores from Python (:mod:`framelab.api`); the ``framelab``
command (:mod:`framelab.cli`) builds datasets, trains, evaluates and scores.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from framelab.api import Model

__version__ = "0.1.0"

__all__ = ["Model", "__version__", "load"]


def load(*model_dirs: str | Path, batch_size: int = 64, device: str | torch.device | None = None) -> Model:
    """Load one or more model (or ensemble) folders for scoring: a :class:`framelab.api.Model`.

    ``model.score(items)`` scores texts, :class:`~framelab.types.Article` objects, mappings with
    ``text`` (and optional ``id``, ``title``, ``target``) or a pandas DataFrame of such columns,
    and returns a list of scored articles whose ``to_pandas()`` makes a table;
    ``model.iter_score(items)`` yields them one at a time. ``batch_size`` texts go through a model
    at once; ``device`` is where the models run (default: a GPU when there is one).

    Raises :class:`~framelab.errors.DataError` (or ``ValueError``) for a folder that is missing or
    not a model framelab can score.
    """
    if not model_dirs:
        raise ValueError("framelab.load needs at least one model folder")
    # The scoring stack (torch, transformers) loads here, not on every import of a framelab module.
    api = importlib.import_module("framelab.api")
    return api.Model(list(model_dirs), batch_size=batch_size, device=device)


def __getattr__(name: str) -> Any:
    """``framelab.Model``, imported on first use like :func:`load`."""
    if name == "Model":
        return importlib.import_module("framelab.api").Model
    raise AttributeError(f"module 'framelab' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The module's names and ``Model``, so that ``help(framelab)`` documents it."""
    return sorted({*globals(), *__all__})
