"""What ``POST /score`` answers, drawn in memory from the scored articles: nothing touches the disk.

``?format=html`` is the page of :mod:`framelab.score.render`, the one ``framelab score --format html``
writes, so the browser page shows exactly what the file would, every text of the article escaped;
the JSON formats are the records ``framelab score --format jsonl`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from framelab.score.records import ModelLabels, ScoredArticle
from framelab.score.render import render_html
from framelab.score.writers import article_records


def html_page(results: list[ScoredArticle], models: Sequence[ModelLabels] = ()) -> str:
    """One page for ``results`` of ``models``, as ``framelab score --format html`` writes it."""
    return render_html(results, models)


def records(results: list[ScoredArticle]) -> list[dict]:
    """The records ``framelab score --format jsonl`` writes for ``results``, in order."""
    return [record for result in results for record in article_records(result)]


def jsonl(results: list[ScoredArticle]) -> str:
    """``results`` as the bytes ``framelab score --format jsonl`` writes (one record per line)."""
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records(results))
