"""Progress bars: one switch for framelab's own bars and those of the libraries it drives (``framelab -q``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm

_shown = True


def bars_shown() -> bool:
    """False inside :func:`no_progress_bars`."""
    return _shown


def bar(iterable: Any = None, **kwargs: Any) -> tqdm:
    """A tqdm bar that shows on a terminal only (never in logs), and never inside :func:`no_progress_bars`."""
    if not _shown:
        kwargs["disable"] = True
    kwargs.setdefault("disable", None)
    return tqdm(iterable, **kwargs)


@contextmanager
def no_progress_bars() -> Iterator[None]:
    """No progress bar and no info message from framelab, transformers or datasets inside the block; the
    earlier state after it."""
    # Imported here so that a process that never asks for quiet does not pay for transformers' import.
    import datasets.utils.logging as datasets_logging
    import transformers.utils.logging as transformers_logging

    global _shown
    earlier = (
        _shown,
        transformers_logging.is_progress_bar_enabled(),
        datasets_logging.is_progress_bar_enabled(),
        transformers_logging.get_verbosity(),
    )
    _shown = False
    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    datasets_logging.disable_progress_bar()
    try:
        yield
    finally:
        _shown = earlier[0]
        if earlier[1]:
            transformers_logging.enable_progress_bar()
        if earlier[2]:
            datasets_logging.enable_progress_bar()
        transformers_logging.set_verbosity(earlier[3])
