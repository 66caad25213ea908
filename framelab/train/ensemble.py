"""``framelab ensemble``: average technique models on a dataset's units and tune their thresholds.

The folder it writes, and how it scores, are described in
:mod:`framelab.models.ensemble`. The thresholds follow one of the rules of
:mod:`framelab.thresholds` (default ``global``: one for every label). Where
they are tuned depends on the members:

- Members trained with ``--folds`` carry out-of-fold predictions on every
  train and dev example (:mod:`framelab.models.out_of_fold`); when all do,
  with the same folds, the thresholds are tuned on their weighted mean over
  every unit (a finer member's units, such as a sentence model's or a span
  tagger's sentences, projected onto the units that hold
  them), and ``dev_metrics.json`` reports the cross-validated
  figures: each outer fold decided at thresholds tuned on the members' weighted
  mean of their inner predictions of its inner fold
  (:attr:`framelab.models.out_of_fold.OutOfFold.inner`), made by the members'
  models of that outer fold, which never saw its labels. The weighted means
  are saved as the ensemble's own ``out_of_fold.safetensors`` (each fold's
  thresholds in ``dev_metrics.json``, ``cross_validated.per_fold_thresholds``),
  so it compares with other k-fold runs on the same folds
  (``bench/compare_folds.py``). Members saved without
  inner predictions (trained before framelab held out inner folds) fall back to
  thresholds tuned on the other folds' out-of-fold predictions, which came from
  models trained on the fold's labels; ``dev_metrics.json`` says which. Their
  saved weights saw the dev split, so it is never scored.
- Otherwise the members score the dataset's dev split and the thresholds are
  tuned there; besides the figures at those thresholds, ``dev_metrics.json``
  holds cross-fitted ones (each half of the dev articles decided at the
  thresholds tuned on the other half), because they are tuned on the split
  that reports them. Per-label rules overfit a dev split of SemEval-2023's
  size (:mod:`framelab.thresholds`); they are meant for out-of-fold members.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from framelab import __version__
from framelab.config import EnsembleConfig, check_ensemble
from framelab.errors import ConfigError, DataError, Problem
from framelab.eval.bootstrap import MIN_GROUPS, few_groups_warning
from framelab.eval.scores import multilabel_scores
from framelab.figures import shown
from framelab.models import stock
from framelab.models.card import (
    HUB_ID,
    LICENSE_FILE,
    Provenance,
    hub_metadata,
    license_text,
    metrics_table,
    provenance_sections,
)
from framelab.models.ensemble import ENSEMBLE_FILE, MEMBERS_DIR, member_probabilities, weighted_mean
from framelab.models.folder import atomic_folder
from framelab.models.out_of_fold import OUT_OF_FOLD_FILE, OutOfFold, load_out_of_fold, out_of_fold_bytes
from framelab.models.predictor import Predictor
from framelab.output import claim
from framelab.splits import TaskData, unit_offsets
from framelab.tasks import Task, get_task, task_names
from framelab.thresholds import decisions_at, tuned_thresholds
from framelab.train.folds import article_of, cross_fitted_figures, cross_validated, fold_thresholds
from framelab.units import UNIT_KINDS

log = logging.getLogger(__name__)

#: How the out-of-fold figures' thresholds are chosen: on inner folds, or (members without inner predictions)
#: on the other folds.
INNER_THRESHOLDS = (
    "each outer fold decided at thresholds tuned on the weighted mean of the members' inner predictions of its "
    "inner fold (the next fold round), made by the members' models of that outer fold, which never saw its labels"
)
OTHER_FOLDS_THRESHOLDS = (
    "each fold decided at thresholds tuned on the other folds' out-of-fold predictions, which came from models "
    "trained on that fold's labels (a member saved no inner predictions: retrain it with --folds to remove this "
    "optimism)"
)


@dataclass
class EnsembleResult:
    """Where the ensemble went and its dev figures."""

    model_dir: Path
    dev_metrics: dict


def _check_members(members: list[Predictor], unit: str) -> list[str]:
    """The ensemble's labels, the first member's; refuse members that cannot be averaged on ``unit`` units.

    A span tagger learns the techniques found in spans, which can outnumber
    those of the units' labels, so a member may know more labels than the
    first; the extra ones are not used.
    """
    names = [m.name for m in members]
    if len(set(names)) != len(names):
        raise ConfigError(f"member folders must have distinct names (they name the copies): {names}")
    labels = list(members[0].meta.labels)
    for m in members:
        if not m.task.ensemble_member:
            able = [name for name in task_names() if get_task(name).ensemble_member]
            raise ConfigError(
                f"{m.model_dir} is a {m.meta.task} model; an ensemble averages models of the tasks {', '.join(able)}"
            )
        if UNIT_KINDS.index(m.meta.unit) > UNIT_KINDS.index(unit):
            raise ConfigError(
                f"{m.model_dir} labels {m.meta.unit} units, coarser than the dataset's {unit} units: "
                f"give a dataset of {m.meta.unit} units or finer"
            )
        missing = sorted(set(labels) - set(m.meta.labels))
        if missing:
            raise ConfigError(
                f"{m.model_dir} lacks techniques of {members[0].model_dir}: {', '.join(missing)}; "
                "list first the member with the fewest labels, or train them on the same label list"
            )
    return labels


def _unit_task(members: list[Predictor]) -> Task:
    """The unit-level task among the members' (the ensemble labels units as its models do); a span tagger alone has
    none."""
    for m in members:
        if m.task.level == "unit":
            return m.task
    raise ConfigError(
        "an ensemble needs at least one model that labels units (e.g. a techniques model) besides span taggers"
    )


def _own_thresholds(member: Predictor, labels: list[str]) -> list[float]:
    """``member``'s saved thresholds in the order of ``labels``."""
    return [member.meta.thresholds[member.meta.labels.index(name)] for name in labels]


def out_of_fold_members(members: list[Predictor]) -> list[OutOfFold] | None:
    """Every member's out-of-fold predictions when all carry them; ``None`` when none does."""
    carrying = [(m.model_dir / OUT_OF_FOLD_FILE).is_file() for m in members]
    if not any(carrying):
        return None
    if not all(carrying):
        without = ", ".join(str(m.model_dir) for m, c in zip(members, carrying) if not c)
        raise ConfigError(
            f"{without}: no out-of-fold predictions, while other members were trained with --folds "
            "(their weights saw the dev split, so it cannot judge them): train every member with --folds "
            "on the same dataset and fold seed (train.fold_seed, else train.seed), or none"
        )
    return [load_out_of_fold(m.model_dir) for m in members]


def _article_folds(oof: OutOfFold) -> dict[str, int]:
    return {article_of(i): int(f) for i, f in zip(oof.ids, oof.folds)}


def _inside(oof: OutOfFold, values: np.ndarray, columns: list[int], units: list[tuple[str, int, int]]) -> np.ndarray:
    """Per unit of ``units``, each label's highest value (``values``: ``oof``'s out-of-fold or inner probabilities)
    over ``oof``'s units inside it (0 where none is)."""
    by_article: dict[str, list[int]] = {}
    for row, uid in enumerate(oof.ids):
        by_article.setdefault(article_of(uid), []).append(row)
    out = np.zeros((len(units), len(columns)))
    for i, (article, start, end) in enumerate(units):
        rows = np.array(by_article.get(article, []), dtype=np.int64)
        if len(rows):
            rows = rows[(oof.offsets[rows, 0] >= start) & (oof.offsets[rows, 1] <= end)]
        if len(rows):
            out[i] = values[np.ix_(rows, columns)].max(axis=0)
    return out


def _aligned(
    members: list[Predictor], oofs: list[OutOfFold], labels: list[str], dataset_dir: Path, unit: str
) -> tuple[OutOfFold, list[np.ndarray], list[np.ndarray] | None]:
    """The reference predictions (the first member labelling the dataset's ``unit`` units) and every member's
    out-of-fold probabilities of ``labels`` on them, and their inner ones (None unless every member saved them).

    A member of finer units (a sentence model, a span tagger's sentences)
    gives each unit, per label, its highest probability over its units inside
    it, found by article offsets, as in scoring.
    """
    at = next((i for i, m in enumerate(members) if m.task.level == "unit" and m.meta.unit == unit), None)
    if at is None:
        raise ConfigError(
            f"an out-of-fold ensemble on {unit} units needs a member trained on the dataset's {unit} units "
            "(e.g. a techniques model)"
        )
    reference, folds = oofs[at], _article_folds(oofs[at])
    units = None
    aligned, inner = [], []
    with_inner = all(oof.inner is not None for oof in oofs)
    for m, oof in zip(members, oofs):
        theirs = _article_folds(oof)
        if any(theirs.get(a, f) != f for a, f in folds.items()):
            raise ConfigError(
                f"{m.model_dir}: its folds differ from {members[at].model_dir}'s; train both with --folds "
                "on the same articles, folds and fold seed (train.fold_seed, else train.seed)"
            )
        columns = [oof.labels.index(name) for name in labels]
        if oof.ids == reference.ids:
            aligned.append(oof.probabilities[:, columns])
            inner.append(oof.inner[:, columns] if with_inner else None)
        elif oof.offsets is not None:
            units = units or unit_offsets(dataset_dir, reference.ids)
            aligned.append(_inside(oof, oof.probabilities, columns, units))
            inner.append(_inside(oof, oof.inner, columns, units) if with_inner else None)
        else:
            raise ConfigError(
                f"{m.model_dir}: its out-of-fold units differ from {members[at].model_dir}'s "
                "and carry no article offsets; "
                "train both on the same dataset, or retrain it with --folds by this framelab (which saves them)"
            )
    return reference, aligned, inner if with_inner else None


def _out_of_fold_figures(
    members: list[Predictor],
    oofs: list[OutOfFold],
    weights: np.ndarray,
    labels: list[str],
    dataset_dir: Path,
    unit: str,
    rule: str,
    min_support: int,
    step: float,
) -> tuple[list[float], dict, OutOfFold]:
    """The thresholds tuned by ``rule`` on the members' weighted out-of-fold mean, the cross-validated figures,
    and the ensemble's own out-of-fold predictions (that mean, and of the inner ones, on the reference's units).

    Each outer fold of those is decided at thresholds tuned on its inner fold (:data:`INNER_THRESHOLDS`),
    the ensemble's on the weighted mean of the members' inner predictions, each member's alone on its own.
    """
    reference, member_probs, member_inner = _aligned(members, oofs, labels, dataset_dir, unit)
    targets = reference.targets[:, [reference.labels.index(name) for name in labels]]
    data = TaskData(reference.ids, [""] * len(reference.ids), targets)
    folds = reference.folds

    def per_fold(inner: np.ndarray | None) -> list[list[float]] | None:
        if inner is None:
            return None
        return fold_thresholds(inner, targets, folds, rule=rule, min_support=min_support, step=step)

    def validated(probs: np.ndarray, at: list[list[float]] | None) -> dict:
        return cross_validated(
            probs, data, folds, labels, multi_label=True, rule=rule, min_support=min_support, step=step, thresholds=at
        )[1]

    if member_inner is None:
        log.warning("a member saved no inner predictions: %s", OTHER_FOLDS_THRESHOLDS)
    probs = weighted_mean(weights, member_probs)
    inner = weighted_mean(weights, member_inner) if member_inner is not None else None
    chosen = per_fold(inner)
    thresholds = tuned_thresholds(rule, probs, targets, min_support, step)
    ensemble = validated(probs, chosen)
    if chosen is not None:
        ensemble["per_fold_thresholds"] = [dict(zip(labels, t)) for t in chosen]
    return (
        thresholds,
        {
            "source": "out_of_fold",
            "n_examples": len(targets),
            "folds": int(folds.max()) + 1,
            "threshold_rule": rule,
            "threshold_min_support": min_support,
            "threshold_step": step,
            "thresholds_made_on": INNER_THRESHOLDS if chosen is not None else OTHER_FOLDS_THRESHOLDS,
            "members": {
                m.name: validated(p, per_fold(member_inner[i] if member_inner is not None else None))
                for i, (m, p) in enumerate(zip(members, member_probs))
            },
            "at_tuned_thresholds": multilabel_scores(decisions_at(probs, thresholds), targets, labels),
            "cross_validated": ensemble,
        },
        OutOfFold(
            reference.ids,
            labels,
            folds,
            targets,
            probs,
            offsets=reference.offsets,
            groups=reference.groups,
            inner=inner,
        ),
    )


def _dev_split_figures(
    members: list[Predictor],
    task: Task,
    dataset_dir: Path,
    unit: str,
    weights: np.ndarray,
    labels: list[str],
    rule: str,
    min_support: int,
    step: float,
) -> tuple[list[float], dict]:
    """The thresholds tuned by ``rule`` on the members' weighted mean on the dev split, and the dev figures."""
    dev, names = task.load_split(dataset_dir, "dev", labels)
    member_probs = member_probabilities(members, dev.texts, unit, labels)
    probs = weighted_mean(weights, member_probs)
    thresholds = tuned_thresholds(rule, probs, dev.targets, min_support, step)
    return thresholds, {
        "source": "dev",
        "n_examples": len(dev.texts),
        "threshold_rule": rule,
        "threshold_min_support": min_support,
        "threshold_step": step,
        "members": {
            m.name: multilabel_scores(decisions_at(p, _own_thresholds(m, labels)), dev.targets, names)
            for m, p in zip(members, member_probs)
        },
        "at_0.5": multilabel_scores(decisions_at(probs, 0.5), dev.targets, names),
        "at_tuned_thresholds": multilabel_scores(decisions_at(probs, thresholds), dev.targets, names),
        "cross_fitted": cross_fitted_figures(
            probs, dev.targets, dev.ids, names, rule=rule, min_support=min_support, step=step
        ),
    }


def _summary(dev_metrics: dict) -> list[tuple[str, list[tuple[dict, str]]]]:
    """The rows of :func:`summary_rows` as (name, [(block, key)] for micro, macro and any F1).

    The figure is ``block[key]``; the card reads its 95% interval (over folds: its std and pooled figure) from
    the same block.
    """
    if dev_metrics["source"] == "out_of_fold":

        def over_folds(s: dict) -> list[tuple[dict, str]]:
            return [(s[k], "mean") for k in ("micro_f1", "macro_f1", "any_f1")]

        rows = [(name, over_folds(s)) for name, s in dev_metrics["members"].items()]
        return [*rows, ("ensemble, cross-validated", over_folds(dev_metrics["cross_validated"]))]

    def on_dev(s: dict) -> list[tuple[dict, str]]:
        return [(s[k], "f1") for k in ("micro", "macro", "any")]

    crossed = dev_metrics["cross_fitted"]
    return [
        *((name, on_dev(s)) for name, s in dev_metrics["members"].items()),
        ("ensemble, thresholds tuned on dev", on_dev(dev_metrics["at_tuned_thresholds"])),
        ("ensemble, cross-fitted", [(crossed, k) for k in ("micro_f1", "macro_f1", "any_f1")]),
    ]


def summary_rows(dev_metrics: dict) -> list[tuple[str, float, float, float]]:
    """(name, micro, macro, any F1) of each member and of the ensemble: the honest figures of :func:`build_ensemble`."""
    return [(name, *(block[key] for block, key in cells)) for name, cells in _summary(dev_metrics)]


def _card_cell(block: dict, key: str) -> str:
    """A figure of the card's table: mean ± std over folds with the pooled figure and its 95% interval, or the
    figure with its interval where ``dev_metrics.json`` keeps one (:mod:`framelab.figures`)."""
    if key != "mean":
        return shown(block, key)
    pooled = f"; pooled {shown(block, 'pooled')}" if "pooled" in block else ""
    return f"{block['mean']:.3f} ± {block['std']:.3f}{pooled}"


def _interval_note(dev_metrics: dict, dataset_dir: Path) -> str:
    """How the card's bracketed intervals were drawn, and the warning of few articles (counted in ``stats.json``)."""
    stats_path = dataset_dir / "stats.json"
    splits = ("train", "dev") if dev_metrics["source"] == "out_of_fold" else ("dev",)
    counts = json.loads(stats_path.read_text(encoding="utf-8"))["splits"] if stats_path.is_file() else {}
    if not all(s in counts for s in splits):
        return "In brackets: 95% intervals, percentile bootstrap over resampled articles."
    articles = sum(counts[s]["articles"] for s in splits)
    note = (
        f"In brackets: 95% intervals, percentile bootstrap over the {articles} articles of the {' and '.join(splits)}"
    )
    note += " split" + ("s" if len(splits) > 1 else "") + " (each resample scores every unit of the articles drawn)."
    return note + (f"\n\n> **Warning**: {few_groups_warning(articles)}." if articles < MIN_GROUPS else "")


def _thresholds_line(spec: dict, dev_metrics: dict) -> str:
    """The card's account of the thresholds: one value, or the rule and the range of the per-label values."""
    values = spec["thresholds"]
    if len(set(values)) == 1:
        return f"{values[0]:.2f} for every label (rule `{dev_metrics['threshold_rule']}`)"
    return (
        f"one per label, {min(values):.2f}–{max(values):.2f} (rule `{dev_metrics['threshold_rule']}`, "
        f"min support {dev_metrics['threshold_min_support']}, grid step {dev_metrics['threshold_step']:g}; "
        "`ensemble.json` lists them)"
    )


def _hub_metrics(dev_metrics: dict) -> list[dict]:
    """The ensemble's honest micro- and macro-F1 (cross-validated or cross-fitted) as model-index metric entries."""
    if dev_metrics["source"] == "out_of_fold":
        block, key, how = dev_metrics["cross_validated"], "mean", f"{dev_metrics['folds']}-fold cross-validated"
    else:
        block, key, how = dev_metrics["cross_fitted"], None, "dev, cross-fitted"
    return [
        {"type": "f1", "name": f"{how} {name}", "value": round(block[k][key] if key else block[k], 4)}
        for k, name in (("micro_f1", "micro-F1"), ("macro_f1", "macro-F1"))
    ]


def _provenance(members: list[Predictor]) -> Provenance:
    """The members' base encoders, and the corpus and licence of the first member's run config."""
    path = members[0].model_dir / "training_config.yaml"
    run = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data, model = run.get("data", {}), run.get("model", {})
    return Provenance.of(
        [m.meta.base_model for m in members],
        data.get("format", "jsonl"),
        str(data.get("path", "")),
        model.get("license", "other"),
    )


def _front_matter(final: Path, spec: dict, dev_metrics: dict, provenance: Provenance) -> str:
    """The card's YAML front matter (an ensemble is framelab's own: no transformers library claimed)."""
    split = "train and dev, out of fold" if dev_metrics["source"] == "out_of_fold" else "dev"
    data = hub_metadata(
        provenance,
        name=final.name,
        task_name=spec["task"],
        pipeline="text-classification",
        metrics=_hub_metrics(dev_metrics),
        library=None,
        split=split,
    )
    data["tags"].append("ensemble")
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _write_card(
    folder: Path, final: Path, spec: dict, dev_metrics: dict, dataset_dir: Path, predictors: list[Predictor]
) -> None:
    """Write ``README.md`` and ``LICENSE.md`` into ``folder``, the temporary copy of ``final``."""
    provenance = _provenance(predictors)
    rows = _summary(dev_metrics)
    alone = {name: _card_cell(*cells[0]) for name, cells in rows}
    members = "\n".join(
        f"  - `{m['folder']}` ({m['unit']} units), weight {m['weight']:g}: micro-F1 alone {alone[m['name']]}"
        for m in spec["members"]
    )
    if dev_metrics["source"] == "out_of_fold":
        where = (
            f"the members' out-of-fold predictions on all {dev_metrics['n_examples']} train and dev units "
            f"of `{dataset_dir}`"
        )
        made_on = dev_metrics.get("thresholds_made_on", OTHER_FOLDS_THRESHOLDS)
        honest = (
            f"Cross-validated over the members' {dev_metrics['folds']} folds ({made_on}; members alone at thresholds "
            "tuned the same way on their own predictions): mean ± std over folds, and the figure of every fold's "
            "decisions pooled:"
        )
        optimistic = "At the thresholds tuned on all the out-of-fold predictions, so optimistic:"
    else:
        where = f"the dev split of `{dataset_dir}`"
        honest = (
            "Cross-fitted (each half of the dev articles decided at the thresholds tuned on the other half; "
            "mean over seeds "
            f"{dev_metrics['cross_fitted']['seeds']}; members alone at their own thresholds):"
        )
        optimistic = "At the thresholds tuned on this same split, so optimistic:"
    table = "\n".join(f"| {name} | {' | '.join(_card_cell(*c) for c in cells)} |" for name, cells in rows)
    averaged = (
        f"probabilities averaged with these weights; a finer member gives each {spec['unit']} its highest "
        "probability over its units there, a span tagger its highest token probability"
    )
    text = f"""---
{_front_matter(final, spec, dev_metrics, provenance)}---

# framelab ensemble: {final.name}

- **Task**: {spec["task"]} on {spec["unit"]} units, multi-label
- **Members** ({averaged}):
{members}
- **Thresholds**: {_thresholds_line(spec, dev_metrics)}, tuned for micro-F1 on {where}
- **framelab**: {spec["framelab_version"]}

## Metrics

{honest}

| model | micro-F1 | macro-F1 | any-technique F1 |
|---|---:|---:|---:|
{table}

{_interval_note(dev_metrics, dataset_dir)}

{optimistic}

{metrics_table(dev_metrics["at_tuned_thresholds"])}

## Scoring

```bash
framelab score --model {final} articles/ --format semeval2023 --out predictions/
```

transformers cannot load this folder, since it has no weights of its own: its `config.json` holds the thresholds
(`{stock.THRESHOLDS_KEY}`) and names `{stock.MODULE_FILE}`, so every transformers loader asks for
`trust_remote_code` and, given it, raises the reason. Each member folder says what transformers makes of it.

## How to use

```python
import framelab
from huggingface_hub import snapshot_download

model = framelab.load(snapshot_download("{HUB_ID}"))
print(model.score(["An article to score."]).to_pandas())
```

Transformers alone does not give the ensemble's answers: framelab averages its members' probabilities.

{provenance_sections(provenance)}"""
    (folder / "README.md").write_text(text, encoding="utf-8")
    (folder / LICENSE_FILE).write_text(f"# Licence\n\n{license_text(provenance)}", encoding="utf-8")


def build_ensemble(
    model_dirs: list[str | Path],
    dataset_dir: str | Path,
    out_dir: str | Path,
    *,
    weights: list[float] | None = None,
    threshold_rule: str = EnsembleConfig.threshold_rule,
    min_support: int = EnsembleConfig.threshold_min_support,
    step: float = EnsembleConfig.threshold_step,
    force: bool = False,
) -> EnsembleResult:
    """Average ``model_dirs`` on the units of ``dataset_dir``, tune the thresholds (on the out-of-fold predictions, else
    the dev split) and save the ensemble in ``out_dir``.

    ``weights`` (default: equal) are normalised to sum to 1. ``threshold_rule``
    is one of :data:`framelab.thresholds.RULES`; under the per-label ones a
    label with fewer than ``min_support`` positives keeps the fallback;
    ``step`` is the spacing of the threshold grid searched. They are the
    fields of :class:`framelab.config.EnsembleConfig` and checked by its
    checks (:func:`framelab.config.check_ensemble`). The members are copied
    into the folder, so it scores on its own. ``out_dir`` is checked and held
    before any member loads (:func:`framelab.output.claim`; ``force`` replaces
    a folder framelab did not write).
    """
    dataset_dir, out_dir = Path(dataset_dir), Path(out_dir)
    settings = EnsembleConfig([str(d) for d in model_dirs], weights, threshold_rule, min_support, step)
    check_ensemble(settings, "ensemble settings", build=True)
    weights = [1.0] * len(model_dirs) if weights is None else list(weights)
    settings = dataset_dir / "data_config.json"
    if not settings.is_file():
        raise DataError(Problem(str(settings), None, "missing: not a dataset folder", "build it with `framelab data`"))
    unit = json.loads(settings.read_text(encoding="utf-8"))["unit"]
    normalised = np.array(weights) / float(sum(weights))
    with claim(out_dir, folder=True, kind="model", inputs=[*model_dirs, dataset_dir], force=force):
        return _build_ensemble(model_dirs, dataset_dir, out_dir, unit, normalised, threshold_rule, min_support, step)


def _build_ensemble(
    model_dirs: list[str | Path],
    dataset_dir: Path,
    out_dir: Path,
    unit: str,
    normalised: np.ndarray,
    threshold_rule: str,
    min_support: int,
    step: float,
) -> EnsembleResult:
    members = [Predictor(d) for d in model_dirs]
    labels = _check_members(members, unit)
    task = _unit_task(members)
    oofs = out_of_fold_members(members)
    own_oof = None
    if oofs is not None:
        thresholds, dev_metrics, own_oof = _out_of_fold_figures(
            members, oofs, normalised, labels, dataset_dir, unit, threshold_rule, min_support, step
        )
    else:
        thresholds, dev_metrics = _dev_split_figures(
            members, task, dataset_dir, unit, normalised, labels, threshold_rule, min_support, step
        )
    dev_metrics["data_dir"] = str(dataset_dir)
    spec = {
        "task": task.name,
        "unit": unit,
        "labels": labels,
        "thresholds": thresholds,
        "members": [
            {"name": m.name, "folder": f"{MEMBERS_DIR}/{m.name}", "unit": m.meta.unit, "weight": float(w)}
            for m, w in zip(members, normalised)
        ],
        "framelab_version": __version__,
    }
    with atomic_folder(out_dir) as tmp:
        for m in members:
            shutil.copytree(
                m.model_dir, tmp / MEMBERS_DIR / m.name, ignore=shutil.ignore_patterns("logs", "checkpoint-*")
            )
        (tmp / ENSEMBLE_FILE).write_text(json.dumps(spec, indent=2, ensure_ascii=False), encoding="utf-8")
        stock.declare_ensemble(tmp, unit, labels, thresholds, len(members))
        (tmp / "dev_metrics.json").write_text(json.dumps(dev_metrics, indent=2), encoding="utf-8")
        if own_oof is not None:
            (tmp / OUT_OF_FOLD_FILE).write_bytes(out_of_fold_bytes(own_oof))
        _write_card(tmp, out_dir, spec, dev_metrics, dataset_dir, members)
    return EnsembleResult(out_dir, dev_metrics)
