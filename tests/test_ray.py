"""The Ray engine (``framelab score --engine ray``, :mod:`framelab.ray`) gives the records local scoring gives.

The fast tests need no Ray: token batching, the worker plan, the ``map_batches`` class on plain batches (a
pandas DataFrame too, as a Spark or Dask pandas function would hand it), the join of its rows, and the CLI's
refusals. The slow tests start a local cluster (``ray.init(num_cpus=2)``, skipped without the ``ray`` extra):
the engine on the sample corpus against local scoring, an actor killed mid-run, and the Ray Data path.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from framelab.cli import main
from framelab.errors import DataError
from framelab.ray import Scorer, ShardScorer, join, plan_workers, score_with_ray
from framelab.score.batching import approx_tokens, shard_count, token_chunks
from framelab.score.inputs import iter_articles
from framelab.score.scorer import score
from framelab.types import Article

from .conftest import SAMPLE


def _sorted_lines(path: Path) -> list[str]:
    return sorted(path.read_text(encoding="utf-8").splitlines(keepends=True))


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory, tiny_classifier_dir: Path) -> Path:
    """The sample corpus scored in this process: what every engine must write."""
    out = tmp_path_factory.mktemp("local") / "local.jsonl"
    score([tiny_classifier_dir], [str(SAMPLE)], out=out, progress=False)
    return out


def test_token_chunks_keep_order_and_budget() -> None:
    articles = [Article(str(i), "word " * n) for i, n in enumerate([3, 4, 2, 9, 1, 1])]
    chunks = list(token_chunks(articles, 6))
    assert [[a.id for a in c] for c in chunks] == [["0"], ["1", "2"], ["3"], ["4", "5"]]
    assert all(sum(approx_tokens(a.text) for a in c) <= 6 for c in chunks if len(c) > 1)
    assert approx_tokens("Don't stop, now.") == 7  # Don, ', t, stop, ",", now, "."
    with pytest.raises(ValueError, match="at least 1"):
        list(token_chunks(articles, 0))


def test_shard_count_follows_tokens_workers_and_articles() -> None:
    assert shard_count(1_000, 300) == 4
    assert shard_count(1_000, 300, workers=8) == 8
    assert shard_count(1_000, 300, workers=8, articles=5) == 5
    assert shard_count(0, 300) == 1


def test_workers_come_from_the_cluster() -> None:
    assert plan_workers({"CPU": 2.0}) == plan_workers({"CPU": 2.0}, 2)
    assert (plan_workers({"CPU": 2.0}).workers, plan_workers({"CPU": 2.0}).threads) == (2, 1)
    one = plan_workers({"CPU": 2.0}, 1)
    assert (one.workers, one.resources, one.threads) == (1, {"num_cpus": 2}, 2)
    assert plan_workers({"CPU": 8.0}, reserve_cpus=1).workers == 7
    assert plan_workers({"CPU": 1.0}, reserve_cpus=1).workers == 1
    gpus = plan_workers({"CPU": 32.0, "GPU": 4.0})
    assert (gpus.workers, gpus.resources) == (4, {"num_gpus": 1})
    with pytest.raises(ValueError, match="at least 1"):
        plan_workers({"CPU": 2.0}, 0)


def _sample_rows() -> list[dict]:
    """The sample corpus as rows, each with the source local scoring gives it (``file:line``)."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) | {"source": f"{SAMPLE}:{n}"} for n, line in enumerate(lines, 1) if line.strip()]


def _without_source(jsonl: str) -> list[str]:
    """Sorted JSONL lines, each article record without its ``source`` (a file:line only local scoring knows)."""
    records = [json.loads(line) for line in jsonl.splitlines()]
    return sorted(json.dumps({k: v for k, v in r.items() if k != "source"}, ensure_ascii=False) for r in records)


def test_scorer_rows_join_into_the_local_jsonl(tiny_classifier_dir: Path, local: Path) -> None:
    pandas = pytest.importorskip("pandas")
    rows = _sample_rows()
    scorer = Scorer([str(tiny_classifier_dir)], chunk_tokens=2_000)
    # Two batches as Ray hands them (a dict of columns), the second also as a pandas DataFrame (Spark, Dask).
    first = scorer({name: [r.get(name) for r in rows[:20]] for name in rows[0]})
    second = scorer(pandas.DataFrame(rows[20:]))
    assert list(second.columns) == ["article_id", "records", "problem"]
    out = [dict(zip(first, values)) for values in zip(*first.values())] + second.to_dict("records")
    order = [a.id for a in iter_articles([SAMPLE])]
    # A block Ray ran twice gives its rows twice: each article is still written once.
    joined = join(out + out[:3], order)
    assert joined == local.read_text(encoding="utf-8")
    assert sorted(joined.splitlines(keepends=True)) == _sorted_lines(local)


def test_join_refuses_missing_and_conflicting_rows() -> None:
    rows = [{"article_id": "a", "records": "A\n", "problem": ""}, {"article_id": "b", "records": "B\n"}]
    assert join(rows, ["b", "a"]) == "B\nA\n"
    with pytest.raises(DataError, match="1 input article"):
        join(rows, ["a", "b", "c"])
    with pytest.raises(DataError, match="different results"):
        join([*rows, {"article_id": "a", "records": "other\n"}])


def test_scorer_follows_on_error(tiny_classifier_dir: Path) -> None:
    batch = {"id": ["good", "empty", None], "text": ["A sentence. Another one.", "  ", "no id"]}
    with pytest.raises(DataError, match="empty"):
        Scorer(str(tiny_classifier_dir))(batch)
    out = Scorer(str(tiny_classifier_dir), on_error="skip")(batch)
    assert out["article_id"] == ["empty", "", "good"]
    assert ["empty" in out["problem"][0], "no id" in out["problem"][1], out["problem"][2]] == [True, True, ""]
    text = join([dict(zip(out, values)) for values in zip(*out.values())], ["good", "empty"])
    assert json.loads(text.splitlines()[-1])["count"] == 2


def test_cli_keeps_the_ray_options_for_the_ray_engine(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["score", "--model", "m", str(SAMPLE), "--out", str(tmp_path / "o.jsonl")]
    assert main([*args, "--workers", "2"]) == 2
    assert "--workers is for --engine ray" in capsys.readouterr().err
    assert main(["score", "--model", "m", "--engine", "ray", "--out", str(tmp_path / "o.jsonl"), "-"]) == 2
    assert "standard input" in capsys.readouterr().err
    assert main([*args[:-1], str(tmp_path / "o.html"), "--format", "html", "--engine", "ray"]) == 2
    assert "html cannot be split" in capsys.readouterr().err


# --- on a local Ray cluster -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    """A local Ray with two CPUs, shared by the slow tests of this module."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024 * 1024)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_engine_writes_what_local_scoring_writes(
    cluster, tmp_path: Path, tiny_classifier_dir: Path, local: Path
) -> None:
    out = tmp_path / "ray.jsonl"
    summary = score_with_ray([tiny_classifier_dir], [str(SAMPLE)], out=out, progress=False, batch_tokens=4_000)
    assert summary.shards > summary.workers == 2 and 1 <= len(summary.worker_peak_mib) <= 2
    assert summary.articles == len(list(iter_articles([SAMPLE])))
    assert _sorted_lines(out) == _sorted_lines(local)
    assert out.read_bytes() == local.read_bytes()  # in input order too
    assert [p.name for p in tmp_path.iterdir()] == ["ray.jsonl"]  # the shard folder is gone


class KilledOnce(ShardScorer):
    """Kills its own process (SIGKILL) once, after its first shard is written and before Ray hears of it."""

    def __call__(self, batch):
        result = super().__call__(batch)
        marker = self.parts.parent / "killed"
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return result
        os.write(fd, f"{os.getpid()} {result['shard'][0]}".encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)
        return result


@pytest.mark.slow
def test_a_worker_killed_mid_run_leaves_every_article_once(
    cluster, tmp_path: Path, tiny_classifier_dir: Path, local: Path
) -> None:
    out = tmp_path / "ray.jsonl"
    summary = score_with_ray(
        [tiny_classifier_dir], [str(SAMPLE)], out=out, progress=False, batch_tokens=4_000, scorer=KilledOnce
    )
    killed_pid, shard = (tmp_path / "killed").read_text().split()
    assert int(killed_pid) not in summary.worker_peak_mib  # its shard was scored again by a live actor
    assert 0 <= int(shard) < summary.shards
    ids = [json.loads(line)["article_id"] for line in out.read_text().splitlines() if '"type": "article"' in line]
    assert sorted(ids) == sorted(a.id for a in iter_articles([SAMPLE])) and len(set(ids)) == len(ids)
    assert out.read_bytes() == local.read_bytes()


@pytest.mark.slow
def test_ray_engine_skips_bad_inputs_as_local_scoring_does(cluster, tmp_path: Path, tiny_classifier_dir: Path) -> None:
    bad = tmp_path / "empty.txt"
    bad.write_text("   ", encoding="utf-8")
    inputs = [str(SAMPLE), str(bad)]
    expected = tmp_path / "local.csv"
    score([tiny_classifier_dir], inputs, out=expected, fmt="csv", on_error="skip", progress=False)
    out = tmp_path / "ray.csv"
    summary = score_with_ray(
        [tiny_classifier_dir], inputs, out=out, fmt="csv", on_error="skip", progress=False, workers=1
    )
    assert len(summary.problems) == 1 and "empty" in summary.problems[0]
    assert out.read_bytes() == expected.read_bytes()
    with pytest.raises(DataError, match="empty"):
        score_with_ray([tiny_classifier_dir], inputs, out=tmp_path / "strict.csv", fmt="csv", progress=False)


@pytest.mark.slow
def test_ray_data_path_writes_parquet_that_joins_into_the_local_jsonl(
    cluster, tmp_path: Path, tiny_classifier_dir: Path, local: Path
) -> None:
    ds = cluster.data.read_json(str(SAMPLE), include_paths=True)
    # One actor on one CPU: the other runs the read and write tasks (actors holding every CPU would starve them).
    scored = ds.map_batches(
        Scorer,
        fn_constructor_kwargs={"models": [str(tiny_classifier_dir)], "threads": 1},
        compute=cluster.data.ActorPoolStrategy(size=1),
        batch_size=16,
        num_cpus=1,
    )
    scored.write_parquet(str(tmp_path / "shards"))
    rows = cluster.data.read_parquet(str(tmp_path / "shards")).take_all()
    joined = join(rows, [a.id for a in iter_articles([SAMPLE])])
    assert _without_source(joined) == _without_source(local.read_text(encoding="utf-8"))
    assert json.loads(joined.splitlines()[-1])["source"] == str(SAMPLE)  # read_json's path column
