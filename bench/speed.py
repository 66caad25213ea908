"""Scoring, training and data-preparation throughput of framelab, side by side (a benchmark, not a test).

One run on one machine measures:

a. scoring: ``framelab.score.scorer.score`` on a folder of generated articles
   (reading, sentence splitting, tokenising, forward pass, writing JSONL)
   against the plain Transformers ``pipeline("text-classification")`` called
   on the same units one at a time, and against the bare forward pass on
   pre-tokenised, length-sorted, pre-padded batches under
   ``torch.inference_mode`` (the ceiling); units/s, articles/s, ratios and
   the peak memory of each. ``Predictor.probabilities`` alone on pre-split
   units (one call per scorer chunk) is timed too, which separates the model
   path from sentence splitting and writing;
b. ``--quantize int8``: int8 scoring throughput against fp32, and the dev
   micro-F1 of both;
c. training examples/s with dynamic, length-grouped padding (the default)
   against ``train.pad_to_max_length=true``;
d. data preparation (``framelab.dataset.build_dataset``) articles/s on the
   sample corpus and, where ``../shared/data/semeval2023-en`` exists, on
   SemEval-2023 sentences;
e. streaming memory: peak memory of scoring a small and a large folder, and
   the largest sum of the memory private to the sentence-splitting workers
   (sampled with the scoring process's own).

Every measurement runs in its own process (``bench/speed_worker.py``), so
peak memory figures do not mix. The scoring variants of (a) and (b) are kept
loaded, warmed up, and timed in interleaved rounds (``--repeats``); the
median round is reported with the spread, and the ratios that matter are also
taken round by round from runs made back to back. The machine's load average is
recorded before and after: on a shared machine the absolute figures move
with the load, the ratios much less.

Without ``--model`` the scoring model is the one trained by the dynamic-padding
run of (c) (``--train-epochs``, default half an epoch): fine for throughput,
not for F1. For a meaningful int8 F1 comparison pass a trained model, e.g.
``--model models/sample-techniques`` after ``make demo``.

Example::

    .venv/bin/python bench/speed.py --out-md reports/speed.md --out-json reports/speed.json
    .venv/bin/python bench/speed.py --articles 20 --repeats 1 --train-epochs 0.1 \\
        --stream-small 10 --stream-large 40 --sections score,int8   # a quick try
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from speed_articles import write_articles  # noqa: E402
from speed_worker import PREFIX  # noqa: E402

SECTIONS = ("data", "train", "score", "int8", "stream")
MIB = 1024 * 1024
#: Versions and thread count, as the last worker reported them.
WORKER_ENV: dict = {}


# ---------------------------------------------------------------- workers


class WorkerError(RuntimeError):
    pass


class Worker:
    """One ``speed_worker.py`` process; results come back as ``@@speed`` lines."""

    def __init__(self, job: str, args: dict, log_dir: Path, name: str | None = None):
        self.name = name or job
        self.log_path = log_dir / f"{self.name}.log"
        self.log = self.log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "speed_worker.py"), job, json.dumps(args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=REPO,
            env=_worker_env(),
        )

    def read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(PREFIX):
                result = json.loads(line[len(PREFIX) :])
                WORKER_ENV.update(result.get("env") or {})
                return result
            self.log.write(line)
        self.proc.wait()
        self.log.flush()
        tail = "".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[-25:])
        raise WorkerError(
            f"worker {self.name} ended (exit {self.proc.returncode}) without a result; log {self.log_path}:\n{tail}"
        )

    def send(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _worker_env() -> dict:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("HF_EVALUATE_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("PYTHONWARNINGS", "ignore")
    return env


def one_shot(job: str, args: dict, log_dir: Path, name: str) -> dict:
    worker = Worker(job, args, log_dir, name)
    try:
        return worker.read()
    finally:
        worker.close()


#: (seconds since start, 1-minute load average, what started then), one entry per log line.
LOAD_TIMELINE: list[tuple[float, float, str]] = []
_STARTED = time.perf_counter()


def log(message: str) -> None:
    load = load_average()
    LOAD_TIMELINE.append((round(time.perf_counter() - _STARTED, 1), load[0] if load else -1.0, message))
    print(f"[speed {time.strftime('%H:%M:%S')} load {load[0] if load else '?'}] {message}", file=sys.stderr, flush=True)


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ---------------------------------------------------------------- sections


def run_data(a, tmp: Path, logs: Path, results: dict) -> Path:
    """Section d; returns the sample dataset folder (also needed by c and b)."""
    sample_dir = tmp / "datasets" / "sample-sentence"
    rows = []
    jobs = [("sample corpus, sentences", a.train_config, sample_dir)]
    semeval = REPO / a.semeval_config
    if "data" in a.sections and semeval.is_file():
        jobs.append(("SemEval-2023 en, sentences", a.semeval_config, tmp / "datasets" / "semeval2023-sentences"))
    for title, config, out in jobs:
        log(f"data: building {title} ({config}) ...")
        try:
            r = one_shot("data", {"config": config, "overrides": [f"data.output_dir={out}"]}, logs, f"data-{out.name}")
        except WorkerError as exc:
            if out == sample_dir:
                raise
            log(f"data: {title} skipped: {str(exc).splitlines()[0]}")
            rows.append({"corpus": title, "config": config, "skipped": "corpus not found or unreadable"})
            continue
        r.update(corpus=title, config=config, articles_per_second=r["articles"] / r["seconds"])
        rows.append(r)
    if "data" in a.sections and not semeval.is_file():
        rows.append({"corpus": "SemEval-2023 en, sentences", "config": a.semeval_config, "skipped": "config not found"})
    if "data" in a.sections:
        results["data"] = rows
    return sample_dir


def run_train(a, tmp: Path, logs: Path, dataset: Path, results: dict) -> Path:
    """Section c; returns the dynamic-padding model folder."""
    base = [
        f"train.epochs={a.train_epochs}",
        f"data.output_dir={dataset}",
        f"model.max_length={a.max_length}",
        *a.train_set,
    ]
    rows = {}
    variants = [("dynamic", [])]
    if "train" in a.sections:
        variants.append(("max_length", ["train.pad_to_max_length=true"]))
    for name, extra in variants:
        overrides = [*base, f"output_dir={tmp / 'models' / ('speed-' + name)}", *extra]
        log(f"train: {name} padding, {a.train_epochs} epoch(s) ...")
        rows[name] = one_shot("train", {"config": a.train_config, "overrides": overrides}, logs, f"train-{name}")
        rows[name]["overrides"] = overrides
    if "train" in a.sections:
        results["train"] = {
            "config": a.train_config,
            "epochs": a.train_epochs,
            "max_length": a.max_length,
            "variants": rows,
            "speedup_trainer": rows["dynamic"]["train_examples_per_second"]
            / rows["max_length"]["train_examples_per_second"],
            "speedup_steps": rows["dynamic"]["step_examples_per_second"]
            / rows["max_length"]["step_examples_per_second"],
        }
    return Path(rows["dynamic"]["model_dir"])


def _summary(runs: list[dict]) -> dict:
    seconds = [r["seconds"] for r in runs]
    median = statistics.median(seconds)
    units, articles = runs[0]["units"], runs[0]["articles"]
    return {
        "units": units,
        "articles": articles,
        "runs_seconds": [round(s, 3) for s in seconds],
        "runs_cpu_seconds": [round(r["cpu_seconds"], 3) for r in runs],
        "cpu_per_wall": [r["cpu_seconds"] / r.get("call_seconds", r["seconds"]) for r in runs],
        "median_seconds": median,
        "units_per_second": units / median,
        "articles_per_second": articles / median,
        "best_units_per_second": units / min(seconds),
    }


#: Ratios taken round by round from runs made back to back (numerator, denominator).
PAIRS = (("framelab", "bare"), ("framelab", "pipeline"), ("predictor", "bare"))


def _round_order(names: list[str]) -> list[str]:
    """One round's order: framelab between the bare forward pass and the pipeline, the ``Predictor`` beside the
    bare pass.

    Throughput on a shared machine drifts by 10–20% over tens of seconds, so a
    ratio is steadier taken from two runs made back to back than from medians
    of runs made far apart.
    """
    preferred = ["predictor", "bare", "framelab", "pipeline", "framelab_int8", "predictor_int8"]
    return [n for n in preferred if n in names] + [n for n in names if n not in preferred]


def _paired_ratios(numerator: list[dict], denominator: list[dict]) -> dict:
    """Per-round throughput ratios of two variants timed back to back, and their median."""
    ratios = [(d["seconds"] / d["units"]) / (n["seconds"] / n["units"]) for n, d in zip(numerator, denominator)]
    return {"ratios": [round(r, 4) for r in ratios], "median": statistics.median(ratios)}


def run_scoring(a, tmp: Path, logs: Path, model: Path, results: dict) -> None:
    """Sections a and b (throughput): interleaved rounds over loaded, warmed-up workers."""
    folder = write_articles(tmp / f"articles-{a.articles}", a.articles, seed=a.seed)
    warmup = write_articles(tmp / "articles-warmup", 8, seed=a.seed + 1)
    out = tmp / "scored"
    out.mkdir(exist_ok=True)
    common = {"model": str(model), "input": str(folder), "batch_size": a.batch_size, "chunk_articles": a.chunk_articles}
    specs = []
    if "score" in a.sections:
        specs += [
            ("framelab", "serve-framelab", {**common, "warmup": str(warmup), "out": str(out / "framelab.jsonl")}),
            ("predictor", "serve-predictor", common),
            ("pipeline", "serve-pipeline", common),
            ("bare", "serve-bare", common),
        ]
    if "int8" in a.sections and a.quantize == "int8":
        if "score" not in a.sections:
            specs.append(
                ("framelab", "serve-framelab", {**common, "warmup": str(warmup), "out": str(out / "framelab.jsonl")})
            )
            specs.append(("predictor", "serve-predictor", common))
        specs.append(
            (
                "framelab_int8",
                "serve-framelab",
                {**common, "warmup": str(warmup), "out": str(out / "int8.jsonl"), "quantize": "int8"},
            )
        )
        specs.append(("predictor_int8", "serve-predictor", {**common, "quantize": "int8"}))
    if not specs:
        return
    workers: dict[str, Worker] = {}
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in specs}
    peaks: dict[str, int] = {}
    env = {}
    try:
        for name, job, args in specs:
            log(f"score: loading and warming up {name} ...")
            workers[name] = Worker(job, args, logs, f"score-{name}")
            env = workers[name].read()["env"]
        order = _round_order([name for name, _, _ in specs])
        for r in range(a.repeats):
            # Alternating the direction cancels a steady drift of the machine's speed;
            # framelab runs right beside each variant it is compared with.
            for name in order if r % 2 == 0 else order[::-1]:
                result = workers[name].send("run")
                runs[name].append(result)
                log(f"score: round {r + 1}/{a.repeats} {name}: {result['units'] / result['seconds']:.0f} units/s")
        for name, worker in workers.items():
            peaks[name] = worker.send("quit")["peak_rss_bytes"]
    finally:
        for worker in workers.values():
            worker.close()
    table = {name: {**_summary(runs[name]), "peak_rss_bytes": peaks[name]} for name in runs}
    section = {
        "model": str(model),
        "generated_articles": a.articles,
        "repeats": a.repeats,
        "batch_size": a.batch_size,
        "chunk_articles": a.chunk_articles,
        "variants": table,
        "env": env,
    }
    section["paired"] = {f"{x}/{y}": _paired_ratios(runs[x], runs[y]) for x, y in PAIRS if x in runs and y in runs}
    if "score" in a.sections:
        f, p, b = table["framelab"], table["pipeline"], table["bare"]
        section["framelab_vs_pipeline"] = f["units_per_second"] / p["units_per_second"]
        section["framelab_vs_bare"] = f["units_per_second"] / b["units_per_second"]
        section["pipeline_vs_bare"] = p["units_per_second"] / b["units_per_second"]
        section["predictor_vs_bare"] = table["predictor"]["units_per_second"] / b["units_per_second"]
        log("score: checking that the three paths give the same probabilities ...")
        section["check"] = one_shot("check", {**common, "jsonl": str(out / "framelab.jsonl")}, logs, "check")
    if "framelab_int8" in table:
        section["int8_vs_fp32"] = table["framelab_int8"]["units_per_second"] / table["framelab"]["units_per_second"]
        if "predictor" in table:
            section["int8_vs_fp32_predictor"] = (
                table["predictor_int8"]["units_per_second"] / table["predictor"]["units_per_second"]
            )
    results["score"] = section


def run_f1(a, tmp: Path, logs: Path, model: Path, sample_dataset: Path, results: dict) -> None:
    dataset = Path(a.dataset) if a.dataset else None
    if dataset is None:
        try:
            recorded = json.loads((model / "framelab.json").read_text(encoding="utf-8")).get("extra", {}).get("dataset")
        except (OSError, ValueError):
            recorded = None
        dataset = Path(recorded) if recorded and (REPO / recorded / "labels.json").is_file() else sample_dataset
    log(f"int8: dev micro-F1 of fp32 and int8 on {dataset} ...")
    r = one_shot(
        "f1",
        {"model": str(model), "dataset": str(dataset), "report_dir": str(tmp / "reports" / "fp32-dev")},
        logs,
        "f1",
    )
    r["dataset"] = str(dataset)
    results.setdefault("score", {})["f1"] = r


def run_stream(a, tmp: Path, logs: Path, model: Path, results: dict) -> None:
    rows = []
    rate = results.get("score", {}).get("variants", {}).get("framelab", {}).get("units_per_second")
    for n in (a.stream_small, a.stream_large):
        folder = write_articles(tmp / f"stream-{n}", n, seed=a.seed + 2)
        guess = f" (about {n * 14 / rate:.0f} s at the {rate:.0f} units/s measured above)" if rate else ""
        log(f"stream: scoring {n} articles in a fresh process{guess} ...")
        args = {
            "model": str(model),
            "input": str(folder),
            "out": str(tmp / f"stream-{n}.jsonl"),
            "batch_size": a.batch_size,
            "chunk_articles": a.chunk_articles,
        }
        r = one_shot("stream", args, logs, f"stream-{n}")
        (tmp / f"stream-{n}.jsonl").unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        rows.append(r)
    results["stream"] = {
        "runs": rows,
        "peak_rss_ratio": rows[1]["peak_rss_bytes"] / rows[0]["peak_rss_bytes"],
        "articles_ratio": a.stream_large / a.stream_small,
    }


# ---------------------------------------------------------------- report


def _mib(b: int | None) -> str:
    return f"{b / MIB:.0f}" if b else "–"


def _load_range(m: dict) -> str:
    loads = [x[1] for x in m.get("load_timeline", []) if x[1] >= 0]
    return f"{min(loads):.2f}–{max(loads):.2f}" if loads else "not available"


def _cores(v: dict) -> str:
    ratios = v.get("cpu_per_wall") or []
    return f"{statistics.median(ratios):.2f}" if ratios else "–"


def _trace_points(trace: list | None) -> str:
    """Resident memory at 10%, 50% and 90% of a run's samples."""
    if not trace:
        return "–"
    return " / ".join(_mib(trace[min(len(trace) - 1, int(f * len(trace)))][1]) for f in (0.1, 0.5, 0.9))


def _runs(v: dict) -> str:
    return ", ".join(f"{s:.1f}" for s in v["runs_seconds"])


def markdown(results: dict) -> str:
    m = results["meta"]
    lines = [
        f"Run {m['started']} on {m['cpu']} ({m['usable_cpus']} usable CPUs, torch {m.get('torch', '?')} with "
        f"{m.get('torch_threads', '?')} threads, transformers {m.get('transformers', '?')}); "
        f"{m['wall_seconds'] / 60:.1f} min in all.",
        f"Load average (1, 5, 15 min) before: {', '.join(map(str, m['load_before']))}; "
        f"after: {', '.join(map(str, m['load_after']))}. "
        f"1-minute load average seen during the run: {_load_range(m)}. "
        "On a shared machine absolute figures move with the load; "
        "ratios of interleaved runs move much less.",
        "",
        f"Command: `{m['command']}`",
        "",
    ]
    s = results.get("score")
    if s and "variants" in s:
        v = s["variants"]
        chunks = str(s["chunk_articles"]) + "-article chunks" if s.get("chunk_articles") else "scorer default chunk"
        lines += [
            f"### Scoring ({s['generated_articles']} generated articles, "
            f"{next(iter(v.values()))['units']} sentence units; "
            f"batch size {s['batch_size']}; "
            f"{chunks}; "
            f"median of {s['repeats']} interleaved runs)",
            "",
            "| variant | units/s | articles/s | vs pipeline | vs bare forward | peak RSS (MiB) "
            "| runs (s) | CPU s / wall s |",
            "|---|---:|---:|---:|---:|---:|---|---:|",
        ]
        titles = {
            "framelab": "framelab `score()` fp32 (read, split, tokenise, forward, write JSONL)",
            "framelab_int8": 'framelab `score()` int8 (`quantize="int8"`)',
            "predictor": "`Predictor.probabilities` fp32 alone, on pre-split units, one call per scorer chunk",
            "predictor_int8": "`Predictor.probabilities` int8 alone, on pre-split units, one call per scorer chunk",
            "pipeline": "Transformers `pipeline`, one unit per call",
            "bare": "bare forward, pre-tokenised length-sorted batches (ceiling)",
        }
        pipe = v.get("pipeline", {}).get("units_per_second")
        bare = v.get("bare", {}).get("units_per_second")
        for name in ("framelab", "framelab_int8", "predictor", "predictor_int8", "pipeline", "bare"):
            if name not in v:
                continue
            x = v[name]
            vs_p = f"{x['units_per_second'] / pipe:.2f}×" if pipe else "–"
            vs_b = f"{x['units_per_second'] / bare:.2f}" if bare else "–"
            lines.append(
                f"| {titles[name]} | {x['units_per_second']:.0f} | {x['articles_per_second']:.1f} | {vs_p} | {vs_b} "
                f"| {_mib(x['peak_rss_bytes'])} | {_runs(x)} | {_cores(x)} |"
            )
        paired = s.get("paired") or {}
        if paired:
            lines += [
                "",
                "Ratios of runs made back to back, round by round (the order alternates direction each round): "
                + "; ".join(
                    f"{key.replace('/', ' / ')} median **{p['median']:.2f}** "
                    f"({', '.join(f'{r:.2f}' for r in p['ratios'])})"
                    for key, p in paired.items()
                )
                + ".",
            ]
        if "int8_vs_fp32" in s:
            alone = f"; `Predictor` alone: {s['int8_vs_fp32_predictor']:.2f}×" if "int8_vs_fp32_predictor" in s else ""
            lines += ["", f"int8 / fp32 throughput: `score()` **{s['int8_vs_fp32']:.2f}×**{alone}."]
        c = s.get("check")
        if c:
            jsonl = c["max_abs_diff_jsonl_vs_framelab"]
            lines += [
                "",
                f"Same outputs: max |Δp| framelab vs bare forward {c['max_abs_diff_framelab_vs_bare']:.1e} "
                f"over {c['units']} units; "
                f"vs pipeline {c['max_abs_diff_framelab_vs_pipeline']:.1e} "
                f"over the first {c['pipeline_units_compared']}; "
                f"written JSONL (4 decimals) vs `Predictor` {jsonl:.1e}."
                if jsonl is not None
                else "written JSONL: unit count differs!",
            ]
        f1 = s.get("f1")
        if f1:
            lines += [
                "",
                f"Dev micro-F1 on {f1['dataset']} ({f1['dev_examples']} units): fp32 {f1['fp32_micro_f1']:.3f} "
                f"(`evaluate_model`: {f1['fp32_micro_f1_evaluate_model']:.3f}), int8 {f1['int8_micro_f1']:.3f}; "
                f"{100 * f1['decision_agreement']:.2f}% of unit×label decisions agree; "
                f"max |Δp| int8 vs fp32 {f1['max_abs_prob_diff_int8_vs_fp32']:.3f}.",
            ]
        lines.append("")
    t = results.get("train")
    if t:
        lines += [
            f"### Training ({t['config']}, {t['epochs']} epoch(s), model.max_length {t['max_length']})",
            "",
            "| padding | examples/s (Trainer) | examples/s (optimisation steps only) | steps | train seconds "
            "| peak RSS (MiB) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, title in (
            ("dynamic", "dynamic, length-grouped (default)"),
            ("max_length", "`train.pad_to_max_length=true`"),
        ):
            r = t["variants"][name]
            lines.append(
                f"| {title} | {r['train_examples_per_second']:.2f} | {r['step_examples_per_second']:.2f} "
                f"| {r['steps']} | {r['train_seconds']:.1f} | {_mib(r['peak_rss_bytes'])} |"
            )
        lines += [
            "",
            f"Dynamic / max-length padding: **{t['speedup_trainer']:.2f}×** "
            "(Trainer figure, which includes the epoch-end evaluation and checkpoint), "
            f"{t['speedup_steps']:.2f}× on optimisation steps alone.",
            "",
        ]
    d = results.get("data")
    if d:
        lines += [
            "### Data preparation (`build_dataset`)",
            "",
            "| corpus | articles | units | seconds | articles/s |",
            "|---|---:|---:|---:|---:|",
        ]
        for r in d:
            if "skipped" in r:
                lines.append(f"| {r['corpus']} ({r['config']}) | skipped: {r['skipped']} | | | |")
            else:
                lines.append(
                    f"| {r['corpus']} ({r['config']}) | {r['articles']} | {r['units']} | {r['seconds']:.1f} "
                    f"| {r['articles_per_second']:.1f} |"
                )
        lines.append("")
    st = results.get("stream")
    if st:
        lines += [
            "### Streaming memory (`score()` in a fresh process each)",
            "",
            "| articles | units | peak RSS (MiB) | RSS at 10% / 50% / 90% of the run (MiB) "
            "| splitting workers, private (MiB) | seconds | units/s |",
            "|---:|---:|---:|---|---:|---:|---:|",
        ]
        for r in st["runs"]:
            lines.append(
                f"| {r['articles']} | {r['units']} | {_mib(r['peak_rss_bytes'])} "
                f"| {_trace_points(r.get('rss_trace'))} | "
                f"{_mib(r.get('workers_private_peak_bytes'))} | {r['seconds']:.1f} | {r['units'] / r['seconds']:.0f} |"
            )
        lines += [
            "",
            f"{st['articles_ratio']:.0f}× the articles, **{st['peak_rss_ratio']:.3f}×** the peak memory.",
            "",
        ]
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument(
        "--model",
        help="model folder to score with "
        "(default: the model trained by the dynamic-padding run of the training section)",
    )
    p.add_argument(
        "--dataset",
        help="dataset folder for the int8 F1 comparison "
        "(default: the model's own dataset if present, else the sample dataset)",
    )
    p.add_argument(
        "--articles",
        type=int,
        default=100,
        help="generated articles for the scoring comparison (default 100, about 1,500 units)",
    )
    p.add_argument(
        "--repeats", type=int, default=3, help="interleaved timed runs per scoring variant, after a warm-up (default 3)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="scoring batch size of framelab and the bare forward pass (default 64, framelab's)",
    )
    p.add_argument(
        "--chunk-articles",
        type=int,
        help="articles per scoring chunk passed to score() (default: the scorer's own default)",
    )
    p.add_argument(
        "--quantize",
        choices=("int8", "none"),
        default="int8",
        help="also time int8 scoring and compare its F1 (default int8)",
    )
    p.add_argument(
        "--train-config",
        default="configs/sample-techniques.yaml",
        help="training run config (default configs/sample-techniques.yaml)",
    )
    p.add_argument("--train-epochs", type=float, default=0.5, help="epochs of each training run (default 0.5)")
    p.add_argument(
        "--train-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra config override for both training runs (repeatable)",
    )
    p.add_argument("--max-length", type=int, default=128, help="model.max_length of the training runs (default 128)")
    p.add_argument(
        "--semeval-config",
        default="configs/semeval2023-sentences.yaml",
        help="second data-preparation corpus, skipped when its data is missing",
    )
    p.add_argument("--stream-small", type=int, default=100, help="articles of the small streaming run (default 100)")
    p.add_argument(
        "--stream-large",
        type=int,
        default=1000,
        help="articles of the large streaming run (default 1000; the issue's figure is 10000)",
    )
    p.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)} (default all)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the generated articles")
    p.add_argument("--out-md", help="write the markdown tables here")
    p.add_argument("--out-json", help="write every figure here as JSON")
    p.add_argument("--keep-tmp", action="store_true", help="keep the temporary folder (models, datasets, worker logs)")
    a = p.parse_args(argv)
    a.sections = [s.strip() for s in a.sections.split(",") if s.strip()]
    unknown = set(a.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    if a.chunk_articles is not None and a.chunk_articles < 1:
        p.error("--chunk-articles must be at least 1")
    if a.stream_small >= a.stream_large:
        p.error("--stream-small must be below --stream-large")
    for name in ("articles", "repeats", "batch_size", "stream_small"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    out_md = Path(a.out_md).resolve() if a.out_md else None
    out_json = Path(a.out_json).resolve() if a.out_json else None
    if a.model:
        a.model = str(Path(a.model).resolve())
        if not (Path(a.model) / "framelab.json").is_file():
            raise SystemExit(f"--model {a.model}: not a framelab model folder (no framelab.json)")
    if a.dataset:
        a.dataset = str(Path(a.dataset).resolve())
    os.chdir(REPO)  # configs name their corpora relative to the repository
    started = time.perf_counter()
    results: dict = {
        "meta": {
            "started": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(
                shlex.quote(x)
                for x in [Path(sys.executable).name, "bench/speed.py", *(sys.argv[1:] if argv is None else argv)]
            ),
            "cpu": cpu_model(),
            "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "load_before": load_average(),
            "sections": a.sections,
        }
    }
    log(f"load average before: {results['meta']['load_before']}")
    tmp = Path(tempfile.mkdtemp(prefix="framelab-speed-"))
    logs = tmp / "logs"
    logs.mkdir()
    try:
        needs_dataset = bool({"data", "train"} & set(a.sections)) or not a.model
        sample_dataset = run_data(a, tmp, logs, results) if needs_dataset or "int8" in a.sections else None
        model = Path(a.model) if a.model else None
        if "train" in a.sections or model is None:
            trained = run_train(a, tmp, logs, sample_dataset, results)
            model = model or trained
        results["meta"]["model"] = str(model)
        run_scoring(a, tmp, logs, model, results)
        if "int8" in a.sections and a.quantize == "int8":
            run_f1(a, tmp, logs, model, sample_dataset, results)
        if "stream" in a.sections:
            run_stream(a, tmp, logs, model, results)
    except WorkerError as exc:
        print(f"speed.py: {exc}", file=sys.stderr)
        print(f"speed.py: temporary folder kept: {tmp}", file=sys.stderr)
        return 1
    else:
        if not a.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"temporary folder kept: {tmp}")
    results["meta"].update(WORKER_ENV)
    results["meta"]["load_timeline"] = LOAD_TIMELINE
    results["meta"]["load_after"] = load_average()
    results["meta"]["wall_seconds"] = time.perf_counter() - started
    log(f"load average after: {results['meta']['load_after']}")
    text = markdown(results)
    print(text)
    if out_md:
        out_md.parent.mkdir(parents=True, exist_ok=True)
        out_md.write_text(text + "\n", encoding="utf-8")
    if out_json:
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
