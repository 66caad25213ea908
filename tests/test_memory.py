"""Returning the C heap's free pages when a CPU scoring run's memory climbs (framelab/memory.py)."""

from __future__ import annotations

import ctypes
import platform
from pathlib import Path

import pytest

import framelab.predict
from framelab.memory import HeapTrimmer, release_freed_memory, resident_bytes
from framelab.predict import Predictor

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


def test_trims_only_past_the_ceiling_measured_after_each_trim() -> None:
    process = _FakeProcess()
    trimmer = HeapTrimmer(slack=0.1, resident=lambda: process.rss, release=process.release)
    steps = [  # (resident size after the batch, whether it trims, ceiling afterwards)
        (1000, False, 1100),  # the first batch measures the working set
        (1050, False, 1100),
        (1100, False, 1100),
        (1101, True, 1100),  # past the ceiling
        (900, False, 1100),  # measured after the trim: the ceiling never falls
        (1150, True, 1100),
        (1200, False, 1320),  # a wider batch after the trim raises the ceiling
        (1300, False, 1320),
        (1400, True, 1320),
    ]
    for rss, trims, ceiling in steps:
        process.rss = rss
        assert trimmer.after_batch() is trims, rss
        assert trimmer.ceiling == ceiling, rss
    assert process.trims == trimmer.trims == 3


def test_trims_every_batch_where_memory_cannot_be_read() -> None:
    process = _FakeProcess()
    trimmer = HeapTrimmer(resident=lambda: None, release=process.release)
    assert [trimmer.after_batch() for _ in range(3)] == [True, True, True]
    assert process.trims == 3


def test_a_trim_that_is_not_possible_is_not_counted() -> None:
    sizes = iter([100, 200])
    trimmer = HeapTrimmer(resident=lambda: next(sizes), release=lambda: False)
    assert trimmer.after_batch() is False
    assert trimmer.after_batch() is False
    assert trimmer.trims == 0


def test_predictor_checks_memory_after_every_cpu_batch(tiny_classifier_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(framelab.predict.HEAP_TRIMMER, "after_batch", lambda: calls.append(1))
    texts = ["One short line.", "Another line, a bit longer than the first.", "A third.", "A fourth one here.", "Five."]
    Predictor(tiny_classifier_dir, batch_size=2, device="cpu").probabilities(texts)
    assert len(calls) == 3
