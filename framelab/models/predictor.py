"""Loading a saved model folder and computing label probabilities fast.

Inputs are tokenised in one call with the fast tokenizer, windows are sorted
by length and batched so each batch pads only to its own longest window, and
the forward pass runs under ``torch.inference_mode``. Results come back in
input order.

Batches are padded with NumPy straight from the token lists (the same ids,
masks and token types ``tokenizer.pad`` would give, without its per-example
Python work), and torch never runs more threads than the CPUs this process
may use (CPU affinity and a cgroup quota both count), since oversubscribed
threads make every matrix product wait on descheduled ones. On the CPU the C
heap's free pages go back to the system before the widest batch of each call
and whenever resident memory climbs past what a batch needs
(:mod:`framelab.memory`), so it does not creep up over a long run.
``bench/speed.py`` measures this path against the plain Transformers pipeline
and the bare forward pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

from framelab.cpus import usable_cpus
from framelab.encoding import Encoded, activate, encode, pool
from framelab.errors import DataError, Problem
from framelab.lexical import LexicalModel
from framelab.memory import HeapTrimmer
from framelab.models.folder import ModelMeta, check_head, check_vocabulary, read_meta
from framelab.progress import bar
from framelab.tagging import merge_windows, tag_names, text_label_scores, tokenize_windows
from framelab.tasks import get_task

#: Features padded here; any other feature goes through ``tokenizer.pad``.
_PADDED = ("input_ids", "attention_mask", "token_type_ids")

# The label of the bar over forward passes; None (the default) shows none, since scoring draws its own bar per article.
_progress_label: ContextVar[str | None] = ContextVar("framelab_inference_progress", default=None)


@contextmanager
def inference_progress(label: str) -> Iterator[None]:
    """Show a progress bar, named ``label``, over the batches of every forward pass inside the block
    (``framelab eval``)."""
    token = _progress_label.set(label)
    try:
        yield
    finally:
        _progress_label.reset(token)


#: One per process, shared by every predictor: resident memory is the process's.
HEAP_TRIMMER = HeapTrimmer()


def _limit_threads() -> None:
    usable = usable_cpus()
    if torch.get_num_threads() > usable:
        torch.set_num_threads(usable)


def _load(path: Path, what: str, load, *args, **kwargs):
    """``load(*args, **kwargs)``, any failure turned into a :class:`DataError` naming ``path``: a truncated or
    corrupt file is the user's to replace."""
    try:
        return load(*args, **kwargs)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors, tokenizers and transformers each raise their own kinds
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            Problem(
                str(path),
                None,
                f"cannot load the model's {what}: {detail}",
                "the folder is damaged or incomplete: copy it again or retrain",
            )
        ) from exc


def load_tokenizer(folder: str | Path):
    """The tokenizer saved in ``folder``, refused (:class:`DataError` naming the file) unless its vocabulary fits the
    model's embeddings (:func:`framelab.models.folder.check_vocabulary`); every model folder loads its tokenizers here.
    """
    folder = Path(folder)
    tokenizer = _load(folder, "tokenizer files", AutoTokenizer.from_pretrained, str(folder), trust_remote_code=False)
    check_vocabulary(folder, len(tokenizer))
    return tokenizer


def load_weights(folder: Path, auto, quantize: str | None = None):
    """The weights in ``folder`` as the ``auto`` class loads them (safetensors only), in eval mode, and int8 when
    ``quantize`` says so; a damaged folder is a :class:`DataError` naming the file."""
    model = _load(
        folder / "model.safetensors",
        "weights",
        auto.from_pretrained,
        str(folder),
        use_safetensors=True,
        trust_remote_code=False,
    )
    return quantized(model.eval(), quantize)


def quantized(model: torch.nn.Module, quantize: str | None) -> torch.nn.Module:
    """``model`` with its linear layers in dynamic int8 when ``quantize`` is ``"int8"``, as it is when None."""
    if quantize == "int8":
        # Per-channel weight scales: as fast as per-tensor, with half the largest
        # probability change from fp32 and fewer flipped decisions
        # (bench/int8_variants.py at bb5ea47). In place: no second fp32 copy while loading.
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        linear = {torch.nn.Linear: qconfig}
        return torch.ao.quantization.quantize_dynamic(model, linear, dtype=torch.qint8, inplace=True)
    if quantize is not None:
        raise ValueError(f"unknown quantisation {quantize!r}; the only choice is int8")
    return model


def inference_device(quantize: str | None, device: str | torch.device | None) -> torch.device:
    """Where a model scores: the CPU when quantized (dynamic int8 kernels exist only there), else ``device``, else a
    GPU when there is one."""
    if quantize is not None:
        return torch.device("cpu")
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Predictor:
    """A trained framelab model ready to score texts."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        batch_size: int = 64,
        quantize: str | None = None,
        device: str | torch.device | None = None,
    ):
        self.model_dir = Path(model_dir)
        self.meta: ModelMeta = read_meta(self.model_dir)
        self.batch_size = batch_size
        _limit_threads()
        self.tokenizer = load_tokenizer(self.model_dir)
        self.task = get_task(self.meta.task)
        auto = AutoModelForTokenClassification if self.task.head == "token" else AutoModelForSequenceClassification
        model = load_weights(self.model_dir, auto, quantize)
        check_head(self.model_dir, self.meta.labels, model.config.num_labels, self.head_outputs(), "config.json")
        #: Units longer than ``max_length`` tokens cut to it so far (unit models; article models window instead).
        self.cut_units = 0
        self.device = inference_device(quantize, device)
        self.model = model.to(self.device)
        self.lexical = LexicalModel.load(self.model_dir) if self.meta.lexical_weight else None

    @property
    def name(self) -> str:
        """The model folder's name, used to key its predictions."""
        return self.model_dir.name

    def head_outputs(self) -> int:
        """How many outputs the head needs for the folder's labels: one per label, or a B and an I tag per label."""
        return len(tag_names(self.meta.labels)) if self.task.head == "token" else len(self.meta.labels)

    def _batches(self, encoded: Encoded, order: np.ndarray, lengths: np.ndarray):
        """Yield ``(indices, model inputs)`` for consecutive slices of ``order``."""
        tok = self.tokenizer
        features = encoded.features
        names = list(features)
        fast = set(names) <= set(_PADDED) and "input_ids" in names and tok.pad_token_id is not None
        pad_values = {"input_ids": tok.pad_token_id, "attention_mask": 0, "token_type_ids": tok.pad_token_type_id}
        left = tok.padding_side == "left"
        label = _progress_label.get()
        batches = range(0, len(order), self.batch_size)
        for begin in batches if label is None else bar(batches, desc=label, unit=" batches", leave=False):
            idx = order[begin : begin + self.batch_size]
            if not fast:
                yield idx, tok.pad({k: [features[k][i] for i in idx] for k in names}, return_tensors="pt")
                continue
            width = int(lengths[idx].max())
            batch = {}
            for name in names:
                column = features[name]
                array = np.full((len(idx), width), pad_values[name], dtype=np.int64)
                for row, i in enumerate(idx):
                    n = lengths[i]
                    if left:
                        array[row, width - n :] = column[i]
                    else:
                        array[row, :n] = column[i]
                batch[name] = torch.from_numpy(array)
            yield idx, batch

    # Without these, a long CPU run's resident memory keeps growing with the
    # allocator's holes (framelab/memory.py); GPU activations are not on the C heap.
    def _before_batch(self, batch: dict[str, torch.Tensor]) -> None:
        if self.device.type == "cpu":
            HEAP_TRIMMER.before_batch(next(iter(batch.values())).numel())

    def _after_batch(self) -> None:
        if self.device.type == "cpu":
            HEAP_TRIMMER.after_batch()

    def logits(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """Logits per text (pooled over windows for article models)."""
        meta = self.meta
        encoded = encode(
            self.tokenizer,
            texts,
            max_length=meta.max_length,
            stride=meta.stride,
            windowed=meta.article_level,
            pairs=pairs,
        )
        if not meta.article_level:
            self.cut_units += encoded.cut
        n_labels = len(meta.labels)
        if len(encoded) == 0:
            return np.zeros((len(texts), n_labels))
        lengths = np.fromiter((len(ids) for ids in encoded.features["input_ids"]), dtype=np.int64, count=len(encoded))
        order = np.argsort(-lengths, kind="stable")
        window_logits = np.zeros((len(encoded), n_labels), dtype=np.float32)
        with torch.inference_mode():
            for idx, batch in self._batches(encoded, order, lengths):
                self._before_batch(batch)
                batch = {k: v.to(self.device) for k, v in batch.items()}
                window_logits[idx] = self.model(**batch).logits.float().cpu().numpy()
                self._after_batch()
        if not meta.article_level:
            return window_logits.astype(np.float64)
        return pool(window_logits, encoded.example, len(texts), meta.pooling)

    def token_probabilities(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Span models: per text, token offsets ``(tokens, 2)`` and B/I tag probabilities, windows merged."""
        meta = self.meta
        windows = tokenize_windows(self.tokenizer, texts, max_length=meta.max_length, stride=meta.stride)
        if len(windows) == 0:
            return []
        lengths = np.fromiter((len(ids) for ids in windows.features["input_ids"]), dtype=np.int64, count=len(windows))
        order = np.argsort(-lengths, kind="stable")
        left = self.tokenizer.padding_side == "left"
        window_probs: list[np.ndarray] = [np.zeros(0)] * len(windows)
        with torch.inference_mode():
            for idx, batch in self._batches(windows, order, lengths):
                self._before_batch(batch)
                batch = {k: v.to(self.device) for k, v in batch.items()}
                logits = self.model(**batch).logits.float().cpu().numpy().astype(np.float64)
                width = logits.shape[1]
                for row, i in enumerate(idx):
                    n = lengths[i]
                    own = logits[row, width - n :] if left else logits[row, :n]
                    window_probs[i] = 1.0 / (1.0 + np.exp(-own))
                self._after_batch()
        return merge_windows(windows, window_probs, len(texts))

    def probabilities(self, texts: list[str], pairs: list[str] | None = None) -> np.ndarray:
        """Label probabilities per text, shape ``(len(texts), len(labels))``.

        A blended model (``lexical_weight`` > 0) averages in its TF-IDF model's.
        A span tagger gives each technique its highest token probability in the
        text (:func:`framelab.tagging.text_label_scores`): how likely the
        text holds a span of it.
        """
        if self.task.head == "token":
            return text_label_scores(self.token_probabilities(texts), len(self.meta.labels))
        probs = activate(self.logits(texts, pairs), self.meta.multi_label)
        if self.lexical is not None:
            probs = self.lexical.blend(probs, texts, self.meta.lexical_weight)
        return probs

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """0/1 decisions: per-label thresholds, or the arg-max for single-label models."""
        if self.meta.multi_label:
            return (probs >= np.asarray(self.meta.thresholds)).astype(np.int64)
        out = np.zeros_like(probs, dtype=np.int64)
        if len(probs):
            out[np.arange(len(probs)), probs.argmax(axis=1)] = 1
        return out
