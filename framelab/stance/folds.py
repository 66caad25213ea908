"""k folds of FNC-1 pairs by story, for ``train.folds`` (:mod:`framelab.stance.train`).

A story is a connected component of the bipartite headline–body graph over the
related pairs (:func:`framelab.readers.stance.fnc1_stories`). Whole stories are
dealt to the folds, so no headline and no body of a fold's pairs is in another
fold's; the unrelated pairs that would join two folds are dropped and counted.

On the official FNC-1 training file no giant component forms: its 49,972
pairs make 191 stories, every headline and body has a related pair, and the
largest story names 2,506 pairs (1,278 related; 5% of all pairs), a quarter
of a fold at 5 folds. So stories are dealt whole and no fallback cuts
one; a story larger than a fold's share is logged, and the folds' sizes are
reported. The price is in unrelated pairs, which FNC-1 drew at random across
stories: 5 folds (seed 42) deal 9,994-9,995 pairs to each fold and keep 20,402
(discuss 8,909, unrelated 6,975, agree 3,678, disagree 840), dropping 29,570
unrelated pairs, so the kept pairs are 34% unrelated against the file's 73%
(the FNC-1 relative score weighs them less than on the official test set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from framelab.readers.stance import Stories, place_headlines
from framelab.stance.data import PairSplit, stories_of
from framelab.train.folds import assign_group_folds


@dataclass
class StoryFolds:
    """k folds of pairs by story: no headline or body of a fold's kept pairs is in another fold's kept pairs."""

    stories: Stories
    #: Each pair's fold (its body's).
    folds: np.ndarray
    #: Whether the pair is kept: False for an unrelated pair whose headline's story is in another fold.
    kept: np.ndarray
    #: Each pair's story (its body's), the group a bootstrap over stories resamples.
    groups: list[str]

    def summary(self) -> dict:
        """How the groups were made, and what they cost, for ``dev_metrics.json`` and the model card."""
        sizes = self.stories.sizes()
        return {
            "how": "stories: connected components of the headline-body graph over the related pairs "
            "(agree, disagree, discuss), dealt whole to the folds, largest first, each to the fold with the fewest "
            "pairs; a headline with no related pair goes to the fold of most of its bodies; an unrelated pair whose "
            "headline and body fall in different folds is dropped",
            "stories": len(sizes),
            "largest_story_pairs": max(sizes.values(), default=0),
            "pairs": len(self.kept),
            "pairs_kept": int(self.kept.sum()),
            "unrelated_pairs_dropped": int((~self.kept).sum()),
            "pairs_per_fold": [int((self.kept & (self.folds == k)).sum()) for k in range(int(self.folds.max()) + 1)],
        }


def story_folds(data: PairSplit, k: int, seed: int) -> StoryFolds:
    """Deal the stories of ``data`` into ``k`` folds balanced by pair count (``seed`` breaks ties); mark the kept."""
    stories = stories_of(data)
    groups = stories.body_story_names()
    folds = assign_group_folds(groups, k, seed)
    return StoryFolds(stories, folds, place_headlines(stories, folds) == folds, groups)
