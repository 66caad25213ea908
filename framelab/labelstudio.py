"""Label Studio: the label config framelab's pre-annotations use, and the tasks that carry them.

``framelab score --format labelstudio`` (:class:`framelab.score.writers.LabelStudioWriter`) writes a folder
with ``tasks.json`` (Label Studio's JSON import: a list of tasks, each with ``data`` and ``predictions``) and
``label_config.xml`` (the project's labelling interface, built by :func:`label_config` from the scored
models' labels); ``configs/labelstudio/sample.xml`` is that config for the SemEval-2023 names the
sample corpus uses. The ``labelstudio`` reader (:mod:`framelab.readers.labelstudio`) reads an export of
such a project back into articles.

A task is one article: ``data.text`` is its text, ``data.article_id`` its id and ``data.target`` the
stance target (when a stance model is scored). Each scored model gives one prediction, its
``model_version`` the model's name, its ``score`` the mean of its regions' scores, each region with its
own ``score``. The controls, by name (each tied to a task level by :func:`control_of`):

- ``span`` (Labels): a span model's spans, ``start``/``end`` as character offsets into ``data.text``
  (Python ``str`` indices), ``text`` their ``data.text[start:end]``;
- ``unit`` (Labels: ``sentence``, ``line``, ``article``) with ``unit_labels`` (Choices, one per region,
  several labels): a unit model's labels of the unit that region covers;
- ``frames`` (Choices, several): an article multi-label model's labels;
- ``genre`` (Choices, one): an article single-label model's label;
- ``stance`` (Choices, one): a pair model's stance toward ``data.target``, shown above it.

A unit with no label and an article choice with no label write no region; a model with no region in an
article writes no prediction. The stance a pair model also gives every sentence is left out (one choice
per target). The regions are built by the ``label-studio-sdk`` package's own classes
(``LabelInterface``, ``PredictionValue``), imported on first use: ``pip install 'framelab[labelstudio]'``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean
from typing import Any

from framelab.tasks import get_task
from framelab.units import UNIT_KINDS

#: The Text object every control labels; its value is the task's ``data.text``.
TEXT = "text"
#: Control names, in the order the interface shows them.
SPAN, UNIT, UNIT_LABELS, FRAMES, GENRE, STANCE = "span", "unit", "unit_labels", "frames", "genre", "stance"
CONTROLS = (SPAN, UNIT_LABELS, FRAMES, GENRE, STANCE)
#: The choice controls of an article, with whether they take several labels.
ARTICLE_CHOICES = {FRAMES: True, GENRE: False, STANCE: False}

INSTALL_HINT = "pip install 'framelab[labelstudio]' (the label-studio-sdk package)"


def control_of(task: str) -> str:
    """The control that holds the predictions of a model of ``task``, from its record's level."""
    record = get_task(task)
    if record.level == "span":
        return SPAN
    if record.level == "unit":
        return UNIT_LABELS
    if record.level == "pair":
        return STANCE
    return FRAMES if record.multi_label else GENRE


def labels_by_control(models: Iterable[tuple[str, Sequence[str]]]) -> dict[str, list[str]]:
    """The labels each control offers, from ``(task, labels)`` of every scored model, in model order."""
    found: dict[str, dict[str, None]] = {}
    for task, labels in models:
        found.setdefault(control_of(task), {}).update(dict.fromkeys(labels))
    return {name: list(found[name]) for name in CONTROLS if name in found}


def _choices(parent: ET.Element, name: str, labels: Sequence[str], multiple: bool, **attrs: str) -> None:
    node = ET.SubElement(
        parent, "Choices", name=name, toName=TEXT, choice="multiple" if multiple else "single", **attrs
    )
    for label in labels:
        ET.SubElement(node, "Choice", value=label)


def label_config(labels: Mapping[str, Sequence[str]]) -> str:
    """The labelling interface (Label Studio XML) for ``labels`` by control name (:func:`labels_by_control`).

    Only the controls named in ``labels`` appear; the ``unit`` regions come with ``unit_labels``.
    """
    unknown = sorted(set(labels) - set(CONTROLS))
    if unknown:
        raise ValueError(f"unknown Label Studio control(s) {', '.join(unknown)}; use {', '.join(CONTROLS)}")
    view = ET.Element("View")
    if SPAN in labels:
        ET.SubElement(view, "Header", value="Technique spans")
        spans = ET.SubElement(view, "Labels", name=SPAN, toName=TEXT, showInline="true")
        for label in labels[SPAN]:
            ET.SubElement(spans, "Label", value=label)
    if UNIT_LABELS in labels:
        ET.SubElement(view, "Header", value="Units (select one to see its labels)")
        units = ET.SubElement(view, "Labels", name=UNIT, toName=TEXT, showInline="true")
        for kind in UNIT_KINDS:
            ET.SubElement(units, "Label", value=kind, background="#cccccc")
    ET.SubElement(view, "Text", name=TEXT, value=f"${TEXT}")
    if UNIT_LABELS in labels:
        per_region = {"perRegion": "true", "visibleWhen": "region-selected", "whenTagName": UNIT}
        _choices(view, UNIT_LABELS, labels[UNIT_LABELS], True, **per_region)
    for name, multiple in ARTICLE_CHOICES.items():
        if name in labels:
            title = "Stance toward: $target" if name == STANCE else name.capitalize()
            ET.SubElement(view, "Header", value=title)
            _choices(view, name, labels[name], multiple)
    ET.indent(view)
    return ET.tostring(view, encoding="unicode") + "\n"


def interface(config: str) -> Any:
    """``config`` parsed by the SDK (a ``LabelInterface``): what :func:`article_task` builds regions with."""
    try:
        from label_studio_sdk.label_interface import LabelInterface
    except ImportError as exc:
        raise ValueError(
            f"Label Studio tasks need the labelstudio extra ({exc.name} is missing): {INSTALL_HINT}"
        ) from None
    return LabelInterface(config)


class _Prediction:
    """The regions of one model's prediction on one article, built with the SDK's controls."""

    def __init__(self, ui: Any, text: str, model: str, prefix: str):
        self.ui, self.text, self.model, self.prefix = ui, text, model, prefix
        self.regions: list[tuple[Any, float, dict]] = []

    def control(self, name: str) -> Any:
        """The config's control ``name``; refused when the config lacks it."""
        if not any(control.name == name for control in self.ui.controls):
            raise ValueError(
                f"the label config has no {name!r} control for model {self.model}: build the config from every "
                "scored model (label_config(labels_by_control(...)))"
            )
        return self.ui.get_control(name)

    def add(self, control: str, labels: list[str], score: float, start: int | None = None, end: int | None = None):
        """One region of ``control``; ``start``/``end`` place it in the text (per-region choices too)."""
        where = {} if start is None else {"start": start, "end": end}
        region = self.control(control).label(label=labels, **where)
        region.id = f"{self.prefix}{len(self.regions)}"
        self.regions.append((region, score, where))
        return region

    def unit(self, kind: str, start: int, end: int, labels: list[str], score: float) -> None:
        """A ``unit`` region over ``[start, end)`` and its ``unit_labels`` choices, sharing its id."""
        region = self.add(UNIT, [kind], score, start, end)
        choices = self.control(UNIT_LABELS).label(label=labels)
        choices.id = region.id
        self.regions.append((choices, score, {"start": start, "end": end}))

    def value(self) -> dict | None:
        """The prediction as Label Studio imports it; ``None`` without a region."""
        if not self.regions:
            return None
        from label_studio_sdk.label_interface.objects import PredictionValue

        score = fmean(score for _, score, _ in self.regions)
        result = PredictionValue(model_version=self.model, score=score, result=[r for r, _, _ in self.regions])
        dumped = result.model_dump()
        for item, (_, region_score, where) in zip(dumped["result"], self.regions):
            item["score"] = region_score
            if where:
                item["value"] |= where | {"text": self.text[where["start"] : where["end"]]}
        return dumped


def _mean(scores: Mapping[str, float], labels: Iterable[str]) -> float:
    return fmean(scores[label] for label in labels)


def _unit_regions(records: Iterable[dict], ui: Any, text: str, found: dict[str, _Prediction]) -> None:
    for record in records:
        for model, p in record["predictions"].items():
            control = control_of(p["task"])
            at = found.setdefault(model, _Prediction(ui, text, model, f"{len(found)}-"))
            if control == SPAN:
                for s in p.get("spans") or ():
                    at.add(SPAN, [s["label"]], s["score"], record["start"] + s["start"], record["start"] + s["end"])
            elif control == UNIT_LABELS and p["labels"]:
                score = _mean(p["scores"], p["labels"])
                at.unit(record["unit"], record["start"], record["end"], p["labels"], score)


def article_task(article_id: str, text: str, records: Iterable[dict], ui: Any) -> dict:
    """The Label Studio task of one article from its ``framelab score`` JSONL records (unit records and the
    article record, :func:`framelab.score.writers.article_records`); ``ui`` is :func:`interface`'s."""
    records = list(records)
    found: dict[str, _Prediction] = {}
    data: dict[str, Any] = {TEXT: text, "article_id": article_id}
    if any(control.name == STANCE for control in ui.controls):
        data["target"] = ""
    _unit_regions((r for r in records if r["type"] == "unit"), ui, text, found)
    for record in (r for r in records if r["type"] == "article"):
        for model, p in record["predictions"].items():
            control = control_of(p["task"])
            at = found.setdefault(model, _Prediction(ui, text, model, f"{len(found)}-"))
            if control == STANCE:
                data["target"] = p.get("target") or ""
            if control in ARTICLE_CHOICES and p["labels"]:
                at.add(control, p["labels"], _mean(p["scores"], p["labels"]))
    predictions = [value for at in found.values() if (value := at.value()) is not None]
    return {"data": data, "predictions": predictions}


def tasks_from_records(records: Iterable[dict], texts: Mapping[str, str], config: str) -> list[dict]:
    """Label Studio tasks, one per article in order of first appearance, from ``framelab score`` JSONL records
    (``"type"`` ``unit`` and ``article``; other records are skipped) and each article's text by id.

    ``config`` is the project's label config (:func:`label_config`): a label it lacks is refused.
    """
    ui = interface(config)
    grouped: dict[str, list[dict]] = {}
    for record in records:
        if record.get("type") in ("unit", "article"):
            grouped.setdefault(record["article_id"], []).append(record)
    missing = [aid for aid in grouped if aid not in texts]
    if missing:
        raise ValueError(f"no text for article(s) {', '.join(missing[:5])}: pass every scored article's text")
    return [article_task(aid, texts[aid], found, ui) for aid, found in grouped.items()]
