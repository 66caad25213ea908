"""Handing memory the C allocator keeps after a forward pass back to the operating system.

On the CPU every forward pass allocates its activations afresh, tens of MB
each, in sizes that change with every batch's width. glibc's malloc keeps the
freed blocks for reuse, but the next batch's blocks rarely fit the holes, so
the heap grows with each new mix of widths and a long scoring run ends up
resident well above what one batch needs before it levels off
(docs/benchmarks.md, "Speed"). ``malloc_trim`` returns the free pages, so
resident memory stays near what the largest batch needs, however many batches
have run. The price is page faults when those pages are used again: about a
tenth of CPU scoring throughput (docs/benchmarks.md measures both).
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


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
