"""Requests arriving together share a forward pass; a long one takes turns with the others.

One :class:`Batcher` per worker process. Requests wait in a list; a consumer
task takes the first, waits up to ``wait_s`` (a few milliseconds) for others
and groups them into a *job* of up to ``max_batch`` articles and
:data:`JOB_CHARS` characters of text (a longer request is a job of its own),
scored with :func:`framelab.score.scorer.score_chunk` in a worker thread while
the event loop keeps answering. ``max_batch=1`` scores one article per forward
pass (batching off, for comparison).

Up to ``jobs`` jobs are under way at once, but only one scores at any moment:
the one holding the turn (:class:`Turns`). Every forward pass of a model is a
yield point (a forward pre-hook on each model the predictors run): there the
job hands the turn to the jobs waiting in line, first come first served, and
queues for it again. So a job's work is cut into items of one forward pass
(at most ``batch_size`` units or windows, with the Python work up to the next
pass), and a short request waits for one item of each job ahead of it, not
for a long article's whole run; results are the same as scoring each job
alone, since the code that scores is the same.

Beyond ``queue_limit`` requests waiting (not yet begun) a request is refused
at once (:class:`QueueFull`, answered 503 with ``Retry-After``). A request
that outlives its time limit is answered 504 and dropped: a job not begun
skips it, and a job whose every request is dropped stops at its next yield
point (:class:`Cancelled`), so the rest of its work is never computed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import torch

from framelab.score.records import ScoredArticle
from framelab.score.scorer import score_chunk
from framelab.types import Article

#: Most characters of text in a job of several requests; a request with more is scored as a job of its own
#: (and cuts its text before it queues for the turn). About twenty forward passes of 16 sentences: enough
#: to fill batches, small enough that a short request never waits for a long article it shares a job with.
JOB_CHARS = 32_000
#: Jobs under way at once (each in its own thread, one scoring at a time): how many take turns.
JOBS = 4
#: Seconds :meth:`Batcher.stop` waits for the jobs under way to reach their next yield point.
STOP_WAIT_S = 10.0


class QueueFull(Exception):
    """``limit`` requests are waiting already."""


class Cancelled(Exception):
    """Every request of a job was dropped (timed out or gone): the job stops before its next work item."""


@dataclass(eq=False)
class _Request:
    articles: list[Article]
    future: asyncio.Future
    queued: float = field(default_factory=time.perf_counter)
    #: Set (by the event loop) when the request timed out or its client left: nobody waits for its results.
    dropped: bool = False

    @property
    def chars(self) -> int:
        return sum(len(a.text) for a in self.articles)


@dataclass(eq=False)
class _Job:
    """Requests scored together in one worker thread."""

    requests: list[_Request]
    #: Set (by the worker thread) when the job first holds the turn.
    started: bool = False
    #: The job holds a turn in which it has not yet reached a forward pass: it does one before passing the turn on.
    fresh: bool = False

    @property
    def articles(self) -> list[Article]:
        return [a for r in self.requests for a in r.articles]

    @property
    def dropped(self) -> bool:
        return all(r.dropped for r in self.requests)


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
    #: Jobs stopped, begun or not, because every request in them was dropped.
    cancelled: int = 0


class Turns:
    """Whose turn it is to score: one job at a time, the others waiting in line, first come first served.

    Worker threads call :meth:`take`, :meth:`pass_on` and :meth:`leave`; the
    event loop calls :meth:`wake` after dropping a request, so that a job
    waiting in line notices it is no longer wanted.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: deque[_Job] = deque()
        self._holder: _Job | None = None

    @property
    def in_line(self) -> int:
        """Jobs waiting for the turn."""
        with self._cond:
            return len(self._line)

    def take(self, job: _Job) -> None:
        """Wait in line until ``job`` holds the turn; :class:`Cancelled` if it is dropped meanwhile.

        Its work up to its next forward pass, and that pass, are the item of this turn.
        """
        with self._cond:
            if self._holder is not job:
                self._wait(job)
                job.fresh = True

    def pass_on(self, job: _Job) -> None:
        """A yield point, before a forward pass of ``job``: after one pass in this turn, the jobs in line go first."""
        if job.dropped:
            raise Cancelled()
        with self._cond:
            if self._holder is job:
                if job.fresh or not self._line:
                    job.fresh = False
                    return
                self._holder = None
            self._wait(job)
            job.fresh = False  # the forward pass that called this one is the item of the turn just taken

    def leave(self, job: _Job) -> None:
        """``job`` is done (or failed, or cancelled): the next in line gets the turn."""
        with self._cond:
            if self._holder is job:
                self._holder = None
            elif job in self._line:
                self._line.remove(job)
            self._hand_on()

    def wake(self) -> None:
        """Let every waiting job look again at whether it is still wanted."""
        with self._cond:
            self._cond.notify_all()

    def _wait(self, job: _Job) -> None:
        # Called with the lock held.
        self._line.append(job)
        self._hand_on()
        while self._holder is not job and not job.dropped:
            self._cond.wait()
        if job.dropped:  # no longer wanted: not one more item
            if self._holder is job:
                self._holder = None
                self._hand_on()
            else:
                self._line.remove(job)
            raise Cancelled()
        job.started = True

    def _hand_on(self) -> None:
        if self._holder is None and self._line:
            self._holder = self._line.popleft()
            self._cond.notify_all()


#: The job the current worker thread scores (None in any other thread: its forward passes never wait).
_current = threading.local()


def outermost_modules(predictors: list) -> list[torch.nn.Module]:
    """The torch models ``predictors`` run (a model, an encoder, an ensemble's members'), none inside another.

    Found by walking the predictors' attributes (and lists and dicts in them),
    so a predictor class needs no hook of its own to take turns.
    """
    found: list[torch.nn.Module] = []
    stack: list = list(predictors)
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.nn.Module):
            found.append(obj)
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif type(obj).__module__.startswith("framelab.") and hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
    inner = {id(sub) for module in found for sub in module.modules() if sub is not module}
    return [m for m in found if id(m) not in inner]


def _yield_point(module: torch.nn.Module, args: tuple) -> None:
    """Forward pre-hook: in a batcher's worker thread, a forward pass starts a new work item."""
    job = getattr(_current, "job", None)
    if job is not None:
        _current.turns.pass_on(job)


class Batcher:
    """Collects requests into jobs of up to ``max_batch`` articles, scored a forward pass at a time in turn."""

    def __init__(
        self,
        predictors: list,
        *,
        max_batch: int = 32,
        wait_s: float = 0.005,
        queue_limit: int = 64,
        jobs: int = JOBS,
        job_chars: int = JOB_CHARS,
    ):
        self.predictors = predictors
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.queue_limit = queue_limit
        self.jobs = jobs
        self.job_chars = job_chars
        self.stats = BatchStats()
        self.turns = Turns()
        self._pending: deque[_Request] = deque()
        self._arrived: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._running: set[_Job] = set()
        self._tasks: set[asyncio.Task] = set()
        self._hooks: list = []
        self.task: asyncio.Task | None = None
        self.executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._arrived = asyncio.Event()
        self._slots = asyncio.Semaphore(self.jobs)
        self.executor = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="framelab-score")
        self._hooks = [m.register_forward_pre_hook(_yield_point) for m in outermost_modules(self.predictors)]
        self.task = asyncio.create_task(self._consume(), name="framelab-batcher")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
            self.task = None
        for job in self._running:  # their threads stop at the next yield point, while the hooks are there
            for r in job.requests:
                r.dropped = True
        self.turns.wake()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=STOP_WAIT_S)
        for task in list(self._tasks):
            task.cancel()
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.executor = None

    @property
    def waiting(self) -> int:
        """Requests not yet begun: in the list, or in a job waiting for its first turn."""
        return len(self._pending) + sum(len(j.requests) for j in self._running if not j.started)

    async def score(self, articles: list[Article], timeout_s: float) -> list[ScoredArticle]:
        """Score ``articles``; :class:`QueueFull` or :class:`TimeoutError` when that cannot be done in time."""
        if self._arrived is None or self.task is None or self.task.done():
            raise RuntimeError("the batcher is not running")
        if self.waiting >= self.queue_limit:
            self.stats.refused += 1
            raise QueueFull()
        request = _Request(articles, asyncio.get_running_loop().create_future())
        self._pending.append(request)
        self._arrived.set()
        self.stats.requests += 1
        try:
            return await asyncio.wait_for(asyncio.shield(request.future), timeout_s)
        except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
            self.stats.timed_out += 1
            self._drop(request)
            raise TimeoutError(f"not scored within {timeout_s} s") from None
        except asyncio.CancelledError:  # the client went away
            self._drop(request)
            raise

    def _drop(self, request: _Request) -> None:
        request.dropped = True
        request.future.cancel()
        if request in self._pending:
            self._pending.remove(request)
        self.turns.wake()

    async def _consume(self) -> None:
        assert self._slots is not None
        while True:
            await self._slots.acquire()  # a free worker thread first: meanwhile requests gather in the list
            try:
                job = _Job(await self._gather())
            except BaseException:
                self._slots.release()
                raise
            self._running.add(job)
            task = asyncio.create_task(self._run(job))
            self._tasks.add(task)
            task.add_done_callback(lambda t, job=job: self._finished(t, job))

    def _finished(self, task: asyncio.Task, job: _Job) -> None:
        self._tasks.discard(task)
        self._running.discard(job)
        assert self._slots is not None
        self._slots.release()

    async def _next(self) -> _Request:
        assert self._arrived is not None
        while not self._pending:
            self._arrived.clear()
            await self._arrived.wait()
        return self._pending.popleft()

    async def _gather(self) -> list[_Request]:
        """The next job's requests: the first waiting and, unless it is long, the short ones that follow it."""
        first = await self._next()
        if first.chars > self.job_chars:
            return [first]
        if self.max_batch > 1 and not self._pending:
            await asyncio.sleep(self.wait_s)
        chosen, count, chars = [first], len(first.articles), first.chars
        for request in list(self._pending):
            if count >= self.max_batch:
                break
            if chars + request.chars > self.job_chars:
                continue  # left for a later job, in its place
            self._pending.remove(request)
            chosen.append(request)
            count += len(request.articles)
            chars += request.chars
        return chosen

    def _score(self, articles: list[Article]) -> list[ScoredArticle]:
        return score_chunk(self.predictors, articles, split_workers=1)

    def _work(self, job: _Job) -> list[ScoredArticle]:
        """In a worker thread: score ``job`` when its turn comes, yielding at every forward pass."""
        _current.job, _current.turns = job, self.turns
        try:
            # A long request cuts and tokenises its text (about 0.5 s for 200 kB) before its first forward pass:
            # outside the turn, so short requests keep scoring meanwhile; it queues for the turn at that pass.
            if sum(r.chars for r in job.requests) <= self.job_chars:
                self.turns.take(job)
            articles = job.articles
            # With batching off, one article per forward pass: a request of several articles runs them one by one.
            chunks = [[a] for a in articles] if self.max_batch == 1 else [articles]
            results: list[ScoredArticle] = []
            for chunk in chunks:  # each forward pass in them is a yield point
                results += self._score(chunk)
            return results
        finally:
            self.turns.leave(job)
            _current.job = _current.turns = None

    async def _run(self, job: _Job) -> None:
        assert self.executor is not None
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self.executor, self._work, job)
        except Cancelled:
            self.stats.cancelled += 1
            return
        except Exception as exc:  # a bad batch fails its own requests, never the consumer
            if len(job.requests) > 1:  # one request's articles must not fail the others: score each alone
                for r in job.requests:
                    if not r.dropped:
                        await self._run(_Job([r]))
                return
            self.stats.failed += 1
            for r in job.requests:
                if not r.future.done():
                    r.future.set_exception(exc)
            return
        articles = job.articles
        self.stats.batches += len(articles) if self.max_batch == 1 else 1
        self.stats.articles += len(articles)
        self.stats.largest_batch = max(self.stats.largest_batch, len(articles))
        cursor = 0
        for r in job.requests:
            mine = results[cursor : cursor + len(r.articles)]
            cursor += len(r.articles)
            if not r.future.done():
                r.future.set_result(mine)
