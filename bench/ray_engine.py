"""The Ray engine against local scoring on this machine (a benchmark, not a test): articles/s, overhead, memory.

Scores the same corpus three ways and prints one JSON object:

- ``local``: ``framelab score`` in a fresh process (wall time, model load included; peak RSS);
- ``ray`` with 1 and with 2 workers (``--workers``): a local Ray started with ``--cpus`` CPUs, then
  :func:`framelab.ray.score_with_ray` (wall time from ``ray.init`` to the merged file; each actor's peak RSS);
- ``overhead_1_worker``: Ray's wall time with one worker over local's, less one; ``speedup_1_to_2``: the articles/s
  of two workers over one's. Every Ray output is checked to hold the records of the local one.

``--copies K`` scores K copies of the corpus (ids suffixed), so that a small corpus runs long enough to time.

    python bench/ray_engine.py --model models/sample-techniques --input data/sample/articles.jsonl --copies 4
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from framelab.ray import BATCH_TOKENS, score_with_ray


def _copies(source: Path, copies: int, folder: Path) -> Path:
    """``copies`` copies of a JSONL corpus in one file, the ids of copy ``c`` suffixed ``~c``."""
    if copies == 1:
        return source
    out = folder / "corpus.jsonl"
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    with out.open("w", encoding="utf-8") as handle:
        for c in range(copies):
            for row in rows:
                handle.write(json.dumps(row | {"id": f"{row['id']}~{c}"}, ensure_ascii=False) + "\n")
    return out


def _sorted_lines(path: Path) -> list[str]:
    return sorted(path.read_text(encoding="utf-8").splitlines())


def _local(models: list[str], corpus: Path, out: Path) -> dict:
    """``framelab score`` in a child process: wall seconds and the child's peak RSS (MiB)."""
    command = [sys.executable, "-m", "framelab.cli", "score", "--quiet", "--out", str(out), str(corpus)]
    for model in models:
        command[4:4] = ["--model", model]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "peak_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


def _ray(models: list[str], corpus: Path, out: Path, workers: int, cpus: int, batch_tokens: int) -> dict:
    """One Ray run from ``ray.init`` to the merged file."""
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        summary = score_with_ray(
            models, [str(corpus)], out=out, progress=False, workers=workers, batch_tokens=batch_tokens
        )
    finally:
        ray.shutdown()
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "articles": summary.articles,
        "shards": summary.shards,
        "workers": summary.workers,
        "worker_peak_mib": sorted(summary.worker_peak_mib.values()),
    }


def main(argv: list[str] | None = None) -> None:
    """Run the three measurements and print them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, action="append")
    parser.add_argument("--input", default="data/sample/articles.jsonl", type=Path)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-tokens", type=int, default=BATCH_TOKENS // 10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        folder = Path(tmp)
        corpus = _copies(args.input, args.copies, folder)
        local = _local(args.model, corpus, folder / "local.jsonl")
        expected = _sorted_lines(folder / "local.jsonl")
        articles = sum(json.loads(line)["type"] == "article" for line in expected)
        local["articles_per_s"] = round(articles / local["seconds"], 2)
        report = {"corpus": str(args.input), "copies": args.copies, "articles": articles, "local": local, "ray": {}}
        for n in args.workers:
            out = folder / f"ray-{n}.jsonl"
            run = _ray(args.model, corpus, out, n, args.cpus, args.batch_tokens)
            run["articles_per_s"] = round(articles / run["seconds"], 2)
            run["same_records_as_local"] = _sorted_lines(out) == expected
            report["ray"][str(n)] = run
    if "1" in report["ray"]:
        report["overhead_1_worker"] = round(report["ray"]["1"]["seconds"] / local["seconds"] - 1, 3)
    if {"1", "2"} <= set(report["ray"]):
        report["speedup_1_to_2"] = round(report["ray"]["2"]["articles_per_s"] / report["ray"]["1"]["articles_per_s"], 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
