"""Scoring on a Ray cluster: ``framelab score --engine ray`` and :class:`Scorer` for Ray Data pipelines.

**From Python**, :class:`Scorer` is the callable class ``map_batches`` takes: each actor loads the models once,
and every batch of article rows (``id``, ``text``, optional ``title``, ``target`` or a ``stance`` object with a
``target``, and ``source``, or the ``path`` column of ``read_json(…, include_paths=True)``) comes back as one row
per article: ``article_id``, ``records`` (its lines of ``framelab score --format jsonl``) and ``problem`` (why the
row was left out under ``on_error="skip"``, else empty). Write those rows as Parquet or JSON shards with Ray
Data's writers; :func:`join` puts them back in input order, each article once, as the JSONL local scoring writes
(but for an article record's ``source``: local scoring gives ``file:line``, a row its ``source`` or ``path``)::

    ds = ray.data.read_json("articles.jsonl", include_paths=True)
    plan = framelab.ray.plan_workers(ray.cluster_resources(), reserve_cpus=1)  # a CPU left to read and write
    scored = ds.map_batches(
        framelab.ray.Scorer,
        fn_constructor_kwargs={"models": ["models/m"], "threads": plan.threads},
        compute=ray.data.ActorPoolStrategy(size=plan.workers),
        batch_size=64,
        **plan.resources,
    )
    scored.write_parquet("scored/")  # then: framelab.ray.join(ray.data.read_parquet("scored/").iter_rows(), ids)

**From the command line**, :func:`score_with_ray` checks the inputs on the driver (``--on-error`` as in local
scoring), counts their tokens (:mod:`framelab.score.batching`) and cuts them into a hash split
(:mod:`framelab.score.shard`) of about ``--batch-tokens`` tokens a shard. The shard numbers go to a pool of
actors (:class:`ShardScorer`; one per GPU, or per share of the CPUs: :func:`plan_workers`), each
of which loads the models once and scores every shard it is handed with the local scorer into a folder beside
``--out``: each shard file is written under a temporary name and renamed into place, then its manifest beside
it. A task whose actor dies is retried by Ray and rewrites its shard whole, so no article is written twice;
:func:`framelab.score.shard.merge` then checks every shard against its manifest and every input article
against the shards (each exactly once) and writes ``--out`` in input order, as ``framelab merge`` does, and
the folder is removed. Every actor reads the inputs to pick its shard's articles, as ``--shard K/N`` does; the
inputs, the model folders and ``--out``'s folder must be at the same paths on every node.

``ray`` is imported only by the functions that use a cluster: this module loads without the ``ray`` extra.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import secrets
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framelab.api import as_article
from framelab.errors import DataError, Problem
from framelab.score.batching import approx_tokens, shard_count
from framelab.score.distributed import check_request
from framelab.score.inputs import CheckedInputs, checked_inputs, iter_articles
from framelab.score.scorer import (
    ScoreOptions,
    ScoreSummary,
    check_options,
    load_predictors,
    score_checked,
    score_stream,
)
from framelab.score.shard import merge
from framelab.score.writers import WRITERS, article_records
from framelab.types import Article

#: Tokens (:func:`framelab.score.batching.approx_tokens`) of one shard: the unit of work Ray schedules and retries.
BATCH_TOKENS = 200_000
#: Tokens an actor scores together: their units share forward batches, as ``chunk_articles`` in local scoring.
CHUNK_TOKENS = 32_000
#: The columns of a :class:`Scorer`'s output rows.
OUTPUT_COLUMNS = ("article_id", "records", "problem")


@dataclass(frozen=True)
class WorkerPlan:
    """How many scoring actors to start and what each asks of the cluster."""

    workers: int
    #: ``num_cpus`` / ``num_gpus`` for ``map_batches``.
    resources: dict[str, float]
    #: Torch threads of each actor on the CPU.
    threads: int


def plan_workers(cluster: Mapping[str, float], workers: int | None = None, *, reserve_cpus: int = 0) -> WorkerPlan:
    """Actors for ``cluster`` (``ray.cluster_resources()``): one per GPU where there are GPUs, else the CPUs
    shared out, one each unless ``workers`` asks for fewer (each actor then runs ``CPUs // workers`` threads).

    ``reserve_cpus`` CPUs are left out of the share (not below one actor): a pipeline that reads and writes
    with Ray Data tasks needs CPUs the actors do not hold, or its reads wait for ever.
    """
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    gpus = int(cluster.get("GPU", 0))
    if gpus:
        return WorkerPlan(workers or gpus, {"num_gpus": 1}, 1)
    cpus = max(1, int(cluster.get("CPU", 1)) - reserve_cpus)
    count = workers or cpus
    threads = max(1, cpus // count)
    return WorkerPlan(count, {"num_cpus": threads}, threads)


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _peak_mib() -> float:
    """This process's peak resident memory, MiB (``ru_maxrss`` is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _given(value: Any) -> bool:
    """Whether a cell holds a value: not None, NaN or pandas' NA."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value) not in ("<NA>", "NaT")


def _rows(batch: Any) -> list[dict[str, Any]]:
    """A Ray Data batch (a dict of columns, or a pandas DataFrame) as a list of rows."""
    if hasattr(batch, "to_dict") and hasattr(batch, "columns"):
        return batch.to_dict("records")
    columns = {name: list(values) for name, values in batch.items()}
    size = len(next(iter(columns.values()), []))
    return [{name: values[i] for name, values in columns.items()} for i in range(size)]


def row_article(row: Mapping[str, Any], number: int) -> Article:
    """One input row as an article; :class:`DataError` for a row without an ``id`` or without text."""
    where = f"row {number}"
    if not _given(row.get("id")):
        raise DataError(Problem(where, None, "has no id", "give every row an id: it keys the output"))
    stance = row.get("stance")
    target = row.get("target") if _given(row.get("target")) else None
    if target is None and isinstance(stance, Mapping) and _given(stance.get("target")):
        target = stance["target"]
    item = {"id": str(row["id"]), "text": row.get("text"), "target": target}
    if _given(row.get("title")):
        item["title"] = row["title"]
    article = as_article(item, number, f"{where} (id {row['id']})")
    source = next((str(row[k]) for k in ("source", "path") if _given(row.get(k))), None)
    return dataclasses.replace(article, source=source)


class Scorer:
    """The ``map_batches`` class: article rows in, one row per article out (:data:`OUTPUT_COLUMNS`).

    ``models`` are model (or ensemble) folders, loaded once per actor; ``chunk_tokens`` tokens of a batch are
    scored together; ``target`` is the stance target of rows without one; ``on_error="skip"`` turns a row that
    cannot be scored into an output row naming its problem, ``"strict"`` fails the batch; ``threads``: torch
    threads on the CPU. A pandas DataFrame batch gives a DataFrame back, so the same object serves a Spark
    ``mapInPandas`` or Dask ``map_partitions`` function.
    """

    def __init__(
        self,
        models: str | Sequence[str],
        *,
        batch_size: int = 64,
        chunk_tokens: int = CHUNK_TOKENS,
        target: str | None = None,
        on_error: str = "strict",
        device: Any = None,
        threads: int | None = None,
    ) -> None:
        if on_error not in ("strict", "skip"):
            raise ValueError(f"on_error must be strict or skip, not {on_error!r}")
        _set_threads(threads)
        folders = [models] if isinstance(models, (str, Path)) else list(models)
        self.predictors = load_predictors(folders, batch_size=batch_size, device=device, split_workers=1)
        self.chunk_tokens, self.target, self.on_error = chunk_tokens, target, on_error

    def __call__(self, batch: Any) -> Any:
        articles, out = [], {name: [] for name in OUTPUT_COLUMNS}
        for number, row in enumerate(_rows(batch)):
            try:
                articles.append(row_article(row, number))
            except DataError as exc:
                if self.on_error == "strict":
                    raise
                out["article_id"].append(str(row["id"]) if _given(row.get("id")) else "")
                out["records"].append("")
                out["problem"].append("; ".join(map(str, exc.problems)))
        scored = score_stream(
            self.predictors,
            articles,
            chunk_tokens=self.chunk_tokens,
            progress=False,
            target=self.target,
            split_workers=1,
        )
        for result in scored:
            out["article_id"].append(result.article.id)
            out["records"].append("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in article_records(result)))
            out["problem"].append("")
        if hasattr(batch, "columns"):
            import pandas

            return pandas.DataFrame(out, columns=list(OUTPUT_COLUMNS))
        return out


def join(rows: Iterable[Mapping[str, Any]], order: Sequence[str] | None = None) -> str:
    """The JSONL of :class:`Scorer` rows, each article once, as ``framelab score --format jsonl`` writes it.

    A row seen twice (a block Ray ran again) counts once when its records are the same and is refused when they
    differ. With ``order`` (the input ids) the articles come in that order and every one must be there, apart
    from the rows left out with a problem, which end the text in a ``"type": "problems"`` record.
    """
    records: dict[str, str] = {}
    problems: dict[tuple[str, str], None] = {}
    for row in rows:
        article_id, text = str(row["article_id"]), row["records"]
        if row.get("problem"):
            problems[(article_id, row["problem"])] = None
            continue
        if records.setdefault(article_id, text) != text:
            raise DataError(
                Problem(f"article {article_id!r}", None, "scored twice with different results", "score it once")
            )
    if order is None:
        order = list(records)
    left_out = {article_id for article_id, _ in problems}
    missing = [a for a in order if a not in records and a not in left_out]
    extra = [a for a in records if a not in set(order)]
    if missing or extra:
        detail = f"{len(missing)} input article(s) missing (first: {missing[:1]}), {len(extra)} not among the inputs"
        raise DataError(Problem("scored rows", None, detail, "score every input row once"))
    text = "".join(records[a] for a in order if a in records)
    if problems:
        files = [{"path": f"row {a!r}", "line": None, "message": m} for a, m in problems]
        text += json.dumps({"type": "problems", "count": len(files), "files": files}, ensure_ascii=False) + "\n"
    return text


def shard_name(k: int, n: int, fmt: str) -> str:
    """The file (folder for semeval2023) of shard ``k`` of ``n`` in an engine run's shard folder."""
    suffix = "" if WRITERS[fmt].folder else f".{fmt}"
    return f"shard-{k:05d}-of-{n:05d}{suffix}"


class ShardScorer:
    """The actor of ``framelab score --engine ray``: models loaded once, then each shard number of a batch scored
    with the local scorer into ``parts`` (file renamed into place, then its manifest); returns per shard its
    counts, this process's id and its peak memory."""

    def __init__(
        self,
        models: Sequence[str],
        checked: CheckedInputs,
        options: ScoreOptions,
        shards: int,
        parts: str,
        threads: int | None = None,
    ) -> None:
        _set_threads(threads)
        self.options, self.checked, self.shards, self.parts = options, checked, shards, Path(parts)
        self.predictors = load_predictors(
            list(models), batch_size=options.batch_size, quantize=options.quantize, device=options.device
        )

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list]:
        out: dict[str, list] = {"shard": [], "articles": [], "units": [], "pid": [], "peak_mib": []}
        for k in (int(k) for k in batch["shard"]):
            o = dataclasses.replace(
                self.options,
                out=self.parts / shard_name(k, self.shards, self.options.fmt),
                shard=(k, self.shards),
                progress=False,
                split_workers=1,
            )
            summary = score_checked(self.predictors, self.checked, o)
            for name, value in (("shard", k), ("articles", summary.articles), ("units", summary.units)):
                out[name].append(value)
            out["pid"].append(os.getpid())
            out["peak_mib"].append(_peak_mib())
        return out


@dataclass
class RayScoreSummary(ScoreSummary):
    """A Ray run: :class:`ScoreSummary` and how it was spread."""

    shards: int = 0
    workers: int = 0
    #: Seconds to start (or reach) the cluster, inside ``seconds``.
    startup_seconds: float = 0.0
    #: Each scoring actor's peak resident memory (MiB), by process id.
    worker_peak_mib: dict[int, float] = field(default_factory=dict)


def _ray():
    try:
        import ray
    except ImportError:
        raise ValueError("--engine ray needs Ray: pip install 'framelab[ray]'") from None
    return ray


def _parts_folder(out: Path) -> Path:
    """A hidden folder beside ``out`` for one run's shards (never a name :mod:`framelab.output` cleans up)."""
    return out.with_name(f".{out.name}.ray-shards-{os.getpid()}-{secrets.token_hex(4)}")


def score_with_ray(
    model_dirs: Sequence[str | Path],
    inputs: Sequence[str | Path],
    options: ScoreOptions | None = None,
    *,
    address: str | None = None,
    workers: int | None = None,
    batch_tokens: int = BATCH_TOKENS,
    scorer: type[ShardScorer] = ShardScorer,
    **changes: Any,
) -> RayScoreSummary:
    """Score ``inputs`` on a Ray cluster into ``out`` (jsonl, csv or semeval2023), as the module docstring says.

    Joins the cluster at ``address`` (``"auto"``: the one ``ray start`` runs here) or starts a local one,
    unless this process is connected already (then the caller's ``ray.init`` stands and stays up).
    ``workers`` actors (default :func:`plan_workers`) score shards of about ``batch_tokens`` tokens;
    ``scorer`` is the actor class (a subclass may instrument it); ``options``/``changes`` are
    :func:`framelab.score.scorer.score`'s.
    """
    o = dataclasses.replace(options or ScoreOptions(), **changes)
    check_options(o)
    model_dirs, inputs = [str(m) for m in model_dirs], [str(i) for i in inputs]
    check_request(workers or 2, fmt=o.fmt, out=o.out, shard=o.shard, inputs=[*inputs, *model_dirs], force=o.force)
    started = time.perf_counter()
    checked = checked_inputs(inputs, skip=o.on_error == "skip")
    tokens = sum(approx_tokens(a.text) for a in iter_articles(checked.files))
    ray = _ray()
    owned = not ray.is_initialized()
    if owned:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    out = Path(o.out)
    parts = _parts_folder(out)
    try:
        plan = plan_workers(ray.cluster_resources(), workers)
        n = shard_count(tokens, batch_tokens, workers=plan.workers, articles=len(checked.ids))
        summary = RayScoreSummary(shards=n, workers=plan.workers, problems=[str(p) for p in checked.problems])
        summary.startup_seconds = time.perf_counter() - started
        parts.mkdir()
        ray.data.DataContext.get_current().enable_progress_bars = o.progress
        rows = _run(ray, scorer, model_dirs, checked, o, n, parts, plan)
        for row in rows:
            summary.articles += int(row["articles"])
            summary.units += int(row["units"])
            pid = int(row["pid"])
            summary.worker_peak_mib[pid] = max(summary.worker_peak_mib.get(pid, 0.0), float(row["peak_mib"]))
        shards = [parts / shard_name(k, n, o.fmt) for k in range(n)]
        summary.outputs = merge(shards, inputs, fmt=o.fmt, out=out, on_error=o.on_error, force=o.force).outputs
    finally:
        shutil.rmtree(parts, ignore_errors=True)
        if owned:
            ray.shutdown()
    summary.seconds = time.perf_counter() - started
    return summary


def _run(ray, scorer, model_dirs, checked, options, n: int, parts: Path, plan: WorkerPlan) -> list[dict]:
    """Every shard number through ``plan.workers`` actors of ``scorer``: one row per shard scored."""
    shards = ray.data.from_items([{"shard": k} for k in range(n)], override_num_blocks=n)
    scored = shards.map_batches(
        scorer,
        fn_constructor_kwargs={
            "models": model_dirs,
            "checked": checked,
            "options": options,
            "shards": n,
            "parts": str(parts),
            "threads": plan.threads,
        },
        batch_size=1,
        # One shard in flight per actor: an idle actor takes the next shard, and a retry waits for a free one.
        compute=ray.data.ActorPoolStrategy(size=plan.workers, max_tasks_in_flight_per_actor=1),
        **plan.resources,
    )
    return scored.take_all()
