"""Time single-process ``framelab score`` on the GPU (or the CPU); prints one JSON line (a benchmark, not a test).

Calls :func:`framelab.score.scorer.score` as the command does (jsonl into a
temporary file, which is deleted). ``seconds`` excludes model loading, as the
command's own summary does; the first of ``--repeat`` runs includes CUDA
start-up, so the best run is reported beside every run's time. Peak CUDA
memory is ``torch.cuda.max_memory_allocated`` (and ``_reserved``) over all
runs.

    python bench/gpu_score.py --model models/semeval2023-lines data/sample/articles.jsonl
    python bench/gpu_score.py --model models/semeval2023-lines --device cpu --limit 500 corpus.jsonl

``bench/gpu_score.sh`` runs both and, with several GPUs, ``torchrun`` scoring.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", help="what framelab score takes: .txt files, folders, .jsonl")
    parser.add_argument("--model", action="append", required=True, help="model folder (repeatable)")
    parser.add_argument(
        "--device",
        choices=["auto", "cpu"],
        default="auto",
        help="auto: the GPU when there is one (the scorer's choice)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--format", default="jsonl", choices=["jsonl", "csv", "semeval2023"])
    parser.add_argument("--repeat", type=int, default=2, help="runs; the best is reported (the first warms up)")
    parser.add_argument("--limit", type=int, help="score only the first N articles (e.g. to keep a CPU run short)")
    args = parser.parse_args(argv)
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch looks for a GPU

    import torch

    import framelab
    from framelab.readers import write_jsonl
    from framelab.score.inputs import iter_articles
    from framelab.score.scorer import score

    cuda = torch.cuda.is_available()
    runs = []
    with tempfile.TemporaryDirectory(prefix="gpu-score-") as tmp:
        inputs = args.inputs
        if args.limit:
            inputs = [Path(tmp) / "limited.jsonl"]
            write_jsonl(itertools.islice(iter_articles(args.inputs), args.limit), inputs[0])
        for number in range(max(1, args.repeat)):
            if cuda:
                torch.cuda.synchronize()
            out = (
                Path(tmp) / f"out-{number}"
                if args.format == "semeval2023"
                else Path(tmp) / f"out-{number}.{args.format}"
            )
            summary = score(args.model, inputs, fmt=args.format, out=out, batch_size=args.batch_size, progress=False)
            runs.append(summary)
    best = min(runs, key=lambda s: s.seconds)
    result = {
        "device": torch.cuda.get_device_name(0) if cuda else f"cpu ({torch.get_num_threads()} threads)",
        "models": [Path(m).name for m in args.model],
        "batch_size": args.batch_size,
        "articles": best.articles,
        "units": best.units,
        "seconds": round(best.seconds, 3),
        "units_per_s": round(best.units / best.seconds, 1) if best.seconds else None,
        "articles_per_s": round(best.articles / best.seconds, 2) if best.seconds else None,
        "seconds_per_run": [round(s.seconds, 3) for s in runs],
        "peak_cuda_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
        "peak_cuda_reserved_mib": round(torch.cuda.max_memory_reserved() / 2**20, 1) if cuda else None,
        "torch": torch.__version__,
        "framelab": framelab.__version__,
        "python": platform.python_version(),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
