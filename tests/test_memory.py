"""Returning the C heap's free pages after each CPU forward pass (framelab/memory.py)."""

from __future__ import annotations

import ctypes
import os
import platform
from pathlib import Path

import pytest

import framelab.predict
from framelab.memory import release_freed_memory
from framelab.predict import Predictor

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")


def _resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


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
    kept = _resident_bytes()
    assert release_freed_memory() is True
    released = kept - _resident_bytes()
    libc.free(blocks[-1])
    assert released > 0.8 * size * count


def test_predictor_releases_memory_after_every_cpu_batch(tiny_classifier_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(framelab.predict, "release_freed_memory", lambda: calls.append(1))
    texts = ["One short line.", "Another line, a bit longer than the first.", "A third.", "A fourth one here.", "Five."]
    Predictor(tiny_classifier_dir, batch_size=2, device="cpu").probabilities(texts)
    assert len(calls) == 3
