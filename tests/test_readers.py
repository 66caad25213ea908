"""Fast offline tests of the corpus readers, on the fixtures and on bad cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framelab.errors import ConfigError, DataError, ProblemLog
from framelab.readers import (
    check_label,
    read_corpus,
    read_jsonl,
    read_label_list,
    read_ptc,
    read_semeval2023,
    write_jsonl,
)
from framelab.types import Article, Span

FIXTURES = Path(__file__).parent / "fixtures"
PTC = FIXTURES / "ptc"
SEMEVAL = FIXTURES / "semeval2023"
JSONL = FIXTURES / "jsonl" / "corpus.jsonl"


def shown(article: Article) -> list[tuple[str, str]]:
    """(label, covered text) for every span, in span order."""
    return [(s.label, article.text[s.start : s.end]) for s in article.spans]


def by_id(articles: list[Article]) -> dict[str, Article]:
    return {a.id: a for a in articles}


def messages(log: ProblemLog) -> str:
    return "\n".join(str(p) for p in log.problems)


# --------------------------------------------------------------------------- PTC fixtures

PTC_EXPECTED = {
    "1001": [
        ("Loaded_Language", "a disgrace to every taxpayer"),
        ("Appeal_to_fear-prejudice", "the plan will bankrupt the city within a year"),
        ("Exaggeration,Minimisation", "bankrupt the city within a year"),
        ("Flag-Waving", "Others disagree. 🚀 Supporters cheered"),
        ("Slogans", "“Build it now!”"),
        ("Name_Calling,Labeling", "a notorious flip-flopper"),
    ],
    "1002": [
        ("Causal_Oversimplification", "blamed “foreign speculators” for everything"),
        (
            "Whataboutism,Straw_Men,Red_Herring",
            "for everything.\r\nIs anyone surprised?",
        ),
    ],
    "1003": [
        ("Loaded_Language", "Shameful!"),
        ("Flag-Waving", "betrays the whole nation"),
    ],
    "1004": [],
    "1005": [("Propaganda", "Everyone knows")],
}


@pytest.fixture(scope="module")
def ptc_articles() -> list[Article]:
    log = ProblemLog()
    articles = read_ptc(PTC, log=log)
    assert log.problems == []
    return articles


def test_ptc_reads_every_fixture_span(ptc_articles):
    assert [a.id for a in ptc_articles] == sorted(PTC_EXPECTED)
    for article in ptc_articles:
        assert shown(article) == PTC_EXPECTED[article.id], article.id
        assert article.spans == sorted(article.spans)
        assert article.source == str(PTC / "train-articles" / f"article{article.id}.txt")
        assert article.frames is None and article.line_labels is None


def test_ptc_per_article_and_aggregated_are_not_double_counted(ptc_articles):
    # 1001 is in both its per-article file and the aggregated file; 1003 only
    # in the aggregated one; 1005 only has SI labels (per-article + aggregated).
    arts = by_id(ptc_articles)
    assert len(arts["1001"].spans) == 6
    assert len(arts["1003"].spans) == 2
    assert len(arts["1005"].spans) == 1


def test_ptc_tc_wins_over_si(ptc_articles):
    labels = {s.label for s in by_id(ptc_articles)["1001"].spans}
    assert "Propaganda" not in labels
    assert "Name_Calling,Labeling" in labels  # comma kept inside the name


def test_ptc_overlapping_spans_kept(ptc_articles):
    spans = by_id(ptc_articles)["1001"].spans
    assert spans[1].overlap(spans[2].start, spans[2].end) > 0


def test_ptc_crlf_offsets_index_the_file_as_stored(ptc_articles):
    article = by_id(ptc_articles)["1002"]
    raw = (PTC / "train-articles" / "article1002.txt").read_bytes().decode("utf-8")
    assert article.text == raw
    assert article.text.count("\r\n") == 3
    span = article.spans[1]
    assert (span.start, span.end) == (77, 114)  # as written in the labels file
    assert "\r\n" in article.text[span.start : span.end]


def test_ptc_bom_is_kept_and_counted(ptc_articles):
    article = by_id(ptc_articles)["1003"]
    assert article.text.startswith("\ufeffShameful!")
    assert article.spans[0] == Span(1, 10, "Loaded_Language")


def test_ptc_empty_labels_file_means_no_spans(ptc_articles):
    assert by_id(ptc_articles)["1004"].spans == []


def test_ptc_label_map_renames_and_drops():
    log = ProblemLog()
    articles = read_ptc(
        PTC,
        log=log,
        label_map={
            "Name_Calling,Labeling": "Name_Calling-Labeling",
            "Slogans": "",
            "Flag-Waving": None,
        },
    )
    assert log.problems == []
    labels = {s.label for a in articles for s in a.spans}
    assert "Name_Calling-Labeling" in labels
    assert not labels & {"Name_Calling,Labeling", "Slogans", "Flag-Waving"}


def test_ptc_unknown_label_names_file_and_line():
    log = ProblemLog()
    allowed = [lab for spans in PTC_EXPECTED.values() for lab, _ in spans if lab != "Slogans"]
    articles = read_ptc(PTC, log=log, labels=allowed)
    assert len(log.problems) == 1
    problem = log.problems[0]
    assert problem.path == str(PTC / "train-labels-task2-technique-classification" / "article1001.task2-TC.labels")
    assert problem.line == 5
    assert "Slogans" in problem.message
    assert "label list" in problem.hint and "label_map" in problem.hint
    assert len(by_id(articles)["1001"].spans) == 5
    with pytest.raises(DataError, match="article1001.task2-TC.labels:5"):
        log.raise_if_any()


# --------------------------------------------------------------------------- SemEval fixtures

SEMEVAL_EXPECTED = {
    "2001": [
        ("False_Dilemma-No_Choice", "total victory or nothing"),
        ("Name_Calling-Labeling", "“saboteurs”"),
        ("Loaded_Language", "saboteurs"),
        ("Name_Calling-Labeling", "“enemies of progress”"),
        (
            "Exaggeration-Minimisation",
            "enemies of progress”. Everyone knows who really pays",
        ),
        ("Appeal_to_Popularity", "Everyone knows"),
    ],
    "2002": [
        ("Loaded_Language", "a total fiasco"),
        ("Repetition", "“a total fiasco”"),
        (
            "Appeal_to_Hypocrisy",
            "asked: who will resign?\r\n\r\nOfficials rejected the claim",
        ),
        ("Doubt", "who will resign?"),
    ],
    "2003": [
        ("Loaded_Language", "Outrageous betrayal"),
        ("Doubt", "The vote was rigged"),
    ],
    "2004": [],
}


@pytest.fixture(scope="module")
def semeval_articles() -> list[Article]:
    log = ProblemLog()
    articles = read_semeval2023(
        SEMEVAL,
        log=log,
        labels=read_label_list(SEMEVAL / "techniques_subtask3.txt"),
        frames=read_label_list(SEMEVAL / "frames_subtask2.txt"),
    )
    assert log.problems == []
    return articles


def test_semeval_reads_every_fixture_span(semeval_articles):
    assert [a.id for a in semeval_articles] == sorted(SEMEVAL_EXPECTED)
    for article in semeval_articles:
        assert shown(article) == SEMEVAL_EXPECTED[article.id], article.id
        assert article.source == str(SEMEVAL / "train-articles-subtask-3" / f"article{article.id}.txt")


def test_semeval_genre_and_frames(semeval_articles):
    arts = by_id(semeval_articles)
    assert (arts["2001"].genre, arts["2001"].frames) == (
        "opinion",
        ["Economic", "Political"],
    )
    assert (arts["2002"].genre, arts["2002"].frames) == (
        "reporting",
        ["Health_and_safety", "Political"],
    )
    assert (arts["2004"].genre, arts["2004"].frames) == (
        "reporting",
        [],
    )  # empty field = no frames
    assert (arts["2003"].genre, arts["2003"].frames) == (
        None,
        None,
    )  # not listed at all


def test_semeval_line_labels_from_paragraph_file_not_template(semeval_articles):
    arts = by_id(semeval_articles)
    assert arts["2001"].line_labels == {
        1: [],
        3: ["False_Dilemma-No_Choice"],
        5: [
            "Name_Calling-Labeling",
            "Loaded_Language",
            "Exaggeration-Minimisation",
            "Appeal_to_Popularity",
        ],
        7: [],
    }
    assert arts["2004"].line_labels == {1: [], 3: []}
    # Line numbers are 1-based into text.split("\n"); CRLF lines keep their \r.
    lines = arts["2002"].text.split("\n")
    assert lines[2].startswith("The opposition leader, Ángela Ruiz") and lines[2].endswith("\r")
    assert arts["2002"].line_labels[3] == ["Repetition", "Doubt", "Appeal_to_Hypocrisy"]


def test_semeval_crlf_and_bom(semeval_articles):
    arts = by_id(semeval_articles)
    assert arts["2002"].text == (SEMEVAL / "train-articles-subtask-3" / "article2002.txt").read_bytes().decode()
    assert "\r\n\r\n" in arts["2002"].text
    assert arts["2003"].text[0] == "\ufeff"
    assert arts["2003"].spans[0] == Span(1, 20, "Loaded_Language")
    assert arts["2003"].line_labels == {1: ["Loaded_Language"], 3: ["Doubt"]}


def test_semeval_unknown_frame_and_technique():
    log = ProblemLog()
    read_semeval2023(SEMEVAL, log=log, labels=["Doubt"], frames=["Economic"])
    found = {(Path(p.path).name, p.line, p.message) for p in log.problems}
    assert ("train-labels-subtask-2.txt", 1, "unknown frame 'Political'") in found
    assert (
        "train-labels-subtask-2.txt",
        2,
        "unknown frame 'Health_and_safety'",
    ) in found
    assert (
        "article2001-labels-subtask-3.txt",
        1,
        "unknown technique 'False_Dilemma-No_Choice'",
    ) in found
    assert (
        "train-labels-subtask-3.txt",
        2,
        "unknown technique 'False_Dilemma-No_Choice'",
    ) in found
    frame_hint = next(p.hint for p in log.problems if "frame" in p.message)
    assert "frame list" in frame_hint


def test_semeval_label_map_applies_to_spans_and_line_labels():
    log = ProblemLog()
    arts = by_id(
        read_semeval2023(
            SEMEVAL,
            log=log,
            label_map={"Doubt": "Casting_Doubt", "Loaded_Language": ""},
        )
    )
    assert log.problems == []
    assert [s.label for s in arts["2003"].spans] == ["Casting_Doubt"]
    assert arts["2003"].line_labels == {1: [], 3: ["Casting_Doubt"]}


# --------------------------------------------------------------------------- JSONL


def test_jsonl_fixture():
    log = ProblemLog()
    articles = read_jsonl(
        JSONL,
        log=log,
        labels=[
            "Exaggeration-Minimisation",
            "Appeal_to_Authority",
            "Appeal_to_Popularity",
        ],
        frames=["Economic"],
    )
    assert log.problems == []
    assert [a.id for a in articles] == ["j1", "j2", "j3"]
    j1, j2, j3 = articles
    assert shown(j1) == [
        ("Exaggeration-Minimisation", "“will double”"),
        ("Appeal_to_Authority", "think tank.\r\nAnalysts"),
    ]
    assert (j1.frames, j1.genre, j1.line_labels) == (
        ["Economic"],
        "reporting",
        {1: ["Exaggeration-Minimisation", "Appeal_to_Authority"], 2: []},
    )
    assert shown(j2) == [("Appeal_to_Popularity", "Nobody asked us")]
    assert (j2.stance_target, j2.stance) == ("wind farms", "against")
    assert "🌬️" in j2.text and "Renée" in j2.text
    assert j3 == Article(id="j3", text="Short note without annotations.", source=f"{JSONL}:2")


def every_fixture_article() -> list[Article]:
    log = ProblemLog()
    out = read_ptc(PTC, log=log) + read_semeval2023(SEMEVAL, log=log) + read_jsonl(JSONL, log=log)
    assert log.problems == []
    return out


def test_jsonl_round_trip_is_lossless(tmp_path):
    articles = every_fixture_article()
    articles.append(
        Article(
            id="x",
            text="Only a stance target.",
            stance_target="wind farms",
            source="x.txt",
        )
    )
    articles.append(Article(id="y", text="No source at all.", source=None, frames=[], line_labels={}))
    target = tmp_path / "out" / "corpus.jsonl"
    assert write_jsonl(articles, target) == len(articles)
    assert [p.name for p in target.parent.iterdir()] == ["corpus.jsonl"]  # no temp file left
    log = ProblemLog()
    back = read_jsonl(target, log=log)
    assert log.problems == []
    expected = sorted(articles, key=lambda a: a.id)
    # An article written without ``source`` gets "<jsonl>:<line>" back.
    y_line = [a.id for a in articles].index("y") + 1
    expected[-1] = Article(
        id="y",
        text="No source at all.",
        frames=[],
        line_labels={},
        source=f"{target}:{y_line}",
    )
    assert back == expected
    # And a second round trip is exactly stable.
    again = tmp_path / "again.jsonl"
    write_jsonl(back, again)
    assert read_jsonl(again, log=log) == back


def test_write_jsonl_format(tmp_path):
    article = Article(
        id="a",
        text="“Crème brûlée” 🍮\r\nline two",
        spans=[Span(0, 14, "Slogans")],
        genre="satire",
        stance="favor",
        stance_target="dessert",
        line_labels={2: ["Doubt"]},
    )
    target = tmp_path / "a.jsonl"
    write_jsonl([article], target)
    raw = target.read_bytes().decode("utf-8")
    assert raw.endswith("\n") and raw.count("\n") == 1
    assert "Crème brûlée" in raw and "🍮" in raw  # ensure_ascii=False
    assert json.loads(raw) == {
        "id": "a",
        "text": "“Crème brûlée” 🍮\r\nline two",
        "spans": [{"start": 0, "end": 14, "label": "Slogans"}],
        "genre": "satire",
        "stance": {"target": "dessert", "label": "favor"},
        "line_labels": {"2": ["Doubt"]},
    }


def test_write_jsonl_replaces_atomically(tmp_path):
    target = tmp_path / "c.jsonl"
    target.write_text("old\n", encoding="utf-8")

    def boom():
        yield Article(id="a", text="fine")
        raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        write_jsonl(boom(), target)
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.jsonl"]


# --------------------------------------------------------------------------- dispatch, label lists


def test_read_corpus_dispatches():
    for fmt, path, n in (
        ("ptc", PTC, 5),
        ("semeval2023", SEMEVAL, 4),
        ("jsonl", JSONL, 3),
    ):
        log = ProblemLog()
        assert len(read_corpus(fmt, path, log=log)) == n
        assert log.problems == []
    with pytest.raises(ConfigError, match="unknown corpus format"):
        read_corpus("conll", PTC, log=ProblemLog())


def test_missing_corpus_folder_raises(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_ptc(tmp_path / "nope", log=ProblemLog())
    with pytest.raises(DataError, match="not found"):
        read_jsonl(tmp_path / "nope.jsonl", log=ProblemLog())


def test_read_label_list(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_bytes("\ufeffDoubt\r\n\r\n  Slogans  \nFlag_Waving\n\n".encode())
    assert read_label_list(path) == ["Doubt", "Slogans", "Flag_Waving"]
    path.write_text("Doubt\nSlogans\n\nDoubt\n", encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_label_list(path)
    (problem,) = info.value.problems
    assert (problem.path, problem.line) == (str(path), 4)
    assert "first on line 1" in problem.message


def test_check_label():
    log = ProblemLog()
    kw = {"log": log, "path": "x.labels", "line": 3}
    assert check_label("A", labels=None, label_map=None, **kw) == "A"
    assert check_label("A", labels=["B"], label_map={"A": "B"}, **kw) == "B"
    assert check_label("A", labels=["B"], label_map={"A": ""}, **kw) is None
    assert check_label("A", labels=["B"], label_map={"A": None}, **kw) is None
    assert log.problems == []
    assert check_label("C", labels=["B"], label_map={"A": "B"}, **kw) is None
    assert check_label("A", labels=["B"], label_map={"A": "Z"}, **kw) is None
    first, second = log.problems
    assert (first.path, first.line, first.message) == (
        "x.labels",
        3,
        "unknown technique 'C'",
    )
    assert first.hint == "add it to the label list or map it with `label_map` in the data config"
    assert "mapped from 'A'" in second.message


# --------------------------------------------------------------------------- validation (bad cases)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


TEXT = "Officials praised the brave new plan today.\n"  # 44 characters


def ptc_case(
    tmp_path: Path, rows: str, text: str | bytes = TEXT, aid: str = "7"
) -> tuple[ProblemLog, list[Article], Path]:
    write(tmp_path / f"article{aid}.txt", text)
    labels = write(tmp_path / f"article{aid}.task2-TC.labels", rows)
    log = ProblemLog()
    return log, read_ptc(tmp_path, log=log), labels


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("7\tLoaded_Language\t22\n", "expected 4 TAB-separated fields"),
        ("7 Loaded_Language 22 27\n", "expected 4 TAB-separated fields"),
        ("7\tLoaded_Language\t22\tx27\n", "offset 'x27' is not an integer"),
        ("7\tLoaded_Language\t2.5\t27\n", "offset '2.5' is not an integer"),
        ("7\tLoaded_Language\t-1\t27\n", "negative offset"),
        ("7\tLoaded_Language\t27\t22\n", "reversed or empty"),
        ("7\tLoaded_Language\t22\t22\n", "reversed or empty"),
        (
            "7\tLoaded_Language\t22\t9000\n",
            "span 22–9000 lies beyond the end of article 7 (44 characters)",
        ),
        (
            "8\tLoaded_Language\t22\t27\n",
            "row names article '8' but the file is for article 7",
        ),
    ],
)
def test_ptc_bad_rows_are_logged_with_line(tmp_path, row, fragment):
    good = "7\tLoaded_Language\t22\t27\n"
    log, articles, labels = ptc_case(tmp_path, good + "\n" + row)
    (problem,) = log.problems
    assert (problem.path, problem.line) == (str(labels), 3)
    assert fragment in problem.message
    assert [s.label for s in articles[0].spans] == ["Loaded_Language"]  # only the bad row skipped
    assert articles[0].text[22:27] == "brave"


def test_ptc_crlf_label_file_is_fine(tmp_path):
    log, articles, _ = ptc_case(tmp_path, "7\tLoaded_Language\t22\t27\r\n7\tDoubt\t0\t9\r\n")
    assert log.problems == []
    assert shown(articles[0]) == [("Doubt", "Officials"), ("Loaded_Language", "brave")]


def test_non_utf8_article_is_skipped_with_byte_offset(tmp_path):
    log, articles, _ = ptc_case(tmp_path, "", text="Caf\xe9 owners protest.\n".encode("latin-1"))
    assert articles == []
    (problem,) = log.problems
    assert problem.path == str(tmp_path / "article7.txt")
    assert "byte offset 3" in problem.message
    assert problem.hint == "re-save the file as UTF-8"


@pytest.mark.parametrize("text", ["", "   \n\t\r\n", "\ufeff\n"])
def test_empty_article_is_skipped(tmp_path, text):
    log, articles, _ = ptc_case(tmp_path, "", text=text)
    assert articles == []
    (problem,) = log.problems
    assert problem.path == str(tmp_path / "article7.txt") and "is empty" in problem.message


def test_ptc_labels_without_article(tmp_path):
    write(tmp_path / "a" / "article7.txt", TEXT)
    write(tmp_path / "a" / "article7.task2-TC.labels", "")
    orphan = write(tmp_path / "b" / "article9.task2-TC.labels", "9\tDoubt\t0\t4\n")
    agg = write(
        tmp_path / "dev-task2-TC.labels",
        "7\tDoubt\t0\t9\n9\tDoubt\t0\t4\n9\tDoubt\t5\t8\n",
    )
    log = ProblemLog()
    articles = read_ptc(tmp_path, log=log)
    assert [a.id for a in articles] == ["7"]
    got = sorted((p.path, p.line) for p in log.problems if "article9.txt is missing" in p.message)
    assert got == sorted([(str(orphan), None), (str(agg), 2)])
    # 7 has an (empty) per-article file and one aggregated row: they disagree.
    (conflict,) = [p for p in log.problems if "differ" in p.message]
    assert (conflict.path, conflict.line) == (str(agg), 1)
    assert articles[0].spans == []  # per-article file wins


def test_ptc_article_without_labels_file(tmp_path):
    write(tmp_path / "article7.txt", TEXT)
    write(tmp_path / "article8.txt", TEXT)
    write(tmp_path / "article8.task1-SI.labels", "8\t22\t27\n")
    log = ProblemLog(strict=False)
    articles = read_ptc(tmp_path, log=log)
    (problem,) = log.problems
    assert problem.path == str(tmp_path / "article7.txt") and "no labels file" in problem.message
    assert "article7.task2-TC.labels" in problem.hint
    arts = by_id(articles)
    assert arts["7"].spans == []  # kept, lenient mode may use it
    assert arts["8"].spans == [Span(22, 27, "Propaganda")]
    log.raise_if_any()  # lenient: no raise


def test_ptc_aggregated_file_covers_unlisted_articles(tmp_path):
    write(tmp_path / "article7.txt", TEXT)
    write(tmp_path / "article8.txt", TEXT)
    write(tmp_path / "train-task2-TC.labels", "8\tDoubt\t0\t9\n8\tDoubt\t0\t9\n")
    log = ProblemLog()
    arts = by_id(read_ptc(tmp_path, log=log))
    assert log.problems == []
    assert arts["7"].spans == []
    assert arts["8"].spans == [Span(0, 9, "Doubt")] * 2  # repeated rows in one source are kept


def test_duplicate_article_files(tmp_path):
    write(tmp_path / "train" / "article7.txt", TEXT)
    second = write(tmp_path / "dev" / "article7.txt", TEXT)
    write(tmp_path / "train-task2-TC.labels", "")
    log = ProblemLog()
    articles = read_ptc(tmp_path, log=log)
    assert len(articles) == 1
    (problem,) = log.problems
    assert problem.path == str(tmp_path / "train" / "article7.txt") or problem.path == str(second)
    assert "appears twice" in problem.message


def semeval_case(tmp_path: Path, files: dict[str, str], **kw) -> tuple[ProblemLog, dict[str, Article]]:
    for name, content in files.items():
        write(tmp_path / name, content)
    log = ProblemLog()
    return log, by_id(read_semeval2023(tmp_path, log=log, **kw))


ART = "Title line\n\nEveryone knows the plan failed.\n"  # 3 lines of text + trailing empty line


def test_semeval_bad_rows(tmp_path):
    log, arts = semeval_case(
        tmp_path,
        {
            "article5.txt": ART,
            "article5-labels-subtask-3.txt": "5\tDoubt\t12\t26\n5\tDoubt\t12\n5\tDoubt\t12\t900\n",
            "train-labels-subtask-1.txt": "5\topinion\n5\tsatire\n",
            "train-labels-subtask-2.txt": "5\tEconomic,Nonsense\n6\tEconomic\n",
            "train-labels-subtask-3.txt": "5\t1\t\n5\t3\tDoubt\n5\t9\tDoubt\n5\tx\tDoubt\n5\t3\tDoubt\n",
            "train-labels-subtask-3.template": "5\t1\tTitle line\n5\t3\tEveryone knows the plan failed.\n",
        },
        frames=["Economic"],
    )
    got = {(Path(p.path).name, p.line, p.message) for p in log.problems}
    assert got == {
        (
            "article5-labels-subtask-3.txt",
            2,
            "expected TAB-separated fields (id, technique, start, end), found 3",
        ),
        (
            "article5-labels-subtask-3.txt",
            3,
            "span 12–900 lies beyond the end of article 5 (44 characters)",
        ),
        (
            "train-labels-subtask-1.txt",
            2,
            f"article 5 already has a genre ({tmp_path / 'train-labels-subtask-1.txt'}, line 1)",
        ),
        ("train-labels-subtask-2.txt", 1, "unknown frame 'Nonsense'"),
        (
            "train-labels-subtask-2.txt",
            2,
            "labels for article 6, but article6.txt is missing",
        ),
        (
            "train-labels-subtask-3.txt",
            3,
            "line 9 lies beyond the end of article 5 (4 lines)",
        ),
        ("train-labels-subtask-3.txt", 4, "line number 'x' is not a positive integer"),
        (
            "train-labels-subtask-3.txt",
            5,
            f"article 5 line 3 is listed twice (also {tmp_path / 'train-labels-subtask-3.txt'}, line 2)",
        ),
    }
    art = arts["5"]
    assert shown(art) == [("Doubt", "Everyone knows")]
    assert (art.genre, art.frames, art.line_labels) == (
        "opinion",
        ["Economic"],
        {1: [], 3: ["Doubt"]},
    )


def test_semeval_missing_span_file_and_orphan_span_file(tmp_path):
    log, arts = semeval_case(
        tmp_path,
        {
            "a/article5.txt": ART,
            "a/article6.txt": ART,
            "b/article5-labels-subtask-3.txt": "",
            "b/article7-labels-subtask-3.txt": "7\tDoubt\t0\t4\n",
        },
    )
    got = {(Path(p.path).name, p.line, p.message) for p in log.problems}
    assert got == {
        ("article6.txt", None, "article 6 has no span file"),
        (
            "article7-labels-subtask-3.txt",
            None,
            "labels for article 7, but article7.txt is missing",
        ),
    }
    assert sorted(arts) == ["5", "6"]


def test_semeval_without_span_files_needs_some_label(tmp_path):
    log, arts = semeval_case(
        tmp_path,
        {"article5.txt": ART, "article6.txt": ART, "dev-labels-subtask-2.txt": "5\t\n"},
    )
    (problem,) = log.problems
    assert problem.path == str(tmp_path / "article6.txt") and "no labels in any subtask file" in problem.message
    assert arts["5"].frames == [] and arts["5"].spans == []


def test_jsonl_problems(tmp_path):
    good = {
        "id": "a",
        "text": TEXT,
        "spans": [{"start": 22, "end": 27, "label": "Loaded_Language"}],
    }
    lines = [
        json.dumps(good),  # 1
        '{"id": "b", "text": ',  # 2 not JSON
        json.dumps({"text": TEXT}),  # 3 no id
        json.dumps({"id": "c"}),  # 4 no text
        json.dumps({"id": "d", "text": "  \n"}),  # 5 empty
        json.dumps(good),  # 6 duplicate id
        json.dumps([1, 2]),  # 7 not an object
        "",  # 8 blank: fine
        json.dumps(
            {
                "id": "e",
                "text": TEXT,
                "spans": [
                    {"start": 22, "end": 27, "label": "Loaded_Language"},
                    {"start": 22, "end": 900, "label": "Doubt"},
                    {"start": "22", "end": 27, "label": "Doubt"},
                    {"start": 27, "end": 22, "label": "Doubt"},
                    {"start": 0, "end": 9, "label": "Unknown"},
                ],
            }
        ),  # 9
        json.dumps({"id": "f", "text": TEXT, "frames": "Economic", "colour": "red"}),  # 10
    ]
    path = write(tmp_path / "c.jsonl", "\n".join(lines) + "\n")
    log = ProblemLog()
    articles = read_jsonl(path, log=log, labels=["Loaded_Language", "Doubt"])
    by_line: dict[int, list[str]] = {}
    for p in log.problems:
        assert p.path == str(path)
        by_line.setdefault(p.line, []).append(p.message)
    assert sorted(by_line) == [2, 3, 4, 5, 6, 7, 9, 10]
    assert "not valid JSON" in by_line[2][0]
    assert "no string 'id'" in by_line[3][0]
    assert "no string 'text'" in by_line[4][0]
    assert "is empty" in by_line[5][0]
    assert "appears twice (first on line 1)" in by_line[6][0]
    assert "expected a JSON object" in by_line[7][0]
    assert len(by_line[9]) == 4
    assert any("span 22–900 lies beyond the end of article e (44 characters)" == m for m in by_line[9])
    assert any("unknown technique 'Unknown'" == m for m in by_line[9])
    assert len(by_line[10]) == 2
    arts = by_id(articles)
    assert sorted(arts) == ["a", "e", "f"]
    assert arts["a"].source == f"{path}:1"
    assert shown(arts["e"]) == [("Loaded_Language", "brave")]
    assert arts["f"].frames is None


def test_jsonl_non_utf8_and_bom(tmp_path):
    data = b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "caf\xe9"}\n{"id": "c", "text": "fine"}\n'
    bad = write(tmp_path / "bad.jsonl", data)
    log = ProblemLog()
    assert [a.id for a in read_jsonl(bad, log=log)] == [
        "a",
        "c",
    ]  # only the bad line is lost
    (problem,) = log.problems
    assert (problem.line, problem.hint) == (2, "re-save the file as UTF-8")
    offset = data.index(b"\xe9")
    assert f"byte offset {offset}" in problem.message
    bom = write(
        tmp_path / "bom.jsonl",
        "\ufeff" + json.dumps({"id": "a", "text": "\ufeffkept"}) + "\r\n",
    )
    log = ProblemLog()
    (article,) = read_jsonl(bom, log=log)
    assert log.problems == [] and article.text == "\ufeffkept"
