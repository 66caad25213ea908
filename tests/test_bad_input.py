"""Bad input gets a clear error naming the file, the line where one applies and what to do.

One test per kind of defect, for the corpus readers (PTC, SemEval-2023, JSONL),
the data stage (problems of the whole corpus reported together, lenient mode,
nothing half-written), the command line's config errors and the inputs of
``framelab score``. Every text here is written for these tests.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from framelab.cli import main
from framelab.config import load_config
from framelab.errors import DataError, Problem, ProblemLog
from framelab.projection import ProjectionRule, ProjectionStats, project
from framelab.readers import read_jsonl, read_ptc, read_semeval2023, write_jsonl
from framelab.score.inputs import iter_articles
from framelab.types import Article, Span
from framelab.units import split_units

TEXT = "Harbour levy row\n\nThe mayor called the levy a shameful scandal. Critics disagreed.\n"
SHAMEFUL = (39, 54)  # "levy a shameful" in TEXT
SCANDAL = (55, 62)  # "scandal" in TEXT
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


def write(path: Path, content: str | bytes) -> Path:
    """Write ``content`` as given (str as UTF-8, no newline translation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def at(text: str, phrase: str) -> tuple[int, int]:
    """Offsets of ``phrase`` in ``text``."""
    start = text.index(phrase)
    return start, start + len(phrase)


def only(log: ProblemLog) -> Problem:
    """The single problem in ``log``, with a hint on what to do."""
    assert len(log.problems) == 1, [str(p) for p in log.problems]
    problem = log.problems[0]
    assert problem.hint, f"no advice given: {problem}"
    return problem


def ptc(tmp_path: Path, rows: str, text: str | bytes = TEXT, **kw) -> tuple[ProblemLog, list[Article], Path]:
    """A one-article PTC folder: article1.txt and its TC labels file with ``rows``."""
    write(tmp_path / "article1.txt", text)
    labels = write(tmp_path / "article1.task2-TC.labels", rows)
    log = ProblemLog()
    return log, read_ptc(tmp_path, log=log, **kw), labels


def jsonl(tmp_path: Path, *records: dict | str, **kw) -> tuple[ProblemLog, list[Article], Path]:
    """A JSONL corpus of ``records`` (dicts are dumped, strings written as they are)."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path = write(tmp_path / "corpus.jsonl", "\n".join(lines) + "\n")
    log = ProblemLog()
    return log, read_jsonl(path, log=log, **kw), path


# --------------------------------------------------------------------------- offsets


def test_ptc_span_beyond_the_article(tmp_path: Path) -> None:
    log, articles, labels = ptc(
        tmp_path, f"1\tLoaded_Language\t{SHAMEFUL[0]}\t{SHAMEFUL[1]}\n1\tLoaded_Language\t30\t4000\n"
    )
    problem = only(log)
    assert (problem.path, problem.line) == (str(labels), 2)
    assert "beyond the end of article 1" in problem.message and f"({len(TEXT)} characters)" in problem.message
    assert [TEXT[s.start : s.end] for s in articles[0].spans] == ["levy a shameful"]


def test_jsonl_span_beyond_the_article(tmp_path: Path) -> None:
    record = {"id": "a", "text": "Short.", "spans": [{"start": 0, "end": 7, "label": "Doubt"}]}
    log, articles, path = jsonl(tmp_path, {"id": "ok", "text": "Fine."}, record)
    problem = only(log)
    assert (problem.path, problem.line) == (str(path), 2)
    assert "beyond the end of article a" in problem.message
    assert [a.spans for a in articles] == [[], []]  # the span is dropped, the article kept


@pytest.mark.parametrize("row", ["1\tDoubt\t-3\t10\n", "1\tDoubt\t3\t-10\n"])
def test_ptc_negative_offset(tmp_path: Path, row: str) -> None:
    log, articles, labels = ptc(tmp_path, row)
    problem = only(log)
    assert (problem.path, problem.line) == (str(labels), 1)
    assert "negative offset" in problem.message
    assert articles[0].spans == []


def test_semeval_negative_offset(tmp_path: Path) -> None:
    write(tmp_path / "article5.txt", TEXT)
    spans = write(tmp_path / "article5-labels-subtask-3.txt", "5\tDoubt\t0\t7\n5\tDoubt\t-1\t7\n")
    log = ProblemLog()
    (article,) = read_semeval2023(tmp_path, log=log)
    problem = only(log)
    assert (problem.path, problem.line) == (str(spans), 2) and "negative offset" in problem.message
    assert article.spans == [Span(0, 7, "Doubt")]


def test_jsonl_negative_offset(tmp_path: Path) -> None:
    log, articles, path = jsonl(
        tmp_path, {"id": "a", "text": TEXT, "spans": [{"start": -5, "end": 3, "label": "Doubt"}]}
    )
    problem = only(log)
    assert (problem.path, problem.line) == (str(path), 1) and "negative offset" in problem.message
    assert articles[0].spans == []


def test_ptc_reversed_and_empty_spans(tmp_path: Path) -> None:
    write(tmp_path / "article1.txt", TEXT)
    labels = write(tmp_path / "article1.task2-TC.labels", "1\tDoubt\t40\t30\n1\tDoubt\t30\t30\n1\tDoubt\t18\t27\n")
    log = ProblemLog()
    (article,) = read_ptc(tmp_path, log=log)
    assert [(p.path, p.line) for p in log.problems] == [(str(labels), 1), (str(labels), 2)]
    assert all("start must be less than end" in p.message and p.hint for p in log.problems)
    assert [TEXT[s.start : s.end] for s in article.spans] == ["The mayor"]


def test_jsonl_reversed_span(tmp_path: Path) -> None:
    log, articles, path = jsonl(
        tmp_path, {"id": "a", "text": TEXT, "spans": [{"start": 9, "end": 2, "label": "Doubt"}]}
    )
    problem = only(log)
    assert (problem.path, problem.line) == (str(path), 1) and "reversed" in problem.message


# --------------------------------------------------------------------------- labels


def test_unknown_technique_names_file_and_line_and_label_map_fixes_it(tmp_path: Path) -> None:
    # The blank line 2 still counts.
    rows = f"1\tLoaded_Language\t{SHAMEFUL[0]}\t{SHAMEFUL[1]}\n\n1\tShaming\t{SCANDAL[0]}\t{SCANDAL[1]}\n"
    log, articles, labels = ptc(tmp_path, rows, labels=["Loaded_Language", "Name_Calling"])
    problem = only(log)
    assert (problem.path, problem.line) == (str(labels), 3)
    assert "unknown technique 'Shaming'" in problem.message
    assert "label_map" in problem.hint
    with pytest.raises(DataError, match=r"article1\.task2-TC\.labels:3: unknown technique 'Shaming'"):
        log.raise_if_any()

    log = ProblemLog()
    (article,) = read_ptc(
        tmp_path, log=log, labels=["Loaded_Language", "Name_Calling"], label_map={"Shaming": "Name_Calling"}
    )
    assert log.problems == []
    assert [(s.label, TEXT[s.start : s.end]) for s in article.spans] == [
        ("Loaded_Language", "levy a shameful"),
        ("Name_Calling", "scandal"),
    ]


def test_unknown_technique_in_jsonl_and_semeval(tmp_path: Path) -> None:
    record = {"id": "a", "text": TEXT, "spans": [{"start": SCANDAL[0], "end": SCANDAL[1], "label": "Shaming"}]}
    log, _, path = jsonl(tmp_path / "j", {"id": "b", "text": "Fine."}, record, labels=["Doubt"])
    assert (only(log).path, only(log).line) == (str(path), 2)
    log, articles, _ = jsonl(
        tmp_path / "j", {"id": "b", "text": "Fine."}, record, labels=["Doubt"], label_map={"Shaming": "Doubt"}
    )
    assert log.problems == []
    assert [(a.id, a.spans) for a in articles] == [("a", [Span(*SCANDAL, "Doubt")]), ("b", [])]
    write(tmp_path / "s" / "article5.txt", TEXT)
    spans = write(tmp_path / "s" / "article5-labels-subtask-3.txt", f"5\tShaming\t{SCANDAL[0]}\t{SCANDAL[1]}\n")
    log = ProblemLog()
    read_semeval2023(tmp_path / "s", log=log, labels=["Doubt"])
    assert (only(log).path, only(log).line, only(log).message) == (str(spans), 1, "unknown technique 'Shaming'")


# --------------------------------------------------------------------------- encodings and newlines


def test_non_utf8_article_names_file_and_line(tmp_path: Path) -> None:
    latin1 = "Caf\xe9 owners\nprotest the levy.\n".encode("latin-1")
    log, articles, _ = ptc(tmp_path / "p", "", text=b"Headline\n" + latin1)
    problem = only(log)
    assert (problem.path, problem.line) == (str(tmp_path / "p" / "article1.txt"), 2)
    assert "not valid UTF-8" in problem.message and "byte offset 12" in problem.message
    assert "UTF-8" in problem.hint
    assert articles == []

    write(tmp_path / "s" / "article5.txt", latin1)
    write(tmp_path / "s" / "article5-labels-subtask-3.txt", "")
    log = ProblemLog()
    assert read_semeval2023(tmp_path / "s", log=log) == []
    assert only(log).path == str(tmp_path / "s" / "article5.txt")


def test_non_utf8_jsonl_line(tmp_path: Path) -> None:
    path = write(tmp_path / "c.jsonl", b'{"id": "a", "text": "fine"}\n{"id": "b", "text": "Caf\xe9"}\n')
    log = ProblemLog()
    assert [a.id for a in read_jsonl(path, log=log)] == ["a"]
    assert (only(log).path, only(log).line) == (str(path), 2)


def test_crlf_article_offsets_index_the_file_as_stored(tmp_path: Path) -> None:
    text = "Levy row\r\n\r\nThe mayor called it a scandal.\r\nCritics were furious.\r\n"
    raw_bytes = text.encode("utf-8")
    scandal, crossing = at(text, "scandal"), at(text, "scandal.\r\nCritics")
    write(tmp_path / "p" / "article1.txt", raw_bytes)
    write(
        tmp_path / "p" / "article1.task2-TC.labels",
        f"1\tLoaded_Language\t{scandal[0]}\t{scandal[1]}\n1\tDoubt\t{crossing[0]}\t{crossing[1]}\n",
    )
    write(tmp_path / "s" / "article5.txt", raw_bytes)
    write(
        tmp_path / "s" / "article5-labels-subtask-3.txt",
        f"5\tLoaded_Language\t{scandal[0]}\t{scandal[1]}\r\n5\tDoubt\t{crossing[0]}\t{crossing[1]}\r\n",
    )
    record = {
        "id": "j",
        "text": text,
        "spans": [
            {"start": a, "end": b, "label": label}
            for (a, b), label in ((scandal, "Loaded_Language"), (crossing, "Doubt"))
        ],
    }
    write(tmp_path / "c.jsonl", json.dumps(record) + "\r\n")  # a JSONL file saved with CRLF too
    log = ProblemLog()
    articles = (
        read_ptc(tmp_path / "p", log=log)
        + read_semeval2023(tmp_path / "s", log=log)
        + read_jsonl(tmp_path / "c.jsonl", log=log)
    )
    assert log.problems == []
    raw = raw_bytes.decode("utf-8")
    for article in articles:
        assert article.text == raw, article.id  # no newline translation
        assert [raw[s.start : s.end] for s in article.spans] == ["scandal", "scandal.\r\nCritics"]
        for kind in ("sentence", "line"):
            units = split_units(article, kind)
            assert [u.text for u in units] == ["Levy row", "The mayor called it a scandal.", "Critics were furious."]
            project(article, units, ProjectionRule(), ProjectionStats())
            assert [u.line for u in units] == [1, 3, 4]
            assert [[u.text[s.start : s.end] for s in u.spans] for u in units] == [
                [],
                ["scandal", "scandal."],
                ["Critics"],
            ]


@pytest.mark.parametrize("text", ["", "\n\n", " \r\n\t", "\ufeff"])
def test_empty_article(tmp_path: Path, text: str) -> None:
    log, articles, _ = ptc(tmp_path / "p", "", text=text)
    problem = only(log)
    assert problem.path == str(tmp_path / "p" / "article1.txt") and "article 1 is empty" in problem.message
    assert articles == []
    log, articles, path = jsonl(tmp_path / "j", {"id": "e", "text": text})
    assert (only(log).path, only(log).line, only(log).message) == (str(path), 1, "article e is empty")
    assert articles == []


# --------------------------------------------------------------------------- missing partners, duplicates


def test_ptc_article_without_labels_and_labels_without_article(tmp_path: Path) -> None:
    lonely_text = write(tmp_path / "articles" / "article1.txt", TEXT)
    write(tmp_path / "articles" / "article2.txt", TEXT)
    write(tmp_path / "labels" / "article2.task2-TC.labels", "2\tDoubt\t0\t7\n")
    orphan = write(tmp_path / "labels" / "article3.task2-TC.labels", "3\tDoubt\t0\t7\n")
    log = ProblemLog()
    articles = read_ptc(tmp_path, log=log)
    found = {(p.path, p.message) for p in log.problems}
    assert found == {
        (str(lonely_text), "article 1 has no labels file"),
        (str(orphan), "labels for article 3, but article3.txt is missing"),
    }
    assert all(p.hint for p in log.problems)
    assert [a.id for a in articles] == ["1", "2"]  # 1 kept without spans: lenient mode may use it
    with pytest.raises(DataError) as info:
        log.raise_if_any()
    assert len(info.value.problems) == 2


def test_semeval_article_without_span_file_and_span_file_without_article(tmp_path: Path) -> None:
    write(tmp_path / "article1.txt", TEXT)
    lonely = write(tmp_path / "article2.txt", TEXT)
    write(tmp_path / "article1-labels-subtask-3.txt", "1\tDoubt\t0\t7\n")
    orphan = write(tmp_path / "article3-labels-subtask-3.txt", "3\tDoubt\t0\t7\n")
    log = ProblemLog()
    read_semeval2023(tmp_path, log=log)
    assert {(p.path, p.message) for p in log.problems} == {
        (str(lonely), "article 2 has no span file"),
        (str(orphan), "labels for article 3, but article3.txt is missing"),
    }


def test_same_article_id_twice(tmp_path: Path) -> None:
    for folder in ("train", "dev"):
        write(tmp_path / "p" / folder / "article1.txt", TEXT)
    write(tmp_path / "p" / "all-task2-TC.labels", "1\tDoubt\t0\t7\n")
    log = ProblemLog()
    (article,) = read_ptc(tmp_path / "p", log=log)
    problem = only(log)
    assert problem.path == str(tmp_path / "p" / "train" / "article1.txt")
    assert f"article 1 appears twice (also {tmp_path / 'p' / 'dev' / 'article1.txt'})" == problem.message
    assert article.source == str(tmp_path / "p" / "dev" / "article1.txt")  # the first in sorted order is kept

    for folder in ("a", "b"):
        write(tmp_path / "s" / folder / "article5.txt", TEXT)
    write(tmp_path / "s" / "article5-labels-subtask-3.txt", "")
    log = ProblemLog()
    assert len(read_semeval2023(tmp_path / "s", log=log)) == 1
    assert "appears twice" in only(log).message

    log, articles, path = jsonl(
        tmp_path / "j", {"id": "a", "text": "One."}, {"id": "b", "text": "Two."}, {"id": "a", "text": "Three."}
    )
    assert (only(log).path, only(log).line, only(log).message) == (
        str(path),
        3,
        "article a appears twice (first on line 1)",
    )
    assert [a.text for a in articles] == ["One.", "Two."]


@pytest.mark.parametrize("bad_id", ["a\tb", "line\nbreak", " padded", "  "])
def test_jsonl_id_that_would_break_tab_separated_files(tmp_path: Path, bad_id: str) -> None:
    log, articles, path = jsonl(tmp_path, {"id": bad_id, "text": TEXT})
    assert (only(log).path, only(log).line) == (str(path), 1)
    assert articles == []


# --------------------------------------------------------------------------- a 1 MB single-line article


def one_line_article(size: int) -> str:
    """``size`` characters of distinct sentences on one line, no newline at all."""
    parts, n = [], 0
    while n < size:
        # Distinct sentences: repeated ones would flatter a splitter that searches text.
        part = f"Council item {len(parts)} passed, said Dr. Okafor, “after {len(parts) % 7} hours.” Was it fair? "
        parts.append(part)
        n += len(part)
    return "".join(parts)[:size]


class TooSlow(Exception):
    """Raised by :func:`time_limit` when the block runs past its budget."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with :class:`TooSlow` after ``seconds`` (SIGALRM, main thread)."""

    def stop(signum: int, frame: object) -> None:
        raise TooSlow(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


MEGABYTE = 1_000_000


@pytest.fixture(scope="module")
def big_article(tmp_path_factory: pytest.TempPathFactory) -> Article:
    """A 1 MB one-line PTC article with spans at its start, middle and end."""
    folder = tmp_path_factory.mktemp("big")
    text = one_line_article(MEGABYTE)
    offsets = [at(text, "Council item 0 passed"), at(text, "Council item 4000 passed"), (MEGABYTE - 40, MEGABYTE - 20)]
    phrases = [text[a:b] for a, b in offsets]
    rows = "".join(f"9\tLoaded_Language\t{a}\t{b}\n" for a, b in offsets)
    write(folder / "article9.txt", text)
    write(folder / "article9.task2-TC.labels", rows)
    log = ProblemLog()
    started = time.perf_counter()
    (article,) = read_ptc(folder, log=log)
    assert time.perf_counter() - started < 5
    assert log.problems == []
    assert [article.text[s.start : s.end] for s in article.spans] == phrases
    return article


def test_one_megabyte_single_line_article_reads_and_splits_into_lines(big_article: Article) -> None:
    assert len(big_article.text) == MEGABYTE and "\n" not in big_article.text
    (unit,) = split_units(big_article, "line")
    assert big_article.text[unit.start : unit.end] == unit.text
    project(big_article, [unit], ProjectionRule(), ProjectionStats())
    assert [unit.text[s.start : s.end] for s in unit.spans] == [
        big_article.text[s.start : s.end] for s in big_article.spans
    ]


def test_one_megabyte_single_line_article_splits_into_sentences_in_time(big_article: Article) -> None:
    # pysbd alone is quadratic (a 100 KB line took 30 s); the splitter must stay linear.
    with time_limit(60):
        units = split_units(big_article, "sentence")
    assert len(units) > 1000
    assert all(big_article.text[u.start : u.end] == u.text for u in units)
    with time_limit(20):
        units = split_units(big_article, "sentence")
    assert len(units) > 10_000
    text = big_article.text
    previous_end = 0
    for unit in units:
        assert text[unit.start : unit.end] == unit.text and unit.start >= previous_end
        previous_end = unit.end
    project(big_article, units, ProjectionRule(), ProjectionStats())
    found = [(u.start + s.start, u.start + s.end) for u in units for s in u.spans]
    for span in big_article.spans:
        assert any(span.start <= a < b <= span.end for a, b in found)


# --------------------------------------------------------------------------- the whole corpus, through build_dataset

GOOD = "The plan was approved. The harbour will reopen in May.\nMore news follows tomorrow.\n"


def corpus_with_three_problems(root: Path) -> dict[str, Path]:
    """A PTC folder of six articles; three files each hold one different defect."""
    for aid in range(1, 7):
        write(root / f"article{aid}.txt", GOOD)
        write(root / f"article{aid}.task2-TC.labels", f"{aid}\tLoaded_Language\t4\t8\n")
    return {
        "not UTF-8": write(root / "article2.txt", "Caf\xe9 owners protest.\n".encode("latin-1")),
        "beyond the end": write(root / "article3.task2-TC.labels", "3\tLoaded_Language\t4\t8\n3\tDoubt\t60\t900\n"),
        "reversed": write(root / "article4.task2-TC.labels", "4\tDoubt\t20\t10\n4\tLoaded_Language\t4\t8\n"),
    }


def data_config(tmp_path: Path, *extra: str):
    """A data config reading ``tmp_path/corpus`` into ``tmp_path/processed/ds``."""
    return load_config(
        None,
        [
            "data.format=ptc",
            f"data.path={tmp_path / 'corpus'}",
            f"data.output_dir={tmp_path / 'processed' / 'ds'}",
            "data.unit=sentence",
            *extra,
        ],
    )


def test_corpus_problems_are_reported_together_and_nothing_is_written(tmp_path: Path) -> None:
    from framelab.dataset import build_dataset

    bad = corpus_with_three_problems(tmp_path / "corpus")
    config = data_config(tmp_path)
    with pytest.raises(DataError) as info:
        build_dataset(config)
    problems = info.value.problems
    assert len(problems) == 3
    by_file = {p.path: p for p in problems}
    assert set(by_file) == {str(p) for p in bad.values()}
    assert "not valid UTF-8" in by_file[str(bad["not UTF-8"])].message
    assert (
        by_file[str(bad["beyond the end"])].line == 2
        and "beyond the end" in by_file[str(bad["beyond the end"])].message
    )
    assert by_file[str(bad["reversed"])].line == 1 and "reversed" in by_file[str(bad["reversed"])].message
    assert all(p.hint for p in problems)
    message = str(info.value)
    assert message.startswith("3 problem(s)") and all(str(p) in message for p in bad.values())
    # Nothing half-written: no dataset folder, no temporary sibling.
    parent = tmp_path / "processed"
    assert not (parent / "ds").exists()
    assert not parent.exists() or list(parent.iterdir()) == []


def test_lenient_build_drops_bad_records_and_lists_them(tmp_path: Path) -> None:
    from framelab.dataset import build_dataset

    bad = corpus_with_three_problems(tmp_path / "corpus")
    result = build_dataset(data_config(tmp_path, "data.strict=false"))
    stats = json.loads((result.path / "stats.json").read_text(encoding="utf-8"))
    assert len(stats["problems"]) == 3
    for path in bad.values():
        assert sum(str(path) in line for line in stats["problems"]) == 1
    assert sum(s["articles"] for s in stats["splits"].values()) == 5  # article 2 dropped
    assert sum(s["spans"] for s in stats["splits"].values()) == 5  # one good span each, bad spans dropped
    assert [p.name for p in result.path.parent.iterdir()] == ["ds"]


def test_interrupted_build_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import framelab.dataset as dataset

    for aid in range(1, 6):
        write(tmp_path / "corpus" / f"article{aid}.txt", GOOD)
        write(tmp_path / "corpus" / f"article{aid}.task2-TC.labels", "")
    original = dataset.DatasetDict.save_to_disk

    def interrupted(self, path: str, *args, **kwargs) -> None:
        if path.endswith("articles"):  # units/ is already on disk: a half-written folder
            raise KeyboardInterrupt
        original(self, path, *args, **kwargs)

    monkeypatch.setattr(dataset.DatasetDict, "save_to_disk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        dataset.build_dataset(data_config(tmp_path))
    assert list((tmp_path / "processed").iterdir()) == []


def test_damaged_dataset_marker_is_named(tmp_path: Path) -> None:
    from framelab.dataset import build_dataset

    marker = write(tmp_path / "processed" / "ds" / "data_config.json", '{"format": "ptc", ')  # cut off mid-write
    with pytest.raises(DataError) as info:
        build_dataset(data_config(tmp_path))
    (problem,) = info.value.problems
    assert problem.path == str(marker) and "--force" in problem.hint


# --------------------------------------------------------------------------- config errors on the command line


def test_cli_unknown_config_key_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path / "run.yaml", "data:\n  formt: ptc\n")
    assert main(["data", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "'data.formt'" in err and "did you mean 'data.format'" in err and str(config) in err


def test_cli_wrong_type_exits_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path / "run.yaml", "name: x\n")
    assert main(["config", "--config", str(config), "--set", "train.epochs=many"]) == 2
    assert "'train.epochs' must be float, got 'many'" in capsys.readouterr().err
    assert main(["data", "--config", str(config), "--set", "data.strict=maybe"]) == 2
    assert "'data.strict' must be bool" in capsys.readouterr().err


def test_cli_missing_base_model_folder_exits_2_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stories = [
        Article(f"a{i}", f"Story {i} was a shameful disgrace.", [Span(14, 22, "Loaded_Language")]) for i in range(6)
    ]
    write_jsonl(stories, tmp_path / "c.jsonl")
    config = write(
        tmp_path / "run.yaml",
        f"data:\n  path: {tmp_path / 'c.jsonl'}\n  output_dir: {tmp_path / 'ds'}\n"
        f"output_dir: {tmp_path / 'model'}\nmodel:\n  base: {tmp_path / 'no-such-model'}\n",
    )
    assert main(["data", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["train", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "model.base" in err and "no such folder" in err and str(tmp_path / "no-such-model") in err
    assert not (tmp_path / "model").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl", "ds", "run.yaml"]  # no work folder either


# --------------------------------------------------------------------------- framelab score inputs


def test_score_binary_file_is_refused_naming_it(tmp_path: Path) -> None:
    image = write(tmp_path / "photo.txt", PNG)
    with pytest.raises(DataError) as info:
        list(iter_articles([image]))
    (problem,) = info.value.problems
    assert problem.path == str(image) and "binary file" in problem.message and problem.hint
    utf16 = write(tmp_path / "notepad.txt", "Levy row".encode("utf-16"))
    with pytest.raises(DataError, match="UTF-16"):
        list(iter_articles([utf16]))


def test_score_non_utf8_txt(tmp_path: Path) -> None:
    path = write(tmp_path / "cafe.txt", "Headline\nCaf\xe9 owners protest.\n".encode("latin-1"))
    with pytest.raises(DataError) as info:
        list(iter_articles([path]))
    (problem,) = info.value.problems
    assert (problem.path, problem.line) == (str(path), 2) and "not valid UTF-8" in problem.message


@pytest.mark.parametrize("name", ["photo.png", "article.docx", "notes.txt.gz"])
def test_score_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, PNG)
    with pytest.raises(DataError) as info:
        list(iter_articles([path]))
    (problem,) = info.value.problems
    assert problem.path == str(path) and "unsupported input type" in problem.message and ".txt" in problem.hint


def test_score_upper_case_txt_is_text(tmp_path: Path) -> None:
    (article,) = iter_articles([write(tmp_path / "NOTES.TXT", TEXT)])
    assert article.id == "NOTES" and article.text == TEXT


def test_score_folder_without_txt_files_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    write(folder / "photo.png", PNG)
    write(folder / "sub" / "notes.md", "# notes\n")
    with pytest.raises(DataError) as info:
        list(iter_articles([folder]))
    (problem,) = info.value.problems
    assert problem.path == str(folder) and "no .txt file" in problem.message
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .txt file"):
        list(iter_articles([tmp_path / "empty"]))


def test_score_empty_inputs_are_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="holds no article"):
        list(iter_articles([write(tmp_path / "none.jsonl", "\n")]))
    with pytest.raises(DataError, match="article is empty"):
        list(iter_articles([write(tmp_path / "blank.txt", " \r\n")]))
    with pytest.raises(DataError, match="no such file"):
        list(iter_articles([tmp_path / "missing.txt"]))


def test_score_duplicate_ids_are_refused(tmp_path: Path) -> None:
    first = write(tmp_path / "a" / "story.txt", TEXT)
    second = write(tmp_path / "b" / "story.txt", TEXT)
    with pytest.raises(DataError) as info:
        list(iter_articles([first, second]))
    (problem,) = info.value.problems
    assert problem.path == str(second) and str(first) in problem.message


def test_score_ids_that_look_like_paths_are_yielded_unchanged(tmp_path: Path) -> None:
    # Ids are only ever data: the writers use fixed file names (see
    # framelab/score/writers.py), so "../../etc/passwd" cannot name a file.
    ids = ["../../etc/passwd", "a/b", "/abs/path", "..", "C:\\x"]
    path = write(tmp_path / "in.jsonl", "".join(json.dumps({"id": i, "text": TEXT}) + "\n" for i in ids))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert sorted(a.id for a in iter_articles([path])) == sorted(ids)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_score_jsonl_problems_name_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "in.jsonl", '{"id": "a", "text": "Fine."}\n{"id": "b", "text": \n{"id": "c\\td", "text": "x"}\n'
    )
    with pytest.raises(DataError) as info:
        list(iter_articles([path]))
    assert [(p.path, p.line) for p in info.value.problems] == [(str(path), 2), (str(path), 3)]
