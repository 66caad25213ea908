"""The HTML view of scored articles, drawn in memory by the HTML writer of ``framelab score``.

:class:`MemoryHtml` is :class:`framelab.score.writers.HtmlWriter` writing
into a string instead of a file, so ``POST /score?format=html`` and the
browser page show exactly what ``framelab score --format html`` writes, every
text of the article escaped, and nothing touches the disk.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from framelab.score.records import ModelLabels, ScoredArticle
from framelab.score.writers import HtmlWriter, article_records


class MemoryHtml(HtmlWriter):
    """The HTML writer with a string for its file."""

    def __init__(self, models: Sequence[ModelLabels] = ()) -> None:
        super().__init__(None, models)

    def _page(self, out: Path | None) -> IO[str]:
        return io.StringIO()

    def page(self) -> str:
        self.close()  # writes the page into self.handle; no file to move into place
        return self.handle.getvalue()


def html_page(results: list[ScoredArticle], models: Sequence[ModelLabels] = ()) -> str:
    """One page for ``results`` of ``models``, as ``framelab score --format html`` writes it."""
    writer = MemoryHtml(models)
    for result in results:
        writer.write(result)
    return writer.page()


def records(results: list[ScoredArticle]) -> list[dict]:
    """The records ``framelab score --format jsonl`` writes for ``results``, in order."""
    return [record for result in results for record in article_records(result)]


def jsonl(results: list[ScoredArticle]) -> str:
    """``results`` as the bytes ``framelab score --format jsonl`` writes (one record per line)."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records(results))
