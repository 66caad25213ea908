"""Cutting many articles into sentences on every usable CPU.

Sentence splitting (pysbd) is pure Python, so in one process it runs on one
core while the others idle; it was about 7% of scoring's time on 2 CPU
cores, the forward pass waiting on it (docs/benchmarks.md, "Speed"). A pool
of worker processes splits a chunk's articles side by side and hands their
units back in order; the units are the ones
:func:`framelab.units.split_units` gives in this process. ``framelab score``
uses it for each chunk, ``framelab data`` for the whole corpus.

The pool is started once, at the first chunk large enough to need it, and
kept for the life of the process (its workers are reused by every later
call). Its workers are forked, not spawned: a spawned worker imports the
caller's ``__main__`` again, which breaks scripts without a main guard, and
the forked ones only run pysbd, never torch's or the tokenizer's threads,
which is what makes forking a threaded process hazardous. The workers die
with the process that forked them, even one killed outright. Where there is
no fork (not Linux), where one CPU is usable, or for a small chunk, articles
are split in this process.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import repeat

from framelab.cpus import usable_cpus
from framelab.types import Article, Unit
from framelab.units import split_units

#: Below this many characters a chunk is split in this process. On 2 cores,
#: starting the workers took about 20 ms, and 12,000 characters took 30 ms in
#: one process against 21 ms in a started pool and 41 ms in one being started,
#: so a pool is only worth starting for a chunk about this large.
MIN_POOL_CHARS = 10_000

_pool: ProcessPoolExecutor | None = None
_pool_workers = 0

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _can_fork() -> bool:
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def _die_with_parent(parent: int) -> None:
    """Start of every worker: have Linux kill it when the process that forked it dies.

    A process killed outright (SIGKILL, SIGTERM, the OOM killer) runs no
    clean-up, and its forked workers, which hold both ends of the pool's
    pipes, would wait on them forever with its memory. The signal comes when
    the forking thread ends; a pool whose workers went that way is replaced
    (see :func:`split_many`).
    """
    try:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)


def _executor(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_workers
    if _pool is None or _pool_workers != workers:
        shutdown_pool()
        _pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )
        _pool_workers = workers
    return _pool


def shutdown_pool() -> None:
    """Stop the worker processes, if any were started (the next large chunk starts them again)."""
    global _pool, _pool_workers
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
    _pool, _pool_workers = None, 0


def split_many(
    articles: list[Article], kind: str, *, workers: int | None = None, min_chars: int | None = None
) -> list[list[Unit]]:
    """Units of each article, as :func:`framelab.units.split_units` cuts them, in input order.

    ``workers`` is how many processes cut sentences side by side (default:
    the usable CPUs; 1 cuts them in this process). Other unit kinds, and
    chunks under ``min_chars`` characters (default :data:`MIN_POOL_CHARS`),
    are cut in this process whatever ``workers`` says.
    """
    min_chars = MIN_POOL_CHARS if min_chars is None else min_chars
    workers = usable_cpus() if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    # Only sentences go through pysbd: lines and whole articles are cut faster
    # here than their units come back from a worker (2 ms against 4 ms for 100
    # articles' lines). The pool keeps its size for a chunk with fewer articles
    # than workers (the last one, say): resizing it would restart every worker.
    if (
        kind != "sentence"
        or workers == 1
        or len(articles) < 2
        or not _can_fork()
        or sum(len(a.text) for a in articles) < min_chars
    ):
        return [split_units(a, kind) for a in articles]
    try:
        # A few tasks per worker even out articles of different lengths.
        return list(
            _executor(workers).map(
                split_units, articles, repeat(kind), chunksize=max(1, len(articles) // (4 * workers))
            )
        )
    except BrokenProcessPool:
        # A worker died (killed for memory, say): this chunk is split here, the next one starts a fresh pool.
        warnings.warn(
            "a sentence-splitting worker died; splitting this chunk in the main process", RuntimeWarning, stacklevel=2
        )
        shutdown_pool()
        return [split_units(a, kind) for a in articles]
