"""Train, evaluate and time a list of runs; write a results table (a benchmark, not a test).

Each run is a config plus ``--set`` overrides. For each: wall time and peak
memory of training (peak RSS on CPU, peak allocated GPU memory on a GPU),
dev figures of the model (at its tuned thresholds and at 0.5) beside the
TF-IDF baseline, then scoring throughput of the dev articles. Span runs
(``train.task=spans``) get their own table: span identification (SI) and
technique classification (TC) beside the lexicon / TF-IDF baselines.
``--ensemble I J …`` then averages runs I, J, … (1-based; techniques models or span taggers) on
the units of run I's dataset (:func:`framelab.train.ensemble.build_ensemble`)
and adds its figures, tuned on dev and cross-fitted. Example::

    python bench/quality.py --out-dir reports/bench-quality \\
        --run configs/semeval2023-lines.yaml train.epochs=5 \\
        --run configs/semeval2023-frames.yaml \\
        --run configs/semeval2023-sentences.yaml \\
        --run configs/semeval2023-spans.yaml --ensemble 1 3 4
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

from framelab.config import load_config
from framelab.dataset import build_dataset
from framelab.eval.report import evaluate_model
from framelab.score.scorer import score
from framelab.train.ensemble import build_ensemble
from framelab.train.run import train


def _peak_memory_mb() -> float:
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _row(name: str, metrics: dict, key: str) -> dict:
    scores = metrics[key]
    per_label = scores["per_label"]
    return {
        "run": name,
        "system": key,
        "micro_f1": round(scores["micro"]["f1"], 4),
        "macro_f1": round(scores["macro"]["f1"], 4),
        "any_f1": round(scores["any"]["f1"], 4) if "any" in scores else None,
        "loaded_language_f1": round(per_label["Loaded_Language"]["f1"], 4) if "Loaded_Language" in per_label else None,
    }


def _span_row(name: str, metrics: dict, key: str) -> dict:
    si, tc = metrics[key]["span_identification"], metrics[key]["technique_classification"]
    return {
        "run": name,
        "system": key,
        "si_precision": round(si["precision"], 4),
        "si_recall": round(si["recall"], 4),
        "si_f1": round(si["f1"], 4),
        "labelled_span_f1": round(si["labelled"]["f1"], 4),
        "tc_micro_f1": round(tc["f1"], 4),
    }


def run(config_path: str, overrides: list[str], out_dir: Path, common: list[str]) -> dict:
    """Train, evaluate and score one run; return its figures."""
    config = load_config(config_path, [*common, *overrides])
    name = config.name + (
        "-" + "-".join(o.split("=")[0].split(".")[-1] + o.split("=")[1] for o in overrides) if overrides else ""
    )
    config.output_dir = str(out_dir / "models" / name)
    if not (config.dataset_dir / "labels.json").is_file():
        build_dataset(config)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    result = train(config)
    wall = time.perf_counter() - started
    peak = _peak_memory_mb()
    report = evaluate_model(result.model_dir, config.dataset_dir, "dev", out_dir / "reports" / name)
    if report.metrics["task"] == "spans":
        rows = [_span_row(name, report.metrics, "model"), _span_row(name, report.metrics, "baseline")]
    elif report.metrics["task"] == "span_techniques":
        rows = [
            {
                "run": name,
                "system": key,
                "si_precision": None,
                "si_recall": None,
                "si_f1": None,
                "labelled_span_f1": None,
                "tc_micro_f1": round(report.metrics[key]["technique_classification"]["f1"], 4),
            }
            for key in ("model", "baseline")
        ]
    else:
        rows = [
            _row(name, report.metrics, "model"),
            _row(name, report.metrics, "model_at_0.5") if "model_at_0.5" in report.metrics else None,
            _row(name, report.metrics, "baseline"),
        ]
        crossed = result.dev_metrics.get("cross_fitted")
        if crossed:  # a model that measured its own cross-fitted dev figure (frames_attention)
            rows.insert(
                1,
                {
                    "run": name,
                    "system": "cross-fitted",
                    "micro_f1": round(crossed["micro_f1"], 4),
                    "macro_f1": round(crossed["macro_f1"], 4),
                    "any_f1": None,
                    "loaded_language_f1": None,
                },
            )
    from datasets import load_from_disk

    articles = load_from_disk(str(config.dataset_dir / "articles"))["dev"]
    texts_dir = out_dir / "dev-texts"
    texts_dir.mkdir(parents=True, exist_ok=True)
    for article in articles:
        (texts_dir / f"article{article['id']}.txt").write_text(article["text"], encoding="utf-8")
    if config.train.task == "span_techniques":
        # A span classifier only answers for given spans (framelab score --spans); nothing to time here.
        units_per_s = articles_per_s = None
    else:
        summary = score(
            [result.model_dir],
            [texts_dir],
            fmt="jsonl",
            out=out_dir / f"{name}-dev.jsonl",
            progress=False,
            batch_size=64,
        )
        units_per_s = round(summary.units / summary.seconds, 1)
        articles_per_s = round(summary.articles / summary.seconds, 2)
    return {
        "name": name,
        "config": config_path,
        "model_dir": str(result.model_dir),
        "dataset_dir": str(config.dataset_dir),
        "overrides": overrides,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "train_wall_seconds": round(wall, 1),
        "train_examples_per_second": round(result.train_examples_per_second, 1),
        "peak_memory_mb": round(peak, 1),
        "score_units_per_second": units_per_s,
        "score_articles_per_second": articles_per_s,
        "rows": [r for r in rows if r],
    }


def ensemble(results: list[dict], picks: list[int], out_dir: Path) -> dict:
    """Average the models of the runs numbered ``picks`` on the units of the first one's dataset; return its figures."""
    chosen = [results[i - 1] for i in picks]
    name = "ensemble-" + "+".join(r["name"] for r in chosen)
    started = time.perf_counter()
    built = build_ensemble([r["model_dir"] for r in chosen], chosen[0]["dataset_dir"], out_dir / "models" / name)
    wall = time.perf_counter() - started
    metrics = built.dev_metrics
    crossed = metrics["cross_fitted"]
    loaded = crossed["per_label_f1"].get("Loaded_Language")
    return {
        "name": name,
        "members": [r["name"] for r in chosen],
        "build_wall_seconds": round(wall, 1),
        "peak_memory_mb": round(_peak_memory_mb(), 1),
        "rows": [
            _row(name, metrics, "at_tuned_thresholds") | {"system": "model"},
            {
                "run": name,
                "system": "cross-fitted",
                "micro_f1": round(crossed["micro_f1"], 4),
                "macro_f1": round(crossed["macro_f1"], 4),
                "any_f1": round(crossed["any_f1"], 4),
                "loaded_language_f1": round(loaded, 4) if loaded is not None else None,
            },
            _row(name, metrics, "at_0.5") | {"system": "model_at_0.5"},
        ],
    }


def main(argv: list[str] | None = None) -> None:
    """Parse ``--run CONFIG [KEY=VALUE …]`` groups and run each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", nargs="+", action="append", required=True, metavar="CONFIG [KEY=VALUE]")
    parser.add_argument("--set", dest="common", action="append", default=[], help="override applied to every run")
    parser.add_argument("--out-dir", type=Path, default=Path("reports/bench-quality"))
    parser.add_argument(
        "--ensemble",
        type=int,
        nargs="+",
        metavar="RUN",
        help="1-based numbers of techniques or spans runs to average after the runs "
        "(the first one's dataset sets the units)",
    )
    args = parser.parse_args(argv)
    if args.ensemble and (len(args.ensemble) < 2 or not all(1 <= i <= len(args.run) for i in args.ensemble)):
        parser.error(f"--ensemble takes two or more run numbers between 1 and {len(args.run)}")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for config_path, *overrides in args.run:
        results.append(run(config_path, overrides, args.out_dir, args.common))
        (args.out_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(json.dumps(results[-1]), flush=True)
    if args.ensemble:
        results.append(ensemble(results, args.ensemble, args.out_dir))
        (args.out_dir / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
        print(json.dumps(results[-1]), flush=True)
    lines = [
        "| run | system | micro-F1 | macro-F1 | any F1 | Loaded_Language F1 | train s | peak MB | score units/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    spans = [
        "| run | system | SI P | SI R | SI F1 | label-aware span F1 | TC micro-F1 "
        "| train s | peak MB | score units/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for row in r["rows"]:
            if "si_f1" in row:
                extra = (
                    (r["train_wall_seconds"], r["peak_memory_mb"], r["score_units_per_second"])
                    if row["system"] == "model"
                    else ("", "", "")
                )
                cells = [
                    row["run"],
                    row["system"],
                    row["si_precision"],
                    row["si_recall"],
                    row["si_f1"],
                    row["labelled_span_f1"],
                    row["tc_micro_f1"],
                    *extra,
                ]
                spans.append("| " + " | ".join("–" if c is None else str(c) for c in cells) + " |")
                continue
            if row["system"] != "model":
                extra = ("", "", "")
            elif "build_wall_seconds" in r:
                extra = (f"{r['build_wall_seconds']} (build)", r["peak_memory_mb"], "")
            else:
                extra = (r["train_wall_seconds"], r["peak_memory_mb"], r["score_units_per_second"])
            cells = [
                row["run"],
                row["system"],
                row["micro_f1"],
                row["macro_f1"],
                row["any_f1"],
                row["loaded_language_f1"],
                *extra,
            ]
            lines.append("| " + " | ".join("–" if c is None else str(c) for c in cells) + " |")
    table = "\n".join(lines if len(lines) > 2 else []) + ("\n\n" + "\n".join(spans) if len(spans) > 2 else "")
    (args.out_dir / "results.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
