"""framelab: framing, persuasion-technique and stance classifiers for news.

``framelab.load(folder).score(texts)`` scores from Python (:mod:`framelab.api`).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "load"]


def __getattr__(name: str) -> Any:
    # The scoring stack (torch, transformers) loads on first use of framelab.load,
    # not on every import of a framelab module.
    if name == "load":
        return importlib.import_module("framelab.api").load
    raise AttributeError(f"module 'framelab' has no attribute {name!r}")
