"""Cutting a chunk of articles into units across worker processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from framelab import unit_pool
from framelab.cli import build_parser
from framelab.score.inputs import iter_articles
from framelab.types import Article
from framelab.unit_pool import shutdown_pool, split_many
from framelab.units import split_units

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "articles.jsonl"


@pytest.fixture(autouse=True)
def _no_pool_left_behind():
    yield
    shutdown_pool()


def _articles() -> list[Article]:
    return list(iter_articles([SAMPLE]))


@pytest.mark.skipif(not unit_pool._can_fork(), reason="worker processes are forked, which needs Linux")
def test_workers_cut_the_units_split_units_cuts_in_input_order() -> None:
    kind = "sentence"
    articles = _articles()
    got = split_many(articles, kind, workers=2, min_chars=0)
    assert unit_pool._pool is not None, "the pool was not used"
    assert got == [split_units(a, kind) for a in articles]
    for article, units in zip(articles, got):
        assert units and all(article.text[u.start : u.end] == u.text for u in units)
    # Started once and reused, also for fewer articles than workers.
    pool = unit_pool._pool
    assert split_many(articles[:5], kind, workers=2, min_chars=0) == got[:5]
    assert split_many(articles[:3], kind, workers=4, min_chars=0) == got[:3]
    assert unit_pool._pool is not pool and unit_pool._pool_workers == 4
    pool = unit_pool._pool
    assert split_many(articles[:2], kind, workers=4, min_chars=0) == got[:2]
    assert unit_pool._pool is pool


def test_one_worker_or_a_small_chunk_stays_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(workers: int):
        raise AssertionError("a pool was started")

    monkeypatch.setattr(unit_pool, "_executor", no_pool)
    articles = _articles()
    expected = [split_units(a, "sentence") for a in articles]
    assert split_many(articles, "sentence", workers=1, min_chars=0) == expected
    assert split_many(articles, "sentence", workers=2, min_chars=sum(len(a.text) for a in articles) + 1) == expected
    assert split_many(articles[:1], "sentence", workers=2, min_chars=0) == expected[:1]
    for kind in ("line", "article"):  # no pysbd to share out
        assert split_many(articles, kind, workers=2, min_chars=0) == [split_units(a, kind) for a in articles]


def test_a_dead_worker_leaves_the_chunk_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    stopped = []

    class DeadPool:
        def map(self, *args, **kwargs):
            raise BrokenProcessPool("a worker was killed")

    monkeypatch.setattr(unit_pool, "_can_fork", lambda: True)
    monkeypatch.setattr(unit_pool, "_executor", lambda workers: DeadPool())
    monkeypatch.setattr(unit_pool, "shutdown_pool", lambda: stopped.append(True))
    articles = _articles()
    with pytest.warns(RuntimeWarning, match="worker died"):
        got = split_many(articles, "sentence", workers=2, min_chars=0)
    assert got == [split_units(a, "sentence") for a in articles]
    assert stopped == [True]


def test_workers_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        split_many(_articles(), "sentence", workers=0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["score", "--model", "m", "--split-workers", "0", "in.txt"])


@pytest.mark.skipif(not unit_pool._can_fork(), reason="worker processes are forked, which needs Linux")
def test_workers_die_with_a_killed_scoring_process(tmp_path: Path) -> None:
    # A killed process runs no clean-up; its workers must not wait on forever, holding its memory.
    pid_file = tmp_path / "workers.txt"
    script = (
        "import os, signal, sys\n"
        "from framelab import unit_pool\n"
        "from framelab.score.inputs import iter_articles\n"
        f"unit_pool.split_many(list(iter_articles([{str(SAMPLE)!r}])), 'sentence', workers=2, min_chars=0)\n"
        f"open({str(pid_file)!r}, 'w').write(' '.join(str(p) for p in unit_pool._pool._processes))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    # The workers inherit the child's standard streams, so those go to files:
    # a pipe would stay open as long as a worker outlives the child.
    log = tmp_path / "stderr.txt"
    with log.open("w") as stderr:
        run = subprocess.run([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=stderr, timeout=120)
    assert run.returncode == -signal.SIGKILL, log.read_text()
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(p) for p in pids):
        time.sleep(0.1)
    assert not any(_running(p) for p in pids), "a splitting worker outlived its killed parent"


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
