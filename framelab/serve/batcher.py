"""Requests arriving together share a forward pass.

One :class:`Batcher` per worker process: requests wait in a bounded
:class:`asyncio.Queue`; a single consumer task takes the first, waits up to
``wait_s`` (a few milliseconds) for others, takes up to ``max_batch``
articles in all, scores them with :func:`framelab.score.scorer.score_chunk`
in one worker thread (the event loop keeps answering meanwhile) and hands each
request its own results. While one batch runs the next one gathers, so under
load batches fill without waiting. ``max_batch=1`` scores one article per
forward pass (batching off, for comparison).

A full queue refuses at once (:class:`QueueFull`, answered 503 with
``Retry-After``); a request that outlives its time limit is dropped from
its batch if that batch has not started (answered 504).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from framelab.score.records import ScoredArticle
from framelab.score.scorer import score_chunk
from framelab.types import Article


class QueueFull(Exception):
    """The queue holds ``limit`` requests already."""


@dataclass
class _Job:
    articles: list[Article]
    future: asyncio.Future
    queued: float = field(default_factory=time.perf_counter)


@dataclass
class BatchStats:
    """Counts since start, reported by ``GET /health``."""

    requests: int = 0
    articles: int = 0
    batches: int = 0
    largest_batch: int = 0
    refused: int = 0
    timed_out: int = 0
    failed: int = 0


class Batcher:
    """Collects requests into forward passes of up to ``max_batch`` articles."""

    def __init__(self, predictors: list, *, max_batch: int = 32, wait_s: float = 0.005, queue_limit: int = 64):
        self.predictors = predictors
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.queue_limit = queue_limit
        self.stats = BatchStats()
        self.queue: asyncio.Queue[_Job] | None = None
        self.task: asyncio.Task | None = None
        self.executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.queue_limit)
        # One thread scores every batch: torch's thread team stays the same, and batches never overlap.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="framelab-score")
        self.task = asyncio.create_task(self._consume(), name="framelab-batcher")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None

    @property
    def waiting(self) -> int:
        return self.queue.qsize() if self.queue is not None else 0

    async def score(self, articles: list[Article], timeout_s: float) -> list[ScoredArticle]:
        """Score ``articles`` in the next batch; :class:`QueueFull` or :class:`TimeoutError` when that cannot be done in time."""
        if self.queue is None or self.task is None or self.task.done():
            raise RuntimeError("the batcher is not running")
        job = _Job(articles, asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            self.stats.refused += 1
            raise QueueFull() from None
        self.stats.requests += 1
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout_s)
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
            self.stats.timed_out += 1
            job.future.cancel()  # not yet scored: its batch skips it
            raise TimeoutError(f"not scored within {timeout_s} s") from None

    async def _consume(self) -> None:
        assert self.queue is not None
        while True:
            jobs = [await self.queue.get()]
            if self.max_batch > 1 and self.queue.empty():
                await asyncio.sleep(self.wait_s)
            count = len(jobs[0].articles)
            while count < self.max_batch and not self.queue.empty():
                nxt = self.queue.get_nowait()
                jobs.append(nxt)
                count += len(nxt.articles)
            # With batching off, one article per forward pass: a request of several articles runs them one by one.
            jobs = [j for j in jobs if not j.future.done()]
            if jobs:
                await self._run(jobs)

    def _score(self, articles: list[Article]) -> list[ScoredArticle]:
        return score_chunk(self.predictors, articles, split_workers=1)

    async def _run(self, jobs: list[_Job]) -> None:
        articles = [a for j in jobs for a in j.articles]
        loop = asyncio.get_running_loop()
        chunks = [[a] for a in articles] if self.max_batch == 1 else [articles]
        try:
            results = []
            for chunk in chunks:
                results += await loop.run_in_executor(self.executor, self._score, chunk)
        except Exception as exc:  # a bad batch fails its own requests, never the consumer
            if len(jobs) > 1:  # one request's articles must not fail the others: score each alone
                for j in jobs:
                    await self._run([j])
                return
            self.stats.failed += len(jobs)
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(exc)
            return
        self.stats.batches += len(articles) if self.max_batch == 1 else 1
        self.stats.articles += len(articles)
        self.stats.largest_batch = max(self.stats.largest_batch, len(articles))
        cursor = 0
        for j in jobs:
            mine = results[cursor : cursor + len(j.articles)]
            cursor += len(j.articles)
            if not j.future.done():
                j.future.set_result(mine)
