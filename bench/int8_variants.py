"""Which layers to quantise for ``--quantize int8``: dev micro-F1 and speed of each choice (a benchmark, not a test).

One process loads a trained model once and, for each variant, quantises a copy
of the fp32 model with ``torch.ao.quantization.quantize_dynamic`` and puts it
in a ``framelab.models.predictor.Predictor``. For each variant it reports, on the dev
split of the model's dataset: micro-F1 at the model's thresholds, how many
unit×label decisions differ from fp32 and the largest probability change;
and, on generated articles (``bench/speed_articles.py``), the throughput of
``Predictor.probabilities`` on pre-split units, one call per 128 articles as
the scorer makes, timed in interleaved rounds with fp32 so a change in machine
load hits every variant alike. Speed against fp32 is given three ways: median
wall time of ``--repeats`` rounds, fastest round (the least disturbed by other
jobs), and median CPU seconds (all threads) per pass.

Variants:

- ``fp32``: no quantisation;
- ``current``: ``Predictor(quantize="int8")`` as it stands in ``framelab/models/predictor.py``;
- ``all``: every ``nn.Linear`` (the classification head and pooler included);
- ``all-perchannel``: as ``all`` with per-channel weight scales
  (``per_channel_dynamic_qconfig``);
- ``base``: only the Linear layers of the encoder (``model.base_model``
  without its pooler), head and pooler in fp32;
- ``base-perchannel``: as ``base`` with per-channel weight scales
  (``per_channel_dynamic_qconfig``);
- ``base-skip-first-last``: as ``base`` with the first and last encoder
  blocks kept in fp32;
- ``base-no-ffn-out``: as ``base`` with each block's FFN output projection
  (the layer fed by the GELU, whose inputs have the widest range) kept in fp32;
- ``base-perchannel-no-ffn-out``: both;
- ``base-perchannel-skip-first``, ``-skip-last``, ``-skip-first-last``:
  per-channel with the first, last, or both encoder blocks in fp32.

``--split train`` scores the (larger) training split instead, a steadier
measure of how far int8 decisions drift from fp32 than the small dev split.

    .venv/bin/python bench/int8_variants.py --model models/sample-techniques --articles 60 --repeats 3
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from speed_articles import write_articles  # noqa: E402

from framelab.eval.scores import multilabel_scores  # noqa: E402
from framelab.models.predictor import Predictor  # noqa: E402
from framelab.score.inputs import iter_articles  # noqa: E402
from framelab.splits import load_task_split  # noqa: E402
from framelab.units import split_units  # noqa: E402


def encoder_linears(model: torch.nn.Module) -> list[str]:
    """Names (in ``model``) of the Linear layers of its base model, pooler excluded."""
    prefix = model.base_model_prefix
    return [
        f"{prefix}.{name}"
        for name, module in model.base_model.named_modules()
        if isinstance(module, torch.nn.Linear) and not name.startswith("pooler")
    ]


def _block(name: str) -> int | None:
    m = re.search(r"\.layers?\.(\d+)\.", name)
    return int(m.group(1)) if m else None


def variant(name: str, fp32: torch.nn.Module) -> torch.nn.Module | None:
    """A quantised copy of ``fp32`` for variant ``name`` (None: use fp32 or framelab's own int8)."""
    if name in ("fp32", "current"):
        return None
    model = copy.deepcopy(fp32)
    qconfig = per_channel_dynamic_qconfig if "perchannel" in name else default_dynamic_qconfig
    if name.startswith("all"):
        return quantize_dynamic(model, {torch.nn.Linear: qconfig}, dtype=torch.qint8)
    names = encoder_linears(model)
    blocks = [b for b in map(_block, names) if b is not None]
    skip = {min(blocks)} if "skip-first" in name else set()
    skip |= {max(blocks)} if re.search(r"skip-(first-)?last", name) else set()
    names = [n for n in names if _block(n) not in skip]
    if "no-ffn-out" in name:
        names = [n for n in names if not re.search(r"\.output\.dense$", n) or "attention" in n]
    return quantize_dynamic(model, {n: qconfig for n in names}, dtype=torch.qint8)


VARIANTS = (
    "fp32",
    "current",
    "all",
    "all-perchannel",
    "base",
    "base-perchannel",
    "base-skip-first-last",
    "base-no-ffn-out",
    "base-perchannel-no-ffn-out",
    "base-perchannel-skip-first",
    "base-perchannel-skip-last",
    "base-perchannel-skip-first-last",
)


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True)
    p.add_argument("--dataset", help="dataset folder (default: the model's own)")
    p.add_argument("--articles", type=int, default=60, help="generated articles for the timing (default 60)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--split", default="dev", help="split for F1 and agreement (default dev)")
    p.add_argument("--no-timing", action="store_true", help="dev F1 only")
    p.add_argument("--out-json")
    a = p.parse_args(argv)
    names = [v for v in a.variants.split(",") if v]
    if "fp32" not in names:
        names.insert(0, "fp32")
    started, load_before = time.perf_counter(), load_avg()
    print(f"load average before: {load_before}", file=sys.stderr)

    base = Predictor(a.model, batch_size=a.batch_size)
    meta = base.meta
    dataset = Path(a.dataset or meta.extra.get("dataset") or REPO / "data/processed/sample-sentence")
    dataset = dataset if dataset.is_absolute() else REPO / dataset
    dev, labels = load_task_split(dataset, meta.task, a.split, meta.labels)
    fp32_model = base.model

    predictors: dict[str, Predictor] = {}
    for name in names:
        if name == "current":
            predictors[name] = Predictor(a.model, batch_size=a.batch_size, quantize="int8")
            continue
        pred = copy.copy(base)
        q = variant(name, fp32_model)
        pred.model = q if q is not None else fp32_model
        predictors[name] = pred

    rows: dict[str, dict] = {}
    ref_probs = ref_dec = None
    for name, pred in predictors.items():
        probs = pred.probabilities(dev.texts)
        dec = pred.decide(probs)
        scores = multilabel_scores(dec, dev.targets, labels)
        if ref_probs is None:
            ref_probs, ref_dec = probs, dec
        n_quant = sum(
            1 for m in pred.model.modules() if type(m).__name__ == "Linear" and "quantized" in type(m).__module__
        )
        rows[name] = {
            "quantized_linears": n_quant,
            "micro_f1": scores["micro"]["f1"],
            "macro_f1": scores["macro"]["f1"],
            "decisions_differing": int((dec != ref_dec).sum()),
            "max_abs_prob_diff": float(np.abs(probs - ref_probs).max()),
            "mean_abs_prob_diff": float(np.abs(probs - ref_probs).mean()),
        }
        rows[name]["f1_loss"] = rows["fp32"]["micro_f1"] - rows[name]["micro_f1"]
        print(f"{name}: {json.dumps(rows[name])}", file=sys.stderr, flush=True)

    if not a.no_timing:
        tmp = Path(tempfile.mkdtemp(prefix="framelab-int8-"))
        folder = write_articles(tmp / "articles", a.articles, seed=0)
        articles = list(iter_articles([folder]))
        chunks = [
            [u.text for art in articles[i : i + 128] for u in split_units(art, meta.unit)]
            for i in range(0, len(articles), 128)
        ]
        units = sum(map(len, chunks))
        for pred in predictors.values():
            pred.probabilities(chunks[0][:64])
        times: dict[str, list[float]] = {n: [] for n in predictors}
        cpu: dict[str, list[float]] = {n: [] for n in predictors}
        order = list(predictors)
        for r in range(a.repeats):
            for name in order[r % len(order) :] + order[: r % len(order)]:
                t, c = time.perf_counter(), time.process_time()
                for texts in chunks:
                    predictors[name].probabilities(texts)
                times[name].append(time.perf_counter() - t)
                cpu[name].append(time.process_time() - c)
                print(
                    f"round {r + 1} {name}: {units / times[name][-1]:.0f} units/s (load {load_avg()[0]})",
                    file=sys.stderr,
                    flush=True,
                )
        for name in predictors:
            rows[name]["units_per_s"] = units / statistics.median(times[name])
            rows[name]["runs_s"] = [round(x, 2) for x in times[name]]
            rows[name]["cpu_s"] = [round(x, 2) for x in cpu[name]]
            rows[name]["speed_vs_fp32"] = statistics.median(times["fp32"]) / statistics.median(times[name])
            # Fastest round of each: the least disturbed by other jobs on a shared machine.
            rows[name]["best_speed_vs_fp32"] = min(times["fp32"]) / min(times[name])
            # CPU seconds (all threads) per pass: steadier than wall time when other jobs take cores.
            rows[name]["cpu_speed_vs_fp32"] = statistics.median(cpu["fp32"]) / statistics.median(cpu[name])
        rows["_timing"] = {"articles": a.articles, "units": units, "repeats": a.repeats}

    rows["_meta"] = {
        "model": a.model,
        "dataset": str(dataset),
        "split": a.split,
        "split_units": len(dev.texts),
        "split_positive_labels": int(dev.targets.sum()),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "engine": torch.backends.quantized.engine,
        "load_before": load_before,
        "load_after": load_avg(),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(f"load average after: {rows['_meta']['load_after']}", file=sys.stderr)
    print(
        f"| variant | Linear layers int8 | {a.split} micro-F1 | loss vs fp32 | decisions ≠ fp32 | max abs dp | units/s (median) | vs fp32: median | best | CPU s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in predictors:
        r = rows[name]
        speed = (
            f"{r['units_per_s']:.0f} | {r['speed_vs_fp32']:.2f}× | {r['best_speed_vs_fp32']:.2f}× | {r['cpu_speed_vs_fp32']:.2f}×"
            if "units_per_s" in r
            else "– | – | – | –"
        )
        print(
            f"| {name} | {r['quantized_linears']} | {r['micro_f1']:.3f} | {r['f1_loss']:+.3f} | {r['decisions_differing']} | {r['max_abs_prob_diff']:.3f} | {speed} |"
        )
    if a.out_json:
        Path(a.out_json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
