"""Which sentence encoder and head size for ``frames_attention``, chosen by 5-fold cross-validation on the train split (a benchmark, not a test).

The dev split is 72 articles: choosing a recipe among several on it would
report the luckiest. So every choice here is made on the train split only:

- every sentence of the train and dev articles is encoded once per encoder
  (:func:`framelab.frames.sentences.article_sentences`) and cached under
  ``--cache`` (an ``.npz`` per encoder and split), so a rerun costs seconds;
  ``minilm+mpnet`` concatenates the two encoders' vectors;
- for each encoder and head size, 5-fold out-of-fold probabilities of the
  heads on the train articles (the heads of :mod:`framelab.frames.head`,
  ``train.*`` settings of ``--config``), and of the TF-IDF model;
- each (encoder, head size, TF-IDF weight) is judged by out-of-fold micro-F1,
  each fold decided at the global threshold tuned on the other folds;
- the winner is trained on all the train articles and scored once on dev, as
  ``framelab train`` reports it (threshold tuned on dev, and cross-fitted over
  halves of the dev articles)::

    python bench/frames_heads_cv.py --config configs/semeval2023-frames.yaml --cache /tmp/frames-vectors
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel

from framelab.config import load_config
from framelab.eval.scores import multilabel_scores
from framelab.frames.head import HeadSpec, apply_heads, train_heads
from framelab.frames.sentences import article_sentences
from framelab.frames.train import frame_splits
from framelab.lexical import LexicalModel, blend
from framelab.models.folder import resolve_base_model
from framelab.thresholds import decisions_at, global_threshold
from framelab.train.folds import assign_folds, cross_fitted_figures
from framelab.train.trainer import load_tokenizer

ENCODERS = {"minilm": ["default"], "mpnet": ["mpnet"], "minilm+mpnet": ["default", "mpnet"]}


def _vectors(config, base: str, split: str, texts: list[str], cache: Path) -> list[np.ndarray]:
    """Per article, its sentences' vectors from encoder ``base``, read from ``cache`` or encoded and written there."""
    path = cache / f"{base}-{split}.npz"
    if not path.is_file():
        folder = resolve_base_model(base)
        tokenizer = load_tokenizer(config, folder)
        encoder = AutoModel.from_pretrained(folder, dtype=torch.float32, use_safetensors=True).eval()
        started = time.perf_counter()
        sentences = article_sentences(
            tokenizer, encoder, texts, max_length=config.model.max_length, batch_size=config.train.eval_batch_size
        )
        print(f"encoded {split} with {base}: {time.perf_counter() - started:.0f} s", flush=True)
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(path, *[s.vectors for s in sentences])
    stored = np.load(path)
    return [stored[f"arr_{i}"] for i in range(len(texts))]


def _heads_probs(
    config, spec: HeadSpec, train: list[np.ndarray], targets: np.ndarray, apply: list[np.ndarray]
) -> np.ndarray:
    t = config.train
    heads = train_heads(
        spec,
        train,
        targets,
        epochs=round(t.epochs),
        learning_rate=t.learning_rate,
        weight_decay=t.weight_decay,
        batch_size=t.batch_size,
        seed=t.seed,
    )
    return apply_heads(heads, spec, apply)[0]


def _cross_validated_micro(probs: np.ndarray, targets: np.ndarray, folds: np.ndarray) -> float:
    """Micro-F1 of the out-of-fold ``probs``, each fold decided at the global threshold tuned on the other folds."""
    decided = np.zeros_like(targets)
    for k in np.unique(folds):
        inside = folds == k
        decided[inside] = decisions_at(probs[inside], global_threshold(probs[~inside], targets[~inside]))
    return multilabel_scores(decided, targets, [str(j) for j in range(targets.shape[1])])["micro"]["f1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/semeval2023-frames.yaml")
    parser.add_argument("--cache", type=Path, required=True, help="folder for the cached sentence vectors")
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    parser.add_argument("--hidden", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--weights", nargs="+", type=float, default=[0.0, 0.25, 0.5, 0.75])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    config = load_config(args.config)
    train, dev, names = frame_splits(config)
    folds = assign_folds(train.ids, args.folds, config.train.seed)

    lexical_oof = np.zeros(train.targets.shape)
    for k in range(args.folds):
        inside = folds == k
        lexical = LexicalModel.fit(
            [x for x, o in zip(train.texts, ~inside) if o], train.targets[~inside], seed=config.train.seed
        )
        lexical_oof[inside] = lexical.probabilities([x for x, i in zip(train.texts, inside) if i])

    results = []
    for encoder in args.encoders:
        parts = [
            (_vectors(config, b, "train", train.texts, args.cache), _vectors(config, b, "dev", dev.texts, args.cache))
            for b in ENCODERS[encoder]
        ]
        train_vectors = [np.concatenate(v, axis=1) for v in zip(*(p[0] for p in parts))]
        dev_vectors = [np.concatenate(v, axis=1) for v in zip(*(p[1] for p in parts))]
        for hidden in args.hidden:
            spec = HeadSpec(input_size=train_vectors[0].shape[1], labels=len(names), hidden=hidden)
            started = time.perf_counter()
            oof = np.zeros(train.targets.shape)
            for k in range(args.folds):
                inside = folds == k
                fit = [v for v, o in zip(train_vectors, ~inside) if o]
                oof[inside] = _heads_probs(
                    config, spec, fit, train.targets[~inside], [v for v, i in zip(train_vectors, inside) if i]
                )
            seconds = time.perf_counter() - started
            for weight in args.weights:
                micro = _cross_validated_micro(blend(oof, lexical_oof, weight), train.targets, folds)
                results.append((micro, encoder, hidden, weight, train_vectors, dev_vectors))
                print(
                    f"{encoder:13s} hidden {hidden:4d} TF-IDF {weight:.2f}: out-of-fold micro-F1 {micro:.3f} ({seconds:.0f} s for {args.folds} folds)",
                    flush=True,
                )

    micro, encoder, hidden, weight, train_vectors, dev_vectors = max(results, key=lambda r: r[0])
    print(f"chosen on train: {encoder}, hidden {hidden}, TF-IDF weight {weight} (out-of-fold micro-F1 {micro:.3f})")
    spec = HeadSpec(input_size=train_vectors[0].shape[1], labels=len(names), hidden=hidden)
    probs = _heads_probs(config, spec, train_vectors, train.targets, dev_vectors)
    if weight:
        probs = blend(
            probs, LexicalModel.fit(train.texts, train.targets, seed=config.train.seed).probabilities(dev.texts), weight
        )
    tuned = multilabel_scores(decisions_at(probs, global_threshold(probs, dev.targets)), dev.targets, names)
    crossed = cross_fitted_figures(probs, dev.targets, dev.ids, names, rule="global")
    print(
        f"dev ({len(dev.texts)} articles): micro-F1 {tuned['micro']['f1']:.3f} at the threshold tuned on dev, {crossed['micro_f1']:.3f} cross-fitted; macro {crossed['macro_f1']:.3f} cross-fitted"
    )


if __name__ == "__main__":
    main()
