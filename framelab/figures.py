"""How a quality figure keeps its 95% interval, and how the two are shown.

Reports, ``metrics.json`` and ``dev_metrics.json`` keep a figure's interval
beside it: a dict holding figures also holds ``ci95``, which maps the key of
each figure that has an interval to ``[low, high]`` (``{"f1": 0.5, "ci95":
{"f1": [0.41, 0.58]}}``). Readers that only want the figure keep reading it
as before. The intervals are computed in :mod:`framelab.eval.bootstrap`;
this module only names the key and formats, so that model cards (a layer
below evaluation) and reports show them alike.
"""

from __future__ import annotations

from collections.abc import Sequence

#: The key, beside a dict's figures, of their 95% intervals.
INTERVAL_KEY = "ci95"


def interval_of(block: dict, key: str) -> tuple[float, float] | None:
    """The 95% interval kept beside ``block[key]``, or None when there is none."""
    found = block.get(INTERVAL_KEY, {}).get(key)
    return None if found is None else (float(found[0]), float(found[1]))


def _number(value: float, digits: int, signed: bool) -> str:
    # U+2212 for a minus sign, so that a signed column of differences lines up and reads as arithmetic.
    return f"{value:+.{digits}f}".replace("-", "\u2212") if signed else f"{value:.{digits}f}"


def with_interval(value: float, interval: Sequence[float] | None, digits: int = 3, *, signed: bool = False) -> str:
    """``0.512 [0.431, 0.590]``; the value alone when there is no interval."""
    text = _number(value, digits, signed)
    if interval is None:
        return text
    low, high = interval
    return f"{text} [{_number(low, digits, signed)}, {_number(high, digits, signed)}]"


def shown(block: dict, key: str, digits: int = 3) -> str:
    """``block[key]`` with the interval kept beside it, if any (see :func:`with_interval`)."""
    return with_interval(block[key], interval_of(block, key), digits)
