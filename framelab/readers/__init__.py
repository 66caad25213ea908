"""Corpus readers: PTC v2, SemEval-2023 Task 3, stance corpora, Label Studio exports and the project's JSONL format.

Every reader takes the corpus path and keyword arguments ``log`` (a
:class:`~framelab.errors.ProblemLog` that collects every defect; the caller
calls ``log.raise_if_any()``), ``labels`` (allowed technique names),
``label_map`` (corpus name → project name; ``""``/``None`` drops the span)
and ``frames`` (allowed frame names).  Articles come back sorted by id with
sorted spans; offsets index ``Article.text`` exactly as the file stores it.
See :mod:`framelab.readers.common` for the shared rules and each module for
its format.
"""

from __future__ import annotations

from pathlib import Path

from framelab.errors import ConfigError, ProblemLog
from framelab.readers.common import check_label, read_label_list
from framelab.readers.jsonl import read_jsonl, write_jsonl
from framelab.readers.labelstudio import read_labelstudio
from framelab.readers.ptc import read_ptc
from framelab.readers.semeval2023 import read_semeval2023
from framelab.readers.stance import read_fnc1, read_semeval2016
from framelab.types import Article

READERS = {
    "ptc": read_ptc,
    "semeval2023": read_semeval2023,
    "jsonl": read_jsonl,
    "semeval2016": read_semeval2016,
    "fnc1": read_fnc1,
    "labelstudio": read_labelstudio,
}

__all__ = [
    "READERS",
    "check_label",
    "read_corpus",
    "read_fnc1",
    "read_jsonl",
    "read_labelstudio",
    "read_label_list",
    "read_ptc",
    "read_semeval2016",
    "read_semeval2023",
    "write_jsonl",
]


def read_corpus(
    fmt: str,
    path: Path,
    *,
    log: ProblemLog,
    labels: list[str] | None = None,
    label_map: dict[str, str] | None = None,
    frames: list[str] | None = None,
) -> list[Article]:
    """Read the corpus at ``path`` in format ``fmt`` (a key of :data:`READERS`)."""
    try:
        reader = READERS[fmt]
    except KeyError:
        raise ConfigError(f"unknown corpus format {fmt!r}; use one of: {', '.join(READERS)}") from None
    return reader(Path(path), log=log, labels=labels, label_map=label_map, frames=frames)
