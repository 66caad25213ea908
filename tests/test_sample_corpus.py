"""Checks on the shipped sample corpus ``data/sample/articles.jsonl``.

The corpus is read with the stdlib ``json`` module only, so these tests do not
depend on framelab's readers.  The label lists are the SemEval-2023 task 3
names, written out here on purpose so that a change to them anywhere else is
caught rather than silently followed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
CORPUS = SAMPLE / "articles.jsonl"
SCRIPT = SAMPLE / "make_sample.py"

TECHNIQUES = {
    "Appeal_to_Authority",
    "Appeal_to_Popularity",
    "Appeal_to_Values",
    "Appeal_to_Fear-Prejudice",
    "Flag_Waving",
    "Causal_Oversimplification",
    "False_Dilemma-No_Choice",
    "Consequential_Oversimplification",
    "Straw_Man",
    "Red_Herring",
    "Whataboutism",
    "Slogans",
    "Appeal_to_Time",
    "Conversation_Killer",
    "Loaded_Language",
    "Repetition",
    "Exaggeration-Minimisation",
    "Obfuscation-Vagueness-Confusion",
    "Name_Calling-Labeling",
    "Doubt",
    "Guilt_by_Association",
    "Appeal_to_Hypocrisy",
    "Questioning_the_Reputation",
}

FRAMES = {
    "Economic",
    "Capacity_and_resources",
    "Morality",
    "Fairness_and_equality",
    "Legality_Constitutionality_and_jurisprudence",
    "Policy_prescription_and_evaluation",
    "Crime_and_punishment",
    "Security_and_defense",
    "Health_and_safety",
    "Quality_of_life",
    "Cultural_identity",
    "Public_opinion",
    "Political",
    "External_regulation_and_reputation",
}

STANCES = {"favor", "against", "none"}
GENRES = {"news", "opinion", "satire"}
KEYS = ["id", "text", "spans", "frames", "genre", "stance"]


@pytest.fixture(scope="module")
def raw_lines() -> list[str]:
    return CORPUS.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def articles(raw_lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in raw_lines]


def test_size_and_unique_ids(articles: list[dict]) -> None:
    assert 40 <= len(articles) <= 60
    ids = [a["id"] for a in articles]
    assert len(set(ids)) == len(ids)


def test_record_shape(articles: list[dict]) -> None:
    for a in articles:
        assert list(a) == KEYS, a["id"]
        assert isinstance(a["text"], str) and a["text"], a["id"]
        assert set(a["stance"]) == {"target", "label"}, a["id"]
        for span in a["spans"]:
            assert set(span) == {"start", "end", "label"}, a["id"]
            assert isinstance(span["start"], int) and isinstance(span["end"], int)


def test_layout(articles: list[dict]) -> None:
    """Title, blank line, then paragraphs one a line separated by blank lines."""
    for a in articles:
        blocks = a["text"].split("\n\n")
        assert len(blocks) >= 3, a["id"]
        for block in blocks:
            assert block and block == block.strip() and "\n" not in block, a["id"]


def test_spans_are_exact(articles: list[dict]) -> None:
    for a in articles:
        text = a["text"]
        for span in a["spans"]:
            start, end = span["start"], span["end"]
            assert 0 <= start < end <= len(text), (a["id"], span)
            piece = text[start:end]
            assert piece == piece.strip(), (a["id"], piece)
            assert "\n" not in piece, (a["id"], piece)
            assert piece[-1] not in ".,:;", (a["id"], piece)


def test_spans_sorted(articles: list[dict]) -> None:
    for a in articles:
        keys = [(s["start"], s["end"], s["label"]) for s in a["spans"]]
        assert keys == sorted(keys), a["id"]
        assert len(set(keys)) == len(keys), a["id"]


def test_label_vocabularies(articles: list[dict]) -> None:
    for a in articles:
        for span in a["spans"]:
            assert span["label"] in TECHNIQUES, (a["id"], span["label"])
        assert 1 <= len(a["frames"]) <= 4, a["id"]
        assert len(set(a["frames"])) == len(a["frames"]), a["id"]
        for frame in a["frames"]:
            assert frame in FRAMES, (a["id"], frame)
        assert a["genre"] in GENRES, a["id"]
        assert a["stance"]["label"] in STANCES, a["id"]
        assert a["stance"]["target"].strip(), a["id"]


def test_technique_distribution(articles: list[dict]) -> None:
    counts = Counter(s["label"] for a in articles for s in a["spans"])
    frequent = [label for label, n in counts.items() if n >= 8]
    assert len(frequent) >= 5, counts
    top, _ = counts.most_common(1)[0]
    assert top == "Loaded_Language", counts
    # Some overlapping spans and some articles with no technique at all.
    assert any(
        b["start"] < a_["end"] for art in articles for i, a_ in enumerate(art["spans"]) for b in art["spans"][i + 1 :]
    )
    assert sum(1 for a in articles if not a["spans"]) >= 5


def test_frames_and_stance_coverage(articles: list[dict]) -> None:
    frames = Counter(f for a in articles for f in a["frames"])
    assert sum(1 for n in frames.values() if n >= 8) >= 6, frames
    per_target: dict[str, Counter] = {}
    for a in articles:
        per_target.setdefault(a["stance"]["target"], Counter())[a["stance"]["label"]] += 1
    assert len(per_target) == 5, per_target
    for target, counts in per_target.items():
        assert 10 <= sum(counts.values()) <= 12, (target, counts)
        assert set(counts) == STANCES, (target, counts)


def test_file_is_plain_utf8_jsonl(raw_lines: list[str]) -> None:
    data = CORPUS.read_bytes()
    assert data.endswith(b"\n") and b"\r" not in data
    assert not data.startswith(b"\xef\xbb\xbf")
    # ensure_ascii=False: curly quotes and pound signs are stored as characters.
    assert "“" in data.decode("utf-8") and "\\u201c" not in data.decode("utf-8")
    assert all(line.strip() for line in raw_lines)


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "articles.jsonl"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == CORPUS.read_bytes()
