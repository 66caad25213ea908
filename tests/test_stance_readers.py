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
    assert [(p.line, "MAYBE" in p.message or "4 tab-separated" in p.message) for p in log.problems] == [(2, True), (3, True)]
    assert all(p.path == str(path) for p in log.problems)


def test_fnc1_pairs_bodies_with_headlines() -> None:
    log = ProblemLog()
    articles = read_corpus("fnc1", FIXTURES / "fnc1", log=log)
    assert log.problems == []
    assert [(a.id, a.stance) for a in articles] == [("7#2", "agree"), ("7#3", "disagree"), ("7#4", "discuss"), ("9#5", "agree"), ("9#6", "unrelated")]
    assert articles[1].stance_target == "Mayor says pier will stay open"
    assert articles[0].text.startswith("The harbour council") and '"it is final"' in articles[0].text and "\n\n" in articles[0].text


def test_fnc1_pairs_of_one_body_share_a_split() -> None:
    articles = read_corpus("fnc1", FIXTURES / "fnc1", log=ProblemLog())
    for seed in range(10):
        split = split_articles([a.id for a in articles], 0.5, 0.0, seed)
        assert len({split[i] for i in ("7#2", "7#3", "7#4")}) == 1
        assert len({split[i] for i in ("9#5", "9#6")}) == 1


def test_fnc1_unknown_body_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "train_bodies.csv").write_text("Body ID,articleBody\n1,text\n", encoding="utf-8")
    (tmp_path / "train_stances.csv").write_text("Headline,Body ID,Stance\nH,2,agree\nH,1,maybe\n", encoding="utf-8")
    log = ProblemLog()
    assert read_corpus("fnc1", tmp_path, log=log) == []
    assert [p.line for p in log.problems] == [2, 3]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="stances"):
        read_corpus("fnc1", tmp_path / "empty", log=ProblemLog())
