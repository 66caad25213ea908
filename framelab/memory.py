"""Handing memory the C allocator keeps after a forward pass back to the operating system.

On the CPU every forward pass allocates its activations afresh, tens of MB
each, in sizes that change with every batch's width. glibc's malloc keeps the
freed blocks for reuse, but the next batch's blocks rarely fit the holes, so
the heap grows with each new mix of widths and a long scoring run ends up
resident well above what one batch needs (docs/benchmarks.md, "Speed").
``malloc_trim`` returns the free pages, but the next batch then faults them in
again: trimming after every batch cost about a tenth of CPU scoring throughput.
:class:`HeapTrimmer` therefore trims only before the widest batch of each call
and when resident memory has climbed past what a batch was seen to need, which
keeps memory flat at a small fraction of that cost.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from pathlib import Path


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl)."""
    try:
        return ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError, TypeError):  # TypeError: Windows has no process-wide CDLL(None)
        return None


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the operating system; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def resident_bytes() -> int | None:
    """This process's resident memory in bytes, or None where there is no ``/proc`` to read it from."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class HeapTrimmer:
    """Trims the C heap before the widest batch of each call, and when resident memory climbs.

    Batches come sorted by length, widest first, so a batch larger than the
    one before it starts a new call: it runs on a freshly trimmed heap, and
    the call's ceiling starts afresh. The resident size after the first batch
    following each trim is the working set without the allocator's holes; the
    ceiling is the largest such size in the call (glibc maps some large
    blocks on their own and unmaps them when freed, so one measurement can
    come out low). Narrower batches reuse most freed blocks, but not all, so
    resident memory creeps up; a batch that ends above the ceiling triggers a
    trim and a new measurement.

    Args:
        resident: reads resident memory in bytes (None where it cannot).
        release: trims the heap; returns False where that is not possible.
    """

    def __init__(
        self,
        resident: Callable[[], int | None] = resident_bytes,
        release: Callable[[], bool] = release_freed_memory,
    ) -> None:
        self.ceiling: int | None = None
        self.trims = 0
        self._resident = resident
        self._release = release
        self._last_size = 0
        self._measure_next = False

    def before_batch(self, size: int) -> bool:
        """Call before each forward pass with its padded size (rows × width); returns whether it trimmed."""
        larger = size > self._last_size
        self._last_size = size
        if not larger:
            return False
        self.ceiling = None
        return self._trim()

    def after_batch(self) -> bool:
        """Call after each forward pass; returns whether it trimmed the heap."""
        rss = self._resident()
        if rss is None:  # nothing to measure against: trim every time, which keeps memory flat at a cost
            return self._trim()
        if self._measure_next:
            self.ceiling = max(self.ceiling or 0, rss)
            self._measure_next = False
            return False
        return self.ceiling is not None and rss > self.ceiling and self._trim()

    def _trim(self) -> bool:
        self._measure_next = True
        if not self._release():
            return False
        self.trims += 1
        return True
