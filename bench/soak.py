"""Soak: score many generated articles in one process; memory must stay flat (a benchmark, not a test).

Reports resident memory after the first chunk and at the end, and checks that
every generated article and every one of its units appears in the JSONL output.

    python bench/soak.py --model models/sample-techniques --articles 2000
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from framelab.score.scorer import load_predictors, model_labels, score_stream
from framelab.score.writers import open_writer
from framelab.types import Article
from framelab.units import split_units

WORDS = (
    "council harbour budget tenants rents vote reckless plan mayor families hospital nurses transport fares "
    "reactor energy prices school phones stadium taxpayers shameful brave disaster reform police streets"
).split()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def generate(n: int, seed: int = 0) -> list[Article]:
    """``n`` news-like articles: a title line, then 3–6 paragraphs of 1–4 sentences."""
    rng = random.Random(seed)

    def sentence() -> str:
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 22))]
        return " ".join(words).capitalize() + rng.choice([".", ".", ".", "!", "?"])

    articles = []
    for i in range(n):
        paragraphs = [" ".join(sentence() for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(3, 6))]
        articles.append(Article(f"soak-{i:05d}", sentence().rstrip(".!?") + "\n\n" + "\n\n".join(paragraphs) + "\n"))
    return articles


def main(argv: list[str] | None = None) -> None:
    """Run the soak and print a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, action="append")
    parser.add_argument("--articles", type=int, default=2000)
    args = parser.parse_args(argv)
    predictors = load_predictors(args.model)
    articles = generate(args.articles)
    kinds = {p.meta.unit for p in predictors if not p.meta.article_level}
    expected_units = {a.id: sum(len(split_units(a, k)) for k in kinds) for a in articles}
    out = Path(tempfile.mkdtemp()) / "soak.jsonl"
    writer = open_writer("jsonl", out, model_labels(predictors))
    started = time.perf_counter()
    rss = []
    for n, result in enumerate(score_stream(predictors, iter(articles), progress=False), start=1):
        writer.write(result)
        if n == 32 or n % max(1, args.articles // 10) == 0:
            rss.append((n, round(_rss_mb(), 1)))
    writer.close()
    seconds = time.perf_counter() - started
    seen_units: dict[str, int] = {}
    seen_articles = set()
    for line in out.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["type"] == "unit":
            seen_units[record["article_id"]] = seen_units.get(record["article_id"], 0) + 1
        else:
            seen_articles.add(record["article_id"])
    complete = seen_articles == set(expected_units) and all(
        seen_units.get(a, 0) == n for a, n in expected_units.items()
    )
    summary = {
        "articles": args.articles,
        "units": sum(expected_units.values()),
        "seconds": round(seconds, 1),
        "rss_mb_after_first_chunk": rss[0][1],
        "rss_mb_at_end": rss[-1][1],
        "rss_trace": rss,
        "every_article_and_unit_present": complete,
    }
    print(json.dumps(summary, indent=2))
    if not complete:
        raise SystemExit("some articles or units are missing from the output")


if __name__ == "__main__":
    main()
