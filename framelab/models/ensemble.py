"""Averaging technique models trained on different units: a line model, a sentence model, a span tagger.

A paragraph-level (line) model sees the whole paragraph; a sentence model sees
finer units and pins a technique to the sentence that carries it; a span
tagger (``train.task: spans``) learns from the annotated character spans
themselves. Their errors differ, so the average of their probabilities scores
lines better than any one of them (docs/benchmarks.md, SemEval-2023). An
ensemble folder, built by
:func:`framelab.train.ensemble.build_ensemble` (``framelab ensemble``), works
wherever a model folder does (``framelab score``, ``framelab eval``)::

    ensemble.json        unit, labels, the global threshold, members and weights
    members/<name>/      a full copy of each member model folder
    dev_metrics.json     dev figures: each member, the ensemble at 0.5, at the
                         tuned threshold and cross-fitted over halves of the dev articles
    README.md, LICENSE.md  model card (Hub metadata) and the licence it links

On a unit of the ensemble's kind, a member of that kind gives its
probabilities directly; a member of a finer kind (sentences inside a line)
gives, per label, the highest probability over the units it cuts from that
unit. Sentences never cross lines (:mod:`framelab.units`), so a line's
sentences are the article's sentences on that line. A span tagger's
probability of a technique in a unit is its highest token probability (B or
I) there (:meth:`framelab.models.predictor.Predictor.probabilities`). The ensemble's
probabilities are the weighted mean over members, and one global threshold,
tuned on the dev split for micro-F1, decides.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from framelab.errors import DataError, Problem
from framelab.models.folder import ModelMeta, check_labels, read_meta
from framelab.models.predictor import Predictor
from framelab.tasks import get_task
from framelab.thresholds import decisions_at
from framelab.types import Article, Unit
from framelab.unit_pool import split_many

ENSEMBLE_FILE = "ensemble.json"
MEMBERS_DIR = "members"


def _unit_probabilities(
    member: Predictor, texts: list[str], unit: str, labels: list[str], pieces: list[list[Unit]] | None
) -> np.ndarray:
    """One member's share of :func:`member_probabilities`; ``pieces`` are the units of its kind in each text
    when that kind is finer than ``unit``."""
    columns = [member.meta.labels.index(name) for name in labels]
    if member.meta.unit == unit:
        return member.probabilities(texts)[:, columns]
    flat = [u.text for units in pieces for u in units]
    probs = member.probabilities(flat)[:, columns] if flat else np.zeros((0, len(labels)))
    out = np.zeros((len(texts), len(labels)))
    cursor = 0
    for row, units in enumerate(pieces):
        if units:
            out[row] = probs[cursor : cursor + len(units)].max(axis=0)
        cursor += len(units)
    return out


def member_probabilities(
    members: list[Predictor], texts: list[str], unit: str, labels: list[str], *, split_workers: int | None = None
) -> list[np.ndarray]:
    """Each member's probabilities of ``labels`` for each text, a unit of kind ``unit``.

    A member of a finer unit kind scores the units of its kind in each text,
    cut once for all the members of that kind (in ``split_workers`` processes,
    :func:`framelab.unit_pool.split_many`); each text gets the per-label
    maximum over them (0 where it has none).
    """
    articles = [Article(str(i), text) for i, text in enumerate(texts)]
    cuts = {
        kind: split_many(articles, kind, workers=split_workers)
        for kind in sorted({m.meta.unit for m in members} - {unit})
    }
    return [_unit_probabilities(m, texts, unit, labels, cuts.get(m.meta.unit)) for m in members]


def weighted_mean(weights: np.ndarray, member_probs: list[np.ndarray]) -> np.ndarray:
    """The ensemble's probabilities: ``member_probs`` (one array per member, same shape) averaged with ``weights``."""
    return np.tensordot(np.asarray(weights, dtype=np.float64), np.stack(member_probs), axes=1)


class EnsemblePredictor:
    """An ensemble folder ready to score texts; the interface of :class:`framelab.models.predictor.Predictor`.

    ``split_workers`` processes cut units for members of a finer unit kind
    (default: one per usable CPU; 1: none).
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        batch_size: int = 64,
        quantize: str | None = None,
        device=None,
        split_workers: int | None = None,
    ):
        self.model_dir = Path(model_dir)
        self.split_workers = split_workers
        spec = read_spec(self.model_dir)
        self.members = [
            Predictor(self.model_dir / m["folder"], batch_size=batch_size, quantize=quantize, device=device)
            for m in spec["members"]
        ]
        for folder, member in zip(spec["members"], self.members):
            missing = [name for name in spec["labels"] if name not in member.meta.labels]
            if missing:
                raise DataError(
                    Problem(
                        str(self.model_dir / ENSEMBLE_FILE),
                        None,
                        f"labels {', '.join(missing)} are not labels of member {folder['folder']}",
                        "copy the whole ensemble folder again or rebuild it with `framelab ensemble`",
                    )
                )
        self.weights = np.array([m["weight"] for m in spec["members"]], dtype=np.float64)
        first = self.members[0].meta
        self.meta = ModelMeta(
            task=spec["task"],
            unit=spec["unit"],
            labels=spec["labels"],
            thresholds=spec["thresholds"],
            max_length=max(m.meta.max_length for m in self.members),
            stride=first.stride,
            pooling=first.pooling,
            base_model=" + ".join(m.meta.base_model for m in self.members),
            framelab_version=spec["framelab_version"],
            extra={"ensemble": spec["members"]},
        )
        self.task = get_task(spec["task"])

    @property
    def name(self) -> str:
        """The ensemble folder's name, used to key its predictions."""
        return self.model_dir.name

    def probabilities(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """Weighted mean of the members' probabilities, shape ``(len(texts), len(labels))``."""
        if pairs is not None:
            raise ValueError("an ensemble of technique models takes no text pairs")
        return weighted_mean(
            self.weights,
            member_probabilities(
                self.members, texts, self.meta.unit, self.meta.labels, split_workers=self.split_workers
            ),
        )

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """0/1 decisions at the ensemble's threshold."""
        return decisions_at(probs, self.meta.thresholds)


_SPEC_KEYS = ("task", "unit", "labels", "thresholds", "members", "framelab_version")


def read_spec(model_dir: Path) -> dict:
    """Load ``ensemble.json`` and check that it is complete and every member folder is there."""
    path = Path(model_dir) / ENSEMBLE_FILE
    rebuild = "rebuild it with `framelab ensemble`"
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(Problem(str(path), exc.lineno, f"unreadable ensemble file: {exc.msg}", rebuild)) from exc
    if not isinstance(spec, dict) or not isinstance(spec.get("members", []), list):
        raise DataError(Problem(str(path), None, "must be an object whose members are a list", rebuild))
    if not all(isinstance(m, dict) for m in spec.get("members", [])):
        raise DataError(Problem(str(path), None, "each of its members must be an object", rebuild))
    missing = [key for key in _SPEC_KEYS if key not in spec] + [
        f"members[{i}].{key}"
        for i, m in enumerate(spec.get("members", []))
        for key in ("folder", "weight")
        if key not in m
    ]
    if missing:
        raise DataError(Problem(str(path), None, f"lacks {', '.join(missing)}", rebuild))
    if not spec["members"]:
        raise DataError(Problem(str(path), None, "members is empty", rebuild))
    check_labels(path, spec["labels"], spec["thresholds"], needs_thresholds=True)
    for i, member in enumerate(spec["members"]):
        weight = member["weight"]
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight < math.inf:
            raise DataError(
                Problem(str(path), None, f"members[{i}].weight is {weight!r}: a finite number >= 0", rebuild)
            )
    for member in spec["members"]:
        if not (Path(model_dir) / member["folder"]).is_dir():
            raise DataError(
                Problem(
                    str(path),
                    None,
                    f"member folder {member['folder']} is missing",
                    "copy the whole ensemble folder or rebuild it",
                )
            )
    return spec


def load_model(
    model_dir: str | Path,
    *,
    batch_size: int = 64,
    quantize: str | None = None,
    device=None,
    split_workers: int | None = None,
) -> Predictor | EnsemblePredictor:
    """A model folder or an ensemble folder, whichever ``model_dir`` holds (``split_workers`` serves ensembles only)."""
    if (Path(model_dir) / ENSEMBLE_FILE).is_file():
        return EnsemblePredictor(
            model_dir, batch_size=batch_size, quantize=quantize, device=device, split_workers=split_workers
        )
    predictor = get_task(read_meta(Path(model_dir)).task).predictor or Predictor
    return predictor(model_dir, batch_size=batch_size, quantize=quantize, device=device)
