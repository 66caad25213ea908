#!/usr/bin/env python3
"""Build the shipped sample corpus ``articles.jsonl`` from ``articles.src``.

Standard library only.  Usage (from the repository root)::

    python data/sample/make_sample.py                 # rewrite data/sample/articles.jsonl
    python data/sample/make_sample.py --out FILE      # write somewhere else
    python data/sample/make_sample.py --stats         # also print label counts
    python data/sample/make_sample.py --check         # exit 1 if the committed file is stale

Source format (``articles.src``)
--------------------------------
Everything before the first ``### `` line is a preamble and is ignored.  Each
article is a block::

    ### sample-001
    genre: news
    frames: Economic, Political
    target: the congestion charge
    stance: none

    Title line

    First paragraph.

    Second paragraph with a [[Loaded_Language|reckless]] span.

The body starts after the first blank line of the block and runs to the next
``### `` line; trailing blank lines are dropped.  ``[[Label|words]]`` marks a
technique span; marks nest, so ``[[Name_Calling-Labeling|[[Loaded_Language|
reckless]] zealots]]`` gives two overlapping spans.  Offsets are computed on
the final plain text (markup removed), as character offsets, start inclusive
and end exclusive.  Output is deterministic: same source, same bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = HERE / "articles.src"
DEFAULT_OUT = HERE / "articles.jsonl"

TECHNIQUES = (
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
)

FRAMES = (
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
)

GENRES = ("news", "opinion", "satire")
STANCES = ("favor", "against", "none")

MAX_SPAN_WORDS = 12
MIN_WORDS, MAX_WORDS = 120, 300
MIN_PARAGRAPHS, MAX_PARAGRAPHS = 4, 8

_OPEN = re.compile(r"\[\[([A-Za-z_\-]+)\|")
_ID = re.compile(r"sample-\d{3}")
# A full stop, "!" or "?" then a space, not after a title or initial ("Dr. ", "J. ").
_SENTENCE_BREAK = re.compile(
    r"(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bProf)(?<!\bCllr)(?<!\bSt)"
    r"(?<!\bGen)(?<!\bSupt)(?<!\bNo)(?<!\bapprox)(?<!\b[A-Z])[.!?]\s"
)


class SourceError(ValueError):
    """The source file breaks one of the corpus rules."""


def parse_markup(marked: str, where: str = "") -> tuple[str, list[tuple[int, int, str]]]:
    """Strip ``[[Label|...]]`` marks; return the plain text and its spans."""
    out: list[str] = []
    spans: list[tuple[int, int, str]] = []
    stack: list[tuple[str, int]] = []
    pos = 0
    i = 0
    n = len(marked)
    while i < n:
        m = _OPEN.match(marked, i)
        if m:
            label = m.group(1)
            if label not in TECHNIQUES:
                raise SourceError(f"{where}: unknown technique {label!r}")
            stack.append((label, pos))
            i = m.end()
            continue
        if marked.startswith("]]", i):
            if not stack:
                raise SourceError(f"{where}: ']]' without an open mark near {marked[max(0, i - 40) : i]!r}")
            label, start = stack.pop()
            spans.append((start, pos, label))
            i += 2
            continue
        ch = marked[i]
        if ch in "[]|":
            raise SourceError(f"{where}: stray {ch!r} near {marked[max(0, i - 40) : i + 10]!r}")
        out.append(ch)
        pos += 1
        i += 1
    if stack:
        raise SourceError(f"{where}: unclosed mark(s) {[label for label, _ in stack]}")
    return "".join(out), spans


def _check_span(text: str, start: int, end: int, label: str, where: str) -> None:
    piece = text[start:end]
    if not piece:
        raise SourceError(f"{where}: empty {label} span at {start}")
    if piece != piece.strip():
        raise SourceError(f"{where}: {label} span {piece!r} has outer whitespace")
    if "\n" in piece:
        raise SourceError(f"{where}: {label} span {piece!r} crosses a newline")
    if piece[-1] in ".,:;":
        raise SourceError(f"{where}: {label} span {piece!r} ends with punctuation")
    if len(piece.split()) > MAX_SPAN_WORDS:
        raise SourceError(f"{where}: {label} span {piece!r} is longer than {MAX_SPAN_WORDS} words")


def _check_layout(text: str, where: str) -> None:
    blocks = text.split("\n\n")
    title, paragraphs = blocks[0], blocks[1:]
    for block in blocks:
        if not block or block != block.strip() or "\n" in block:
            raise SourceError(f"{where}: bad title/paragraph layout near {block[:60]!r}")
    if not title or title.endswith("."):
        raise SourceError(f"{where}: bad title {title!r}")
    if not MIN_PARAGRAPHS <= len(paragraphs) <= MAX_PARAGRAPHS:
        raise SourceError(f"{where}: {len(paragraphs)} paragraphs")
    words = len(text.split())
    if not MIN_WORDS <= words <= MAX_WORDS:
        raise SourceError(f"{where}: {words} words")
    if "  " in text or "\t" in text or "\r" in text:
        raise SourceError(f"{where}: double space, tab or carriage return in text")


def _parse_header(lines: list[str], where: str) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            raise SourceError(f"{where}: bad header line {line!r}")
        key = key.strip()
        if key in header:
            raise SourceError(f"{where}: duplicate header {key!r}")
        header[key] = value.strip()
    missing = {"genre", "frames", "target", "stance"} - header.keys()
    extra = header.keys() - {"genre", "frames", "target", "stance"}
    if missing or extra:
        raise SourceError(f"{where}: header missing {sorted(missing)} / unknown {sorted(extra)}")
    return header


def build_records(src: Path = DEFAULT_SRC) -> list[dict]:
    """Parse and validate the source; return the records in id order."""
    raw = src.read_text(encoding="utf-8")
    chunks = re.split(r"^### ", raw, flags=re.MULTILINE)[1:]
    records = []
    for number, chunk in enumerate(chunks, start=1):
        head, sep, body = chunk.partition("\n\n")
        head_lines = head.split("\n")
        art_id = head_lines[0].strip()
        where = f"{src.name}:{art_id}"
        if not _ID.fullmatch(art_id) or art_id != f"sample-{number:03d}":
            raise SourceError(f"{where}: expected id sample-{number:03d}")
        if not sep:
            raise SourceError(f"{where}: no body")
        header = _parse_header(head_lines[1:], where)
        text, raw_spans = parse_markup(body.strip("\n"), where)
        _check_layout(text, where)
        for start, end, label in raw_spans:
            _check_span(text, start, end, label, where)
        if len(set(raw_spans)) != len(raw_spans):
            raise SourceError(f"{where}: duplicate span")
        frames = [f.strip() for f in header["frames"].split(",") if f.strip()]
        for frame in frames:
            if frame not in FRAMES:
                raise SourceError(f"{where}: unknown frame {frame!r}")
        if not 1 <= len(frames) <= 4 or len(set(frames)) != len(frames):
            raise SourceError(f"{where}: need 1-4 distinct frames, got {frames}")
        if header["genre"] not in GENRES:
            raise SourceError(f"{where}: unknown genre {header['genre']!r}")
        if header["stance"] not in STANCES:
            raise SourceError(f"{where}: unknown stance {header['stance']!r}")
        records.append(
            {
                "id": art_id,
                "text": text,
                "spans": [{"start": s, "end": e, "label": lab} for s, e, lab in sorted(raw_spans)],
                "frames": sorted(frames, key=FRAMES.index),
                "genre": header["genre"],
                "stance": {"target": header["target"], "label": header["stance"]},
            }
        )
    if not records:
        raise SourceError(f"{src}: no articles")
    return records


def render(records: list[dict]) -> bytes:
    """The JSONL bytes for ``records``: one object a line, UTF-8, LF endings."""
    lines = [json.dumps(rec, ensure_ascii=False) + "\n" for rec in records]
    return "".join(lines).encode("utf-8")


def stats(records: list[dict]) -> str:
    """A plain-text summary of the label counts."""
    techniques = Counter(s["label"] for r in records for s in r["spans"])
    frames = Counter(f for r in records for f in r["frames"])
    genres = Counter(r["genre"] for r in records)
    stance: dict[str, Counter] = {}
    for r in records:
        stance.setdefault(r["stance"]["target"], Counter())[r["stance"]["label"]] += 1
    overlaps = 0
    for r in records:
        spans = r["spans"]
        for i, a in enumerate(spans):
            for b in spans[i + 1 :]:
                if b["start"] < a["end"] and a["start"] < b["end"]:
                    overlaps += 1
    cross = sum(1 for r in records for s in r["spans"] if _SENTENCE_BREAK.search(r["text"][s["start"] : s["end"]]))
    words = [len(r["text"].split()) for r in records]
    out = [
        f"articles: {len(records)}",
        f"words: {sum(words)} (min {min(words)}, max {max(words)})",
        f"spans: {sum(techniques.values())}",
        f"articles with 0-1 spans: {sum(1 for r in records if len(r['spans']) <= 1)}",
        f"overlapping span pairs: {overlaps}",
        f"spans crossing a sentence boundary: {cross}",
        "techniques:",
    ]
    by_count = sorted(TECHNIQUES, key=lambda t: (-techniques.get(t, 0), t))
    out += [f"  {name}: {techniques.get(name, 0)}" for name in by_count]
    out.append("frames:")
    out += [f"  {name}: {frames.get(name, 0)}" for name in sorted(FRAMES, key=lambda f: (-frames.get(f, 0), f))]
    out.append("genres:")
    out += [f"  {name}: {genres.get(name, 0)}" for name in GENRES]
    out.append("stance:")
    for target in sorted(stance):
        counts = ", ".join(f"{lab} {stance[target].get(lab, 0)}" for lab in STANCES)
        out.append(f"  {target}: {counts}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="source file (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSONL (default: %(default)s)")
    parser.add_argument("--stats", action="store_true", help="print label counts")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if --out is stale")
    args = parser.parse_args(argv)
    try:
        records = build_records(args.src)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    data = render(records)
    if args.check:
        current = args.out.read_bytes() if args.out.exists() else b""
        if current != data:
            print(f"{args.out} is stale; run {Path(__file__).name}", file=sys.stderr)
            return 1
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(data)
    if args.stats:
        print(stats(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
