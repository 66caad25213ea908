"""Returning the C heap's free pages when a CPU scoring run's memory climbs (framelab/memory.py)."""

from __future__ import annotations

import ctypes
import platform
from pathlib import Path

import pytest

import framelab.models.predictor
from framelab.memory import HeapTrimmer, release_freed_memory, resident_bytes
from framelab.models.predictor import Predictor

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")


@glibc_only
def test_freed_heap_pages_go_back_to_the_system() -> None:
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    # Blocks below glibc's mmap threshold live on the heap; the last one stays
    # allocated so that freeing the others cannot shrink the heap from its top.
    size, count = 64 * 1024, 1600
    blocks = [libc.malloc(size) for _ in range(count)]
    for block in blocks:
        ctypes.memset(block, 1, size)
    for block in blocks[:-1]:
        libc.free(block)
    kept = resident_bytes()
    assert release_freed_memory() is True
    released = kept - resident_bytes()
    libc.free(blocks[-1])
    assert released > 0.8 * size * count


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_resident_bytes_sees_memory_being_touched() -> None:
    before = resident_bytes()
    block = bytearray(64 * 1024 * 1024)  # zero-filled, so every page is written
    grown = resident_bytes() - before
    del block
    assert 0.9 * 64 * 1024 * 1024 < grown < 1.5 * 64 * 1024 * 1024


class _FakeProcess:
    """A resident size the test sets, and a trim that records itself."""

    def __init__(self) -> None:
        self.rss = 0
        self.trims = 0

    def release(self) -> bool:
        self.trims += 1
        return True


def test_trims_before_each_call_s_widest_batch_and_past_its_working_set() -> None:
    process = _FakeProcess()
    trimmer = HeapTrimmer(resident=lambda: process.rss, release=process.release)
    steps = [  # (padded size of the batch, resident size after it, trimmed before, trimmed after, ceiling)
        (640, 1000, True, False, 1000),  # the first batch is the widest so far: trim, then measure
        (320, 990, False, False, 1000),
        (320, 1000, False, False, 1000),
        (160, 1001, False, True, 1000),  # narrower batches must not climb past the working set
        (160, 900, False, False, 1000),  # measured again after the trim: the call's ceiling never falls ...
        (160, 1100, False, True, 1000),
        (160, 1050, False, False, 1050),  # ... but rises when a batch after a trim needs more
        (600, 700, True, False, 700),  # a new call starts a new ceiling, lower too
        (100, 750, False, True, 700),
    ]
    for size, rss, trims_before, trims_after, ceiling in steps:
        assert trimmer.before_batch(size) is trims_before, size
        process.rss = rss
        assert trimmer.after_batch() is trims_after, rss
        assert trimmer.ceiling == ceiling, rss
    assert process.trims == trimmer.trims == 5


def test_trims_every_batch_where_memory_cannot_be_read() -> None:
    process = _FakeProcess()
    trimmer = HeapTrimmer(resident=lambda: None, release=process.release)
    assert [trimmer.after_batch() for _ in range(3)] == [True, True, True]
    assert process.trims == 3


def test_a_trim_that_is_not_possible_is_not_counted() -> None:
    sizes = iter([100, 200])
    trimmer = HeapTrimmer(resident=lambda: next(sizes), release=lambda: False)
    assert trimmer.before_batch(64) is False
    assert trimmer.after_batch() is False
    assert trimmer.after_batch() is False
    assert trimmer.trims == 0


def test_predictor_checks_memory_around_every_cpu_batch(
    tiny_classifier_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    monkeypatch.setattr(
        framelab.models.predictor.HEAP_TRIMMER, "before_batch", lambda size: calls.append(("before", size))
    )
    monkeypatch.setattr(framelab.models.predictor.HEAP_TRIMMER, "after_batch", lambda: calls.append(("after",)))
    texts = ["One short line.", "Another line, a bit longer than the first.", "A third.", "A fourth one here.", "Five."]
    Predictor(tiny_classifier_dir, batch_size=2, device="cpu").probabilities(texts)
    assert [call[0] for call in calls] == ["before", "after"] * 3
    sizes = [call[1] for call in calls if call[0] == "before"]
    assert sizes == sorted(sizes, reverse=True)  # widest first, so only a call's first batch trims
