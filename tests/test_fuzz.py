"""Fuzzing the readers and the inputs of ``framelab score`` (issue 24).

Every reader (PTC, SemEval-2023, JSONL, FNC-1, SemEval-2016) and the score
inputs get random bytes, hostile Unicode (combining marks, right-to-left
text and overrides, NUL, lone surrogates in JSON escapes, CRLF and lone CR
line ends, byte-order marks) and random label lines. The property: either a
clean refusal (problems in the :class:`ProblemLog` or a :class:`DataError`,
each naming a file) or articles whose text survives a JSONL round trip
exactly, whose spans lie inside the text and read the same after it, and
whose units (sentences and lines) cover every visible character with exact
offsets. Any other exception is a failure.

The fast suite runs ``FUZZ_EXAMPLES`` examples per target (default 40);
the test marked slow runs ``FUZZ_EXAMPLES_SLOW`` (default 1000) of each.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from framelab.errors import DataError, ProblemLog
from framelab.readers import read_fnc1, read_jsonl, read_ptc, read_semeval2016, read_semeval2023, write_jsonl
from framelab.readers.common import id_problem
from framelab.score.inputs import check_inputs, iter_articles
from framelab.types import Article
from framelab.units import split_units

FAST_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
SLOW_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES_SLOW", "1000"))

NASTY = [
    "\u0301", "e\u0301", "\u05d0\u05d1\u05d2", "\u0627\u0644\u0639", "\u202e", "\u202d", "\u200f", "\u200b",
    "\x00", "\ufeff", "\r\n", "\r", "\n", "\t", " ", "\u00a0", "\u2028", "\x85", "\x1b", "🚀", "中文",
    ".", "!", "?", "\"", "\\", "Dr.", "word",
]  # fmt: skip
texts = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=4)), max_size=40).map("".join)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "latin-1", "surrogates"]


def encoded(text: str, how: str) -> bytes:
    """``text`` as bytes in encoding ``how`` (``surrogates``: UTF-8 with lone surrogates let through, i.e. invalid)."""
    if how == "surrogates":
        return (text + "\ud800").encode("utf-8", "surrogatepass")
    return text.encode(how, "replace")


payloads = st.one_of(st.binary(max_size=200), st.builds(encoded, texts, st.sampled_from(ENCODINGS)))
numbers = st.one_of(
    st.integers(-5, 300), st.sampled_from(["", "x", "1.5", "-0", "١٢", "99999999999999999999", " 3", "0x10"])
)
labels = st.one_of(
    st.sampled_from(["Loaded_Language", "Doubt", "Name_Calling,Labeling", "", " ", "a\tb"]), st.text(max_size=6)
)


@st.composite
def label_lines(draw: st.DrawFn, ids: list[str], fields: int = 4) -> bytes:
    """TAB-separated label rows: mostly plausible, sometimes with too few or too many fields, random ends of line."""
    rows = []
    for _ in range(draw(st.integers(0, 6))):
        row = [
            draw(st.sampled_from(ids) | st.text(max_size=4)),
            str(draw(labels)),
            str(draw(numbers)),
            str(draw(numbers)),
        ][:fields]
        row = row[: draw(st.integers(0, fields + 1))] + [str(draw(numbers))] * draw(st.integers(0, 1))
        rows.append("\t".join(row) + draw(st.sampled_from(["\n", "\r\n", "\r", ""])))
    return draw(st.one_of(st.just("".join(rows).encode()), payloads))


# --------------------------------------------------------------------------- the property


def _check_articles(articles: list[Article], folder: Path) -> None:
    """Offsets round-trip through JSONL and units cover every visible character."""
    if not articles:
        return
    for a in articles:
        assert a.text and id_problem(a.id) is None, a.id
        for s in a.spans:
            assert 0 <= s.start < s.end <= len(a.text)
    path = folder / "round-trip.jsonl"
    write_jsonl(articles, path)
    log = ProblemLog()
    again = read_jsonl(path, log=log)
    assert not log.problems, [str(p) for p in log.problems]
    assert [(a.id, a.text, [(s.start, s.end, s.label) for s in a.spans]) for a in again] == [
        (a.id, a.text, [(s.start, s.end, s.label) for s in a.spans]) for a in sorted(articles, key=lambda a: a.id)
    ]
    for a in again:
        for kind in ("sentence", "line"):
            covered: set[int] = set()
            for u in split_units(a, kind):
                assert a.text[u.start : u.end] == u.text
                covered.update(range(u.start, u.end))
            visible = {i for i, ch in enumerate(a.text) if not ch.isspace() and ch != "\ufeff"}
            assert visible <= covered


def _refused_or_sound(read: Callable[[Path, ProblemLog], list[Article]], build: Callable[[Path], Path]) -> str:
    """``refused`` or ``read`` (articles checked), whichever happened; any other outcome fails."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        target = build(folder)
        log = ProblemLog(strict=True)
        try:
            articles = read(target, log)
        except DataError as exc:
            assert exc.problems and all(p.path and p.message for p in exc.problems)
            return "refused"
        if log.problems:
            assert all(p.path and p.message for p in log.problems)
            return "refused"
        _check_articles(articles, folder)
        return "read" if articles else "read, no article"


def _write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


# --------------------------------------------------------------------------- targets


def plausible(draw: st.DrawFn, fields: int = 4) -> tuple[bytes, bytes]:
    """A hostile but decodable article (UTF-8, maybe a BOM) and label rows with spans inside it, on Unix or
    Windows line ends."""
    text = draw(texts.filter(lambda t: t.strip("\ufeff \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029")))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(text) - 1))
        stop = draw(st.integers(start + 1, len(text)))
        rows.append(
            "\t".join(
                [
                    "1",
                    draw(st.sampled_from(["Loaded_Language", "Doubt", "Name_Calling,Labeling"])),
                    str(start),
                    str(stop),
                ][-fields:]
                if fields == 4
                else ["1", str(start), str(stop)]
            )
        )
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig"]))), "".join(r + end for r in rows).encode()


@st.composite
def ptc_case(draw: st.DrawFn) -> Callable[[Path], Path]:
    text, rows = plausible(draw) if draw(st.booleans()) else (draw(payloads), draw(label_lines(["1", "2"])))
    agg = draw(st.none() | label_lines(["1"]))

    def build(folder: Path) -> Path:
        _write(folder / "article1.txt", text)
        _write(folder / "article1.task2-TC.labels", rows)
        if agg is not None:
            _write(folder / "train-task2-TC.labels", agg)
        return folder

    return build


@st.composite
def semeval2023_case(draw: st.DrawFn) -> Callable[[Path], Path]:
    text, spans = plausible(draw) if draw(st.booleans()) else (draw(payloads), draw(label_lines(["1", "2"])))
    genre, frames, lines = draw(label_lines(["1"], 2)), draw(label_lines(["1"], 2)), draw(label_lines(["1"], 3))
    if draw(st.booleans()):
        genre, frames, lines = b"1\topinion\n", b"1\tEconomic,Political\n", b""

    def build(folder: Path) -> Path:
        _write(folder / "article1.txt", text)
        _write(folder / "article1-labels-subtask-3.txt", spans)
        _write(folder / "train-labels-subtask-1.txt", genre)
        _write(folder / "train-labels-subtask-2.txt", frames)
        _write(folder / "train-labels-subtask-3.txt", lines)
        return folder

    return build


def _json_line(draw: st.DrawFn, number: int) -> str:
    """One JSONL line: mostly a record with hostile text (and spans inside it, or random ones), sometimes garbage."""
    kind = draw(st.integers(0, 7))
    if kind == 0:
        return draw(st.text(max_size=30))
    text = draw(texts)
    bad_id = draw(st.integers(0, 5)) == 0
    record: dict = {
        "id": draw(st.sampled_from([" e", "f\tg", ""]) | st.text(max_size=4)) if bad_id else f"id{number}/ü",
        "text": text,
    }
    if text and kind in (2, 3):
        record["spans"] = [
            {"start": draw(numbers), "end": draw(numbers), "label": draw(labels)}
            for _ in range(draw(st.integers(0, 3)))
        ]
    elif text and kind in (4, 5):
        starts = [draw(st.integers(0, len(text) - 1)) for _ in range(draw(st.integers(0, 3)))]
        record["spans"] = [{"start": a, "end": draw(st.integers(a + 1, len(text))), "label": "Doubt"} for a in starts]
    line = json.dumps(record, ensure_ascii=draw(st.booleans()))
    if kind == 3:
        # Lone surrogates and NUL as JSON escapes.
        line = line.replace(
            '"text": "',
            '"text": "' + draw(st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "\\ud83d\\ude80", "\\u202e"])),
            1,
        )
    return line


@st.composite
def jsonl_case(draw: st.DrawFn) -> Callable[[Path], Path]:
    lines = [_json_line(draw, i) for i in range(draw(st.integers(0, 4)))]
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    content = end.join(lines).encode("utf-8", "surrogatepass") if draw(st.integers(0, 3)) else draw(payloads)
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))

    def build(folder: Path) -> Path:
        return _write(folder / "corpus.jsonl", bom + content)

    return build


def _csv_cell(draw: st.DrawFn) -> str:
    cell = draw(
        st.one_of(texts, st.sampled_from(["1", "2", "agree", "discuss", "unrelated", "AGAINST", "FAVOR", "NONE"]))
    )
    return _quoted(cell) if draw(st.booleans()) else cell


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"'


@st.composite
def fnc1_case(draw: st.DrawFn) -> Callable[[Path], Path]:
    """Half the time well-formed files with hostile text (quoted cells), else random cells, encodings or bytes."""
    if draw(st.booleans()):
        end = draw(st.sampled_from(["\n", "\r\n"]))
        n = draw(st.integers(1, 3))
        body_rows = [f"{i},{_quoted(draw(texts.filter(str.strip)))}" for i in range(n)]
        stance = st.sampled_from(["agree", "disagree", "discuss", "unrelated", "Agree "])
        stance_rows = [
            f"{_quoted(draw(texts))},{draw(st.integers(0, n - 1))},{draw(stance)}"
            for _ in range(draw(st.integers(1, 4)))
        ]
        stances = end.join(["Headline,Body ID,Stance", *stance_rows]) + end
        bodies = end.join(["Body ID,articleBody", *body_rows]) + end
        raw, garbage = draw(st.sampled_from(["utf-8", "utf-8-sig"])), None
    else:
        stances = "Headline,Body ID,Stance\n" + "".join(
            ",".join(_csv_cell(draw) for _ in range(draw(st.integers(1, 4)))) + "\n"
            for _ in range(draw(st.integers(0, 4)))
        )
        bodies = "Body ID,articleBody\n" + "".join(
            ",".join(_csv_cell(draw) for _ in range(draw(st.integers(1, 3)))) + "\n"
            for _ in range(draw(st.integers(0, 3)))
        )
        raw, garbage = draw(st.sampled_from(ENCODINGS)), draw(st.none() | payloads)

    def build(folder: Path) -> Path:
        _write(folder / "train_stances.csv", encoded(stances, raw) if garbage is None else garbage)
        _write(folder / "train_bodies.csv", encoded(bodies, raw))
        return folder

    return build


@st.composite
def semeval2016_case(draw: st.DrawFn) -> Callable[[Path], Path]:
    """Half the time well-formed rows with hostile tweets (no TAB or newline in them), else random fields,
    encodings or bytes."""
    if draw(st.booleans()):
        tweets = texts.map(lambda t: t.replace("\t", " ").replace("\n", " ").replace("\r", " "))
        stances = st.sampled_from(["AGAINST", "FAVOR", "NONE", "none"])
        rows = [
            f"{i}\t{draw(tweets)}\t{draw(tweets.filter(str.strip))}\t{draw(stances)}"
            for i in range(draw(st.integers(1, 4)))
        ]
        content = "ID\tTarget\tTweet\tStance\n" + draw(st.sampled_from(["\n", "\r\n"])).join(rows)
        raw = encoded(content, draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"])))
    else:
        rows = [
            "\t".join(str(draw(st.one_of(st.integers(0, 9), texts, st.sampled_from(["AGAINST", "FAVOR", "NONE"]))))
                      for _ in range(draw(st.integers(1, 5))))
            for _ in range(draw(st.integers(0, 4)))
        ]  # fmt: skip
        content = "ID\tTarget\tTweet\tStance\n" + draw(st.sampled_from(["\n", "\r\n", "\r"])).join(rows)
        raw = draw(st.one_of(st.builds(encoded, st.just(content), st.sampled_from(ENCODINGS)), payloads))

    def build(folder: Path) -> Path:
        return _write(folder / "stance.txt", raw)

    return build


@st.composite
def score_inputs_case(draw: st.DrawFn) -> Callable[[Path], Path]:
    files = draw(
        st.lists(
            st.tuples(st.sampled_from(["a.txt", "b.TXT", "c.jsonl", "sub/d.txt", "article7.txt", "e.md"]), payloads),
            min_size=1,
            max_size=3,
        )
    )
    jsonl = draw(jsonl_case())

    def build(folder: Path) -> Path:
        inputs = folder / "in"
        for name, content in files:
            _write(inputs / name, content)
        if draw_jsonl:
            jsonl(inputs)
        return inputs

    draw_jsonl = draw(st.booleans())
    return build


def _score_inputs(path: Path, log: ProblemLog) -> list[Article]:
    files, problems = check_inputs([path])
    assert not problems
    return list(iter_articles(files))


def _score_inputs_skip(path: Path, log: ProblemLog) -> list[Article]:
    files, problems = check_inputs([path], skip=True)
    assert all(p.path and p.message for p in problems)
    return list(iter_articles(files))


def _reader(read) -> Callable[[Path, ProblemLog], list[Article]]:
    return lambda path, log: read(path, log=log)


TARGETS = {
    "ptc": (_reader(read_ptc), ptc_case()),
    "semeval2023": (_reader(read_semeval2023), semeval2023_case()),
    "jsonl": (_reader(read_jsonl), jsonl_case()),
    "fnc1": (_reader(read_fnc1), fnc1_case()),
    "semeval2016": (_reader(read_semeval2016), semeval2016_case()),
    "score inputs": (_score_inputs, score_inputs_case()),
    "score inputs, --on-error skip": (_score_inputs_skip, score_inputs_case()),
}


def _fuzz(name: str, examples: int) -> None:
    """Run target ``name`` for ``examples`` examples; with ``FUZZ_REPORT=FILE`` append the outcome counts and
    seconds to FILE (JSON lines)."""
    read, cases = TARGETS[name]
    outcomes: Counter[str] = Counter()

    @settings(
        max_examples=examples,
        deadline=5000,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(cases)
    def run(build: Callable[[Path], Path]) -> None:
        outcomes[_refused_or_sound(read, build)] += 1

    started = time.perf_counter()
    run()
    if os.environ.get("FUZZ_REPORT"):
        with open(os.environ["FUZZ_REPORT"], "a", encoding="utf-8") as report:
            record = {
                "target": name,
                "max_examples": examples,
                "examples": sum(outcomes.values()),
                **outcomes,
                "seconds": round(time.perf_counter() - started, 1),
            }
            report.write(json.dumps(record) + "\n")


@pytest.mark.parametrize("name", list(TARGETS))
def test_fuzz_refuses_cleanly_or_reads_soundly(name: str) -> None:
    _fuzz(name, FAST_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TARGETS))
def test_fuzz_long_run(name: str) -> None:
    _fuzz(name, SLOW_EXAMPLES)


def test_a_lone_surrogate_escape_is_refused_naming_the_line(tmp_path: Path) -> None:
    # Found by the fuzzing run: "\ud800" in a JSON string was read, and every output then failed to encode it.
    path = tmp_path / "c.jsonl"
    path.write_text(
        '{"id": "a", "text": "\\ud800 levy"}\n{"id": "b", "text": "\\ud83d\\ude80 levy"}\n', encoding="utf-8"
    )
    log = ProblemLog()
    (article,) = read_jsonl(path, log=log)
    assert article.text == "🚀 levy"
    (problem,) = log.problems
    assert (problem.path, problem.line) == (str(path), 1) and "lone surrogate" in problem.message


def test_stance_rows_without_a_usable_id_or_text_are_refused(tmp_path: Path) -> None:
    # Found by the fuzzing run: SemEval-2016 took an empty ID; FNC-1 took control characters in a body ID and
    # empty bodies.
    tweets = tmp_path / "stance.txt"
    tweets.write_text("ID\tTarget\tTweet\tStance\n\tRent\tGood idea\tFAVOR\n7\tRent\tFine\tAGAINST\n", encoding="utf-8")
    log = ProblemLog()
    assert [a.id for a in read_semeval2016(tweets, log=log)] == ["7"]
    assert [(p.line, p.message) for p in log.problems] == [(2, "article id is empty")]
    fnc = tmp_path / "fnc"
    fnc.mkdir()
    (fnc / "train_bodies.csv").write_text("Body ID,articleBody\n1,Body text\n\x1b,Other\n2, \n", encoding="utf-8")
    (fnc / "train_stances.csv").write_text(
        "Headline,Body ID,Stance\nH,1,agree\nH,\x1b,agree\nH,2,discuss\n", encoding="utf-8"
    )
    log = ProblemLog()
    assert [a.id for a in read_fnc1(fnc, log=log)] == ["1"]
    bodies = [p for p in log.problems if p.path.endswith("train_bodies.csv")]
    assert (
        [p.line for p in bodies] == [3, 4] and "control character" in bodies[0].message and "empty" in bodies[1].message
    )
    assert [p.line for p in log.problems if p.path.endswith("train_stances.csv")] == [3, 4]
