"""FNC-1 pairs out of a dataset folder: each body once (with its sentences), each pair naming its body.

``framelab data`` with ``data.format: fnc1`` writes the bodies as articles
(their sentences as units) and the pairs in ``pairs/`` (:mod:`framelab.dataset`),
split by story (:mod:`framelab.readers.stance`). A split's stories are computed
from its own pairs when it loads (:func:`stories_of`): a split drawn by story
holds whole stories, so they are the corpus's, named alike, and the folds of a
k-fold run find the same ones over the train and dev pairs together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framelab.readers.stance import Stories, fnc1_stories
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


def stories_of(data: PairSplit) -> Stories:
    """The FNC-1 stories of the pairs of ``data``: connected components over its related (labelled) pairs."""
    related = [s not in (None, "unrelated") for s in data.stances]
    return fnc1_stories(data.headlines, [data.body_ids[b] for b in data.body_of], related)


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


def pool(first: PairSplit, second: PairSplit) -> PairSplit:
    """The pairs and bodies of both splits, in order (the bodies of a dataset's splits never overlap)."""
    return PairSplit(
        first.pair_ids + second.pair_ids,
        first.headlines + second.headlines,
        np.concatenate([first.body_of, second.body_of + len(first.body_ids)]),
        first.stances + second.stances,
        first.body_ids + second.body_ids,
        first.body_texts + second.body_texts,
        first.body_sentences + second.body_sentences,
    )


def load_pooled(dataset_dir: Path) -> PairSplit:
    """The pairs of the train split and, when the dataset has one, the dev split (a k-fold run deals them anew).

    A dataset built with ``data.dev_fraction: 0`` has no dev split and, so, drops
    no pair at the split: every pair of the corpus reaches the folds.
    """
    dataset_dir = Path(dataset_dir)
    marker = dataset_dir / "pairs" / "dataset_dict.json"
    splits = json.loads(marker.read_text(encoding="utf-8"))["splits"] if marker.is_file() else ["train"]
    train = load_pairs(dataset_dir, "train")
    return pool(train, load_pairs(dataset_dir, "dev")) if "dev" in splits else train


def load_pair_split(dataset_dir: Path, split: str, labels: list[str] | None = None) -> tuple[TaskData, list[str]]:
    """The task's examples: body texts (one shared string per body) with the headlines as ``pairs``; ids
    ``<Body ID>#<row>``; each pair's story as its group (the bootstrap resamples stories, as the folds deal them)."""
    names = labels or label_inventory(dataset_dir)["stances"]
    data = load_pairs(Path(dataset_dir), split)
    texts = [data.body_texts[b] for b in data.body_of]
    stories = stories_of(data).body_story_names()
    return TaskData(data.pair_ids, texts, targets_of(data.stances, names), data.headlines, stories, "stories"), names
