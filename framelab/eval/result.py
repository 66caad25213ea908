"""What an evaluation returns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from framelab.eval.bootstrap import Lead


@dataclass
class EvalResult:
    """Where the report went, its figures, and the figure it leads with example by example (for ``--compare``)."""

    report_dir: Path
    metrics: dict
    lead: Lead | None = None
