"""Where this process stands among those a launcher (``torchrun``, ``accelerate launch``) started."""

from __future__ import annotations

import os
from collections.abc import Mapping


def world_size(env: Mapping[str, str] = os.environ) -> int:
    """The number of processes a launcher started (``WORLD_SIZE``; 1 without a launcher)."""
    value = env.get("WORLD_SIZE", "").strip() or "1"
    try:
        return max(1, int(value))
    except ValueError:
        raise ValueError(f"WORLD_SIZE={value!r} in the environment is not a whole number") from None


def is_main_process(env: Mapping[str, str] = os.environ) -> bool:
    """Whether this is the process that writes shared outputs and prints (``RANK`` 0, or no launcher)."""
    value = env.get("RANK", "").strip() or "0"
    try:
        return int(value) == 0
    except ValueError:
        raise ValueError(f"RANK={value!r} in the environment is not a whole number") from None
