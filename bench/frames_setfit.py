"""Contrastive fine-tuning of the sentence encoder on articles (SetFit) for frames (a benchmark, not a test).

Issue 21's third route. SetFit draws pairs of articles, pulls together two
that share a frame and pushes apart two that share none (cosine-similarity
loss), then fits one logistic regression per frame on the tuned encoder's
article embeddings. An article enters the encoder as its first
``--max-length`` tokens (title and lead). The same head is also fitted on
the untuned encoder, so the gain of the contrastive step stands beside it;
both are reported alone and with the TF-IDF model averaged in, each at the
global threshold tuned on the judged articles.

``--inner``: fit on train folds 1–4 (by article, ``train.seed``) and judge
train fold 0, so choices are made on train; without it: fit on every train
article and score dev once (tuned and cross-fitted)::

    pip install --no-deps setfit==1.2.0 sentence-transformers==6.3.0   # not framelab dependencies
    python bench/frames_setfit.py --inner --iterations 5 --max-length 256
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from datasets import Dataset
from frames_partial_ft import fit_and_judged, report
from setfit import SetFitModel, Trainer, TrainingArguments
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from framelab.config import load_config
from framelab.frames.train import frame_splits
from framelab.lexical import LexicalModel
from framelab.models.folder import resolve_base_model


def head_probabilities(
    model: SetFitModel, fit_texts: list[str], fit_targets: np.ndarray, judged_texts: list[str]
) -> np.ndarray:
    """SetFit's default head (one-vs-rest logistic regression) on the encoder's article embeddings, applied to ``judged_texts``."""
    encode = dict(batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    head = OneVsRestClassifier(LogisticRegression(max_iter=1000)).fit(
        model.model_body.encode(fit_texts, **encode), fit_targets
    )
    return head.predict_proba(model.model_body.encode(judged_texts, **encode))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/semeval2023-frames.yaml")
    parser.add_argument("--base", default="default", help="a sentence-transformers encoder (model.base value)")
    parser.add_argument(
        "--iterations", type=int, default=5, help="SetFit num_iterations: positive and negative pairs per article"
    )
    parser.add_argument("--max-length", type=int, default=256, help="tokens of each article the encoder sees")
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per step")
    parser.add_argument(
        "--inner", action="store_true", help="fit on train folds 1-4 and report fold 0; never touches dev"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.perf_counter()

    config = load_config(args.config)
    train, dev, names = frame_splits(config)
    texts = train.texts + dev.texts
    fit, judged, judged_targets, ids = fit_and_judged(train, dev, config.train.seed, inner=args.inner)
    fit_texts, judged_texts, fit_targets = [texts[i] for i in fit], [texts[i] for i in judged], train.targets[fit]
    lexical = LexicalModel.fit(fit_texts, fit_targets, seed=config.train.seed).probabilities(judged_texts)

    model = SetFitModel.from_pretrained(resolve_base_model(args.base), multi_target_strategy="one-vs-rest")
    model.model_body.max_seq_length = args.max_length
    report(
        "untuned encoder, same head",
        head_probabilities(model, fit_texts, fit_targets, judged_texts),
        judged_targets,
        lexical,
        names,
        ids,
    )

    training = TrainingArguments(
        batch_size=args.batch_size,
        num_epochs=1,
        num_iterations=args.iterations,
        body_learning_rate=args.learning_rate,
        max_length=args.max_length,
        seed=config.train.seed,
        report_to="none",
        save_strategy="no",
        show_progress_bar=False,
    )
    pairs = Dataset.from_dict({"text": fit_texts, "label": fit_targets.tolist()})
    tuning_started = time.perf_counter()
    Trainer(model=model, args=training, train_dataset=pairs).train_embeddings(fit_texts, fit_targets.tolist())
    print(f"contrastive step: {time.perf_counter() - tuning_started:.0f} s", flush=True)
    report(
        "SetFit-tuned encoder",
        head_probabilities(model, fit_texts, fit_targets, judged_texts),
        judged_targets,
        lexical,
        names,
        ids,
    )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
