"""``framelab merge`` checks its shards against the manifests ``score --shard`` writes (issue 42).

Each reported case merged with exit 0 before: a missing CSV or semeval2023 shard, a shard given twice,
a JSONL shard cut at a line boundary, shards of two different models, and semeval2023 asked of .jsonl
shards. Each is now refused with exit 2, naming the shard and what is wrong, and no output is written.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from framelab.cli import main
from framelab.score.manifest import manifest_path

from .conftest import SAMPLE

ARTICLES = 10


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for the shards every test of this module shares (tests copy before they change one)."""
    return tmp_path_factory.mktemp("merge-verify")


@pytest.fixture(scope="module")
def ten(made: Path) -> Path:
    """The first ten articles of the sample corpus (shards 0, 1 and 2 of 3 all get some)."""
    path = made / "ten.jsonl"
    path.write_text("".join(SAMPLE.read_text(encoding="utf-8").splitlines(True)[:ARTICLES]), encoding="utf-8")
    return path


def _suffix(fmt: str) -> str:
    return "" if fmt == "semeval2023" else f".{fmt}"


def _score(model: Path, inputs: Path, fmt: str, out: Path, shard: str | None = None) -> Path:
    sharding = ["--shard", shard] if shard else []
    args = ["score", "--model", str(model), "--format", fmt, "--quiet", *sharding, "--out", str(out), str(inputs)]
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def shards(made: Path, ten: Path, tiny_classifier_dir: Path):
    """``shards(fmt, n)``: the n shard outputs of the ten articles in ``fmt``, scored once per module."""
    done: dict[tuple[str, int], list[Path]] = {}

    def get(fmt: str, n: int = 3) -> list[Path]:
        if (fmt, n) not in done:
            done[fmt, n] = [
                _score(tiny_classifier_dir, ten, fmt, made / f"{fmt}-{k}-of-{n}{_suffix(fmt)}", f"{k}/{n}")
                for k in range(n)
            ]
        return done[fmt, n]

    return get


def _merge(capsys: pytest.CaptureFixture, parts: list[Path], inputs: Path, fmt: str, out: Path) -> tuple[int, str]:
    code = main(["merge", *map(str, parts), "--inputs", str(inputs), "--format", fmt, "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _copy(shard: Path, to: Path) -> Path:
    """``shard`` and its manifest, copied into folder ``to``."""
    to.mkdir(parents=True, exist_ok=True)
    (shutil.copytree if shard.is_dir() else shutil.copy)(shard, to / shard.name)
    shutil.copy(manifest_path(shard), manifest_path(to / shard.name))
    return to / shard.name


def _keys(path: Path, fmt: str) -> list:
    """What identifies each record of an output, scores left out (a shard batches other units)."""
    if fmt == "jsonl":
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        return [(r["type"], r["article_id"], r.get("index")) for r in records]
    if fmt == "csv":
        return [(r["article_id"], r["level"], r["index"]) for r in csv.DictReader(path.open(encoding="utf-8"))]
    return [line.split("\t")[:2] for line in (path / "subtask-3.txt").read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "semeval2023"])
def test_complete_shards_merge_into_the_unsharded_output(
    capsys: pytest.CaptureFixture, tmp_path: Path, shards, ten: Path, tiny_classifier_dir: Path, fmt: str
) -> None:
    parts = shards(fmt)
    assert all(manifest_path(p).is_file() for p in parts)
    whole = _score(tiny_classifier_dir, ten, fmt, tmp_path / f"whole{_suffix(fmt)}")
    out = tmp_path / f"merged{_suffix(fmt)}"
    code, said = _merge(capsys, parts, ten, fmt, out)
    assert code == 0, said
    assert f"merged {ARTICLES} articles" in said
    assert _keys(out, fmt) == _keys(whole, fmt)
    assert not manifest_path(out).exists()  # a merged file is no shard


@pytest.mark.parametrize("fmt", ["csv", "semeval2023"])
def test_a_missing_shard_is_refused(capsys: pytest.CaptureFixture, tmp_path: Path, shards, ten: Path, fmt: str) -> None:
    # A unit model writes no CSV row (and semeval2023 no required line) for an article without units,
    # so the rows alone could not tell a missing shard from articles without units.
    out = tmp_path / f"merged{_suffix(fmt)}"
    code, said = _merge(capsys, shards(fmt)[:2], ten, fmt, out)
    assert code == 2, said
    assert "shard 2/3: missing" in said and "'sample-002'" in said
    assert not out.exists()


def test_a_shard_given_twice_is_refused(capsys: pytest.CaptureFixture, tmp_path: Path, shards, ten: Path) -> None:
    first, *rest = shards("semeval2023")
    out = tmp_path / "merged"
    code, said = _merge(capsys, [first, *rest, first], ten, "semeval2023", out)
    assert code == 2, said
    assert f"shard 0/3 given twice (also {first})" in said
    assert not out.exists()


def test_a_jsonl_shard_cut_at_a_line_boundary_is_refused(
    capsys: pytest.CaptureFixture, tmp_path: Path, shards, ten: Path
) -> None:
    parts = [_copy(p, tmp_path / "shards") for p in shards("jsonl")]
    lines = parts[0].read_text(encoding="utf-8").splitlines(True)
    # The last article keeps some of its unit records, so every article still shows up in the file.
    cut = lines[:-2]
    assert json.loads(cut[-1])["article_id"] == json.loads(lines[-1])["article_id"]
    parts[0].write_text("".join(cut), encoding="utf-8")
    out = tmp_path / "merged.jsonl"
    code, said = _merge(capsys, parts, ten, "jsonl", out)
    assert code == 2, said
    assert f"holds {len(cut)} line(s)" in said and f"its manifest says {len(lines)}" in said
    assert "re-score it with framelab score --shard 0/3" in said
    assert not out.exists()


def test_shards_of_two_different_models_are_refused(
    capsys: pytest.CaptureFixture, tmp_path: Path, made: Path, ten: Path, tiny_classifier_dir: Path
) -> None:
    # The same folder name and labels (the same keys and CSV header), other thresholds: another model.
    other = tmp_path / "elsewhere" / tiny_classifier_dir.name
    shutil.copytree(tiny_classifier_dir, other)
    meta = json.loads((other / "framelab.json").read_text(encoding="utf-8"))
    meta["thresholds"] = [0.2] * len(meta["labels"])
    (other / "framelab.json").write_text(json.dumps(meta), encoding="utf-8")
    parts = [
        _score(tiny_classifier_dir, ten, "jsonl", tmp_path / "a-0.jsonl", "0/2"),
        _score(other, ten, "jsonl", tmp_path / "b-1.jsonl", "1/2"),
    ]
    out = tmp_path / "merged.jsonl"
    code, said = _merge(capsys, parts, ten, "jsonl", out)
    assert code == 2, said
    assert f"{parts[1]}: scored with other models or settings than {parts[0]}" in said
    assert not out.exists()


def test_semeval2023_of_jsonl_shards_is_refused(
    capsys: pytest.CaptureFixture, tmp_path: Path, shards, ten: Path
) -> None:
    out = tmp_path / "merged"
    code, said = _merge(capsys, shards("jsonl"), ten, "semeval2023", out)
    assert code == 2, said
    assert said.count("scored as --format jsonl, not semeval2023") == 3
    assert not out.exists()  # no empty folder that looks like a result


def test_a_shard_without_its_manifest_or_with_a_broken_one_is_refused(
    capsys: pytest.CaptureFixture, tmp_path: Path, shards, ten: Path
) -> None:
    parts = [_copy(p, tmp_path / "shards") for p in shards("csv")]
    manifest_path(parts[1]).unlink()
    edited = json.loads(manifest_path(parts[2]).read_text(encoding="utf-8")) | {"shard": "2"}
    manifest_path(parts[2]).write_text(json.dumps(edited), encoding="utf-8")
    out = tmp_path / "merged.csv"
    code, said = _merge(capsys, parts, ten, "csv", out)
    assert code == 2, said
    assert f"{manifest_path(parts[1])}: no shard manifest beside {parts[1]}" in said
    assert f"{manifest_path(parts[2])}: not a framelab shard manifest (shard: Input should be a valid integer)" in said
    assert "missing, unless it is one of the shards above without a manifest" in said
    assert not out.exists()


def test_shards_of_other_inputs_or_splits_are_refused(
    capsys: pytest.CaptureFixture, tmp_path: Path, shards, made: Path
) -> None:
    eleven = tmp_path / "eleven.jsonl"
    eleven.write_text("".join(SAMPLE.read_text(encoding="utf-8").splitlines(True)[: ARTICLES + 1]), encoding="utf-8")
    code, said = _merge(capsys, shards("csv"), eleven, "csv", tmp_path / "merged.csv")
    assert code == 2, said
    assert "the inputs give" in said
    two_ways = shards("jsonl", 2)
    code, said = _merge(capsys, [two_ways[0], *shards("jsonl")[1:]], made / "ten.jsonl", "jsonl", tmp_path / "m.jsonl")
    assert code == 2, said
    assert "is shard 1/3, but" in said and "is 0/2" in said


def test_score_with_a_shard_needs_an_out_file(
    capsys: pytest.CaptureFixture, ten: Path, tiny_classifier_dir: Path
) -> None:
    assert main(["score", "--model", str(tiny_classifier_dir), "--shard", "0/2", "--quiet", str(ten)]) == 2
    assert "--shard K/N needs --out" in capsys.readouterr().err


def test_csv_shards_of_articles_whose_ids_start_like_formulas_merge(
    made: Path, tiny_classifier_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """The CSV writer marks ``=x`` as ``'=x`` (formula safety); merge reads the id back as the input has it."""
    inputs = made / "formula-ids.jsonl"
    rows = [{"id": f"={k}+1", "text": f"Article {k} says the plan is a disaster."} for k in range(6)]
    inputs.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    parts = [_score(tiny_classifier_dir, inputs, "csv", made / f"formula-{k}-of-2.csv", f"{k}/2") for k in range(2)]
    whole = _score(tiny_classifier_dir, inputs, "csv", made / "formula-whole.csv")
    code, said = _merge(capsys, parts, inputs, "csv", made / "formula-merged.csv")
    assert code == 0, said
    assert (made / "formula-merged.csv").read_bytes() == whole.read_bytes()
