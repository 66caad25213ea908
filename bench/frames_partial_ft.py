"""Partial fine-tuning for frames: the encoder's lower layers cached once, its top layers and one attention head trained on articles (a benchmark, not a test).

Issue 21's second route. The lowest ``--frozen`` layers of the encoder never
change, so each sentence's states after them are computed once
(:func:`framelab.train.frozen.lower_states`); every epoch then runs only the
top layers (:func:`framelab.train.frozen.top_layers_only`) over all the
sentences of a batch of articles, mean-pools each sentence, and trains the
top layers and a label-wise attention head (:mod:`framelab.frames.head`)
on the articles' frames. The head starts from the frozen recipe (40 epochs
on the frozen vectors), so epoch 0 is the frozen baseline with one head.

``--inner``: fit on train folds 1–4 (by article, ``train.seed``), report
fold 0 after every epoch, alone and with the TF-IDF model averaged in, each
at the global threshold tuned on that fold: the choices (epochs, layers,
learning rates, TF-IDF weight) are made on train. Without it: fit on all the
train articles and score dev once (tuned and cross-fitted)::

    python bench/frames_partial_ft.py --inner --frozen 3 --epochs 5 --encoder-lr 1e-4 --head-lr 1e-3

``--techniques-weight W`` (issue 21's fourth route, frames and techniques
on one encoder at once): the same top layers also feed a linear techniques
head on every sentence of the batch, trained on the techniques whose gold
spans overlap that sentence (positive weights neg/pos capped at 10), and
the step's loss is the frames loss plus W times the techniques loss. The
techniques head's sentence-level micro-F1 on the judged articles is
printed beside the frames figures, so one sees it learns.

Only encoders that :func:`framelab.train.frozen.cacheable` accepts (the
BERT family: MiniLM, the default) can be cut this way.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn
from transformers import AutoModel

from framelab.config import load_config
from framelab.eval.scores import multilabel_scores
from framelab.frames.head import HeadSpec, train_heads
from framelab.frames.sentences import mean_tokens
from framelab.frames.train import frame_splits
from framelab.lexical import LexicalModel, blend
from framelab.models.folder import resolve_base_model
from framelab.splits import label_inventory, load_table
from framelab.thresholds import decisions_at, global_threshold
from framelab.train.folds import assign_folds, cross_fitted_figures
from framelab.train.frozen import cacheable, collate_cached, lower_states, top_layers_only
from framelab.train.trainer import load_tokenizer
from framelab.types import Article
from framelab.unit_pool import split_many

#: TF-IDF weights each evaluation reports.
WEIGHTS = (0.0, 0.25, 0.5, 0.75)


class SentenceStates:
    """Every sentence of the corpus as its cached lower-layer states, grouped by article."""

    def __init__(self, encoder, tokenizer, texts: list[str], *, frozen: int, max_length: int):
        units = split_many([Article(str(i), text) for i, text in enumerate(texts)], "sentence")
        flat = [u.text for own in units for u in own]
        self.bounds = [(u.start, u.end) for own in units for u in own]
        features = tokenizer(flat, truncation=True, max_length=max_length)
        features = {k: v for k, v in features.items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        self.encoder, self.frozen = encoder, frozen
        self.states = lower_states(encoder, features, frozen, batch_size=64, bf16=False)
        self.lengths = np.array([len(s) for s in self.states])
        self.starts = np.concatenate([[0], np.cumsum([len(own) for own in units])])

    def rows(self, articles: list[int]) -> tuple[list[int], list[int]]:
        """The sentence rows of ``articles``, one after the other, and each article's count."""
        rows = [r for a in articles for r in range(self.starts[a], self.starts[a + 1])]
        return rows, [int(self.starts[a + 1] - self.starts[a]) for a in articles]

    def vectors(self, rows: list[int], *, grad: bool, batch_size: int = 64) -> torch.Tensor:
        """The top layers over ``rows``' cached states, mean-pooled and L2-normalised, in input order."""
        order = sorted(range(len(rows)), key=lambda i: -self.lengths[rows[i]])
        out: list[torch.Tensor] = [torch.empty(0)] * len(rows)
        with torch.enable_grad() if grad else torch.inference_mode(), top_layers_only(self.encoder, self.frozen):
            for begin in range(0, len(order), batch_size):
                idx = order[begin : begin + batch_size]
                batch = collate_cached([{"inputs_embeds": self.states[rows[i]], "labels": 0} for i in idx])
                hidden = self.encoder(
                    inputs_embeds=batch["inputs_embeds"], attention_mask=batch["attention_mask"]
                ).last_hidden_state
                pooled = nn.functional.normalize(mean_tokens(hidden, batch["attention_mask"]), dim=-1)
                for r, i in enumerate(idx):
                    out[i] = pooled[r]
        return torch.stack(out)


class TechniquesHead(nn.Module):
    """A linear layer from a sentence vector to one logit per technique.

    The vectors are unit length; scaling them by sqrt(hidden size) gives
    the layer inputs of about unit size per dimension, so it learns at the
    usual rates.
    """

    def __init__(self, hidden: int, labels: int):
        super().__init__()
        self.linear = nn.Linear(hidden, labels)
        self.scale = hidden**0.5

    def forward(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.linear(vectors * self.scale)


def sentence_techniques(dataset_dir, ids: list[str], sentences: SentenceStates) -> np.ndarray:
    """Each sentence's techniques (0/1 rows, ``labels.json`` order): those with a gold span overlapping it."""
    spans = {}
    for split in ("train", "dev"):
        rows = load_table(dataset_dir, "articles", split)
        spans.update(zip(rows["id"], rows["spans"]))
    names = label_inventory(dataset_dir)["techniques"]
    index = {name: j for j, name in enumerate(names)}
    targets = np.zeros((len(sentences.bounds), len(names)), dtype=np.float32)
    for a, article_id in enumerate(ids):
        for row in range(sentences.starts[a], sentences.starts[a + 1]):
            start, end = sentences.bounds[row]
            for span in spans[article_id]:
                if min(span["end"], end) > max(span["start"], start):
                    targets[row, index[span["label"]]] = 1
    return targets


def predict(
    sentences: SentenceStates, head, articles: list[int], techniques=None, batch_size: int = 16
) -> tuple[np.ndarray, np.ndarray | None]:
    """The head's probabilities ``(articles, labels)`` on the current top layers, and the techniques head's on their sentences (when given)."""
    sentences.encoder.eval()
    head.eval()
    probs, sentence_probs = [], []
    with torch.inference_mode():
        for begin in range(0, len(articles), batch_size):
            rows, counts = sentences.rows(articles[begin : begin + batch_size])
            vectors = sentences.vectors(rows, grad=False)
            logits, _ = head(vectors, counts)
            probs.append(torch.sigmoid(logits).double().numpy())
            if techniques is not None:
                sentence_probs.append(torch.sigmoid(techniques(vectors)).double().numpy())
    return np.concatenate(probs), (np.concatenate(sentence_probs) if techniques is not None else None)


def fit_and_judged(train, dev, seed: int, *, inner: bool) -> tuple[list[int], list[int], np.ndarray, list[str] | None]:
    """Rows (train first, then dev) to fit on and to judge, the judged targets, and the judged ids when dev is judged (for cross-fitting).

    ``inner``: fit on train folds 1-4 (by article, ``seed``) and judge fold 0; else fit on train and judge dev.
    """
    n_train = len(train.texts)
    if inner:
        folds = assign_folds(train.ids, 5, seed)
        judged = [i for i in range(n_train) if folds[i] == 0]
        return [i for i in range(n_train) if folds[i] != 0], judged, train.targets[judged], None
    return list(range(n_train)), list(range(n_train, n_train + len(dev.texts))), dev.targets, dev.ids


def report(
    tag: str, probs: np.ndarray, targets: np.ndarray, lexical: np.ndarray, names: list[str], ids: list[str] | None
) -> None:
    """Micro-F1 at the global threshold tuned on these articles (and cross-fitted when ``ids`` are given) per TF-IDF weight."""
    parts = [tag]
    for weight in WEIGHTS:
        blended = blend(probs, lexical, weight)
        micro = multilabel_scores(decisions_at(blended, global_threshold(blended, targets)), targets, names)["micro"][
            "f1"
        ]
        crossed = (
            f" / {cross_fitted_figures(blended, targets, ids, names, rule='global')['micro_f1']:.3f}" if ids else ""
        )
        parts.append(f"TF-IDF {weight}: {micro:.3f}{crossed}")
    print("  ".join(parts), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="configs/semeval2023-frames.yaml")
    parser.add_argument("--base", default="default", help="a BERT-family encoder (model.base value)")
    parser.add_argument("--frozen", type=int, default=4, help="lower layers cached and never trained")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--encoder-lr", type=float, default=3e-5)
    parser.add_argument("--head-lr", type=float, default=3e-4)
    parser.add_argument("--batch-size", type=int, default=8, help="articles per step")
    parser.add_argument(
        "--inner", action="store_true", help="fit on train folds 1-4 and report fold 0; never touches dev"
    )
    parser.add_argument(
        "--techniques-weight",
        type=float,
        default=0.0,
        help="weight of a sentence techniques loss trained beside the frames (0: frames only)",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.perf_counter()

    config = load_config(args.config)
    train, dev, names = frame_splits(config)

    folder = resolve_base_model(args.base)
    encoder = AutoModel.from_pretrained(folder, dtype=torch.float32, use_safetensors=True)
    if not cacheable(encoder, args.frozen):
        raise SystemExit(f"{args.base}: its lower layers cannot be cached (model type {encoder.config.model_type})")
    sentences = SentenceStates(
        encoder,
        load_tokenizer(config, folder),
        train.texts + dev.texts,
        frozen=args.frozen,
        max_length=config.model.max_length,
    )
    print(
        f"{len(sentences.states)} sentences, mean {sentences.lengths.mean():.1f} tokens; lower states in {time.perf_counter() - started:.0f} s",
        flush=True,
    )

    fit, judged, judged_targets, ids = fit_and_judged(train, dev, config.train.seed, inner=args.inner)
    texts = train.texts + dev.texts
    lexical = LexicalModel.fit([texts[i] for i in fit], train.targets[fit], seed=config.train.seed).probabilities(
        [texts[i] for i in judged]
    )

    spec = HeadSpec(input_size=encoder.config.hidden_size, labels=len(names), heads=1)
    rows, counts = sentences.rows(fit)
    frozen_vectors = np.split(sentences.vectors(rows, grad=False).numpy(), np.cumsum(counts)[:-1])
    (head,) = train_heads(
        spec,
        frozen_vectors,
        train.targets[fit],
        epochs=40,
        learning_rate=1e-3,
        weight_decay=0.01,
        batch_size=16,
        seed=config.train.seed,
    )
    report("epoch 0 (frozen, one head)", predict(sentences, head, judged)[0], judged_targets, lexical, names, ids)

    techniques, technique_targets = None, None
    if args.techniques_weight:
        technique_targets = torch.from_numpy(sentence_techniques(config.dataset_dir, train.ids + dev.ids, sentences))
        fit_rows, _ = sentences.rows(fit)
        positives = technique_targets[fit_rows].sum(0)
        pos_weight = ((len(fit_rows) - positives) / positives.clamp(min=1)).clamp(max=10)
        techniques = TechniquesHead(encoder.config.hidden_size, technique_targets.shape[1])
        judged_rows, _ = sentences.rows(judged)
        print(
            f"techniques head: {technique_targets.shape[1]} labels, {int(technique_targets[fit_rows].any(1).sum())} of {len(fit_rows)} fit sentences with one",
            flush=True,
        )

    top = [p for layer in list(encoder.base_model.encoder.layer)[args.frozen :] for p in layer.parameters()]
    for parameter in encoder.parameters():
        parameter.requires_grad_(False)
    for parameter in top:
        parameter.requires_grad_(True)
    heads = list(head.parameters()) + (list(techniques.parameters()) if techniques is not None else [])
    optimiser = torch.optim.AdamW(
        [{"params": top, "lr": args.encoder_lr}, {"params": heads, "lr": args.head_lr}], weight_decay=0.01
    )
    gold = torch.from_numpy(train.targets[fit].astype(np.float32))
    order = torch.Generator().manual_seed(config.train.seed)
    for epoch in range(1, args.epochs + 1):
        epoch_started = time.perf_counter()
        encoder.train()
        head.train()
        total = 0.0
        for batch in torch.randperm(len(fit), generator=order).split(args.batch_size):
            rows, counts = sentences.rows([fit[i] for i in batch.tolist()])
            vectors = sentences.vectors(rows, grad=True)
            logits, _ = head(vectors, counts)
            loss = nn.functional.binary_cross_entropy_with_logits(logits, gold[batch])
            if techniques is not None:
                technique_loss = nn.functional.binary_cross_entropy_with_logits(
                    techniques(vectors), technique_targets[rows], pos_weight=pos_weight
                )
                loss = loss + args.techniques_weight * technique_loss
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch)
        print(f"epoch {epoch}: loss {total / len(fit):.4f}, {time.perf_counter() - epoch_started:.0f} s", flush=True)
        probs, sentence_probs = predict(sentences, head, judged, techniques)
        report(f"epoch {epoch}", probs, judged_targets, lexical, names, ids)
        if techniques is not None:
            gold_rows = technique_targets[judged_rows].numpy().astype(np.int64)
            micro = multilabel_scores(
                decisions_at(sentence_probs, global_threshold(sentence_probs, gold_rows)),
                gold_rows,
                [str(j) for j in range(gold_rows.shape[1])],
            )["micro"]["f1"]
            print(
                f"  techniques on the judged sentences: micro-F1 {micro:.3f} at the threshold tuned there", flush=True
            )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
