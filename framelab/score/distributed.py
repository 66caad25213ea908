"""``framelab score`` under ``accelerate launch`` or ``torchrun``: one process per device.

With ``WORLD_SIZE`` > 1 in the environment, process ``rank`` of ``N`` scores
shard ``(rank, N)`` (the same hash split as ``--shard``) on its own device
(``cuda:<local_rank>``, or the CPU) into a hidden part next to ``--out``. The
processes then meet (a gather of their counts, which is also the barrier),
the main process merges the parts with :func:`framelab.score.shard.merge`,
so ``--out`` is byte for byte what one process would write (the merge checks
each part against the manifest its scoring wrote), and every part and its
manifest are removed. jsonl, csv and semeval2023 are merged; html is refused, since
the page is one document whose legend covers every article.

A process that fails removes its part and still joins the gather, so the
others never wait on it forever; the main process then writes nothing and
names the failed process. Across machines the parts must be on a shared
file system; otherwise use ``--shard K/N`` per job and ``framelab merge``.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from framelab.cpus import usable_cpus
from framelab.output import check_output
from framelab.processes import world_size
from framelab.score.manifest import manifest_path
from framelab.score.scorer import ScoreOptions, ScoreSummary, score
from framelab.score.shard import MERGE_FORMATS, merge
from framelab.score.writers import FORMATS

#: How long the processes wait for the slowest one at the gather. Shards are
#: balanced by hash, but a slower device or a longer shard of a day-long run
#: must not hit the 10-30 minute default of ``init_process_group``.
GATHER_TIMEOUT = timedelta(hours=24)


def check_request(
    processes: int,
    *,
    fmt: str,
    out: str | Path | None,
    shard: object = None,
    inputs: Sequence[str | Path] = (),
    force: bool = False,
) -> None:
    """Refuse what ``processes`` scoring processes cannot do, before any model is loaded.

    ``inputs`` (input files and model folders) and ``force`` are for :func:`framelab.output.check_output`.
    """
    if shard is not None:
        raise ValueError(
            f"--shard with {processes} launched processes: the processes already split the inputs; "
            "use either --shard K/N (one process per job, then framelab merge) or accelerate launch/torchrun, not both"
        )
    if fmt == "html":
        raise ValueError(
            f"--format html cannot be split over {processes} processes "
            "(it is one page, whose legend covers every article): "
            "score it with one process, or write jsonl/csv/semeval2023 here"
        )
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt not in MERGE_FORMATS:
        raise ValueError(f"--format {fmt} cannot be merged; with several processes use {', '.join(MERGE_FORMATS)}")
    if not out:
        raise ValueError(f"--out is required with {processes} processes (their parts are merged into it)")
    check_output(out, folder=fmt == "semeval2023", kind="scores", inputs=inputs, force=force)


def part_path(out: str | Path, rank: int, processes: int) -> Path:
    """The hidden part that process ``rank`` writes next to ``out``."""
    out = Path(out)
    return out.with_name(f".{out.name}.part-{rank}-of-{processes}")


def _remove(path: Path) -> None:
    """Remove a part and the manifest its scoring wrote beside it."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    manifest_path(path).unlink(missing_ok=True)


@dataclass
class _Report:
    """What each process tells the others at the gather."""

    rank: int
    articles: int = 0
    units: int = 0
    error: str | None = None


def _state():
    """accelerate's process state; the CPU (gloo) unless a GPU is there and wanted.

    ``PartialState()`` alone would see no backend under torchrun on a machine
    without GPUs and report one process, so the CPU is asked for explicitly.
    """
    import torch
    from accelerate import PartialState

    cpu = not torch.cuda.is_available() or os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
    return PartialState(cpu=cpu, timeout=GATHER_TIMEOUT)


def _gather(report: _Report, processes: int) -> list[_Report]:
    import torch.distributed as dist

    reports: list[_Report | None] = [None] * processes
    dist.all_gather_object(reports, report)
    return reports  # type: ignore[return-value]


def score_distributed(
    model_dirs: list[str | Path],
    inputs: list[str | Path],
    options: ScoreOptions | None = None,
    *,
    state=None,
    **changes: Any,
) -> ScoreSummary:
    """Score ``inputs`` with every launched process and merge their parts into ``out``.

    Call it in every process of ``accelerate launch``/``torchrun``; ``options``
    and ``changes`` are those of :func:`framelab.score.scorer.score` (``shard`` is refused: the
    processes are the shards). Every process returns the totals (articles,
    units, wall seconds of the main process); ``outputs`` lists the merged
    files on the main process and is empty elsewhere. The progress bar shows
    the main process's shard. By default the usable CPUs are shared out
    among the processes for sentence splitting.
    """
    o = dataclasses.replace(options or ScoreOptions(), **changes)
    check_request(world_size(), fmt=o.fmt, out=o.out, shard=o.shard, inputs=[*inputs, *model_dirs], force=o.force)
    started = time.perf_counter()
    state = state or _state()
    processes, rank = state.num_processes, state.process_index
    if processes != world_size():
        raise RuntimeError(f"accelerate sees {processes} process(es) but WORLD_SIZE is {world_size()}")
    out = Path(o.out)
    part = part_path(out, rank, processes)
    report, failure = _Report(rank), None
    try:
        local = score(
            model_dirs,
            inputs,
            o,
            out=part,
            progress=o.progress and state.is_main_process,
            shard=(rank, processes),
            device=state.device,
            split_workers=o.split_workers or max(1, usable_cpus() // processes),
        )
        report.articles, report.units = local.articles, local.units
    except Exception as exc:  # noqa: BLE001 - reported to the others, then raised again
        _remove(part)
        report.error, failure = f"{type(exc).__name__}: {exc}", exc
    reports = _gather(report, processes)
    if failure is not None:
        raise failure
    parts = [part_path(out, r, processes) for r in range(processes)]
    summary = ScoreSummary(articles=sum(r.articles for r in reports), units=sum(r.units for r in reports))
    failed = [r for r in reports if r.error]
    if failed:
        _remove(part)
        if state.is_main_process:
            detail = "; ".join(f"process {r.rank}: {r.error}" for r in failed)
            raise ValueError(
                f"{len(failed)} of {processes} scoring processes failed, nothing written to {out} ({detail})"
            )
        return summary
    if not state.is_main_process:
        summary.seconds = time.perf_counter() - started
        return summary
    try:
        missing = [str(p) for p in parts if not p.exists()]
        if missing:
            raise ValueError(
                f"parts of other processes not found ({', '.join(missing)}): "
                "on several machines --out must be on a file system "
                "they all share; otherwise score with --shard K/N per machine and join with framelab merge"
            )
        summary.outputs = merge(parts, inputs, fmt=o.fmt, out=out, on_error=o.on_error, force=o.force).outputs
    finally:
        for p in parts:
            _remove(p)
    summary.seconds = time.perf_counter() - started
    return summary
