"""What transformers' stock pipeline makes of a framelab model folder: framelab's labels, or a refusal saying why.

Every folder's ``config.json`` holds its decision thresholds (:data:`THRESHOLDS_KEY`, label → threshold) beside
``framelab.json``'s. Loaded by ``pipeline("text-classification", model=folder, top_k=None)``, a classifier of units
(sentences, lines) with nothing averaged in gives the probabilities framelab gives each unit cut to ``max_length``
tokens, and those thresholds give its labels (the card shows how). Every other folder would get other answers
from the stock pipeline without a word: a windowed article model reads one window, a span tagger's tags have no
``O``, an ``fnc1`` folder's ``config.json`` is its stage 2 alone. Those declare their own pipeline for their task in
``config.json`` (``custom_pipelines``): without ``trust_remote_code`` transformers refuses to run it, and with it
the declared class, :data:`MODULE_FILE` in the folder, raises framelab's reason. The auto classes still load the
weights (framelab's own scoring does so). An ensemble folder has no weights of its own: its ``config.json`` also
names that class for ``AutoConfig`` (``auto_map``), so every loader built on it stops the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

from framelab.models.folder import ModelMeta
from framelab.tasks import get_task

#: The key of ``config.json`` holding the decision thresholds, label → threshold (multi-label models).
THRESHOLDS_KEY = "framelab_thresholds"

#: The file a refusing folder carries: the pipeline class its ``config.json`` declares.
MODULE_FILE = "framelab_refusal.py"
_CLASS = "FramelabRefusal"

#: Per head: the task names (with transformers' alias) a folder declares, and the stock class the refusal extends.
_PIPELINES = {
    "sequence": (("text-classification", "sentiment-analysis"), "TextClassificationPipeline"),
    "token": (("token-classification", "ner"), "TokenClassificationPipeline"),
}

_MODULE_TEXT = '''"""Written by framelab: stops transformers' stock pipeline from giving other answers than framelab."""

from transformers import {base}

MESSAGE = {message!r}


class {name}({base}):
    """Declared in config.json (custom_pipelines; an ensemble's auto_map too): transformers stops with the reason."""

    def __init__(self, *args, **kwargs):
        raise ValueError(MESSAGE)

    @classmethod
    def register_for_auto_class(cls, *args, **kwargs):
        raise ValueError(MESSAGE)
'''


def refusal_reason(meta: ModelMeta) -> str | None:
    """Why the stock pipeline cannot give framelab's answers from a folder of ``meta``; None when it can."""
    task = get_task(meta.task)
    reasons = [task.stock_refusal] if task.stock_refusal else []
    if not reasons and task.windowed:
        article = "article, after its target," if task.has_target else "article"
        reasons.append(
            f"framelab cuts each {article} into windows of {meta.max_length} tokens that overlap by {meta.stride} "
            f"and {meta.pooling}-pools their logits; transformers' pipeline reads a text as one window, failing on "
            "one longer than the model's positions or, truncated, reading its beginning only"
        )
    if not reasons and task.level != "unit":
        reasons.append(f"framelab builds the inputs of a {task.level}-level model its own way")
    if meta.lexical_weight:
        reasons.append(
            f"its probabilities average in a TF-IDF model (weight {meta.lexical_weight:g}: lexical.json, "
            "lexical.safetensors), which transformers does not read"
        )
    return "; ".join(reasons) or None


def _message(what: str, reason: str, scored: bool) -> str:
    how = " (see the folder's README.md)"
    if scored:
        how = ": framelab.load(folder).score(text), or `framelab score --model <folder> <article.txt>`"
    return (
        f"this is a framelab {what}, which transformers' stock pipeline cannot score: {reason}. "
        f"Score it with framelab{how}."
    )


def refusal_message(meta: ModelMeta) -> str | None:
    """The error transformers' stock pipeline raises (with ``trust_remote_code``) on a folder of ``meta``; None when
    the folder does not refuse it."""
    reason = refusal_reason(meta)
    if reason is None:
        return None
    return _message(f"{meta.task} model", reason, scored=get_task(meta.task).not_scored is None)


def ensemble_message(unit: str, members: int) -> str:
    """The error every transformers loader raises (with ``trust_remote_code``) on an ensemble folder."""
    reason = (
        f"it averages the probabilities of {members} framelab models (members/, weights in ensemble.json) on "
        f"{unit} units and has no weights of its own"
    )
    return _message("ensemble", reason, scored=True)


def _module_text(message: str, head: str) -> str:
    return _MODULE_TEXT.format(base=_PIPELINES[head][1], message=message, name=_CLASS)


def _custom_pipelines(head: str) -> dict:
    names, _ = _PIPELINES[head]
    entry = {"impl": f"{MODULE_FILE.removesuffix('.py')}.{_CLASS}", "pt": ["AutoModel"], "tf": [], "type": "text"}
    return {name: entry for name in names}


def _thresholds(labels: list[str], thresholds: list[float] | None) -> dict:
    return {THRESHOLDS_KEY: dict(zip(labels, thresholds))} if thresholds is not None else {}


def _update_config(folder: Path, fields: dict) -> None:
    path = Path(folder) / "config.json"
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    config.update(fields)
    path.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def declare(folder: Path, meta: ModelMeta) -> None:
    """Write the thresholds into the ``config.json`` of the model folder being written in ``folder`` and, where the
    stock pipeline would give other answers, the pipeline that refuses it and its :data:`MODULE_FILE`."""
    fields = _thresholds(meta.labels, meta.thresholds)
    message = refusal_message(meta)
    if message is not None:
        head = get_task(meta.task).head
        fields["custom_pipelines"] = _custom_pipelines(head)
        (Path(folder) / MODULE_FILE).write_text(_module_text(message, head), encoding="utf-8")
    _update_config(folder, fields)


def declare_ensemble(folder: Path, unit: str, labels: list[str], thresholds: list[float], members: int) -> None:
    """Give the ensemble folder being written in ``folder`` a ``config.json`` that only holds its thresholds and
    makes every transformers loader refuse it, with its :data:`MODULE_FILE`."""
    message = ensemble_message(unit, members)
    (Path(folder) / MODULE_FILE).write_text(_module_text(message, "sequence"), encoding="utf-8")
    fields = {
        "auto_map": {"AutoConfig": f"{MODULE_FILE.removesuffix('.py')}.{_CLASS}"},
        "custom_pipelines": _custom_pipelines("sequence"),
        **_thresholds(labels, thresholds),
    }
    _update_config(folder, fields)
