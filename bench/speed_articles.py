"""Synthetic news-like articles for the speed benchmark.

Sentences are drawn from a small fixed vocabulary with a seeded generator, so
the same ``(n, seed)`` always gives the same folder. Each article has 8–20
sentences in paragraphs of one to four sentences separated by blank lines,
and is written as ``article<ID>.txt`` (the layout ``framelab score`` reads
from a folder). Sentence lengths vary from a handful of words to long
sentences with subordinate clauses, as in real news, so that length-sorted
batching has something to do.
"""

from __future__ import annotations

import random
from pathlib import Path

SUBJECTS = [
    "The government",
    "The minister",
    "Opposition leaders",
    "The city council",
    "Local residents",
    "The central bank",
    "Health officials",
    "The prime minister",
    "Critics",
    "The company",
    "Police",
    "Union representatives",
    "The committee",
    "Farmers",
    "Analysts",
    "The mayor",
    "Protesters",
    "The court",
    "Teachers",
    "Economists",
    "Mr. Hollis",
    "Dr. Vance",
    "Senator Okafor",
    "The spokesperson",
    "Independent observers",
    "Voters",
]
VERBS = [
    "announced",
    "rejected",
    "criticised",
    "defended",
    "approved",
    "questioned",
    "warned about",
    "welcomed",
    "postponed",
    "investigated",
    "promised",
    "denied",
    "demanded",
    "celebrated",
    "condemned",
    "supported",
    "reviewed",
    "blocked",
    "proposed",
    "dismissed",
]
ADJECTIVES = [
    "new",
    "controversial",
    "long-awaited",
    "disastrous",
    "modest",
    "sweeping",
    "secret",
    "historic",
    "costly",
    "unprecedented",
    "reckless",
    "bold",
    "shameful",
    "generous",
    "delayed",
    "radical",
    "popular",
    "temporary",
]
OBJECTS = [
    "budget plan",
    "tax reform",
    "housing project",
    "trade agreement",
    "vaccination campaign",
    "energy policy",
    "border controls",
    "pension changes",
    "school closures",
    "infrastructure bill",
    "climate target",
    "election law",
    "wage increase",
    "security measures",
    "water restrictions",
    "hospital funding",
]
PLACES = [
    "in the capital",
    "in the northern provinces",
    "at the summit",
    "in parliament",
    "across the region",
    "at a press conference",
    "on national television",
    "in a written statement",
    "during the debate",
    "outside the courthouse",
    "in the coastal towns",
]
TIMES = [
    "on Monday",
    "on Tuesday",
    "last week",
    "this morning",
    "late on Friday",
    "earlier this year",
    "in March",
    "yesterday",
]
CLAUSES = [
    "despite weeks of protests",
    "after a heated debate that lasted well into the night",
    "although the figures have not been independently verified",
    "which critics say will cost billions",
    "as inflation reached its highest level in a decade",
    "because the previous plan had failed",
    "while thousands gathered in the streets",
    "even though polls show most people oppose it",
    "in what observers called a turning point for the country",
    "according to documents seen by reporters",
]
QUOTES = [
    "This is a disgrace",
    "We will never give up",
    "The people deserve the truth",
    "Nothing has changed",
    "It is a dark day for democracy",
    "We have done everything we promised",
    "Enough is enough",
    "The numbers speak for themselves",
    "This will destroy thousands of jobs",
    "Our children will pay for this",
]


def sentence(rng: random.Random) -> str:
    """One random sentence, from five words to about forty."""
    kind = rng.random()
    if kind < 0.15:
        return f"“{rng.choice(QUOTES)},” {rng.choice(SUBJECTS)} said."
    if kind < 0.25:
        return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} the plan."
    parts = [rng.choice(SUBJECTS), rng.choice(VERBS), "the", rng.choice(ADJECTIVES), rng.choice(OBJECTS)]
    if rng.random() < 0.7:
        parts.append(rng.choice(PLACES))
    if rng.random() < 0.6:
        parts.append(rng.choice(TIMES))
    text = " ".join(parts)
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        text += ", " + rng.choice(CLAUSES)
    if rng.random() < 0.2:
        text += f", with {rng.randint(2, 95)} percent of {rng.randint(100, 9000)} respondents in favour"
    return text + ("!" if kind > 0.97 else ".")


def article(rng: random.Random) -> str:
    """One article: a title line, then 8–20 sentences in paragraphs."""
    n = rng.randint(8, 20)
    sentences = [sentence(rng) for _ in range(n)]
    paragraphs = []
    i = 0
    while i < n:
        k = rng.randint(1, 4)
        paragraphs.append(" ".join(sentences[i : i + k]))
        i += k
    title = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(ADJECTIVES)} {rng.choice(OBJECTS)}"
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n"


def write_articles(folder: str | Path, n: int, *, seed: int = 0) -> Path:
    """Write ``n`` articles as ``folder/article<ID>.txt``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for k in range(n):
        (folder / f"article{100000 + k}.txt").write_text(article(rng), encoding="utf-8")
    return folder
