"""The HTML view of scored articles, drawn in memory by the HTML writer of ``framelab score``.

:class:`MemoryHtml` is :class:`framelab.score.writers.HtmlWriter` writing
into a string instead of a file, so ``POST /score?format=html`` and the
browser page show exactly what ``framelab score --format html`` writes, every
text of the article escaped, and nothing touches the disk.
"""

from __future__ import annotations

import io
import json

from framelab.score.records import ScoredArticle
from framelab.score.writers import HtmlWriter, Writer, article_records


class MemoryHtml(HtmlWriter):
    """The HTML writer with a string for its file."""

    def __init__(self) -> None:
        Writer.__init__(self, None)
        self.handle = io.StringIO()
        self.body = io.StringIO()
        self.colours: dict[str, str] = {}

    def page(self) -> str:
        self.close()  # writes the page into self.handle; no file to move into place
        return self.handle.getvalue()


def html_page(results: list[ScoredArticle]) -> str:
    """One page for ``results``, as ``framelab score --format html`` writes it."""
    writer = MemoryHtml()
    for result in results:
        writer.write(result)
    return writer.page()


def records(results: list[ScoredArticle]) -> list[dict]:
    """The records ``framelab score --format jsonl`` writes for ``results``, in order."""
    return [record for result in results for record in article_records(result)]


def jsonl(results: list[ScoredArticle]) -> str:
    """``results`` as the bytes ``framelab score --format jsonl`` writes (one record per line)."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records(results))
