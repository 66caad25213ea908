"""Frames from a frozen encoder: a linear probe on sentence embeddings, TF-IDF, and their blend (a benchmark, not a test).

Fine-tuning for frames takes hours on a CPU (9.7 s a step; docs/benchmarks.md),
so this asks whether the encoder's embeddings, left frozen, help the TF-IDF
model. For a dataset folder with articles and frames (``framelab data``):

- each article is embedded once with the encoder (mean of its token vectors,
  L2-normalised). ``--pooling windows``: 256-token windows with a 64-token
  stride, averaged; ``--pooling sentences``: every sentence
  (:func:`framelab.unit_pool.split_many`), their mean and element-wise max
  concatenated;
- one balanced logistic regression per frame on the embeddings (the probe,
  for each ``--C``), and the TF-IDF model (:class:`framelab.lexical.LexicalModel`);
- everything is chosen on the train split only: 5-fold out-of-fold
  probabilities pick the probe's C, the blend weight of TF-IDF
  (``--weights``) and one global threshold (:func:`framelab.thresholds.global_threshold`),
  by micro-F1;
- the dev split is scored once, with those choices, for TF-IDF (at 0.5 and at
  its own cross-fitted threshold), the probe and the chosen blend::

    python bench/frames_probe.py --data data/processed/semeval2023-lines --pooling sentences
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from transformers import AutoModel, AutoTokenizer

from framelab.encoding import encode, pool
from framelab.eval.scores import multilabel_scores
from framelab.lexical import LexicalModel, blend
from framelab.models.folder import resolve_base_model
from framelab.splits import load_task_split
from framelab.thresholds import decisions_at, global_threshold
from framelab.types import Article
from framelab.unit_pool import split_many


def _text_vectors(
    tokenizer, encoder, texts: list[str], *, max_length: int, windowed: bool, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalised mean token vectors of every window of ``texts`` (one per text unless ``windowed``), and each window's text."""
    encoded = encode(tokenizer, texts, max_length=max_length, stride=64, windowed=windowed)
    features = encoded.features
    vectors = np.zeros((len(encoded), encoder.config.hidden_size), dtype=np.float32)
    order = np.argsort([-len(x) for x in features["input_ids"]], kind="stable")
    with torch.inference_mode():
        for begin in range(0, len(order), batch_size):
            idx = order[begin : begin + batch_size]
            batch = tokenizer.pad({k: [v[i] for i in idx] for k, v in features.items()}, return_tensors="pt")
            hidden = encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            vectors[idx] = ((hidden * mask).sum(1) / mask.sum(1)).numpy()
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), encoded.example


def _unit_rows(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def embed_articles(tokenizer, encoder, texts: list[str], pooling: str) -> np.ndarray:
    """One feature row per article (see the module docstring for ``pooling``)."""
    if pooling == "windows":
        vectors, article = _text_vectors(tokenizer, encoder, texts, max_length=256, windowed=True, batch_size=32)
        return _unit_rows(pool(vectors, article, len(texts), "mean"))
    units = split_many([Article(str(i), text) for i, text in enumerate(texts)], "sentence")
    vectors, sentence = _text_vectors(
        tokenizer, encoder, [u.text for own in units for u in own], max_length=128, windowed=False, batch_size=64
    )
    article = np.repeat(np.arange(len(texts)), [len(own) for own in units])[sentence]
    return np.concatenate(
        [_unit_rows(pool(vectors, article, len(texts), "mean")), pool(vectors, article, len(texts), "max")], axis=1
    )


def probe_probabilities(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, c: float, seed: int
) -> np.ndarray:
    """One balanced logistic regression per label column; a constant column predicts itself."""
    probs = np.zeros((len(x_test), y_train.shape[1]))
    for j in range(y_train.shape[1]):
        column = y_train[:, j]
        if column.min() == column.max():
            probs[:, j] = column[0]
            continue
        model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=seed)
        probs[:, j] = model.fit(x_train, column).predict_proba(x_test)[:, 1]
    return probs


def _micro_f1(probs: np.ndarray, gold: np.ndarray, threshold: float, names: list[str]) -> float:
    return multilabel_scores(decisions_at(probs, threshold), gold, names)["micro"]["f1"]


def main(argv: list[str] | None = None) -> None:
    """Print the cross-fitted choices on train and the dev figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="dataset folder with an articles table and frames (framelab data)")
    p.add_argument(
        "--base", default="default", help="encoder folder or hub name (default: the packaged all-MiniLM-L6-v2)"
    )
    p.add_argument("--pooling", choices=["windows", "sentences"], default="sentences")
    p.add_argument(
        "--C",
        dest="cs",
        type=float,
        nargs="+",
        default=[0.3, 1.0, 3.0],
        help="inverse regularisation strengths to choose from",
    )
    p.add_argument(
        "--weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75], help="TF-IDF blend weights to choose from"
    )
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    train, names = load_task_split(Path(a.data), "frames", "train")
    dev, _ = load_task_split(Path(a.data), "frames", "dev", names)
    print(f"{len(train.texts)} train and {len(dev.texts)} dev articles, {len(names)} frames")
    base = resolve_base_model(a.base)
    tokenizer, encoder = AutoTokenizer.from_pretrained(base), AutoModel.from_pretrained(base).eval()
    started = time.perf_counter()
    x_train = embed_articles(tokenizer, encoder, train.texts, a.pooling)
    x_dev = embed_articles(tokenizer, encoder, dev.texts, a.pooling)
    print(f"embedded in {time.perf_counter() - started:.0f} s ({a.pooling})")

    folds = list(KFold(a.folds, shuffle=True, random_state=a.seed).split(x_train))
    texts = np.array(train.texts, dtype=object)
    oof_tfidf = np.zeros(train.targets.shape)
    oof_probe = {c: np.zeros(train.targets.shape) for c in a.cs}
    for fit, held in folds:
        oof_tfidf[held] = LexicalModel.fit(list(texts[fit]), train.targets[fit], seed=a.seed).probabilities(
            list(texts[held])
        )
        for c in a.cs:
            oof_probe[c][held] = probe_probabilities(x_train[fit], train.targets[fit], x_train[held], c, a.seed)
    choices = []
    for c in a.cs:
        for w in a.weights:
            mixed = blend(oof_probe[c], oof_tfidf, w)
            threshold = global_threshold(mixed, train.targets)
            choices.append((_micro_f1(mixed, train.targets, threshold, names), c, w, threshold))
            print(
                f"train, out of fold: probe C={c} with TF-IDF at w={w}: threshold {threshold:.2f}, micro-F1 {choices[-1][0]:.3f}"
            )
    tfidf_threshold = global_threshold(oof_tfidf, train.targets)
    print(
        f"train, out of fold: TF-IDF alone: threshold {tfidf_threshold:.2f}, micro-F1 {_micro_f1(oof_tfidf, train.targets, tfidf_threshold, names):.3f}"
    )
    _, c, w, threshold = max(choices)
    probe_threshold = global_threshold(oof_probe[c], train.targets)

    dev_tfidf = LexicalModel.fit(train.texts, train.targets, seed=a.seed).probabilities(dev.texts)
    dev_probe = probe_probabilities(x_train, train.targets, x_dev, c, a.seed)
    print(f"chosen on train: C={c}, TF-IDF weight {w}, threshold {threshold:.2f}")
    print(f"dev micro-F1: TF-IDF at 0.5 {_micro_f1(dev_tfidf, dev.targets, 0.5, names):.3f}")
    print(
        f"dev micro-F1: TF-IDF at its cross-fitted threshold {tfidf_threshold:.2f}: {_micro_f1(dev_tfidf, dev.targets, tfidf_threshold, names):.3f}"
    )
    print(
        f"dev micro-F1: probe C={c} at {probe_threshold:.2f}: {_micro_f1(dev_probe, dev.targets, probe_threshold, names):.3f}"
    )
    print(f"dev micro-F1: chosen blend: {_micro_f1(blend(dev_probe, dev_tfidf, w), dev.targets, threshold, names):.3f}")


if __name__ == "__main__":
    main()
