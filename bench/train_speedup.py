"""Side-by-side training runs of one config: examples/s, wall time, peak memory and dev F1 of each variant.

Each variant is a full ``framelab train`` (a fresh process, one after another,
nothing else should run), so the figures include tokenising, any cache pass,
every evaluation and writing the folder. The CPU's relevant flags and the load
average around each run are recorded with the figures, since machines differ.

    python bench/train_speedup.py --config configs/semeval2023-lines.yaml \\
        --variant fp32= --variant fast=train.mixed_precision=bf16,train.freeze_layers=3 --out bench-out/speedup
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "avx512_vnni")


def cpu_description() -> dict:
    """The CPU model, the flags that decide bf16 and int8 speed, and the usable cores."""
    info = Path("/proc/cpuinfo").read_text(encoding="utf-8") if Path("/proc/cpuinfo").is_file() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    flags = set(re.search(r"^flags\s*:\s*(.+)$", info, re.M).group(1).split()) if "flags" in info else set()
    return {
        "model": model.group(1) if model else platform.processor(),
        "flags": [f for f in FLAGS if f in flags],
        "cores": len(os.sched_getaffinity(0)),
    }


def run_variant(config: str, name: str, overrides: list[str], out: Path) -> dict:
    """One ``framelab train`` under ``/usr/bin/time -v``; its dev figures and costs."""
    model_dir = out / name
    command = [sys.executable, "-m", "framelab", "-q", "train", "--config", config, "--set", f"output_dir={model_dir}"]
    for override in overrides:
        command += ["--set", override]
    load_before = os.getloadavg()
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    wall = time.perf_counter() - started
    (out / f"{name}.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        raise SystemExit(f"variant {name} failed (exit {done.returncode}); see {out / f'{name}.log'}")
    rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    metrics = json.loads((model_dir / "dev_metrics.json").read_text(encoding="utf-8"))
    tuned = metrics.get("at_tuned_thresholds", {})
    return {
        "variant": name,
        "overrides": overrides,
        "wall_s": round(wall, 1),
        "train_s": metrics["train_runtime_seconds"],
        "train_examples_per_s": metrics["train_samples_per_second"],
        "peak_rss_gib": round(rss_kib / 2**20, 2),
        "dev_micro_f1_tuned": tuned.get("micro", {}).get("f1"),
        "dev_macro_f1_tuned": tuned.get("macro", {}).get("f1"),
        "dev_micro_f1_at_0.5": metrics.get("at_0.5", {}).get("micro", {}).get("f1"),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument(
        "--variant",
        action="append",
        required=True,
        metavar="NAME=KEY=VALUE,…",
        help="a name, then comma-separated overrides (empty: the config as it is)",
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in args.variant:
        name, _, overrides = spec.partition("=")
        rows.append(run_variant(args.config, name, [o for o in overrides.split(",") if o], args.out))
        print(json.dumps(rows[-1]), flush=True)
    reference = rows[0]
    for row in rows:
        row["speed_vs_first"] = round(row["train_examples_per_s"] / reference["train_examples_per_s"], 2)
        if row["dev_micro_f1_tuned"] is not None and reference["dev_micro_f1_tuned"] is not None:
            row["dev_micro_f1_vs_first"] = round(row["dev_micro_f1_tuned"] - reference["dev_micro_f1_tuned"], 4)
    result = {"config": args.config, "cpu": cpu_description(), "runs": rows}
    (args.out / "speedup.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
