"""Sharded scoring: split inputs deterministically, then merge shard outputs.

``framelab score --shard K/N`` scores the articles whose id hashes to K
(0 <= K < N): ``sha1(id) mod N``, stable across machines, Python versions and
input order, so any scheduler (Slurm arrays, Kubernetes jobs, GNU parallel)
can fan out N jobs over the same inputs. ``framelab merge`` joins the N
outputs back in input order, so the merged file equals an unsharded run.

Before it writes anything, merge checks every shard against the manifest
its run wrote beside it (:mod:`framelab.score.manifest`): the shard's files
are whole, every shard 0…N-1 of one split is there once, all were scored
in one format with the same models and settings, and each holds exactly the
articles of ``--inputs`` that hash to it. It refuses with every problem it
found (:func:`verify_shards`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from framelab.errors import DataError, Problem
from framelab.output import AtomicFile, atomic_folder, claim
from framelab.score.inputs import check_inputs, iter_articles
from framelab.score.manifest import IdDigest, ShardManifest, check_against, read_manifest
from framelab.score.writers import formula_unsafe
from framelab.types import Article

MERGE_FORMATS = ("jsonl", "csv", "semeval2023")


def parse_shard(spec: str) -> tuple[int, int]:
    """``"K/N"`` → ``(K, N)`` with ``0 <= K < N``."""
    try:
        k, n = (int(part) for part in spec.split("/"))
    except ValueError:
        raise ValueError(f"--shard {spec!r}: expected K/N with whole numbers, e.g. 0/4") from None
    if n < 1 or not 0 <= k < n:
        raise ValueError(f"--shard {spec!r}: need N >= 1 and 0 <= K < N (shards are numbered from 0)")
    return k, n


def shard_of(article_id: str, n: int) -> int:
    """The shard (0…n-1) an article id belongs to."""
    return int.from_bytes(hashlib.sha1(article_id.encode("utf-8")).digest()[:8], "big") % n


def select_shard(articles: Iterable[Article], k: int, n: int) -> Iterator[Article]:
    """The articles of shard ``k`` of ``n``."""
    return (a for a in articles if shard_of(a.id, n) == k)


def verify_shards(shard_outputs: list[Path], fmt: str, order: list[str]) -> None:
    """Refuse, with a :class:`DataError` listing every problem, shards that do not make up ``order`` exactly once.

    ``order`` is the input article ids; each shard is checked against its manifest, then the shards
    against each other and against ``order``.
    """
    problems: list[Problem] = []
    stamped: list[tuple[Path, ShardManifest]] = []
    for path in shard_outputs:
        try:
            manifest = read_manifest(path)
        except DataError as exc:
            problems += exc.problems
            continue
        if manifest.format != fmt:
            message = f"scored as --format {manifest.format}, not {fmt}"
            problems.append(
                Problem(str(path), None, message, f"merge {manifest.format} shards with --format {manifest.format}")
            )
            continue
        problems += check_against(path, manifest)
        stamped.append((path, manifest))
    problems += _check_split(stamped, order, unread=len(shard_outputs) - len(stamped))
    if problems:
        raise DataError(problems)


def _check_split(stamped: list[tuple[Path, ShardManifest]], order: list[str], unread: int = 0) -> list[Problem]:
    """Problems of the shards as a set: one split, one run's models, each shard once, each the inputs' share.

    ``unread`` shards were given whose manifest could not be read: a shard missing here may be one of them.
    """
    if not stamped:
        return []
    (first, one), problems = stamped[0], []
    n = one.shards
    given: dict[int, Path] = {}
    for path, m in stamped:
        if m.shards != n:
            problems.append(
                Problem(
                    str(path),
                    None,
                    f"is shard {m.spec}, but {first} is {one.spec}: shards of two splits",
                    f"merge the {n} outputs of one --shard K/{n} fan-out",
                )
            )
            continue
        if not m.same_run(one):
            problems.append(
                Problem(
                    str(path),
                    None,
                    f"scored with other models or settings than {first} ({_models(m)}; there: {_models(one)})",
                    "merge shards scored with the same model folders, --quantize and --target; re-score this one",
                )
            )
        if m.shard in given:
            problems.append(
                Problem(str(path), None, f"shard {m.spec} given twice (also {given[m.shard]})", "give each shard once")
            )
        given.setdefault(m.shard, path)
    shares: dict[int, list[str]] = {}
    for article_id in order:
        shares.setdefault(shard_of(article_id, n), []).append(article_id)
    for k in range(n):
        share = shares.get(k, [])
        if k not in given:
            first_id = f" (first: {share[0]!r})" if share else ""
            unless = ", unless it is one of the shards above without a manifest" if unread else ""
            problems.append(
                Problem(
                    f"shard {k}/{n}",
                    None,
                    f"missing{unless}: {len(share)} input article(s) belong to it{first_id}",
                    f"score it with framelab score --shard {k}/{n} --out FILE, then merge all {n} shards",
                )
            )
    for path, m in stamped:
        if m.shards != n:
            continue
        share = IdDigest(shares.get(m.shard, []))
        if (m.articles, m.article_ids) != (share.count, share.hexdigest()):
            same = " (as many, but other articles)" if m.articles == share.count else ""
            problems.append(
                Problem(
                    str(path),
                    None,
                    f"holds {m.articles} article(s), but the inputs give {share.count} to shard {m.spec}{same}",
                    "merge with the --inputs the shards were scored from, or re-score this shard from these inputs",
                )
            )
    return problems


def _models(m: ShardManifest) -> str:
    """The models and settings of a shard, briefly: each name with the start of its fingerprint."""
    names = ", ".join(f"{s.name} {s.fingerprint[:12]}" for s in m.models)
    settings = ", ".join(f"{key}={value}" for key, value in m.settings.items() if value)
    return "; ".join(filter(None, [names, settings]))


@dataclass
class MergeSummary:
    """What ``merge`` wrote."""

    articles: int
    outputs: list[str]


def _group_jsonl(paths: list[Path], problems: list[dict] | None = None) -> dict[str, list[str]]:
    """Each article's lines; the ``problems`` records (inputs a shard skipped) go to ``problems``."""
    groups: dict[str, list[str]] = {}
    owner: dict[str, int] = {}
    for number_of_file, path in enumerate(paths):
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if isinstance(record, dict) and record.get("type") == "problems" and problems is not None:
                    problems.extend(f for f in record["files"] if f not in problems)
                    continue
                article_id = record["article_id"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DataError(
                    Problem(
                        str(path),
                        number,
                        "not a framelab score record",
                        "merge only files written by framelab score --format jsonl",
                    )
                ) from None
            if owner.setdefault(article_id, number_of_file) != number_of_file:
                raise DataError(
                    Problem(
                        str(path),
                        number,
                        f"article {article_id!r} also appears in {paths[owner[article_id]]}",
                        "each article must be in one shard only",
                    )
                )
            groups.setdefault(article_id, []).append(line + "\n")
    return groups


def _group_csv(paths: list[Path]) -> tuple[str, dict[str, list[str]]]:
    header = None
    groups: dict[str, list[str]] = {}
    owner: dict[str, int] = {}
    for number, path in enumerate(paths):
        rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
        if not rows:
            raise DataError(
                Problem(str(path), 1, "empty CSV", "merge only files written by framelab score --format csv")
            )
        if header is not None and rows[0] != header:
            raise DataError(
                Problem(str(path), 1, "header differs from the first shard's", "merge outputs of the same models")
            )
        header = rows[0]
        for row in rows[1:]:
            article = formula_unsafe(row[0])  # the id as the input has it, without its formula mark
            if owner.setdefault(article, number) != number:
                raise DataError(
                    Problem(
                        str(path),
                        None,
                        f"article {article!r} also appears in {paths[owner[article]]}",
                        "each article must be in one shard only",
                    )
                )
            buffer = io.StringIO()
            csv.writer(buffer).writerow(row)
            groups.setdefault(article, []).append(buffer.getvalue())
    buffer = io.StringIO()
    csv.writer(buffer).writerow(header or [])
    return buffer.getvalue(), groups


def _check_complete(order: list[str], groups: dict[str, list[str]], what: str, required: bool = True) -> None:
    expected = set(order)
    missing = [a for a in order if a not in groups] if required else []
    extra = sorted(set(groups) - expected)
    if missing or extra:
        detail = []
        if missing:
            detail.append(f"{len(missing)} input article(s) missing (first: {missing[0]!r})")
        if extra:
            detail.append(f"{len(extra)} article(s) not among the inputs (first: {extra[0]!r})")
        raise DataError(
            Problem(what, None, "; ".join(detail), "score every shard 0…N-1 of the same inputs, then merge them all")
        )


def merge(
    shard_outputs: list[str | Path],
    inputs: list[str | Path],
    *,
    fmt: str,
    out: str | Path,
    on_error: str = "strict",
    force: bool = False,
) -> MergeSummary:
    """Join shard outputs of ``framelab score`` into one, in input order.

    ``inputs`` are the inputs every shard was given; they fix the order and
    let the merge check that each article appears exactly once; with
    ``on_error="skip"`` the inputs the shards skipped are left out of the order. ``out`` may not be
    a shard or an input; ``force`` replaces a folder framelab did not write (:func:`framelab.output.check_output`).
    """
    if fmt not in MERGE_FORMATS:
        raise ValueError(f"framelab merge handles {', '.join(MERGE_FORMATS)}, not {fmt!r}")
    out = Path(out)
    with claim(out, folder=fmt == "semeval2023", kind="scores", inputs=[*shard_outputs, *inputs], force=force):
        return _merge(shard_outputs, check_inputs(inputs, skip=on_error == "skip")[0], fmt, out)


def _merge(shard_outputs: list[str | Path], inputs: list[Path], fmt: str, out: Path) -> MergeSummary:
    order = [a.id for a in iter_articles(inputs)]
    paths = [Path(p) for p in shard_outputs]
    verify_shards(paths, fmt, order)
    written: list[str] = []
    if fmt == "jsonl":
        skipped: list[dict] = []
        groups = _group_jsonl(paths, skipped)
        _check_complete(order, groups, "shard outputs")
        target = AtomicFile(out)
        target.handle.writelines(line for a in order for line in groups[a])
        if skipped:
            target.handle.write(
                json.dumps({"type": "problems", "count": len(skipped), "files": skipped}, ensure_ascii=False) + "\n"
            )
        written.append(target.commit())
    elif fmt == "csv":
        header, groups = _group_csv(paths)
        # An article model gives every article a row, but a unit-only model
        # writes none for an article without units: only extras are errors.
        _check_complete(order, groups, "shard outputs", required=False)
        target = AtomicFile(out)
        target.handle.write(header)
        target.handle.writelines(line for a in order for line in groups.get(a, []))
        written.append(target.commit())
    else:
        names = sorted({p.name for folder in paths for p in folder.glob("subtask-*.txt")})
        # Built whole and swapped in: no subtask file of an older run survives beside these.
        with atomic_folder(out) as tmp:
            for name in names:
                groups: dict[str, list[str]] = {}
                for folder in paths:
                    file = folder / name
                    if not file.is_file():
                        raise DataError(
                            Problem(
                                str(file), None, "missing from this shard", "merge shards scored with the same models"
                            )
                        )
                    for line in file.read_text(encoding="utf-8").split("\n"):
                        if not line:
                            continue
                        groups.setdefault(line.split("\t", 1)[0], []).append(line + "\n")
                _check_complete(order, groups, f"shard files {name}", required=name != "subtask-3.txt")
                (tmp / name).write_text(
                    "".join(line for a in order for line in groups.get(a, [])), encoding="utf-8", newline=""
                )
                written.append(str(out / name))
    return MergeSummary(len(order), written)
