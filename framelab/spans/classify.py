"""``framelab score --spans FILE``: name the technique of each given span (SemEval-2020 TC).

Either model kind answers: a ``span_techniques`` classifier (trained for
exactly this: the span's text with its context, one technique) or a
``spans`` tagger (the techniques whose tags are most probable over the span's
tokens).

The template holds one line per span, ``id<TAB>?<TAB>start<TAB>end`` (the
second column may hold anything: ``?`` or a gold technique, which is
ignored); a span with k techniques is listed k times. Each line is answered
in template order as ``id<TAB>technique<TAB>start<TAB>end``; the k lines of
one span get the span model's k best techniques, each once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from framelab.errors import DataError, Problem, ProblemLog
from framelab.models.predictor import Predictor
from framelab.output import AtomicFile
from framelab.readers.common import decode_file
from framelab.score.inputs import iter_articles
from framelab.spans.analysis import article_tokens, classify_spans, ranked_answers
from framelab.spans.context import span_with_context
from framelab.types import Article
from framelab.units import split_units


@dataclass
class TemplateLine:
    """One span asked about: article id and ``[start, end)`` in article offsets."""

    article_id: str
    start: int
    end: int
    line: int


def read_template(path: Path) -> list[TemplateLine]:
    """Parse a TC template, naming the file and line of every problem."""
    lines, problems = [], []
    log = ProblemLog(strict=True)
    text = decode_file(Path(path), log, "span template")
    log.raise_if_any()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        fields = raw.rstrip("\r").split("\t")
        if len(fields) != 4:
            problems.append(
                Problem(
                    str(path),
                    number,
                    f"has {len(fields)} tab-separated fields, expected 4",
                    "write id<TAB>?<TAB>start<TAB>end",
                )
            )
            continue
        try:
            start, end = int(fields[2]), int(fields[3])
        except ValueError:
            problems.append(
                Problem(
                    str(path),
                    number,
                    f"offsets {fields[2]!r}, {fields[3]!r} are not integers",
                    "write character offsets as whole numbers",
                )
            )
            continue
        if not 0 <= start < end:
            problems.append(
                Problem(str(path), number, f"span [{start}, {end}) is empty or negative", "give 0 <= start < end")
            )
            continue
        lines.append(TemplateLine(fields[0], start, end, number))
    if problems:
        raise DataError(problems)
    if not lines:
        raise DataError(Problem(str(path), None, "holds no span", "give one id<TAB>?<TAB>start<TAB>end line per span"))
    return lines


Answers = dict[tuple[str, int, int], list[str]]


def _tagger_answers(
    predictor: Predictor, articles: dict[str, Article], queries: dict[str, list[tuple[int, int]]]
) -> Answers:
    """A span tagger's answers: the techniques whose tags are most probable over the span's tokens."""
    ids, starts, texts = [], [], []
    for article in articles.values():
        for unit in split_units(article, predictor.meta.unit):
            ids.append(article.id)
            starts.append(unit.start)
            texts.append(unit.text)
    tokens = article_tokens(ids, starts, predictor.token_probabilities(texts))
    answers: Answers = defaultdict(list)
    for aid, asked in queries.items():
        for start, end, label, _ in classify_spans(tokens.get(aid), asked, predictor.meta.labels):
            answers[(aid, start, end)].append(label)
    return answers


def _classifier_answers(
    predictor: Predictor, articles: dict[str, Article], queries: dict[str, list[tuple[int, int]]]
) -> Answers:
    """A span classifier's answers: the most probable techniques for the span in its context."""
    ids, spans, contexts = [], [], []
    for aid, asked in queries.items():
        for start, end in asked:
            span, context = span_with_context(articles[aid].text, start, end)
            ids.append(f"{aid}:{start}-{end}")
            spans.append(span)
            contexts.append(context)
    probs = predictor.probabilities(contexts, spans)
    answers: Answers = defaultdict(list)
    for aid, found in ranked_answers(ids, probs, predictor.meta.labels).items():
        for start, end, label, _ in found:
            answers[(aid, start, end)].append(label)
    return answers


def classify_span_file(
    model_dir: str | Path, inputs: list[str | Path], template: str | Path, out: str | Path, *, batch_size: int = 64
) -> int:
    """Answer every line of ``template`` for the articles in ``inputs``; returns the lines written."""
    predictor = Predictor(model_dir, batch_size=batch_size)
    lines = read_template(Path(template))
    wanted = {line.article_id for line in lines}
    articles = {a.id: a for a in iter_articles(inputs) if a.id in wanted}
    problems = []
    for line in lines:
        article = articles.get(line.article_id)
        if article is None:
            problems.append(
                Problem(
                    str(template),
                    line.line,
                    f"article {line.article_id!r} is not among the inputs",
                    "pass the folder holding article<ID>.txt",
                )
            )
        elif line.end > len(article.text):
            problems.append(
                Problem(
                    str(template),
                    line.line,
                    f"span end {line.end} is past the end of article {line.article_id} "
                    f"({len(article.text)} characters)",
                    "check that the template belongs to these articles",
                )
            )
    if problems:
        raise DataError(problems)
    queries: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for line in lines:
        queries[line.article_id].append((line.start, line.end))
    if predictor.task.head == "token":
        answers = _tagger_answers(predictor, articles, queries)
    else:
        answers = _classifier_answers(predictor, articles, queries)
    target = AtomicFile(Path(out))
    try:
        for line in lines:
            label = answers[(line.article_id, line.start, line.end)].pop(0)
            target.handle.write(f"{line.article_id}\t{label}\t{line.start}\t{line.end}\n")
    except BaseException:
        target.abort()
        raise
    target.commit()
    return len(lines)
