"""SemEval-2016 Task 6 and FNC-1 readers on fixtures in the exact formats."""

from __future__ import annotations

from pathlib import Path

import pytest

from framelab.dataset import split_articles
from framelab.errors import DataError, ProblemLog
from framelab.readers import read_corpus

FIXTURES = Path(__file__).parent / "fixtures" / "stance"


def test_semeval2016_latin1_crlf_file() -> None:
    log = ProblemLog()
    articles = read_corpus("semeval2016", FIXTURES / "semeval2016.txt", log=log)
    assert log.problems == []
    assert [(a.id, a.stance_target, a.stance) for a in articles] == [
        ("10001", "Rent control", "favor"),
        ("10002", "Rent control", "against"),
        ("10003", "Rent control", "none"),
        ("10004", "Nuclear power", "favor"),
    ]
    # Windows-1252 bytes decoded, not mangled: é and the en dash survive.
    assert "économiste" in articles[1].text and "–" in articles[3].text
    assert not articles[0].text.endswith("\r")


def test_semeval2016_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("ID\tTarget\tTweet\tStance\n1\tX\tsome text\tMAYBE\n2\tX\tonly three\n", encoding="utf-8")
    log = ProblemLog()
    read_corpus("semeval2016", path, log=log)
    assert [(p.line, "MAYBE" in p.message or "4 tab-separated" in p.message) for p in log.problems] == [
        (2, True),
        (3, True),
    ]
    assert all(p.path == str(path) for p in log.problems)


def test_fnc1_one_article_per_body_with_its_headlines() -> None:
    log = ProblemLog()
    articles = read_corpus("fnc1", FIXTURES / "fnc1", log=log)
    assert log.problems == [] and log.warnings == []
    assert [a.id for a in articles] == ["7", "9"]
    assert [(p.index, p.row, p.stance) for p in articles[0].pairs] == [
        (0, 2, "agree"),
        (1, 3, "disagree"),
        (2, 4, "discuss"),
    ]
    assert [(p.index, p.stance) for p in articles[1].pairs] == [(3, "agree"), (4, "unrelated")]
    assert articles[0].pairs[1].headline == "Mayor says pier will stay open"
    assert (
        articles[0].text.startswith("The harbour council")
        and '"it is final"' in articles[0].text
        and "\n\n" in articles[0].text
    )


def test_fnc1_bodies_are_split_not_pairs() -> None:
    articles = read_corpus("fnc1", FIXTURES / "fnc1", log=ProblemLog())
    for seed in range(10):
        split = split_articles([a.id for a in articles], 0.5, 0.0, seed)
        assert sorted(split.values()) == ["dev", "train"]


def test_fnc1_unknown_body_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "train_bodies.csv").write_text("Body ID,articleBody\n1,text\n", encoding="utf-8")
    (tmp_path / "train_stances.csv").write_text("Headline,Body ID,Stance\nH,2,agree\nH,1,maybe\n", encoding="utf-8")
    log = ProblemLog()
    assert [a.pairs for a in read_corpus("fnc1", tmp_path, log=log)] == [[]]
    assert [p.line for p in log.problems] == [2, 3]
    assert "row 2" in log.problems[0].message and "Body ID '2'" in log.problems[0].message
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="stances"):
        read_corpus("fnc1", tmp_path / "empty", log=ProblemLog())


def test_fnc1_bad_rows_name_file_row_and_line(tmp_path: Path) -> None:
    # A BOM and CRLF line ends are fine; the body of row 2 spans two lines, so row 3 starts on line 4.
    (tmp_path / "train_bodies.csv").write_bytes(
        (
            '\ufeffBody ID,articleBody\r\n1,"first line\r\nsecond line"\r\n2,other\r\n1,changed text\r\n2,other\r\n'
        ).encode()
    )
    (tmp_path / "train_stances.csv").write_bytes(
        b"Headline,Body ID,Stance\r\n,1,agree\r\nH,1,Agree\r\nH,1,agree\r\nG,2,sideways\r\n"
    )
    log = ProblemLog()
    articles = read_corpus("fnc1", tmp_path, log=log)
    bodies = tmp_path / "train_bodies.csv"
    stances = tmp_path / "train_stances.csv"
    assert [(p.path, p.line) for p in log.problems] == [(str(bodies), 5), (str(stances), 2), (str(stances), 5)]
    assert "row 4: Body ID 1 appears again with another text" in log.problems[0].message
    assert "row 2: empty headline" in log.problems[1].message
    assert "row 5: unknown stance 'sideways'" in log.problems[2].message
    # Same Body ID with the same text, and a repeated (headline, body) row: kept, counted as warnings.
    assert [(p.path, p.line) for p in log.warnings] == [(str(bodies), 6), (str(stances), 4)]
    assert articles[0].text == "first line\r\nsecond line"
    assert [(p.row, p.stance) for p in articles[0].pairs] == [(3, "agree"), (4, "agree")]
    with pytest.raises(DataError, match="train_bodies.csv:5"):
        log.raise_if_any()
