"""What an evaluation returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class EvalResult:
    """Where the report went and its figures."""

    report_dir: Path
    metrics: dict
