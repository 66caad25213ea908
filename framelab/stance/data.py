"""FNC-1 pairs out of a dataset folder: each body once (with its sentences), each pair naming its body.

``framelab data`` with ``data.format: fnc1`` writes the bodies as articles
(their sentences as units) and the pairs in ``pairs/`` (:mod:`framelab.dataset`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framelab.splits import TaskData, label_inventory, load_table, targets_of

#: FNC-1's labels, in the order a model folder lists them.
FNC1_LABELS = ["agree", "disagree", "discuss", "unrelated"]
#: Stage 2's labels.
RELATED = ["agree", "disagree", "discuss"]


@dataclass
class PairSplit:
    """One split: its pairs and the bodies they name (each once, cut into sentences)."""

    pair_ids: list[str]
    headlines: list[str]
    #: Index into ``body_texts`` of each pair's body.
    body_of: np.ndarray
    stances: list[str | None]
    body_ids: list[str]
    body_texts: list[str]
    body_sentences: list[list[str]]


def load_pairs(dataset_dir: Path, split: str) -> PairSplit:
    """The pairs of ``split`` with their bodies and the bodies' sentence units."""
    pairs = load_table(dataset_dir, "pairs", split)
    articles = load_table(dataset_dir, "articles", split)
    units = load_table(dataset_dir, "units", split)
    body_ids = list(articles["id"])
    index = {b: i for i, b in enumerate(body_ids)}
    sentences: list[list[str]] = [[] for _ in body_ids]
    for article_id, text in zip(units["article_id"], units["text"]):
        sentences[index[article_id]].append(text)
    body_of = np.array([index[b] for b in pairs["body_id"]], dtype=np.int64)
    pair_ids = [f"{b}#{r}" for b, r in zip(pairs["body_id"], pairs["row"])]
    return PairSplit(
        pair_ids, list(pairs["headline"]), body_of, list(pairs["stance"]), body_ids, list(articles["text"]), sentences
    )


def load_pair_split(dataset_dir: Path, split: str, labels: list[str] | None = None) -> tuple[TaskData, list[str]]:
    """The task's examples: body texts (one shared string per body) with the headlines as ``pairs``; ids ``<Body ID>#<row>``."""
    names = labels or label_inventory(dataset_dir)["stances"]
    data = load_pairs(Path(dataset_dir), split)
    texts = [data.body_texts[b] for b in data.body_of]
    return TaskData(data.pair_ids, texts, targets_of(data.stances, names), data.headlines), names
