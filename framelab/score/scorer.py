"""``framelab score``: run saved models over articles and stream the results.

Articles are read and scored in chunks (``chunk_articles`` at a time), so the
units of many short articles share batches while memory stays flat however
large the corpus is; each chunk's results are handed to the writer before the
next chunk is read. A chunk is cut into sentences on every usable CPU
(:mod:`framelab.unit_pool`) before its forward pass. Every unit of every
article appears in the output, with or without labels.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from framelab.models.ensemble import EnsemblePredictor, load_model
from framelab.models.predictor import Predictor
from framelab.output import claim
from framelab.progress import bar as progress_bar
from framelab.score.batching import token_chunks
from framelab.score.inputs import CheckedInputs, checked_inputs, iter_articles
from framelab.score.manifest import IdDigest, ModelStamp, model_fingerprint, write_manifest
from framelab.score.records import ModelLabels, Prediction, ScoredArticle, ScoredUnit
from framelab.score.shard import select_shard, shard_of
from framelab.score.writers import WRITERS, Writer, open_writer
from framelab.tagging import TaggedSpan, decode
from framelab.tasks import get_task
from framelab.types import Article
from framelab.unit_pool import split_many


@dataclass
class ScoreSummary:
    """Counts and throughput of a scoring run."""

    articles: int = 0
    units: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    #: Inputs left out under ``on_error="skip"``, one line each.
    problems: list[str] = field(default_factory=list)
    #: Per model: units longer than its ``max_length`` tokens, cut to it (unit models only; article models window).
    cut_units: dict[str, int] = field(default_factory=dict)


@dataclass
class ScoreOptions:
    """How ``framelab score`` runs; see :func:`score`."""

    #: Output format, a key of :data:`framelab.score.writers.WRITERS`.
    fmt: str = "jsonl"
    #: Output file (folder for semeval2023/semeval2020); None: standard output (jsonl, csv).
    out: str | Path | None = None
    batch_size: int = 64
    #: ``int8``: dynamic int8 quantisation of the linear layers (CPU).
    quantize: str | None = None
    #: Articles read and scored together.
    chunk_articles: int = 128
    #: Instead: articles of at most this many tokens together (:func:`framelab.score.batching.token_chunks`).
    chunk_tokens: int | None = None
    progress: bool = True
    #: ``(k, n)``: score only shard k of n (:mod:`framelab.score.shard`).
    shard: tuple[int, int] | None = None
    #: Stance target for articles that carry none; several: every article toward each of them.
    target: str | list[str] | None = None
    #: Where the models run (default: a GPU when there is one).
    device: Any = None
    #: Processes that cut each chunk into units (default: one per usable CPU; 1: this process).
    split_workers: int | None = None
    #: ``strict``: the first bad input stops the run; ``skip``: bad input files are left out and listed.
    on_error: str = "strict"
    #: csv: start with a UTF-8 byte-order mark, so that Excel reads non-ASCII text.
    excel: bool = False
    #: Replace an output folder that framelab did not write (:func:`framelab.output.check_output`).
    force: bool = False


def _decisions(predictor: Predictor, texts: list[str], targets: list[str] | None = None) -> list[Prediction]:
    names = predictor.meta.labels
    # A predictor that can say where each label sits (frames_attention), what its stance rests on (fnc1) or which
    # spans carry its techniques (techniques_multihead) gives its evidence or spans from the same pass.
    explained = predictor.explained(texts, targets) if hasattr(predictor, "explained") else None
    probs = explained[0] if explained else predictor.probabilities(texts, targets)
    decided = predictor.decide(probs)
    none = [None] * len(texts)
    evidence = predictor.evidence(texts, decided, explained) if hasattr(predictor, "evidence") else none
    spans = predictor.spans(texts, explained) if hasattr(predictor, "spans") else none
    targets = targets or none
    return [
        Prediction(
            predictor.meta.task,
            [names[j] for j in np.flatnonzero(row)],
            {n: round(float(p), 4) for n, p in zip(names, prow)},
            target,
            spans=tagged,
            evidence=found,
        )
        for row, prow, target, found, tagged in zip(decided, probs, targets, evidence, spans)
    ]


def _span_decisions(predictor: Predictor, texts: list[str]) -> list[Prediction]:
    meta = predictor.meta
    predictions = []
    for text, (offsets, probs) in zip(texts, predictor.token_probabilities(texts)):
        spans = decode(text, offsets, probs, meta.labels, meta.thresholds)
        best: dict[str, float] = {}
        for s in spans:
            best[s.label] = max(best.get(s.label, 0.0), round(s.score, 4))
        rounded = [TaggedSpan(s.start, s.end, s.label, round(s.score, 4)) for s in spans]
        predictions.append(Prediction(meta.task, sorted(best), dict(sorted(best.items())), spans=rounded))
    return predictions


def _unit_kind(predictor: Predictor) -> str | None:
    """The unit kind a model labels besides whole articles: its own, the one its task also scores
    (stance: sentences), or none."""
    task = get_task(predictor.meta.task)
    return task.also_scores if task.windowed else predictor.meta.unit


def stance_targets(articles: list[Article], target: str | None) -> list[str]:
    """Each article's stance target: its own (from JSONL), else ``target``."""
    targets = []
    for a in articles:
        chosen = a.stance_target or target
        if not chosen:
            raise ValueError(
                f'article {a.id} has no stance target: pass --target "…" or give stance.target in the JSONL input'
            )
        targets.append(chosen)
    return targets


def score_chunk(
    predictors: list[Predictor],
    articles: list[Article],
    target: str | list[str] | None = None,
    *,
    split_workers: int | None = None,
) -> list[ScoredArticle]:
    """Score a list of articles with every model.

    Stance models label each article (windows pooled) and, applied to each
    sentence with the same target, every sentence. With several targets, each
    article is scored toward each of them, every target's predictions keyed
    ``<model>@<target>``. ``split_workers`` processes cut the articles into
    units (:func:`framelab.unit_pool.split_many`).
    """
    if target is None or isinstance(target, str) or len(target) == 1:
        return _score_chunk(
            predictors,
            articles,
            target if target is None or isinstance(target, str) else target[0],
            split_workers=split_workers,
        )
    paired = [p for p in predictors if get_task(p.meta.task).has_target]
    scored = _score_chunk([p for p in predictors if p not in paired], articles, None, split_workers=split_workers)
    for t in target:
        toward = [dataclasses.replace(a, stance_target=None) for a in articles]
        for result, part in zip(scored, _score_chunk(paired, toward, t, split_workers=split_workers)):
            result.predictions.update({f"{name}@{t}": p for name, p in part.predictions.items()})
            have = {(u.kind, u.unit.index): u for u in result.units}
            for other in part.units:
                unit = have.get((other.kind, other.unit.index))
                if unit is None:
                    unit = have[(other.kind, other.unit.index)] = ScoredUnit(other.kind, other.unit)
                    result.units.append(unit)
                unit.predictions.update({f"{name}@{t}": p for name, p in other.predictions.items()})
    return scored


def _score_chunk(
    predictors: list[Predictor], articles: list[Article], target: str | None, *, split_workers: int | None
) -> list[ScoredArticle]:
    targets = stance_targets(articles, target) if any(get_task(p.meta.task).has_target for p in predictors) else None
    scored = [ScoredArticle(a, [], {}) for a in articles]
    for kind in sorted({k for k in map(_unit_kind, predictors) if k}):
        per_article = split_many(articles, kind, workers=split_workers)
        flat = [ScoredUnit(kind, u) for units in per_article for u in units]
        texts = [s.unit.text for s in flat]
        for predictor in (p for p in predictors if _unit_kind(p) == kind):
            task = get_task(predictor.meta.task)
            if task.head == "token":
                predictions = _span_decisions(predictor, texts)
            else:
                unit_targets = [t for t, units in zip(targets, per_article) for _ in units] if task.has_target else None
                predictions = _decisions(predictor, texts, unit_targets)
            for item, pred in zip(flat, predictions):
                item.predictions[predictor.name] = pred
        cursor = 0
        for result, units in zip(scored, per_article):
            result.units.extend(flat[cursor : cursor + len(units)])
            cursor += len(units)
    texts = [a.text for a in articles]
    for predictor in (p for p in predictors if p.meta.article_level):
        article_targets = targets if get_task(predictor.meta.task).has_target else None
        for result, pred in zip(scored, _decisions(predictor, texts, article_targets)):
            result.predictions[predictor.name] = pred
    return scored


def score_stream(
    predictors: list[Predictor],
    articles: Iterable[Article],
    *,
    chunk_articles: int = 128,
    progress: bool = True,
    target: str | None = None,
    split_workers: int | None = None,
    total: int | None = None,
    chunk_tokens: int | None = None,
) -> Iterator[ScoredArticle]:
    """Yield scored articles in input order, a chunk at a time (``chunk_articles`` articles, or with
    ``chunk_tokens`` as many as fit that many tokens), with a progress bar (out of ``total`` articles where the
    caller knows it)."""
    bar = progress_bar(desc="scoring", unit=" articles", total=total, disable=not progress)
    units = 0
    started = time.perf_counter()
    for chunk in _chunks(articles, chunk_articles, chunk_tokens):
        for result in score_chunk(predictors, chunk, target, split_workers=split_workers):
            units += len(result.units)
            yield result
        bar.update(len(chunk))
        bar.set_postfix(units_per_s=f"{units / max(time.perf_counter() - started, 1e-9):.0f}")
    bar.close()


def _chunks(articles: Iterable[Article], chunk_articles: int, chunk_tokens: int | None) -> Iterator[list[Article]]:
    """``articles`` in order, ``chunk_articles`` at a time, or by ``chunk_tokens`` tokens where given."""
    if chunk_tokens is not None:
        yield from token_chunks(articles, chunk_tokens)
        return
    iterator = iter(articles)
    while chunk := list(itertools.islice(iterator, chunk_articles)):
        yield chunk


def load_predictors(
    model_dirs: list[str | Path],
    *,
    batch_size: int = 64,
    quantize: str | None = None,
    device=None,
    split_workers: int | None = None,
) -> list[Predictor | EnsemblePredictor]:
    """Load each model or ensemble folder (on ``device``, default: a GPU when there is one), refusing two
    folders with the same name.

    ``split_workers`` is for ensembles, which cut their units into their sentence members' units.
    """
    predictors = [
        load_model(d, batch_size=batch_size, quantize=quantize, device=device, split_workers=split_workers)
        for d in model_dirs
    ]
    for p in predictors:
        refusal = get_task(p.meta.task).not_scored
        if refusal:
            raise ValueError(f"{p.model_dir} {refusal}")
    names = [p.name for p in predictors]
    if len(set(names)) != len(names):
        raise ValueError(f"model folders must have distinct names (they key the output): {names}")
    return predictors


def model_labels(predictors: list[Predictor | EnsemblePredictor]) -> list[ModelLabels]:
    """What the writers know of ``predictors``: each one's name, task and labels."""
    return [ModelLabels(p.name, p.meta.task, tuple(p.meta.labels)) for p in predictors]


def score(
    model_dirs: list[str | Path], inputs: list[str | Path], options: ScoreOptions | None = None, **changes: Any
) -> ScoreSummary:
    """Score ``inputs`` with every model and write them as ``options`` say (fields of :class:`ScoreOptions`,
    or ``changes`` to them).

    ``out`` may be omitted for jsonl and csv (standard output). Returns
    counts, elapsed seconds and the files written.
    """
    o = dataclasses.replace(options or ScoreOptions(), **changes)
    writer_class = check_options(o)
    # The output is checked and locked, then every input read once, before any model loads.
    with claim(o.out, folder=writer_class.folder, kind="scores", inputs=[*inputs, *model_dirs], force=o.force):
        checked = checked_inputs(inputs, skip=o.on_error == "skip")
        predictors = load_predictors(
            model_dirs, batch_size=o.batch_size, quantize=o.quantize, device=o.device, split_workers=o.split_workers
        )
        return score_checked(predictors, checked, o)


def check_options(o: ScoreOptions) -> type[Writer]:
    """Refuse options that cannot run together, before any input is read; returns the writer class of ``o.fmt``."""
    if o.on_error not in ("strict", "skip"):
        raise ValueError(f"on_error must be strict or skip, not {o.on_error!r}")
    if o.batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {o.batch_size}")
    writer_class = WRITERS.get(o.fmt)
    if writer_class is None:
        raise ValueError(f"unknown format {o.fmt!r}; choose one of {', '.join(WRITERS)}")
    if writer_class.needs_out and not o.out:
        raise ValueError(f"--format {o.fmt} needs --out ({'a folder' if writer_class.folder else 'a file'})")
    if o.excel and not writer_class.takes_excel:
        raise ValueError(
            f"--excel is for --format {', '.join(f for f, w in WRITERS.items() if w.takes_excel)}, not {o.fmt}"
        )
    if o.shard is not None and not o.out:
        raise ValueError(
            "--shard K/N needs --out: framelab merge checks each shard against the manifest written beside its output"
        )
    return writer_class


def _articles_to_score(checked: CheckedInputs, shard: tuple[int, int] | None) -> int:
    """How many articles the run scores: every one checked, or those of its shard."""
    if shard is None:
        return len(checked.ids)
    k, n = shard
    return sum(shard_of(article_id, n) == k for article_id in checked.ids)


def score_checked(predictors: list[Predictor], checked: CheckedInputs, o: ScoreOptions) -> ScoreSummary:
    """Score the files of ``checked`` with loaded ``predictors`` into ``o.out`` (and its manifest, for a shard).

    What :func:`score` does once it holds ``o.out`` and has loaded the models; an engine that keeps its models
    loaded between shards (:mod:`framelab.ray`) calls it once per shard.
    """
    problems = checked.problems
    summary = ScoreSummary(problems=[str(p) for p in problems])
    started = time.perf_counter()
    writer = None
    ids = IdDigest()
    try:
        writer = open_writer(o.fmt, o.out, model_labels(predictors), excel=o.excel)
        articles = iter_articles(checked.files)
        if o.shard is not None:
            articles = select_shard(articles, *o.shard)
        for result in score_stream(
            predictors,
            articles,
            chunk_articles=o.chunk_articles,
            chunk_tokens=o.chunk_tokens,
            progress=o.progress,
            target=o.target,
            split_workers=o.split_workers,
            total=_articles_to_score(checked, o.shard),
        ):
            writer.write(result)
            ids.add(result.article.id)
            summary.articles += 1
            summary.units += len(result.units)
        if problems:
            writer.problems(problems)
        summary.outputs = writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if o.shard is not None:
        _write_manifest(predictors, ids, summary.outputs, o)
    summary.seconds = time.perf_counter() - started
    summary.cut_units = {p.name: p.cut_units for p in predictors if getattr(p, "cut_units", 0)}
    return summary


def _write_manifest(predictors: list[Predictor], ids: IdDigest, outputs: list[str], o: ScoreOptions) -> None:
    """Write the manifest beside a shard's output (:mod:`framelab.score.manifest`), which ``framelab merge`` checks."""
    models = [ModelStamp(name=p.name, task=p.meta.task, fingerprint=model_fingerprint(p.model_dir)) for p in predictors]
    targets = [o.target] if isinstance(o.target, str) else o.target
    settings = {"quantize": o.quantize, "targets": list(targets) if targets else None}
    write_manifest(o.out, shard=o.shard, fmt=o.fmt, models=models, settings=settings, ids=ids, outputs=outputs)
