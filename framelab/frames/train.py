"""Training ``frames_attention``: encode every sentence once, then train the attention heads on the cached vectors.

The encoder is frozen, so each sentence of the train and dev articles is
encoded once (:mod:`framelab.frames.sentences`) and every epoch of the heads
(:mod:`framelab.frames.head`) runs on those vectors: the run costs one
forward pass over the corpus plus seconds per epoch. ``train.epochs``,
``train.learning_rate``, ``train.batch_size`` (articles), ``train.weight_decay``
and ``train.seed`` are the heads'; ``model.max_length`` caps a sentence's
tokens. With ``train.lexical_weight`` the TF-IDF model is averaged in, and the
thresholds (``train.threshold_rule``) are tuned on the dev blend. The dev
figures include the cross-fitted one: each half of the dev articles decided at
the threshold tuned on the other half, mean over three cuts. Every dev (or
pooled out-of-fold) figure carries its 95% interval over resampled articles.

With ``train.folds`` K (:func:`train_frames_folds`) the train and dev
articles are dealt into K folds by article and every sentence is still
encoded once, for all folds and the refit. For each fold, the epoch count
(1 … ``train.epochs``), the TF-IDF weight (from :data:`LEXICAL_WEIGHTS` when
``train.lexical_weight`` is above 0, else none) and the thresholds are chosen
on the out-of-fold predictions of an inner k-fold over the other folds'
articles (:func:`inner_choice`), never on the fold itself; the heads trained
on the other folds then predict it. The saved model is refit on every article
with the median epoch count and weight of the folds, at thresholds tuned on
all out-of-fold predictions, which are kept in the folder.

The model folder holds the encoder and tokenizer as transformers saves them,
the heads in safetensors, ``framelab.json`` and the TF-IDF model if any: all
that :class:`framelab.frames.predictor.AttentionPredictor` needs, and no pickle.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from transformers import AutoModel

import framelab
from framelab.config import Config, config_to_dict
from framelab.errors import ConfigError, DataError, Problem
from framelab.eval.bootstrap import Resamples, groups_of
from framelab.eval.scores import multilabel_scores, scores_with_intervals
from framelab.figures import shown
from framelab.frames.head import HeadSpec, apply_heads, save_heads, train_heads
from framelab.frames.sentences import article_sentences
from framelab.lexical import LexicalModel, blend
from framelab.models import stock
from framelab.models.card import classifier_metrics, interval_note, metrics_table, write_model_card
from framelab.models.folder import ModelMeta, atomic_folder, write_meta
from framelab.models.out_of_fold import OUT_OF_FOLD_FILE, OutOfFold, out_of_fold_bytes
from framelab.splits import TaskData
from framelab.tasks import get_task
from framelab.thresholds import decisions_at, tuned_thresholds
from framelab.train.folds import assign_folds, concat, cross_fitted_figures, mean_std_pooled
from framelab.train.trainer import TrainResult, load_tokenizer, start

log = logging.getLogger(__name__)


def card_metrics(dev_metrics: dict, config: Config) -> str:
    """The dev-metrics section of the card: the classifier's tables and the cross-fitted figure (k-fold: its own)."""
    if "cross_validated" in dev_metrics:
        return _folds_card(dev_metrics)
    crossed = dev_metrics["cross_fitted"]
    return (
        "The frozen encoder's sentence vectors feed label-wise attention heads (framelab/frames/head.py).\n\n"
        + classifier_metrics(dev_metrics, config)
        + "\n\nCross-fitted (each half of the dev articles decided at the threshold tuned on the other half; "
        + f"mean over cuts {crossed['seeds']}, 95% intervals over resampled articles): "
        + f"micro-F1 {shown(crossed, 'micro_f1')}, macro-F1 {shown(crossed, 'macro_f1')}."
    )


def _kept(config: Config, targets: np.ndarray) -> list[int]:
    counts = targets.sum(axis=0)
    keep = [j for j, c in enumerate(counts) if c >= max(1, config.train.min_label_count)]
    if not keep:
        raise DataError(
            Problem(
                str(config.dataset_dir),
                None,
                "no frame has enough training articles",
                "check the corpus annotations or lower train.min_label_count",
            )
        )
    return keep


def frame_splits(config: Config) -> tuple[TaskData, TaskData, list[str]]:
    """The train and dev articles of ``config``'s dataset and the frames kept (seen in at least
    ``train.min_label_count`` train articles)."""
    task = get_task(config.train.task)
    train_data, names = task.load_split(config.dataset_dir, "train", None)
    keep = _kept(config, train_data.targets)
    names = [names[j] for j in keep]
    train_data.targets = train_data.targets[:, keep]
    dev_data, _ = task.load_split(config.dataset_dir, "dev", names)
    return train_data, dev_data, names


def train_frames_attention(config: Config, *, resume: bool = False, callbacks=None) -> TrainResult:
    """Encode the sentences of the train and dev articles, train the heads, tune thresholds on dev and save the
    folder."""
    if resume:
        raise ConfigError("frames_attention keeps no checkpoints (it trains in minutes): run without --resume")
    if config.train.folds:
        return train_frames_folds(config)
    t = config.train
    base, _ = start(config)
    train_data, dev_data, names = frame_splits(config)
    tokenizer = load_tokenizer(config, base)
    encoder = AutoModel.from_pretrained(base, dtype=torch.float32, use_safetensors=True, trust_remote_code=False).eval()

    started = time.perf_counter()
    encode = dict(max_length=config.model.max_length, batch_size=t.eval_batch_size)
    train_sentences = article_sentences(tokenizer, encoder, train_data.texts, **encode)
    dev_sentences = article_sentences(tokenizer, encoder, dev_data.texts, **encode)
    encoded = time.perf_counter()
    spec = HeadSpec(input_size=encoder.config.hidden_size, labels=len(names))
    heads = train_heads(
        spec,
        [s.vectors for s in train_sentences],
        train_data.targets,
        epochs=max(1, round(t.epochs)),
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        batch_size=t.batch_size,
        seed=t.seed,
    )
    seconds = time.perf_counter() - started
    dev_probs, _ = apply_heads(heads, spec, [s.vectors for s in dev_sentences])

    dev_metrics: dict = {"heads_alone_at_0.5": multilabel_scores(decisions_at(dev_probs, 0.5), dev_data.targets, names)}
    lexical = None
    if t.lexical_weight:
        lexical = LexicalModel.fit(train_data.texts, train_data.targets, seed=t.seed)
        dev_probs = blend(dev_probs, lexical.probabilities(dev_data.texts), t.lexical_weight)
    thresholds = tuned_thresholds(
        t.threshold_rule, dev_probs, dev_data.targets, t.threshold_min_support, t.threshold_step
    )
    dev_metrics.update(figures_with_intervals(dev_probs, dev_data, names, thresholds))
    dev_metrics["cross_fitted"] = cross_fitted_figures(
        dev_probs,
        dev_data.targets,
        dev_data.ids,
        names,
        rule=t.threshold_rule,
        min_support=t.threshold_min_support,
        step=t.threshold_step,
    )
    dev_metrics["n_dev_examples"] = len(dev_data.texts)
    dev_metrics["encode_seconds"] = round(encoded - started, 1)
    dev_metrics["train_runtime_seconds"] = round(seconds, 1)
    dev_metrics["train_samples_per_second"] = round(
        len(train_data.texts) * max(1, round(t.epochs)) * spec.heads / max(seconds - (encoded - started), 1e-9), 1
    )

    meta = _meta(config, names, thresholds, train_data.targets, t.lexical_weight)
    write_folder(config, encoder, tokenizer, heads, spec, meta, lexical, dev_metrics)
    return TrainResult(config.model_dir, dev_metrics, seconds, dev_metrics["train_samples_per_second"])


def _meta(
    config: Config, names: list[str], thresholds: list[float], targets: np.ndarray, lexical_weight: float
) -> ModelMeta:
    return ModelMeta(
        task=config.train.task,
        unit="article",
        labels=names,
        thresholds=thresholds,
        max_length=config.model.max_length,
        stride=config.model.stride,
        pooling="attention",
        base_model=config.model.base,
        framelab_version=framelab.__version__,
        extra={
            "dataset": str(config.dataset_dir),
            "train_label_counts": dict(zip(names, map(int, targets.sum(axis=0)))),
        },
        lexical_weight=lexical_weight,
    )


def write_folder(
    config: Config,
    encoder,
    tokenizer,
    heads,
    spec: HeadSpec,
    meta: ModelMeta,
    lexical: LexicalModel | None,
    dev_metrics: dict,
    files: dict[str, bytes] | None = None,
) -> None:
    """Write the model folder atomically: encoder, tokenizer, heads, ``framelab.json``, TF-IDF model, metrics, card."""
    with atomic_folder(config.model_dir) as tmp:
        encoder.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        save_heads(tmp, heads, spec)
        write_meta(tmp, meta)
        stock.declare(tmp, meta)
        if lexical is not None:
            lexical.save(tmp)
        (tmp / "training_config.yaml").write_text(
            yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8"
        )
        (tmp / "dev_metrics.json").write_text(json.dumps(dev_metrics, indent=2), encoding="utf-8")
        write_model_card(tmp, meta, config, dev_metrics)
        for name, content in (files or {}).items():
            (Path(tmp) / name).write_bytes(content)


# ---------------------------------------------------------------- k-fold by article (train.folds)

#: TF-IDF weights a k-fold run tries (``train.lexical_weight`` above 0 turns the blend on; the weight is chosen).
LEXICAL_WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))


@dataclass
class HeadRun:
    """How heads are trained and decided in a k-fold run, from the config."""

    spec: HeadSpec
    #: Most epochs tried; the count is chosen among 1 … ``max_epochs``.
    max_epochs: int
    learning_rate: float
    weight_decay: float
    batch_size: int
    seed: int
    #: TF-IDF weights tried: (0,) without a blend.
    weights: tuple[float, ...]
    rule: str
    min_support: int
    step: float
    #: Inner folds that choose a fold's settings: one fewer than the outer folds, at least 2.
    inner_folds: int

    @classmethod
    def of(cls, config: Config, spec: HeadSpec) -> HeadRun:
        t = config.train
        return cls(
            spec, max(1, round(t.epochs)), t.learning_rate, t.weight_decay, t.batch_size, t.seed,
            LEXICAL_WEIGHTS if t.lexical_weight else (0.0,), t.threshold_rule, t.threshold_min_support,
            t.threshold_step, max(2, t.folds - 1),
        )  # fmt: skip

    def train(self, articles: list[np.ndarray], targets: np.ndarray, epochs: int, on_epoch=None):
        return train_heads(
            self.spec,
            articles,
            targets,
            epochs=epochs,
            learning_rate=self.learning_rate,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            seed=self.seed,
            on_epoch=on_epoch,
        )


def epoch_probabilities(
    run: HeadRun, articles: list[np.ndarray], targets: np.ndarray, watched: list[np.ndarray]
) -> np.ndarray:
    """The heads' probabilities on ``watched`` after each epoch count, ``(max_epochs, watched, labels)``: one run."""
    out = np.zeros((run.max_epochs, len(watched), run.spec.labels))

    def record(head: int, epoch: int, module) -> None:
        out[epoch] += apply_heads([module], run.spec, watched)[0] / run.spec.heads

    run.train(articles, targets, run.max_epochs, on_epoch=record)
    return out


def _micro_f1(probs: np.ndarray, targets: np.ndarray, thresholds: list[float]) -> float:
    predicted, gold = decisions_at(probs, thresholds).astype(bool), targets.astype(bool)
    denominator = predicted.sum() + gold.sum()
    return float(2 * (predicted & gold).sum() / denominator) if denominator else 0.0


@dataclass
class Choice:
    """What one model's training chose from data: epochs, TF-IDF weight and thresholds, and on what."""

    epochs: int
    lexical_weight: float
    thresholds: list[float]
    #: Micro-F1 of the chosen setting on the predictions it was chosen on.
    score: float
    made_on: str


def choose(run: HeadRun, by_epoch: np.ndarray, lexical: np.ndarray | None, targets: np.ndarray, made_on: str) -> Choice:
    """The epoch count and TF-IDF weight whose blend scores the best micro-F1 at thresholds tuned on it (``run.rule``).

    ``by_epoch`` and ``lexical`` are out-of-fold probabilities of the same
    examples. Ties go to fewer epochs, then to the smaller weight.
    """
    best: Choice | None = None
    for e in range(len(by_epoch)):
        for w in run.weights:
            probs = blend(by_epoch[e], lexical, w) if w else by_epoch[e]
            thresholds = tuned_thresholds(run.rule, probs, targets, run.min_support, run.step)
            score = _micro_f1(probs, targets, thresholds)
            if best is None or score > best.score:
                best = Choice(e + 1, w, thresholds, score, made_on)
    return best


def inner_choice(
    run: HeadRun, vectors: list[np.ndarray], texts: list[str], targets: np.ndarray, ids: list[str], rows: np.ndarray
) -> Choice:
    """Choose epochs, TF-IDF weight and thresholds from the examples at ``rows`` alone: an inner k-fold over them."""
    inner = assign_folds([ids[i] for i in rows], run.inner_folds, run.seed)
    by_epoch = np.zeros((run.max_epochs, len(rows), run.spec.labels))
    lexical = np.zeros((len(rows), run.spec.labels)) if run.weights != (0.0,) else None
    for j in range(int(inner.max()) + 1):
        fit, held = rows[inner != j], rows[inner == j]
        by_epoch[:, inner == j] = epoch_probabilities(
            run, [vectors[i] for i in fit], targets[fit], [vectors[i] for i in held]
        )
        if lexical is not None:
            model = LexicalModel.fit([texts[i] for i in fit], targets[fit], seed=run.seed)
            lexical[inner == j] = model.probabilities([texts[i] for i in held])
    made_on = (
        f"out-of-fold predictions of an inner {int(inner.max()) + 1}-fold cross-validation by article over the "
        f"{len(rows)} articles of the training folds"
    )
    return choose(run, by_epoch, lexical, targets[rows], made_on)


@dataclass
class FoldRun:
    """A k-fold run's out-of-fold predictions and each fold's choices."""

    folds: np.ndarray
    #: The blend each fold's model reports (its own TF-IDF weight), and the heads alone.
    probabilities: np.ndarray
    heads_alone: np.ndarray
    #: Each example decided at its fold's thresholds.
    decided: np.ndarray
    choices: list[Choice]


def cross_validate_heads(
    run: HeadRun, vectors: list[np.ndarray], texts: list[str], targets: np.ndarray, ids: list[str], folds: np.ndarray
) -> FoldRun:
    """For each fold: choose on the other folds alone (:func:`inner_choice`), train there and predict the fold."""
    probabilities, heads_alone = np.zeros(targets.shape), np.zeros(targets.shape)
    decided = np.zeros(targets.shape, dtype=np.int64)
    choices = []
    for k in range(int(folds.max()) + 1):
        inside, outside = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
        choice = inner_choice(run, vectors, texts, targets, ids, outside)
        heads = run.train([vectors[i] for i in outside], targets[outside], choice.epochs)
        heads_alone[inside], _ = apply_heads(heads, run.spec, [vectors[i] for i in inside])
        probabilities[inside] = heads_alone[inside]
        if choice.lexical_weight:
            model = LexicalModel.fit([texts[i] for i in outside], targets[outside], seed=run.seed)
            probabilities[inside] = blend(
                heads_alone[inside], model.probabilities([texts[i] for i in inside]), choice.lexical_weight
            )
        decided[inside] = decisions_at(probabilities[inside], choice.thresholds)
        choices.append(choice)
        log.info(
            "fold %d/%d: %d epochs, TF-IDF weight %g (chosen on the other folds alone); %d articles predicted",
            k + 1,
            int(folds.max()) + 1,
            choice.epochs,
            choice.lexical_weight,
            len(inside),
        )
    return FoldRun(folds, probabilities, heads_alone, decided, choices)


def figures_with_intervals(probs: np.ndarray, data: TaskData, names: list[str], thresholds: list[float]) -> dict:
    """Figures at 0.5 and at ``thresholds``, each with its 95% interval over resampled articles, and ``bootstrap``."""
    groups = groups_of(data, "article")
    draws = Resamples.draw(groups)
    return {
        key: scores_with_intervals(decisions_at(probs, at), data.targets, names, groups, draws, multi_label=True)
        for key, at in (("at_0.5", 0.5), ("at_tuned_thresholds", thresholds))
    } | {"bootstrap": draws.describe()}


def fold_figures(result: FoldRun, data: TaskData, names: list[str], thresholds: list[float]) -> dict:
    """``dev_metrics.json`` of a k-fold run: pooled and per-fold figures, each fold at its own thresholds.

    The pooled figures carry their 95% intervals over resampled articles (``bootstrap`` says how).
    """
    targets = data.targets
    per_fold = []
    for k, choice in enumerate(result.choices):
        inside = result.folds == k
        per_fold.append(
            {
                "fold": k,
                "examples": int(inside.sum()),
                "scores": multilabel_scores(result.decided[inside], targets[inside], names),
                "choices": {
                    "epochs": choice.epochs,
                    "lexical_weight": choice.lexical_weight,
                    "thresholds": dict(zip(names, choice.thresholds)),
                    "inner_micro_f1": choice.score,
                    "made_on": choice.made_on,
                },
            }
        )
    scores = [f["scores"] for f in per_fold]
    groups = groups_of(data, "article")
    draws = Resamples.draw(groups)
    pooled = scores_with_intervals(result.decided, targets, names, groups, draws, multi_label=True)
    return {
        "heads_alone_at_0.5": multilabel_scores(decisions_at(result.heads_alone, 0.5), targets, names),
        # at_0.5 and, tuned on the predictions they score, hence optimistic, the saved model's thresholds.
        **figures_with_intervals(result.probabilities, data, names, thresholds),
        "out_of_fold": pooled,
        "cross_validated": {
            "folds": len(per_fold),
            "micro_f1": mean_std_pooled([s["micro"]["f1"] for s in scores], pooled["micro"]),
            "macro_f1": mean_std_pooled([s["macro"]["f1"] for s in scores], pooled["macro"]),
            "any_f1": mean_std_pooled([s["any"]["f1"] for s in scores], pooled["any"]),
            "per_label_f1": {
                n: mean_std_pooled([s["per_label"][n]["f1"] for s in scores], pooled["per_label"][n]) for n in names
            },
            "labels_per_example": {
                "predicted": float(result.decided.sum(axis=1).mean()),
                "gold": float(targets.sum(axis=1).mean()),
            },
            "per_fold": per_fold,
        },
    }


def _folds_card(dev_metrics: dict) -> str:
    cv, refit = dev_metrics["cross_validated"], dev_metrics["refit"]
    lines = [
        "The frozen encoder's sentence vectors feed label-wise attention heads (framelab/frames/head.py).",
        "",
        f"{cv['folds']}-fold cross-validation by article over the train and dev articles (seed {cv['seed']}). "
        f"How the groups were made: {cv['groups']['how']} ({cv['groups']['articles']} articles). Each fold is "
        "decided at its own thresholds, chosen with its epoch count and TF-IDF weight inside its training folds. "
        "Over every out-of-fold article:",
        "",
        metrics_table(dev_metrics["out_of_fold"]),
        "",
        "| fold | articles | micro-F1 | macro-F1 | epochs | TF-IDF weight | inner micro-F1 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in cv["per_fold"]:
        c = f["choices"]
        lines.append(
            f"| {f['fold']} | {f['examples']} | {f['scores']['micro']['f1']:.3f} | {f['scores']['macro']['f1']:.3f} | "
            f"{c['epochs']} | {c['lexical_weight']:g} | {c['inner_micro_f1']:.3f} |"
        )
    lines += [
        f"| mean ± std | | {cv['micro_f1']['mean']:.3f} ± {cv['micro_f1']['std']:.3f} | "
        f"{cv['macro_f1']['mean']:.3f} ± {cv['macro_f1']['std']:.3f} | | | |",
        f"| pooled [95% interval] | {refit['examples']} | {shown(cv['micro_f1'], 'pooled')} | "
        f"{shown(cv['macro_f1'], 'pooled')} | | | |{interval_note(dev_metrics)}",
        "",
        f"Labels per article: {cv['labels_per_example']['predicted']:.3f} predicted, "
        f"{cv['labels_per_example']['gold']:.3f} gold. The saved model is refit on all {refit['examples']} articles "
        f"for {refit['epochs']} epochs with TF-IDF weight {refit['lexical_weight']:g}; the out-of-fold probabilities "
        "are in `out_of_fold.safetensors`.",
        "",
        "Choices made from data:",
        "",
        *(f"- {c['choice']}: {c['shown']}, {c['made_on']}." for c in dev_metrics["choices"]),
        *(f"- fold {f['fold']}: {f['choices']['made_on']}." for f in cv["per_fold"]),
    ]
    return "\n".join(lines)


def train_frames_folds(config: Config) -> TrainResult:
    """k folds by article: sentences encoded once, choices made inside each fold's training folds, then a refit."""
    t = config.train
    base, _ = start(config)
    train_data, dev_data, names = frame_splits(config)
    data = concat(train_data, dev_data)
    try:
        folds = assign_folds(data.ids, t.folds, t.fold_assignment_seed)
    except ValueError as exc:
        raise ConfigError(f"train.folds {t.folds}: {exc}; lower train.folds") from None
    tokenizer = load_tokenizer(config, base)
    encoder = AutoModel.from_pretrained(base, dtype=torch.float32, use_safetensors=True, trust_remote_code=False).eval()
    started = time.perf_counter()
    # Every sentence once, for every fold and the refit.
    log.info("encoding the sentences of %d articles once, for %d folds and the refit", len(data.texts), t.folds)
    sentences = article_sentences(
        tokenizer, encoder, data.texts, max_length=config.model.max_length, batch_size=t.eval_batch_size
    )
    vectors = [s.vectors for s in sentences]
    encoded = time.perf_counter()
    log.info("encoded %d sentences in %.0f s", sum(len(v) for v in vectors), encoded - started)
    run = HeadRun.of(config, HeadSpec(input_size=encoder.config.hidden_size, labels=len(names)))
    result = cross_validate_heads(run, vectors, data.texts, data.targets, data.ids, folds)
    thresholds = tuned_thresholds(
        t.threshold_rule, result.probabilities, data.targets, t.threshold_min_support, t.threshold_step
    )
    chosen_epochs = [c.epochs for c in result.choices]
    chosen_weights = [c.lexical_weight for c in result.choices]
    epochs = int(np.floor(np.median(chosen_epochs) + 0.5))
    weight = float(np.median(chosen_weights))
    heads = run.train(vectors, data.targets, epochs)
    lexical = LexicalModel.fit(data.texts, data.targets, seed=t.seed) if weight else None
    seconds = time.perf_counter() - started

    dev_metrics = fold_figures(result, data, names, thresholds)
    dev_metrics["cross_validated"].update(
        seed=t.fold_assignment_seed,
        groups={
            "how": "by article: each article (all its sentences) in one fold, the articles shuffled by the seed and "
            "dealt round-robin",
            "articles": len(data.ids),
        },
    )
    median = f"median of the {t.folds} folds' choices"
    dev_metrics["refit"] = {"epochs": epochs, "lexical_weight": weight, "examples": len(data.ids)}
    dev_metrics["choices"] = [
        {"choice": "epochs", "value": epochs, "shown": f"{epochs}", "made_on": f"{median} {chosen_epochs}"},
        {
            "choice": "TF-IDF weight (train.lexical_weight)",
            "value": weight,
            "shown": f"{weight:g}",
            "made_on": f"{median} {chosen_weights}" if t.lexical_weight else "no blend (train.lexical_weight is 0)",
        },
        {
            "choice": "thresholds",
            "value": dict(zip(names, thresholds)),
            "shown": ", ".join(f"{n} {v:g}" for n, v in zip(names, thresholds)),
            "made_on": f"the {t.threshold_rule} rule on the out-of-fold probabilities of all {len(data.ids)} articles",
        },
    ]
    dev_metrics["n_dev_examples"] = len(data.ids)
    dev_metrics["encode_seconds"] = round(encoded - started, 1)
    dev_metrics["train_runtime_seconds"] = round(seconds, 1)
    refit_train = dataclasses.replace(t, epochs=float(epochs), lexical_weight=weight)
    refit_config = dataclasses.replace(config, train=refit_train)
    oof = OutOfFold(
        data.ids,
        names,
        folds,
        data.targets,
        result.probabilities,
        result.heads_alone if t.lexical_weight else None,
        groups=list(data.ids),
    )
    meta = _meta(refit_config, names, thresholds, data.targets, weight)
    files = {OUT_OF_FOLD_FILE: out_of_fold_bytes(oof)}
    write_folder(refit_config, encoder, tokenizer, heads, run.spec, meta, lexical, dev_metrics, files)
    return TrainResult(config.model_dir, dev_metrics, seconds, 0.0)
