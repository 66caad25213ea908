"""``framelab data``: a corpus becomes labelled unit and article datasets on disk.

The dataset folder is itself the unit table, so ``datasets.load_from_disk``
on it gives a ``DatasetDict`` (train / dev [/ test]) with one row per unit:
``article_id, index, start, end, line, text, labels, spans``. Beside it:

- ``articles/``: a ``DatasetDict`` with the same split, one row per article:
  ``id, text, frames, genre, stance_target, stance, spans``;
- ``pairs/`` (only for corpora of headline–body pairs, FNC-1): a ``DatasetDict``
  with the same split, one row per pair: ``pair, row, headline, body_id,
  stance``; the body is the article ``body_id``, stored once;
- ``labels.json``: the label inventories (techniques, frames, genres, stances);
- ``stats.json``: counts per split, projection figures and data problems;
- ``data_config.json``: the data settings it was built from;
- ``README.md``: the dataset card.

Label columns are ``ClassLabel`` features (lists of them for multi-label
columns and span labels) named by the inventory, so the folder reads as any
Hugging Face dataset; :func:`framelab.splits.load_table` gives them back as
names.

Splits are drawn by article with a fixed seed, so no article is in two splits.
A pair corpus (FNC-1) is split by story, so no headline or body is in two
splits (:mod:`framelab.readers.stance`; the pairs that would cross are dropped
and counted in ``stats.json``).
Articles are cut into units on every usable CPU (:mod:`framelab.unit_pool`).
"""

from __future__ import annotations

import difflib
import json
import random
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value
from datasets.utils.logging import disable_progress_bar

from framelab.config import Config
from framelab.dataset_card import dataset_card
from framelab.errors import DataError, Problem, ProblemLog
from framelab.output import atomic_folder, claim
from framelab.progress import bar
from framelab.projection import ProjectionRule, ProjectionStats, apply_line_labels, project
from framelab.readers import read_corpus, read_label_list
from framelab.readers.stance import pairs_within_splits, story_groups
from framelab.types import Article, Unit
from framelab.unit_pool import split_many


def _span_feature(techniques: list[str]) -> List:
    return List({"start": Value("int32"), "end": Value("int32"), "label": ClassLabel(names=techniques)})


def table_features(inventory: dict) -> dict[str, Features]:
    """The features of the ``units``, ``articles`` and ``pairs`` tables, label columns named by ``inventory``."""
    techniques = inventory["techniques"]
    return {
        "units": Features(
            {
                "article_id": Value("string"),
                "index": Value("int32"),
                "start": Value("int32"),
                "end": Value("int32"),
                "line": Value("int32"),
                "text": Value("string"),
                "labels": List(ClassLabel(names=techniques)),
                "spans": _span_feature(techniques),
            }
        ),
        "articles": Features(
            {
                "id": Value("string"),
                "text": Value("string"),
                "frames": List(ClassLabel(names=inventory["frames"])),
                "genre": ClassLabel(names=inventory["genres"]),
                "stance_target": Value("string"),
                "stance": ClassLabel(names=inventory["stances"]),
                "spans": _span_feature(techniques),
            }
        ),
        "pairs": Features(
            {
                "pair": Value("int32"),
                "row": Value("int32"),
                "headline": Value("string"),
                "body_id": Value("string"),
                "stance": ClassLabel(names=inventory["stances"]),
            }
        ),
    }


@dataclass
class DatasetResult:
    """What ``build_dataset`` wrote and counted."""

    path: Path
    stats: dict


def split_articles(
    ids: list[str], dev_fraction: float, test_fraction: float, seed: int, groups: dict[str, str] | None = None
) -> dict[str, str]:
    """Assign each article id to train, dev or test, reproducibly.

    Ids that share the part before a ``#`` (FNC-1 pairs of one body,
    ``<body>#<row>``) form one group and always land in the same split, as do
    ids that ``groups`` maps to one key (FNC-1 bodies of one story). Group
    keys are sorted before a seeded shuffle, so the split depends only on the
    set of ids and the seed, not on reading order. Each held-out split gets at
    least one group when its fraction is positive and there are enough.
    """
    key = {i: (groups or {}).get(i, i.split("#", 1)[0]) for i in ids}
    order = sorted(set(key.values()))
    random.Random(seed).shuffle(order)
    n = len(order)
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 and n > 2 else 0
    n_dev = max(1, round(n * dev_fraction)) if dev_fraction > 0 and n - n_test > 1 else 0
    group_split = {}
    for i, group in enumerate(order):
        group_split[group] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"
    return {i: group_split[key[i]] for i in ids}


def label_units(article: Article, units: list[Unit], config: Config, stats: ProjectionStats) -> list[Unit]:
    """``units`` of ``article`` (as :func:`framelab.units.split_units` cuts them) with projected labels, per the
    data config.

    The units are labelled in place and returned.
    """
    rule = ProjectionRule(config.data.min_overlap_chars, config.data.min_overlap_fraction)
    project(article, units, rule, stats)
    if config.data.unit == "line":
        apply_line_labels(article, units, stats, use_gold=config.data.line_labels == "gold")
    return units


def _offset_errors(article: Article, units: list[Unit]) -> list[str]:
    errors = []
    for span in article.spans:
        if not 0 <= span.start < span.end <= len(article.text):
            errors.append(f"article {article.id}: span {span.start}-{span.end} outside the text")
    for unit in units:
        if article.text[unit.start : unit.end] != unit.text:
            errors.append(f"article {article.id}: unit {unit.index} offsets do not match its text")
        for span in unit.spans:
            if not 0 <= span.start < span.end <= len(unit.text):
                errors.append(f"article {article.id}: unit {unit.index} span {span} outside the unit")
    return errors


def _unit_row(unit: Unit) -> dict:
    return {
        "article_id": unit.article_id,
        "index": unit.index,
        "start": unit.start,
        "end": unit.end,
        "line": unit.line if unit.line is not None else -1,
        "text": unit.text,
        "labels": unit.labels,
        "spans": [asdict(s) for s in unit.spans],
    }


def _article_row(article: Article) -> dict:
    return {
        "id": article.id,
        "text": article.text,
        "frames": article.frames or [],
        "genre": article.genre,
        "stance_target": article.stance_target,
        "stance": article.stance,
        "spans": [asdict(s) for s in article.spans],
    }


def _fingerprint(config: Config) -> dict:
    data = asdict(config.data)
    data.pop("output_dir")
    return data


def _check_destination(out: Path, fingerprint: dict, force: bool) -> None:
    marker = out / "data_config.json"
    if not marker.is_file():
        return  # new, empty, or let go with --force (framelab.output.check_output refused any other folder)
    try:
        previous = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        if force:
            return
        raise DataError(
            Problem(str(marker), None, "unreadable dataset marker", "delete the folder or pass --force to rebuild it")
        ) from None
    if previous != fingerprint and not force:
        raise DataError(
            Problem(
                str(out),
                None,
                "holds a dataset built from other data settings",
                "set data.output_dir (or the run name) to a new folder, or pass --force to replace it",
            )
        )


def build_dataset(config: Config, *, force: bool = False) -> DatasetResult:
    """Read the corpus named by ``config.data`` and write the dataset folder.

    Raises :class:`DataError` listing every problem of the corpus in strict
    mode; in lenient mode bad records are dropped and listed in ``stats.json``.
    The folder is written to a temporary sibling and renamed into place, so a
    failed run never leaves a half-written dataset. The folder is checked
    and held before the corpus is read (:func:`framelab.output.claim`;
    ``force`` also replaces a folder framelab did not write).
    """
    d = config.data
    with claim(
        config.dataset_dir,
        folder=True,
        what="the dataset folder (data.output_dir)",
        kind="dataset",
        inputs=[d.path, d.labels, d.frames],
        force=force,
    ):
        return _build_dataset(config, force)


def _build_dataset(config: Config, force: bool) -> DatasetResult:
    started = time.perf_counter()
    # Saving takes a fraction of a second; its bars would bury the stats table.
    disable_progress_bar()
    d = config.data
    out = config.dataset_dir
    fingerprint = _fingerprint(config)
    _check_destination(out, fingerprint, force)

    log = ProblemLog(strict=d.strict)
    labels = read_label_list(Path(d.labels)) if d.labels else None
    frames = read_label_list(Path(d.frames)) if d.frames else None
    articles = read_corpus(d.format, Path(d.path), log=log, labels=labels, label_map=d.label_map, frames=frames)
    log.raise_if_any()
    if not articles:
        raise DataError(
            Problem(d.path, None, "holds no readable article", f"check data.path and data.format ({d.format})")
        )

    groups = story_groups(articles)
    assignment = split_articles([a.id for a in articles], d.dev_fraction, d.test_fraction, d.seed, groups)
    projection = ProjectionStats()
    unit_rows: dict[str, list[dict]] = {}
    article_rows: dict[str, list[dict]] = {}
    kept, story_stats = pairs_within_splits(articles, assignment) if groups else (None, None)
    pair_rows = _pair_rows(articles, assignment, kept)
    offset_errors: list[str] = []
    cutting = bar(
        zip(articles, split_many(articles, d.unit)),
        total=len(articles),
        desc=f"cutting into {d.unit}s",
        unit=" articles",
        leave=False,
    )
    for article, cut in cutting:
        split = assignment[article.id]
        units = label_units(article, cut, config, projection)
        offset_errors.extend(_offset_errors(article, units))
        unit_rows.setdefault(split, []).extend(_unit_row(u) for u in units)
        article_rows.setdefault(split, []).append(_article_row(article))
    if offset_errors:
        raise DataError([Problem(d.path, None, e) for e in offset_errors])

    splits = [s for s in ("train", "dev", "test") if s in article_rows]
    inventory = {
        "techniques": labels or sorted({s.label for a in articles for s in a.spans} | _line_label_names(articles)),
        "frames": frames or sorted({f for a in articles for f in a.frames or []}),
        "genres": sorted({a.genre for a in articles if a.genre}),
        "stances": sorted(
            {a.stance for a in articles if a.stance}
            | {r["stance"] for rows in pair_rows.values() for r in rows if r["stance"]}
        ),
        "unit": d.unit,
    }
    features = table_features(_class_names(inventory, articles))
    units_dd = DatasetDict({s: Dataset.from_list(unit_rows[s], features=features["units"]) for s in splits})
    articles_dd = DatasetDict({s: Dataset.from_list(article_rows[s], features=features["articles"]) for s in splits})
    pairs_dd = (
        DatasetDict({s: Dataset.from_list(pair_rows.get(s, []), features=features["pairs"]) for s in splits})
        if pair_rows
        else None
    )
    stats = {
        "name": config.name,
        "corpus": {"format": d.format, "path": d.path},
        "unit": d.unit,
        "splits": {s: _split_stats(unit_rows[s], article_rows[s]) for s in splits},
        "projection": asdict(projection),
        "offset_errors": 0,
        "problems": [str(p) for p in log.problems],
        "seconds": 0.0,
    }
    if labels is None:
        stats["derived_labels"] = derived_labels(articles)
    if story_stats is not None:
        stats["stories"] = story_stats
    if pairs_dd is not None:
        for s in splits:
            stats["splits"][s]["pairs"] = len(pair_rows.get(s, []))
            stats["splits"][s]["pair_stance_counts"] = dict(
                Counter(r["stance"] for r in pair_rows.get(s, []) if r["stance"]).most_common()
            )
    if log.warnings:
        stats["warnings"] = [str(p) for p in log.warnings]

    with atomic_folder(out) as tmp:
        units_dd.save_to_disk(str(tmp))
        articles_dd.save_to_disk(str(tmp / "articles"))
        if pairs_dd is not None:
            pairs_dd.save_to_disk(str(tmp / "pairs"))
        (tmp / "labels.json").write_text(json.dumps(inventory, indent=2, ensure_ascii=False), encoding="utf-8")
        (tmp / "data_config.json").write_text(json.dumps(fingerprint, indent=2, ensure_ascii=False), encoding="utf-8")
        stats["seconds"] = round(time.perf_counter() - started, 2)
        (tmp / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False), encoding="utf-8")
        (tmp / "README.md").write_text(dataset_card(config, inventory, stats, features), encoding="utf-8")
    return DatasetResult(out, stats)


def _class_names(inventory: dict, articles: list[Article]) -> dict:
    """``inventory`` with the technique names that spans or line labels use outside a given label list appended,
    so every row keeps its labels."""
    extra = sorted(
        ({s.label for a in articles for s in a.spans} | _line_label_names(articles)) - set(inventory["techniques"])
    )
    return {**inventory, "techniques": [*inventory["techniques"], *extra]}


def derived_labels(articles: list[Article]) -> dict:
    """The technique names a corpus uses when no label list is given, with counts, and the rare names that look
    like a common one (likely misspellings)."""
    counts = Counter(s.label for a in articles for s in a.spans)
    counts.update(name for a in articles for names in (a.line_labels or {}).values() for name in names)
    look_alike = []
    for name, count in sorted(counts.items()):
        others = [o for o in counts if o != name and counts[o] > count]
        for match in difflib.get_close_matches(name, others, n=1, cutoff=0.85):
            look_alike.append({"name": name, "count": count, "like": match, "like_count": counts[match]})
    return {"names": dict(sorted(counts.items())), "look_alike": look_alike}


def _pair_rows(articles: list[Article], assignment: dict[str, str], kept: set[int] | None) -> dict[str, list[dict]]:
    """Rows of the ``pairs`` table per split, in reading order: each pair (of ``kept`` if given) in its body's split."""
    rows: dict[str, list[dict]] = {}
    for article in articles:
        for p in article.pairs or []:
            if kept is not None and p.index not in kept:
                continue
            rows.setdefault(assignment[article.id], []).append(
                {"pair": p.index, "row": p.row, "headline": p.headline, "body_id": article.id, "stance": p.stance}
            )
    for split_rows in rows.values():
        split_rows.sort(key=lambda r: r["pair"])
    return rows


def _line_label_names(articles: list[Article]) -> set[str]:
    return {name for a in articles for names in (a.line_labels or {}).values() for name in names}


def _split_stats(units: list[dict], articles: list[dict]) -> dict:
    unit_labels = Counter(label for u in units for label in u["labels"])
    return {
        "articles": len(articles),
        "units": len(units),
        "units_with_label": sum(1 for u in units if u["labels"]),
        "spans": sum(len(a["spans"]) for a in articles),
        "unit_label_counts": dict(sorted(unit_labels.items(), key=lambda kv: (-kv[1], kv[0]))),
        "frame_counts": dict(Counter(f for a in articles for f in a["frames"]).most_common()),
        "genre_counts": dict(Counter(a["genre"] for a in articles if a["genre"]).most_common()),
        "stance_counts": dict(Counter(a["stance"] for a in articles if a["stance"]).most_common()),
    }


def stats_table(stats: dict) -> str:
    """A plain-text table of the per-split counts in ``stats``."""
    splits = list(stats["splits"])
    rows = [("articles", *(stats["splits"][s]["articles"] for s in splits))]
    rows.append(("units", *(stats["splits"][s]["units"] for s in splits)))
    rows.append(("units with a label", *(stats["splits"][s]["units_with_label"] for s in splits)))
    rows.append(("spans", *(stats["splits"][s]["spans"] for s in splits)))
    for key, title in (
        ("unit_label_counts", "technique"),
        ("frame_counts", "frame"),
        ("genre_counts", "genre"),
        ("stance_counts", "stance"),
    ):
        names = sorted(
            {n for s in splits for n in stats["splits"][s][key]},
            key=lambda n: -stats["splits"]["train"][key].get(n, 0) if "train" in splits else n,
        )
        rows.extend((f"{title}: {n}", *(stats["splits"][s][key].get(n, 0) for s in splits)) for n in names)
    width = max(len(str(r[0])) for r in rows)
    lines = [f"{'':<{width}}  " + "  ".join(f"{s:>7}" for s in splits)]
    lines.extend(f"{r[0]:<{width}}  " + "  ".join(f"{v:>7}" for v in r[1:]) for r in rows)
    if "pairs" in stats["splits"][splits[0]]:
        lines.append(f"{'pairs':<{width}}  " + "  ".join(f"{stats['splits'][s]['pairs']:>7}" for s in splits))
        names = sorted({n for s in splits for n in stats["splits"][s]["pair_stance_counts"]})
        lines.extend(
            f"{'pair: ' + n:<{width}}  "
            + "  ".join(f"{stats['splits'][s]['pair_stance_counts'].get(n, 0):>7}" for s in splits)
            for n in names
        )
    p = stats["projection"]
    lines.append(
        f"\nprojection: {p['spans']} spans, {p['spans_crossing_units']} cross a unit boundary, "
        f"{p['spans_without_unit']} in no unit; line labels checked {p['line_label_checks']}, "
        f"disagreeing with spans {p['line_label_disagreements']}; offset errors {stats['offset_errors']}"
    )
    if stats["problems"]:
        lines.append(f"{len(stats['problems'])} data problem(s) dropped (lenient mode); see stats.json")
    derived = stats.get("derived_labels")
    if derived is not None:
        names = ", ".join(f"{n} ({c})" for n, c in derived["names"].items()) or "none"
        lines.append(
            f"\nno label list (data.labels): {len(derived['names'])} technique name(s) taken from the corpus: {names}"
        )
        for a in derived["look_alike"]:
            lines.append(
                f"warning: technique {a['name']!r} ({a['count']} use(s)) looks like {a['like']!r} ({a['like_count']}): "
                "a misspelling becomes a class of its own; set data.labels to a label list, or data.label_map to map it"
            )
    if stats.get("warnings"):
        lines.append(f"{len(stats['warnings'])} warning(s), rows kept (e.g. {stats['warnings'][0]}); see stats.json")
    return "\n".join(lines)
