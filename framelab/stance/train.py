"""Training the two-stage FNC-1 model into one model folder.

1. Every body of the dataset is embedded sentence by sentence once with the
   base encoder; the TF-IDF vocabulary is fitted on the training headlines and
   bodies; a logistic regression on the similarity features of
   :mod:`framelab.stance.features` learns related vs unrelated.
2. A cross-encoder (the base encoder with a 3-way head) is fine-tuned on the
   *related* training pairs only: the headline as first segment, the
   ``train.stage_two_top_k`` body sentences most similar to it (in body order)
   as second, cut to ``model.max_length`` tokens. The loss weighs each class by
   a power of its inverse frequency (``train.stage_two_class_weight_power``;
   by default the square root: disagree is 1.7% of FNC-1), optionally focal
   (``train.stage_two_loss``), and disagree pairs may be repeated
   (``train.stage_two_disagree_repeats``); the best epoch is the one with the
   best dev macro-F1 over the three classes. ``train.stage_two_seeds`` trains
   that many cross-encoders and averages their probabilities, and
   ``train.stage_two_cues`` fuses refuting and negation cues with their output
   (:mod:`framelab.stance.stage_two`).

The folder holds the cross-encoder (the shared trainer writes it), the
relatedness stage and a copy of the sentence encoder (:class:`StageOne`), so
``framelab score`` needs nothing else. Dev figures are of the whole pipeline:
stage 2 decides the pairs stage 1 calls related; each carries its 95% interval
over the dev split's stories, as ``framelab eval`` resamples them.

With ``train.folds`` K (:func:`train_fnc1_folds`), the pairs of the train and
dev splits are dealt into K folds by story (:mod:`framelab.stance.folds`). For
each fold, stage 1 is fitted on the other folds, and stage 2 is fine-tuned on
the other folds less one, the inner fold (the next one round), whose related
pairs choose its epoch count by macro-F1 (with ``train.epochs`` above 1) and
fit the cue fusion (with ``train.stage_two_cues``); then the fold's pairs are
predicted.
Neither a fold's model nor its choices see the fold's labels. The out-of-fold
predictions give figures per fold and over every kept pair (with 95% intervals
over the same stories) and are saved
(:mod:`framelab.models.out_of_fold`, each pair's story as its group); the saved
model is refit on every pair of the two splits for the median chosen epoch
count (its cue fusion fitted on every out-of-fold stage-2 prediction). Every
sentence and headline is embedded once for all folds and the refit.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from datasets import Dataset
from transformers import (
    AutoModelForSequenceClassification,
    DataCollatorWithPadding,
    TrainerCallback,
    set_seed,
)

from framelab.config import Config, TrainConfig
from framelab.encoding import activate, encode
from framelab.errors import ConfigError
from framelab.eval.bootstrap import Resamples, attach, share_tally
from framelab.eval.scores import single_label_scores, stance_intervals, stance_scores
from framelab.models.out_of_fold import OUT_OF_FOLD_FILE, OutOfFold, out_of_fold_bytes
from framelab.stance.data import FNC1_LABELS, RELATED, PairSplit, load_pairs, load_pooled, pool, stories_of
from framelab.stance.features import Bodies, SentenceEncoder, StageOne, Tfidf, pair_features
from framelab.stance.folds import StoryFolds, story_folds
from framelab.stance.stage_two import Fusion, mean_logits, member_folder
from framelab.train.trainer import (
    FineTuned,
    FineTuning,
    TrainResult,
    fine_tune,
    finish,
    load_tokenizer,
    model_meta,
    prediction_logits,
    start,
    work_folder,
)

log = logging.getLogger(__name__)

#: Where stage 1's relatedness threshold comes from: it is not tuned.
THRESHOLD_SOURCE = "fixed at 0.5 (StageOne.fit's default), not tuned on data"


def class_weights(labels: np.ndarray, n_classes: int, power: float) -> torch.Tensor:
    """``(n / (k · count)) ** power`` per class."""
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    weights = (len(labels) / (n_classes * np.maximum(counts, 1))) ** power
    return torch.tensor(weights, dtype=torch.float32)


def weighted_loss(weights: torch.Tensor):
    """A Trainer ``compute_loss_func``: class-weighted cross-entropy."""

    def loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        return F.cross_entropy(logits, labels, weight=weights.to(logits.device))

    return loss


def focal_loss(weights: torch.Tensor, gamma: float):
    """A Trainer ``compute_loss_func``: class-weighted focal loss, each pair's weighted cross-entropy times
    ``(1 - p) ** gamma`` (``p``: its gold class's probability), averaged as weighted cross-entropy is."""

    def loss(outputs, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        log_p = F.log_softmax(logits.float(), dim=-1).gather(1, labels[:, None])[:, 0]
        w = weights.to(logits.device)[labels]
        return (w * (1.0 - log_p.exp()) ** gamma * -log_p).sum() / w.sum()

    return loss


def stage_two_loss(t: TrainConfig, labels: np.ndarray) -> Callable | None:
    """Stage 2's loss for training ``labels`` (indices into :data:`RELATED`); None: the model's own cross-entropy."""
    power = t.stage_two_class_weight_power
    if t.stage_two_loss == "cross_entropy" and not power:
        return None
    weights = class_weights(labels, len(RELATED), power)
    return focal_loss(weights, t.focal_gamma) if t.stage_two_loss == "focal" else weighted_loss(weights)


def repeated_rows(rows: np.ndarray, stances: list[str], repeats: int) -> np.ndarray:
    """``rows`` with each disagree pair's row ``repeats`` times in place (oversampling), the others once."""
    times = np.array([repeats if stances[i] == "disagree" else 1 for i in rows], dtype=np.int64)
    return np.repeat(np.asarray(rows), times)


def member_configs(config: Config) -> list[Config]:
    """One config per stage-2 seed: ``config`` itself, then ``train.seed`` + 1, + 2, ..."""
    t = config.train
    return [config] + [
        dataclasses.replace(config, train=dataclasses.replace(t, seed=t.seed + m)) for m in range(1, t.stage_two_seeds)
    ]


def confusion(pred: list[str], gold: list[str], names: list[str]) -> list[list[int]]:
    """Counts of gold label (row) × predicted label (column), in ``names`` order."""
    index = {n: i for i, n in enumerate(names)}
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    for g, p in zip(gold, pred):
        matrix[index[g], index[p]] += 1
    return matrix.tolist()


def pipeline_labels(related_prob: np.ndarray, threshold: float, stage_two_logits: np.ndarray) -> list[str]:
    """Unrelated below ``threshold``, else the arg-max of stage 2 (rows of ``stage_two_logits`` for every pair)."""
    return [
        "unrelated" if p < threshold else RELATED[int(row.argmax())] for p, row in zip(related_prob, stage_two_logits)
    ]


def pair_probabilities(related_prob: np.ndarray, threshold: float, stage_two_logits: np.ndarray) -> np.ndarray:
    """Probabilities in :data:`FNC1_LABELS` order, as :class:`framelab.stance.predictor.FncPredictor` gives them.

    P(unrelated) = 1 − P(related); a pair stage 1 calls related gives each
    related class P(related) × its stage-2 probability, any other pair
    P(related) / 3 each.
    """
    columns = [FNC1_LABELS.index(n) for n in RELATED]
    probs = np.zeros((len(related_prob), len(FNC1_LABELS)))
    probs[:, FNC1_LABELS.index("unrelated")] = 1.0 - related_prob
    probs[:, columns] = (related_prob / len(RELATED))[:, None]
    chosen = np.flatnonzero(related_prob >= threshold)
    if len(chosen):
        stage_two = activate(np.asarray(stage_two_logits[chosen], dtype=np.float64), multi_label=False)
        probs[np.ix_(chosen, columns)] = related_prob[chosen, None] * stage_two
    return probs


def pipeline_figures(
    predicted: list[str],
    gold: list[str],
    related_prob: np.ndarray,
    threshold: float,
    stage_two_logits: np.ndarray,
    stories: list[str] | None = None,
) -> dict:
    """FNC-1 figures of the whole pipeline, and stage 2's own on the gold-related pairs (its logits there).

    Given each pair's story, the pipeline's figures carry their 95% intervals over resampled stories
    (:func:`story_intervals`).
    """
    related_gold = np.array([g != "unrelated" for g in gold])
    on_related = np.flatnonzero(related_gold)
    figures = {
        "stance": stance_scores(predicted, gold, FNC1_LABELS),
        "confusion_matrix": {
            "labels": FNC1_LABELS,
            "rows_gold_columns_predicted": confusion(predicted, gold, FNC1_LABELS),
        },
        "relatedness_accuracy": float(np.mean((related_prob >= threshold) == related_gold)),
        "stage_two_on_gold_related": single_label_scores(
            stage_two_logits[on_related].argmax(axis=1), np.array([RELATED.index(gold[i]) for i in on_related]), RELATED
        ),
    }
    if stories is None:
        return figures
    return story_intervals(figures, predicted, gold, related_prob >= threshold, stories)


def story_intervals(
    figures: dict, predicted: list[str], gold: list[str], called_related: np.ndarray, stories: list[str]
) -> dict:
    """``figures`` with the 95% intervals of the pipeline's stance figures and relatedness accuracy, resampling the
    pairs' ``stories`` (the groups the folds deal, as ``framelab eval`` resamples them), and how they were drawn."""
    draws = Resamples.draw(stories)
    pred = np.array([FNC1_LABELS.index(p) for p in predicted])
    truth = np.array([FNC1_LABELS.index(g) for g in gold])
    right = np.asarray(called_related) == (truth != FNC1_LABELS.index("unrelated"))
    stance = figures["stance"]
    return {
        **figures,
        "stance": attach(stance, stance_intervals(pred, truth, FNC1_LABELS, stance, stories, draws)),
        "ci95": {"relatedness_accuracy": list(share_tally(right, stories).interval(draws))},
        "bootstrap": draws.describe("stories"),
    }


def _stage_two_dataset(
    tokenizer, headlines: list[str], segments: list[str], labels: list[int], max_length: int
) -> Dataset:
    encoded = encode(tokenizer, segments, pairs=headlines, max_length=max_length, stride=0, windowed=False)
    return Dataset.from_dict({**encoded.features, "labels": labels})


class EmbeddingCache:
    """The sentence encoder behind a memory: each distinct text is embedded once, repeats are answered from memory.

    Every fold and the refit of a k-fold run share one, so the frozen encoder
    runs once over the corpus's sentences and headlines.
    """

    def __init__(self, encoder: SentenceEncoder):
        self.encoder = encoder
        self.vectors: dict[str, np.ndarray] = {}

    def embed(self, texts: list[str]) -> np.ndarray:
        """One unit-length row per text, in input order."""
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if new:
            self.vectors.update(zip(new, self.encoder.embed(new)))
        if not texts:
            return self.encoder.embed([])
        return np.stack([self.vectors[t] for t in texts])


def fit_relatedness(
    data: PairSplit, train_rows: np.ndarray, encoder, *, base: str, seed: int, top_k: int
) -> tuple[StageOne, np.ndarray, list[str]]:
    """Stage 1 fitted on the pairs at ``train_rows`` (TF-IDF on their bodies and headlines).

    Also returns the features and stage-2 segments (``top_k`` sentences) of every pair of ``data``.
    """
    bodies_used = sorted(set(data.body_of[train_rows].tolist()))
    tfidf = Tfidf.fit(
        [data.body_texts[b] for b in bodies_used] + list(dict.fromkeys(data.headlines[i] for i in train_rows))
    )
    bodies = Bodies.build(data.body_texts, data.body_sentences, tfidf, encoder)
    features, segments, _ = pair_features(data.headlines, data.body_of, bodies, tfidf, encoder, top_k=top_k)
    related = np.array([s != "unrelated" for s in data.stances])
    stage_one = StageOne.fit(tfidf, features[train_rows], related[train_rows], encoder_dir=base, top_k=top_k, seed=seed)
    return stage_one, features, segments


def fit_stage_two(
    config: Config,
    tokenizer,
    base: str,
    data: PairSplit,
    segments: list[str],
    train_rows: np.ndarray,
    dev_rows: np.ndarray | None,
    *,
    work: Path | None = None,
    resume: bool = False,
    callbacks: list[TrainerCallback] | None = None,
) -> FineTuned:
    """Fine-tune the cross-encoder on the related pairs at ``train_rows`` (disagree ones repeated
    ``train.stage_two_disagree_repeats`` times; class weights counted on the pairs once).

    The epoch is chosen by macro-F1 on the pairs at ``dev_rows``; without them
    it trains the configured epochs.
    """
    t, ml = config.train, config.model.max_length
    y_train = np.array([RELATED.index(data.stances[i]) for i in train_rows])
    loss = stage_two_loss(t, y_train)
    train_rows = repeated_rows(train_rows, data.stances, t.stage_two_disagree_repeats)
    y_train = np.array([RELATED.index(data.stances[i]) for i in train_rows])
    y_dev = [RELATED.index(data.stances[i]) for i in dev_rows] if dev_rows is not None else []

    def dataset(rows: np.ndarray, labels: list[int]) -> Dataset:
        return _stage_two_dataset(tokenizer, [data.headlines[i] for i in rows], [segments[i] for i in rows], labels, ml)

    # The head starts from the same draw whatever ran before: a fold's run depends only on its own data.
    set_seed(t.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(RELATED),
        id2label=dict(enumerate(RELATED)),
        label2id={n: i for i, n in enumerate(RELATED)},
        problem_type="single_label_classification",
        dtype=torch.float32,
        use_safetensors=True,
        trust_remote_code=False,
    )

    def compute_metrics(prediction) -> dict:
        scores = single_label_scores(
            prediction_logits(prediction.predictions).argmax(axis=1), np.asarray(y_dev), RELATED
        )
        return {"micro_f1": scores["micro"]["f1"], "macro_f1": scores["macro"]["f1"]}

    job = FineTuning(
        model=model,
        train_dataset=dataset(train_rows, y_train.tolist()),
        dev_dataset=dataset(dev_rows, y_dev) if dev_rows is not None else None,
        collator=DataCollatorWithPadding(
            tokenizer, padding="max_length" if t.pad_to_max_length else "longest", max_length=ml
        ),
        loss=loss,
        compute_metrics=compute_metrics if dev_rows is not None else None,
        metric="macro_f1",
    )
    return fine_tune(config, tokenizer, job, work=work, resume=resume, callbacks=callbacks)


def stage_two_logits(run: FineTuned, tokenizer, data: PairSplit, segments: list[str], rows: np.ndarray, ml: int):
    """The fine-tuned cross-encoder's logits on the pairs at ``rows``."""
    if not len(rows):
        return np.zeros((0, len(RELATED)))
    run.trainer.compute_metrics = None  # its measure is for its own dev pairs only
    ds = _stage_two_dataset(
        tokenizer, [data.headlines[i] for i in rows], [segments[i] for i in rows], [0] * len(rows), ml
    )
    return prediction_logits(run.trainer.predict(ds).predictions)


def trained_members(
    config: Config,
    tokenizer,
    base: str,
    data: PairSplit,
    segments: list[str],
    train_rows: np.ndarray,
    dev_rows: np.ndarray | None,
    *,
    work: Path | None = None,
    resume: bool = False,
    callbacks: list[TrainerCallback] | None = None,
) -> Iterator[FineTuned]:
    """:func:`fit_stage_two` once per seed of ``train.stage_two_seeds`` (:func:`member_configs`), one at a time, so
    a caller may drop each member once it has predicted. Member 0 works in ``work``; member m in ``work/seed-m``
    (``work`` unset: ``<model folder>.work``)."""
    root = work or config.model_dir.with_name(config.model_dir.name + ".work")
    for m, member in enumerate(member_configs(config)):
        yield fit_stage_two(
            member,
            tokenizer,
            base,
            data,
            segments,
            train_rows,
            dev_rows,
            work=work if m == 0 else root / f"seed-{m}",
            resume=resume and m == 0,
            callbacks=callbacks,
        )


def members_logits(
    runs: list[FineTuned], tokenizer, data: PairSplit, segments: list[str], rows: np.ndarray, ml: int
) -> np.ndarray:
    """The seed ensemble's stage-2 logits on the pairs at ``rows`` (:func:`framelab.stance.stage_two.mean_logits`)."""
    return mean_logits([stage_two_logits(r, tokenizer, data, segments, rows, ml) for r in runs])


def member_epochs(runs: list[FineTuned], evaluated: bool, epochs: float) -> list[float]:
    """Each member's epoch count: its best by dev macro-F1 when it was evaluated, else the configured ``epochs``."""
    return [run.best_epoch if evaluated else float(epochs) for run in runs]


def fit_fusion(
    config: Config, data: PairSplit, segments: list[str], rows: np.ndarray, logits: np.ndarray, stage_one: np.ndarray
) -> Fusion:
    """The cue fusion fitted on the related pairs at ``rows``, whose stage-2 ``logits`` came from cross-encoders that
    never trained on them, and whose stage-1 features are ``stage_one``; each pair weighted by its class's weight."""
    labels = np.array([RELATED.index(data.stances[i]) for i in rows], dtype=np.int64)
    weights = class_weights(labels, len(RELATED), config.train.stage_two_class_weight_power).numpy().astype(np.float64)
    return Fusion.fit(
        logits,
        [data.headlines[i] for i in rows],
        [segments[i] for i in rows],
        stage_one,
        labels,
        weights,
        seed=config.train.seed,
    )


def fused(
    fusion: Fusion | None, logits: np.ndarray, data: PairSplit, segments: list[str], rows: np.ndarray, features
) -> np.ndarray:
    """Stage 2's ``logits`` on the pairs at ``rows`` through the cue fusion (as they are without one)."""
    if fusion is None:
        return logits
    return fusion.log_probabilities(logits, [data.headlines[i] for i in rows], [segments[i] for i in rows], features)


@dataclass
class FolderParts:
    """What an fnc1 model folder holds beside the shared trainer's cross-encoder: stage 1, the other members of a
    stage-2 seed ensemble and the cue fusion."""

    stage_one: StageOne
    members: list[FineTuned]
    fusion: Fusion | None = None

    def save(self, folder: Path) -> None:
        """Write every part into ``folder`` (safetensors and JSON, no pickle)."""
        self.stage_one.save(folder)
        for m, run in enumerate(self.members, start=1):
            run.trainer.model.save_pretrained(str(member_folder(folder, m)))
        if self.fusion is not None:
            self.fusion.save(folder)


def _ensemble_run(runs: list[FineTuned]) -> FineTuned:
    """The first member, carrying the training time of them all (what the folder's figures report)."""
    if len(runs) == 1:
        return runs[0]
    return dataclasses.replace(runs[0], seconds=sum(r.seconds for r in runs))


def _split_note(dataset_dir: Path) -> str:
    """How the dataset's dev split was drawn, from its ``stats.json``."""
    stats_path = Path(dataset_dir) / "stats.json"
    stats = json.loads(stats_path.read_text(encoding="utf-8")) if stats_path.is_file() else {}
    if "stories" in stats:
        return (
            f"by story ({stats['stories']['stories']} stories; "
            f"{stats['stories']['pairs_dropped_across_splits']} unrelated pairs across splits dropped)"
        )
    log.warning(
        "%s was split by body (built before framelab split FNC-1 by story): every dev headline is also a training "
        "headline, so the dev figures flatter the model; rebuild it with `framelab data`",
        dataset_dir,
    )
    return "by body (headlines shared with train; rebuild the dataset to split by story)"


def _meta(config: Config, stances: list[str | None], extra: dict | None = None):
    t = config.train
    return model_meta(
        config,
        task="fnc1",
        unit="article",
        labels=FNC1_LABELS,
        thresholds=None,
        pooling="none",
        extra={
            "stage_two_labels": RELATED,
            "stage_two_top_k": t.stage_two_top_k,
            "class_weight_power": t.stage_two_class_weight_power,
            "stage_two_loss": t.stage_two_loss,
            "stage_two_disagree_repeats": t.stage_two_disagree_repeats,
            "stage_two_seeds": t.stage_two_seeds,
            "stage_two_cues": t.stage_two_cues,
            "train_label_counts": {n: int(sum(s == n for s in stances)) for n in FNC1_LABELS},
            **(extra or {}),
        },
    )


def train_fnc1(config: Config, *, resume: bool = False, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """Train both stages on the dataset of ``config`` and write the model folder (with ``train.folds``: by story)."""
    if config.train.folds:
        if resume:
            raise ConfigError("--resume continues one run; a k-fold run starts over (drop --resume or train.folds)")
        return train_fnc1_folds(config, callbacks=callbacks)
    t = config.train
    if resume and t.stage_two_seeds > 1:
        raise ConfigError(
            "--resume continues one cross-encoder; train.stage_two_seeds above 1 starts over (drop --resume)"
        )
    base, _ = start(config)
    split_note = _split_note(config.dataset_dir)
    started = time.perf_counter()
    train, dev = load_pairs(config.dataset_dir, "train"), load_pairs(config.dataset_dir, "dev")
    encoder = SentenceEncoder(base, batch_size=t.eval_batch_size)
    tfidf = Tfidf.fit(train.body_texts + list(dict.fromkeys(train.headlines)))
    train_bodies = Bodies.build(train.body_texts, train.body_sentences, tfidf, encoder)
    dev_bodies = Bodies.build(dev.body_texts, dev.body_sentences, tfidf, encoder)
    k = t.stage_two_top_k
    x_train, seg_train, _ = pair_features(train.headlines, train.body_of, train_bodies, tfidf, encoder, top_k=k)
    x_dev, seg_dev, _ = pair_features(dev.headlines, dev.body_of, dev_bodies, tfidf, encoder, top_k=k)
    related_train = np.array([s != "unrelated" for s in train.stances])
    related_dev = np.array([s != "unrelated" for s in dev.stances])
    stage_one = StageOne.fit(tfidf, x_train, related_train, encoder_dir=base, top_k=k, seed=t.seed)
    p_dev = stage_one.related_probability(x_dev)
    stage_one_seconds = time.perf_counter() - started
    del encoder, train_bodies, dev_bodies

    tokenizer = load_tokenizer(config, base)
    # Stage 2 is judged on the gold-related dev pairs (its selection measure), then also predicts the pairs stage 1
    # wrongly calls related. Both splits' pairs in one list, so the two runs of stage 2 index one table.
    both = pool(train, dev)
    segments = seg_train + seg_dev
    tr = np.flatnonzero(related_train)
    dv = len(train.headlines) + np.flatnonzero(related_dev)
    runs = list(trained_members(config, tokenizer, base, both, segments, tr, dv, resume=resume, callbacks=callbacks))
    logits = np.zeros((len(dev.headlines), len(RELATED)))
    logits[related_dev] = mean_logits([run.dev_logits for run in runs])
    extra = np.flatnonzero(~related_dev & (p_dev >= stage_one.threshold))
    logits[extra] = members_logits(
        runs, tokenizer, both, segments, len(train.headlines) + extra, config.model.max_length
    )
    epochs = member_epochs(runs, True, t.epochs)
    predicted = pipeline_labels(p_dev, stage_one.threshold, logits)
    gold = list(dev.stances)
    dev_metrics = {
        **pipeline_figures(predicted, gold, p_dev, stage_one.threshold, logits, stories_of(dev).body_story_names()),
        "n_dev_pairs": len(gold),
        "n_train_pairs": len(train.headlines),
        "dev_split": split_note,
        "choices": [
            {"choice": "relatedness threshold", "value": stage_one.threshold, "made_on": THRESHOLD_SOURCE},
            {
                "choice": "stage-2 epochs",
                "value": float(np.median(epochs)),
                "made_on": f"macro-F1 on the {len(dv)} gold-related dev pairs (the dev split {split_note})"
                + (f"; the median of the {len(runs)} seeds' choices {epochs}" if len(runs) > 1 else ""),
            },
        ],
        "stage_one_seconds": round(stage_one_seconds, 1),
    }
    # The relatedness stage and the other seeds ride along as the folder's extra part (in the same atomic folder).
    parts = FolderParts(stage_one, runs[1:])
    return finish(_ensemble_run(runs), tokenizer, config, _meta(config, train.stances), dev_metrics, parts)


@dataclass
class FoldOutcome:
    """One outer fold: its kept pairs' out-of-fold predictions and figures, and the choices made without them."""

    #: Rows (into the pooled pairs) of the fold's kept pairs, in order.
    rows: np.ndarray
    probabilities: np.ndarray
    predicted: list[str]
    related_prob: np.ndarray
    stage_two_logits: np.ndarray
    #: Every choice made from data for this fold's model, with the data it was made on.
    choices: dict
    #: The fitted stage 1 (its coefficients are fitted on the training folds only).
    stage_one: StageOne
    seconds: float
    #: Stage 2's logits before the cue fusion (zeros where stage 2 did not run), and stage 1's features of the rows.
    stage_two_raw: np.ndarray
    stage_one_features: np.ndarray


def _mean_std(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def needs_inner_fold(config: Config) -> bool:
    """Whether stage 2 holds out an inner fold: an epoch count to choose (more than one evaluation) or a cue fusion
    to fit; if neither, it trains on every training fold."""
    return math.ceil(config.train.epochs) > 1 or config.train.stage_two_cues


def run_fold(
    config: Config,
    tokenizer,
    base: str,
    data: PairSplit,
    folds: StoryFolds,
    k: int,
    encoder,
    *,
    work: Path,
    callbacks: list[TrainerCallback] | None = None,
) -> FoldOutcome:
    """Train both stages without outer fold ``k`` (stage 2's epochs chosen, and its cue fusion fitted, on the inner
    fold); predict fold ``k``."""
    t = config.train
    started = time.perf_counter()
    related = np.array([s != "unrelated" for s in data.stances])
    training = folds.kept & (folds.folds != k)
    rows = np.flatnonzero(folds.kept & (folds.folds == k))
    stage_one, features, segments = fit_relatedness(
        data, np.flatnonzero(training), encoder, base=base, seed=t.seed, top_k=t.stage_two_top_k
    )
    p = stage_one.related_probability(features[rows])
    outer_names = ", ".join(str(f) for f in range(t.folds) if f != k)
    if needs_inner_fold(config):
        inner = (k + 1) % t.folds
        dev_rows = np.flatnonzero(folds.kept & (folds.folds == inner) & related)
        fit_rows = np.flatnonzero(training & (folds.folds != inner) & related)
        made_on = (
            f"macro-F1 over agree/disagree/discuss on the {len(dev_rows)} related pairs of inner fold {inner} "
            f"({len(set(folds.groups[i] for i in dev_rows))} stories), the cross-encoder trained on the "
            f"{len(fit_rows)} related pairs of the other training folds"
        )
        if math.ceil(t.epochs) <= 1:
            made_on = (
                f"train.epochs ({t.epochs:g}): one evaluation, nothing to choose; inner fold {inner} is held out "
                "for the cue fusion"
            )
    else:
        dev_rows, fit_rows = None, np.flatnonzero(training & related)
        made_on = f"train.epochs ({t.epochs:g}): one evaluation, nothing to choose, so no inner fold is held out"
    need = np.flatnonzero(related[rows] | (p >= stage_one.threshold))
    member_logits, dev_logits, epochs, histories = [], [], [], []
    # Each member predicts as soon as it is trained, and is dropped before the next one trains.
    for run in trained_members(
        config, tokenizer, base, data, segments, fit_rows, dev_rows, work=work, callbacks=callbacks
    ):
        member_logits.append(stage_two_logits(run, tokenizer, data, segments, rows[need], config.model.max_length))
        dev_logits.append(run.dev_logits)
        epochs += member_epochs([run], dev_rows is not None, t.epochs)
        histories.append(
            [
                {"epoch": e["epoch"], "macro_f1": e["eval_macro_f1"]}
                for e in run.trainer.state.log_history
                if "eval_macro_f1" in e
            ]
        )
        shutil.rmtree(run.work, ignore_errors=True)
    raw = np.zeros((len(rows), len(RELATED)))
    raw[need] = mean_logits(member_logits)
    logits = raw.copy()
    fusion = None
    if t.stage_two_cues:
        fusion = fit_fusion(config, data, segments, dev_rows, mean_logits(dev_logits), features[dev_rows])
        logits[need] = fused(fusion, raw[need], data, segments, rows[need], features[rows[need]])
    choices = {
        "relatedness": {
            "threshold": stage_one.threshold,
            "threshold_made_on": THRESHOLD_SOURCE,
            "fitted_on": f"the {int(training.sum())} kept pairs of folds {outer_names}",
        },
        "stage_two_epochs": {
            "value": float(np.median(epochs)),
            "made_on": made_on,
            "macro_f1_by_epoch": histories[0],
        },
    }
    if len(epochs) > 1:
        choices["stage_two_epochs"]["made_on"] += f"; the median of the {len(epochs)} seeds' choices {epochs}"
        choices["stage_two_epochs"]["macro_f1_by_epoch_by_seed"] = histories
    if fusion is not None:
        choices["stage_two_cue_fusion"] = {
            "value": len(dev_rows),
            "made_on": f"fitted on the stage-2 predictions of the {len(dev_rows)} related pairs of the inner fold, "
            "which stage 2 did not train on",
        }
    return FoldOutcome(
        rows,
        pair_probabilities(p, stage_one.threshold, logits),
        pipeline_labels(p, stage_one.threshold, logits),
        p,
        logits,
        choices,
        stage_one,
        time.perf_counter() - started,
        raw,
        features[rows],
    )


def train_fnc1_folds(config: Config, *, callbacks: list[TrainerCallback] | None = None) -> TrainResult:
    """k folds by story over the train and dev pairs, figures from the out-of-fold predictions, then a refit."""
    t = config.train
    base, _ = start(config)
    data = load_pooled(config.dataset_dir)
    try:
        folds = story_folds(data, t.folds, t.fold_assignment_seed)
    except ValueError as exc:
        raise ConfigError(f"train.folds {t.folds}: {exc} (FNC-1 stories); lower train.folds") from None
    if needs_inner_fold(config) and t.folds < 3:
        raise ConfigError(
            f"train.folds {t.folds} with train.epochs {t.epochs:g}: the stage-2 epoch count is chosen on an inner fold "
            "of the training folds, which needs at least 3 folds; set train.folds to 3 or more, or train.epochs to 1"
        )
    groups = folds.summary()
    if groups["largest_story_pairs"] > len(data.headlines) / t.folds:
        log.warning(
            "one story holds %d of %d pairs, more than a fold's share: its fold is larger than the others",
            groups["largest_story_pairs"],
            len(data.headlines),
        )
    started = time.perf_counter()
    encoder = EmbeddingCache(SentenceEncoder(base, batch_size=t.eval_batch_size))
    encoder.embed([s for body in data.body_sentences for s in body] + list(dict.fromkeys(data.headlines)))
    embed_seconds = time.perf_counter() - started
    tokenizer = load_tokenizer(config, base)
    work, _ = work_folder(config, resume=False)
    outcomes = [
        run_fold(config, tokenizer, base, data, folds, k, encoder, work=work / f"fold-{k}", callbacks=callbacks)
        for k in range(t.folds)
    ]
    rows = np.concatenate([o.rows for o in outcomes])
    order = np.argsort(rows, kind="stable")
    rows = rows[order]
    gold = [data.stances[i] for i in rows]
    predicted = [p for o in outcomes for p in o.predicted]
    predicted = [predicted[i] for i in order]
    probabilities = np.concatenate([o.probabilities for o in outcomes])[order]
    related_prob = np.concatenate([o.related_prob for o in outcomes])[order]
    logits = np.concatenate([o.stage_two_logits for o in outcomes])[order]
    threshold = outcomes[0].stage_one.threshold
    per_fold = []
    for k, o in enumerate(outcomes):
        fold_gold = [data.stances[i] for i in o.rows]
        per_fold.append(
            {
                "fold": k,
                "pairs": len(o.rows),
                "stories": len({folds.groups[i] for i in o.rows}),
                **pipeline_figures(o.predicted, fold_gold, o.related_prob, threshold, o.stage_two_logits),
                "choices": o.choices,
                "seconds": round(o.seconds, 1),
            }
        )
    stance = [f["stance"] for f in per_fold]
    cross_validated = {
        "folds": t.folds,
        "seed": t.fold_assignment_seed,
        "groups": groups,
        "fnc_relative": _mean_std([s["fnc_relative"] for s in stance]),
        "macro_f1": _mean_std([s["macro_f1"] for s in stance]),
        "micro_f1": _mean_std([s["accuracy"] for s in stance]),
        "per_label_f1": {n: _mean_std([s["per_label"][n]["f1"] for s in stance]) for n in FNC1_LABELS},
        "per_fold": per_fold,
    }
    chosen = [o.choices["stage_two_epochs"]["value"] for o in outcomes]
    epochs = float(np.median(chosen))
    log.info(
        "cross-validated over %d folds by story (%d of %d pairs kept): FNC-1 relative score %.3f ± %.3f, "
        "macro-F1 %.3f ± %.3f; refitting on all %d pairs for %g epochs",
        t.folds,
        groups["pairs_kept"],
        groups["pairs"],
        cross_validated["fnc_relative"]["mean"],
        cross_validated["fnc_relative"]["std"],
        cross_validated["macro_f1"]["mean"],
        cross_validated["macro_f1"]["std"],
        len(data.headlines),
        epochs,
    )
    refit_config = dataclasses.replace(config, train=dataclasses.replace(t, epochs=epochs))
    every = np.arange(len(data.headlines))
    stage_one, _, segments = fit_relatedness(data, every, encoder, base=base, seed=t.seed, top_k=t.stage_two_top_k)
    related = np.flatnonzero([s != "unrelated" for s in data.stances])
    runs = list(
        trained_members(refit_config, tokenizer, base, data, segments, related, None, work=work, callbacks=callbacks)
    )
    fusion, fusion_choice = None, []
    if t.stage_two_cues:
        # Stacking: the saved model's fusion is fitted on every out-of-fold stage-2 prediction of a gold-related pair.
        on = np.flatnonzero([g != "unrelated" for g in gold])
        raw = np.concatenate([o.stage_two_raw for o in outcomes])[order]
        stage_one_features = np.concatenate([o.stage_one_features for o in outcomes])[order]
        fusion = fit_fusion(config, data, segments, rows[on], raw[on], stage_one_features[on])
        fusion_choice = [
            {
                "choice": "stage-2 cue fusion, pairs",
                "value": len(on),
                "made_on": f"fitted on the out-of-fold stage-2 predictions of the {len(on)} gold-related kept pairs, "
                "each from a fold's cross-encoder that did not train on it",
            }
        ]
    dev_metrics = {
        **pipeline_figures(predicted, gold, related_prob, threshold, logits, [folds.groups[i] for i in rows]),
        "source": "out_of_fold",
        "n_dev_pairs": len(rows),
        "n_train_pairs": len(data.headlines),
        "cross_validated": cross_validated,
        "refit": {"epochs": epochs, "pairs": len(data.headlines), "examples": len(data.headlines)},
        "choices": [
            {"choice": "relatedness threshold", "value": stage_one.threshold, "made_on": THRESHOLD_SOURCE},
            {
                "choice": "stage-2 epochs",
                "value": epochs,
                "made_on": f"median of the {t.folds} folds' choices {chosen}, each made on its inner fold",
            },
            *fusion_choice,
        ],
        "embed_seconds": round(embed_seconds, 1),
    }
    oof = OutOfFold(
        [data.pair_ids[i] for i in rows],
        FNC1_LABELS,
        folds.folds[rows],
        np.eye(len(FNC1_LABELS), dtype=np.int64)[[FNC1_LABELS.index(g) for g in gold]],
        probabilities,
        groups=[folds.groups[i] for i in rows],
    )
    meta = _meta(refit_config, data.stances, {"folds": t.folds})
    parts = FolderParts(stage_one, runs[1:], fusion)
    files = {OUT_OF_FOLD_FILE: out_of_fold_bytes(oof)}
    return finish(_ensemble_run(runs), tokenizer, refit_config, meta, dev_metrics, parts, files=files)
