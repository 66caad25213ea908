"""Character spans ↔ per-token tags, and windows of long texts merged back.

**Tag scheme.** Each technique has two independent binary tags per token,
``B-<technique>`` (the token begins a span) and ``I-<technique>`` (the token
continues one); the model predicts them with one sigmoid each. Tagging every
technique on its own layer lets spans of *different* techniques overlap, which
PTC's annotations do all the time (a Loaded_Language phrase inside a Doubt
sentence), while one softmax BIO layer could hold only one technique per
token. ``B`` separates two adjacent spans of the same technique. Overlapping
spans of the *same* technique are merged before tagging, as the SemEval-2020
scorer merges them.

**Alignment.** The fast tokenizer's offset mapping gives each token its
``[start, end)`` in the text. A token belongs to a span when it shares at
least one character with it; special tokens (``[CLS]``, ``[SEP]``, padding)
carry no tag and are ignored by the loss (target ``-100``). Decoding turns a
run of tagged tokens back into ``[start of first token, end of last token)``,
so a span that starts or ends inside a word comes back widened to whole
tokens.

**Trimming.** Gold and decoded spans are trimmed of surrounding whitespace and
``. , : ;``, as the PTC v2 guidelines have annotators do.

**Windows.** A text longer than the model's limit is cut into windows that
overlap by ``stride`` tokens. Every token gets its tags from the one window in
which it lies farthest from a window edge, so no token is dropped or counted
twice and spans are decoded once over the whole text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

from framelab.types import Span

#: Characters trimmed from both ends of every span (besides whitespace).
TRIM_PUNCTUATION = ".,:;"
#: Target value of tokens the loss ignores.
IGNORE = -100


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """``[start, end)`` without surrounding whitespace and ``. , : ;`` (may become empty).

    A leading byte-order mark is dropped too: it is invisible, and the
    tokenizer gives it no token of its own.
    """
    while start < end and (text[start].isspace() or text[start] in TRIM_PUNCTUATION or text[start] == "\ufeff"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in TRIM_PUNCTUATION):
        end -= 1
    return start, end


def tag_names(labels: list[str]) -> list[str]:
    """Names of the ``2 * len(labels)`` tag channels: every ``B-`` tag, then every ``I-`` tag."""
    return [f"B-{name}" for name in labels] + [f"I-{name}" for name in labels]


def merge_same_label(spans: list[Span]) -> list[Span]:
    """Spans of one label that share a character become one span."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.label, s.start, s.end)):
        last = merged[-1] if merged else None
        if last is not None and last.label == span.label and span.start < last.end:
            merged[-1] = Span(last.start, max(last.end, span.end), last.label)
        else:
            merged.append(span)
    return sorted(merged)


@dataclass
class Windows:
    """Tokenised windows of several texts.

    ``features`` are the model inputs per window (unpadded); ``example[w]`` is
    the text window ``w`` came from; ``offsets[w][j]`` is token ``j``'s
    ``(start, end)`` in that text, or None for special tokens.
    """

    features: dict[str, list[list[int]]]
    example: np.ndarray
    offsets: list[list[tuple[int, int] | None]]

    def __len__(self) -> int:
        return len(self.example)


def tokenize_windows(tokenizer: PreTrainedTokenizerBase, texts: list[str], *, max_length: int, stride: int) -> Windows:
    """Tokenise ``texts`` into overlapping windows of at most ``max_length`` tokens."""
    if not texts:
        return Windows({"input_ids": [], "attention_mask": []}, np.zeros(0, dtype=np.int64), [])
    out = tokenizer(
        texts,
        truncation=True,
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    example = np.asarray(out.pop("overflow_to_sample_mapping"), dtype=np.int64)
    mappings = out.pop("offset_mapping")
    offsets = []
    for w, mapping in enumerate(mappings):
        sequence = out.sequence_ids(w)
        offsets.append([tuple(m) if seq == 0 and m[1] > m[0] else None for m, seq in zip(mapping, sequence)])
    return Windows(dict(out), example, offsets)


def token_targets(
    offsets: list[tuple[int, int] | None], spans: list[Span], labels: list[str], *, window_start: int = 0
) -> np.ndarray:
    """0/1 tag targets ``(tokens, 2 * labels)`` of one window, ``IGNORE`` on special tokens.

    ``spans`` are trimmed character spans of the window's text; spans of
    labels not in ``labels`` are skipped. ``window_start`` is where a later
    window of a long text begins: a span that starts before it began in an
    earlier window, so here it continues (``I``) instead of beginning (``B``).
    """
    index = {name: i for i, name in enumerate(labels)}
    n = len(labels)
    targets = np.zeros((len(offsets), 2 * n), dtype=np.float32)
    starts = np.array([o[0] if o else -1 for o in offsets], dtype=np.int64)
    ends = np.array([o[1] if o else -1 for o in offsets], dtype=np.int64)
    targets[starts < 0] = IGNORE
    for span in merge_same_label([s for s in spans if s.label in index]):
        inside = np.flatnonzero((starts >= 0) & (starts < span.end) & (ends > span.start))
        if len(inside) == 0:
            continue
        k = index[span.label]
        targets[inside[0], k if span.start >= window_start else n + k] = 1.0
        targets[inside[1:], n + k] = 1.0
    return targets


def window_starts(windows: Windows) -> list[int]:
    """Per window: 0 for the first window of its text, else its first token's start."""
    starts = []
    for w, offsets in enumerate(windows.offsets):
        first = next((o[0] for o in offsets if o is not None), 0)
        starts.append(0 if w == 0 or windows.example[w - 1] != windows.example[w] else first)
    return starts


def merge_windows(
    windows: Windows, window_probs: list[np.ndarray], n_texts: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per text: token offsets ``(tokens, 2)`` and tag probabilities, windows merged.

    ``window_probs[w]`` holds the tag probabilities of window ``w``'s tokens.
    A token seen in several windows keeps the row of the window where it is
    farthest from either edge (where the model saw the most context).
    """
    best: list[dict[tuple[int, int], tuple[int, np.ndarray]]] = [{} for _ in range(n_texts)]
    for w, (offsets, probs) in enumerate(zip(windows.offsets, window_probs)):
        text_tokens = [j for j, o in enumerate(offsets) if o is not None]
        if not text_tokens:
            continue
        first, last = text_tokens[0], text_tokens[-1]
        seen = best[windows.example[w]]
        for j in text_tokens:
            margin = min(j - first, last - j)
            key = offsets[j]
            if key not in seen or margin > seen[key][0]:
                seen[key] = (margin, probs[j])
    merged = []
    for seen in best:
        keys = sorted(seen)
        offsets = np.asarray(keys, dtype=np.int64).reshape(-1, 2)
        width = next(iter(seen.values()))[1].shape[0] if seen else 0
        probs = np.stack([seen[k][1] for k in keys]) if keys else np.zeros((0, width))
        merged.append((offsets, probs))
    return merged


@dataclass(frozen=True)
class TaggedSpan:
    """A decoded span: ``[start, end)`` in its text, technique and mean tag probability."""

    start: int
    end: int
    label: str
    score: float


def decode(
    text: str, offsets: np.ndarray, probs: np.ndarray, labels: list[str], thresholds: list[float] | np.ndarray
) -> list[TaggedSpan]:
    """Spans of ``text`` from per-token tag probabilities (see the module doc).

    A token is inside a span of technique ``k`` when ``max(P(B), P(I))``
    reaches ``thresholds[k]``; a new span starts at a token whose ``B`` beats
    its ``I``. The span's score is the mean inside-probability of its tokens.
    """
    n = len(labels)
    spans: list[TaggedSpan] = []
    if len(offsets) == 0:
        return spans
    inside = np.maximum(probs[:, :n], probs[:, n:])
    begins = probs[:, :n] > probs[:, n:]
    for k, name in enumerate(labels):
        on = inside[:, k] >= thresholds[k]
        run: list[int] = []
        for j in range(len(offsets) + 1):
            if j < len(offsets) and on[j] and not (run and begins[j, k]):
                run.append(j)
                continue
            if run:
                start, end = trim_span(text, int(offsets[run[0], 0]), int(offsets[run[-1], 1]))
                if start < end:
                    spans.append(TaggedSpan(start, end, name, float(inside[run, k].mean())))
            run = [j] if j < len(offsets) and on[j] else []
    return sorted(spans, key=lambda s: (s.start, s.end, s.label))


def text_label_scores(tokens: list[tuple[np.ndarray, np.ndarray]], n_labels: int) -> np.ndarray:
    """Per text (``tokens`` as from :meth:`framelab.models.predictor.Predictor.token_probabilities`), each
    technique's highest inside-probability ``max(P(B), P(I))`` over its tokens; 0 for a text without tokens."""
    out = np.zeros((len(tokens), n_labels))
    for row, (offsets, probs) in enumerate(tokens):
        if len(offsets):
            out[row] = np.maximum(probs[:, :n_labels], probs[:, n_labels:]).max(axis=0)
    return out


def span_label_scores(offsets: np.ndarray, probs: np.ndarray, n_labels: int, start: int, end: int) -> np.ndarray | None:
    """Mean inside-probability per technique over the tokens overlapping ``[start, end)``, or None if no token does."""
    if len(offsets) == 0:
        return None
    hit = (offsets[:, 0] < end) & (offsets[:, 1] > start)
    if not hit.any():
        return None
    inside = np.maximum(probs[hit, :n_labels], probs[hit, n_labels:])
    return inside.mean(axis=0)
