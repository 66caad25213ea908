"""Errors raised where data enters, and a collector for corpus-wide problems.

Every message names the file, the line where one applies, and what to do, so a
user can fix their corpus without reading our code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One defect found in input data."""

    path: str
    line: int | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        text = f"{where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class DataError(ValueError):
    """Input data that cannot be used as it is; carries every problem found."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        shown = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = len(self.problems) - 50
        if more > 0:
            shown += f"\n  … and {more} more"
        super().__init__(f"{len(self.problems)} problem(s) in the input data:\n{shown}")


class ConfigError(ValueError):
    """A configuration file or override that does not fit the schema."""


@dataclass
class ProblemLog:
    """Collects problems across a whole corpus so they are reported together.

    In strict mode :meth:`raise_if_any` raises once with all of them; in lenient
    mode the caller drops the offending records and reports the problems as
    warnings in the dataset stats.
    """

    strict: bool = True
    problems: list[Problem] = field(default_factory=list)
    #: Oddities that are kept, not dropped (FNC-1's repeated pairs), counted in the dataset stats.
    warnings: list[Problem] = field(default_factory=list)

    def add(self, path: str | Path, line: int | None, message: str, hint: str = "") -> None:
        """Record one problem."""
        self.problems.append(Problem(str(path), line, message, hint))

    def warn(self, path: str | Path, line: int | None, message: str, hint: str = "") -> None:
        """Record one oddity that is kept as it is (never raises, in either mode)."""
        self.warnings.append(Problem(str(path), line, message, hint))

    def raise_if_any(self) -> None:
        """Raise a :class:`DataError` with every problem, in strict mode."""
        if self.strict and self.problems:
            raise DataError(self.problems)
