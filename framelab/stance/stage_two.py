"""What training and scoring share of stage 2's options: its seed ensemble, and refuting and negation cues joined to
its output by a late-fusion logistic regression.

A seed ensemble (``train.stage_two_seeds``) averages its members' probabilities (:func:`mean_logits`); the members
past the first are saved in ``stage-two-seed-<i>/`` of the model folder (:func:`member_folder`).

The 2017 FNC-1 systems counted refuting words (hoax, deny, fake, ...) and
negations in the headline and the body; disagree is where they help. The
lists below are this project's own. :func:`cue_counts` gives, per pair, how
many words of each list the headline and the sentences stage 2 read hold.

Why late fusion rather than cue features fed into the cross-encoder's head:
the stage-2 folder stays a stock ``AutoModelForSequenceClassification`` (its
``config.json`` loads as before, a seed ensemble averages plain members), and
the fusion is fitted on held-out predictions only. :class:`Fusion` is a
multinomial logistic regression over stage 2's log-probabilities, the cue
counts (log(1 + count)) and stage 1's similarity features
(:data:`framelab.stance.features.FEATURES`), standardised, each pair weighted
by its class's weight (``train.stage_two_class_weight_power``). In k-fold
training each fold's fusion is fitted on its inner fold (stage 2 trained
without it), and the saved model's on every out-of-fold prediction of the
folds' stage 2 (stacking). It is stored as JSON (``stage_two_fusion.json``)
with the word lists it was fitted with, which scoring reads back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framelab.stance.data import RELATED
from framelab.stance.features import FEATURES

#: Words that call a claim false or retract it.
REFUTING = (
    "bogus", "debunk", "debunked", "debunks", "deny", "denied", "denies", "denial", "despite", "dismiss",
    "dismissed", "dismisses", "doubt", "doubts", "doubtful", "fabricated", "fake", "faked", "false", "falsely",
    "fraud", "hoax", "hoaxes", "misleading", "myth", "nope", "prank", "pranks", "refute", "refuted", "refutes",
    "reject", "rejected", "rejects", "retract", "retracted", "retraction", "retracts", "rumor", "rumors",
    "rumour", "rumours", "satire", "scam", "spoof", "unconfirmed", "unfounded", "untrue", "unverified", "wrong",
)  # fmt: skip
#: Negations; any word ending in n't counts too.
NEGATION = (
    "cannot", "neither", "never", "no", "nobody", "none", "nor", "not", "nothing", "nowhere", "without",
)  # fmt: skip
CUE_FEATURES = ("refuting_headline", "refuting_evidence", "negation_headline", "negation_evidence")
FUSION_FILE = "stage_two_fusion.json"
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def member_folder(model_dir: Path, member: int) -> Path:
    """Where member ``member`` (from 1) of a stage-2 seed ensemble is kept; member 0 is the folder's own model."""
    return Path(model_dir) / f"stage-two-seed-{member}"


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-probabilities of ``logits``."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def mean_logits(members: list[np.ndarray]) -> np.ndarray:
    """Stage 2 of a seed ensemble: the log of its members' mean probabilities (one member: its logits as they are)."""
    if len(members) == 1:
        return members[0]
    return np.log(np.mean([np.exp(log_softmax(m)) for m in members], axis=0))


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def count_cues(text: str, refuting: frozenset[str], negation: frozenset[str]) -> tuple[int, int]:
    """How many words of ``text`` are refuting and how many are negations (a word ending in n't is one)."""
    words = _words(text)
    return sum(w in refuting for w in words), sum(w in negation or w.endswith("n't") for w in words)


def cue_counts(
    headlines: list[str],
    evidence: list[str],
    refuting: tuple[str, ...] = REFUTING,
    negation: tuple[str, ...] = NEGATION,
) -> np.ndarray:
    """Per pair, the :data:`CUE_FEATURES` counts of its headline and of the body sentences stage 2 read."""
    ref, neg = frozenset(refuting), frozenset(negation)
    out = np.zeros((len(headlines), len(CUE_FEATURES)))
    for i, (h, e) in enumerate(zip(headlines, evidence)):
        (out[i, 0], out[i, 2]), (out[i, 1], out[i, 3]) = count_cues(h, ref, neg), count_cues(e, ref, neg)
    return out


@dataclass
class Fusion:
    """The late-fusion logistic regression: stage-2 log-probabilities, cues and stage-1 features in, new
    log-probabilities over :data:`RELATED` out."""

    mean: np.ndarray
    scale: np.ndarray
    #: One row per class of ``classes`` (those present when it was fitted).
    coef: np.ndarray
    intercept: np.ndarray
    #: Indices into :data:`RELATED` of the classes it was fitted on; the others get no probability.
    classes: list[int]
    refuting: tuple[str, ...] = REFUTING
    negation: tuple[str, ...] = NEGATION

    def inputs(self, logits: np.ndarray, headlines: list[str], evidence: list[str], stage_one: np.ndarray):
        """The fusion's feature rows: stage 2's log-probabilities (from its ``logits``), the cue counts (log1p) and
        stage 1's features."""
        cues = np.log1p(cue_counts(headlines, evidence, self.refuting, self.negation))
        return np.hstack([log_softmax(logits), cues, np.asarray(stage_one, dtype=np.float64)])

    @classmethod
    def fit(
        cls,
        logits: np.ndarray,
        headlines: list[str],
        evidence: list[str],
        stage_one: np.ndarray,
        labels: np.ndarray,
        weights: np.ndarray,
        *,
        seed: int = 0,
    ) -> Fusion:
        """Fitted on held-out pairs: their stage-2 ``logits``, texts, stage-1 features, gold ``labels``
        (indices into :data:`RELATED`) and each class's weight (``weights``)."""
        from sklearn.linear_model import LogisticRegression

        blank = cls(np.zeros(0), np.ones(0), np.zeros((0, 0)), np.zeros(0), [])
        x = blank.inputs(logits, headlines, evidence, stage_one)
        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        classes = sorted(set(np.asarray(labels).tolist()))
        if len(classes) < 2:
            return cls(mean, scale, np.zeros((len(classes), x.shape[1])), np.zeros(len(classes)), classes)
        model = LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
        model.fit((x - mean) / scale, labels, sample_weight=np.asarray(weights)[labels])
        coef, intercept = model.coef_.astype(np.float64), model.intercept_.astype(np.float64)
        if len(classes) == 2:  # sklearn's binary form: P(second) = sigmoid(z), i.e. logits (0, z)
            coef, intercept = np.vstack([np.zeros_like(coef[0]), coef[0]]), np.array([0.0, intercept[0]])
        return cls(mean, scale, coef, intercept, classes)

    def log_probabilities(
        self, logits: np.ndarray, headlines: list[str], evidence: list[str], stage_one: np.ndarray
    ) -> np.ndarray:
        """Fused log-probabilities over :data:`RELATED`, one row per pair (-inf for a class it never saw)."""
        out = np.full((len(headlines), len(RELATED)), -np.inf)
        if not len(headlines):
            return out
        z = ((self.inputs(logits, headlines, evidence, stage_one) - self.mean) / self.scale) @ self.coef.T
        z = z + self.intercept
        z -= z.max(axis=1, keepdims=True)
        out[:, self.classes] = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return out

    def save(self, folder: Path) -> None:
        """Write :data:`FUSION_FILE` into ``folder``."""
        record = {
            "inputs": [f"stage_two_log_probability_{n}" for n in RELATED] + list(CUE_FEATURES) + list(FEATURES),
            "classes": [RELATED[c] for c in self.classes],
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "refuting": list(self.refuting),
            "negation": list(self.negation),
        }
        (Path(folder) / FUSION_FILE).write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Fusion:
        """Read :data:`FUSION_FILE` from ``folder``."""
        record = json.loads((Path(folder) / FUSION_FILE).read_text(encoding="utf-8"))
        return cls(
            np.asarray(record["mean"], dtype=np.float64),
            np.asarray(record["scale"], dtype=np.float64),
            np.asarray(record["coef"], dtype=np.float64).reshape(len(record["classes"]), -1),
            np.asarray(record["intercept"], dtype=np.float64),
            [RELATED.index(n) for n in record["classes"]],
            tuple(record["refuting"]),
            tuple(record["negation"]),
        )
