"""The measuring processes of ``bench/speed.py``: one job per process.

Run as ``python bench/speed_worker.py JOB '<JSON arguments>'``. Every job runs
in a fresh interpreter, so the peak resident memory it reports (``VmHWM`` of
``/proc/self/status``: the high-water mark of this process's own address
space, which a fork/exec does not inherit from the parent as ``ru_maxrss``
can) belongs to that job alone.

Results are printed on stdout as lines starting with ``@@speed `` followed by
JSON; anything else on stdout or stderr is library chatter.

Serving jobs (``serve-framelab``, ``serve-predictor``, ``serve-pipeline``, ``serve-bare``) load
their model, warm up, print ``{"ready": ...}`` and then answer commands read
from stdin: ``run`` times one pass over all units, ``quit`` reports the peak
memory and exits. The parent interleaves the passes of all serving jobs, so
a change in machine load hits every variant alike.

One-shot jobs (``data``, ``train``, ``f1``, ``check``, ``stream``) print one
result and exit.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

PREFIX = "@@speed "


def emit(obj: dict) -> None:
    sys.stdout.write(PREFIX + json.dumps(obj) + "\n")
    sys.stdout.flush()


def peak_rss_bytes() -> int:
    """Peak resident memory of this process."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def environment() -> dict:
    import torch
    import transformers

    from framelab.cpus import usable_cpus

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "torch_threads": torch.get_num_threads(),
        "usable_cpus": usable_cpus(),
        "quantized_engine": torch.backends.quantized.engine,
    }


def read_units(folder: str, kind: str) -> tuple[int, list[str]]:
    """Articles of ``folder`` (read as ``framelab score`` reads them) and their unit texts."""
    from framelab.score.inputs import iter_articles
    from framelab.units import split_units

    articles = list(iter_articles([folder]))
    return len(articles), [u.text for a in articles for u in split_units(a, kind)]


def scorer_chunk_default() -> int:
    import inspect

    from framelab.score.scorer import score

    return inspect.signature(score).parameters["chunk_articles"].default


def model_meta(model_dir: str):
    from framelab.models.folder import read_meta

    return read_meta(Path(model_dir))


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


# ---------------------------------------------------------------- serving jobs


class FramelabScoring:
    """``framelab.score.scorer.score`` on the folder, JSONL to a file."""

    def __init__(self, a: dict):
        from framelab.score.scorer import score

        self.score, self.a = score, a
        self.articles, self.units = 0, 0
        self._call(a["warmup"])

    def _call(self, folder: str):
        extra = {"chunk_articles": self.a["chunk_articles"]} if self.a.get("chunk_articles") else {}
        return self.score(
            [self.a["model"]],
            [folder],
            fmt="jsonl",
            out=self.a["out"],
            batch_size=self.a["batch_size"],
            quantize=self.a.get("quantize"),
            progress=False,
            **extra,
        )

    def run(self) -> dict:
        cpu, wall = time.process_time(), time.perf_counter()
        summary = self._call(self.a["input"])
        # summary.seconds: reading, splitting, tokenising, forward and writing;
        # the model load before it is not counted. CPU time (all threads) is
        # taken over the whole call, so it goes with call_seconds.
        return {
            "seconds": summary.seconds,
            "call_seconds": time.perf_counter() - wall,
            "cpu_seconds": time.process_time() - cpu,
            "units": summary.units,
            "articles": summary.articles,
        }


class PipelineScoring:
    """``transformers.pipeline("text-classification")`` called on one unit at a time."""

    def __init__(self, a: dict):
        from transformers import pipeline

        meta = model_meta(a["model"])
        self.articles, self.texts = read_units(a["input"], meta.unit)
        self.max_length = meta.max_length
        self.pipe = pipeline(
            "text-classification",
            model=a["model"],
            top_k=None,
            function_to_apply="sigmoid" if meta.multi_label else "softmax",
            device="cpu",
        )
        for text in self.texts[:16]:
            self.pipe(text, truncation=True, max_length=self.max_length)

    def run(self) -> dict:
        pipe, max_length = self.pipe, self.max_length

        def loop():
            for text in self.texts:
                pipe(text, truncation=True, max_length=max_length)

        wall, cpu = timed(loop)
        return {"seconds": wall, "cpu_seconds": cpu, "units": len(self.texts), "articles": self.articles}


def bare_batches(model_dir: str, texts: list[str], batch_size: int):
    """The model, and padded batches of ``texts`` sorted by length (longest first) with their indices."""
    import numpy as np
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    meta = model_meta(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True).eval()
    encoded = tokenizer(texts, truncation=True, max_length=meta.max_length)
    lengths = np.array([len(ids) for ids in encoded["input_ids"]])
    order = np.argsort(-lengths, kind="stable")
    batches = []
    for begin in range(0, len(order), batch_size):
        idx = order[begin : begin + batch_size]
        batches.append((idx, tokenizer.pad({k: [encoded[k][i] for i in idx] for k in encoded}, return_tensors="pt")))
    return model, batches


class BareForward:
    """The model's forward pass alone on pre-tokenised, length-sorted, pre-padded batches."""

    def __init__(self, a: dict):
        import torch

        self.torch = torch
        self.articles, texts = read_units(a["input"], model_meta(a["model"]).unit)
        self.units = len(texts)
        self.model, self.batches = bare_batches(a["model"], texts, a["batch_size"])
        with torch.inference_mode():
            for _, batch in self.batches[:2] + self.batches[-1:]:
                self.model(**batch)

    def run(self) -> dict:
        torch, model = self.torch, self.model

        def loop():
            with torch.inference_mode():
                for _, batch in self.batches:
                    model(**batch)

        wall, cpu = timed(loop)
        return {"seconds": wall, "cpu_seconds": cpu, "units": self.units, "articles": self.articles}


class PredictorOnly:
    """``Predictor.probabilities`` on pre-split units, one call per chunk of articles as the scorer makes."""

    def __init__(self, a: dict):
        from framelab.models.predictor import Predictor
        from framelab.score.inputs import iter_articles
        from framelab.units import split_units

        self.predictor = Predictor(a["model"], batch_size=a["batch_size"], quantize=a.get("quantize"))
        size = a.get("chunk_articles") or scorer_chunk_default()
        articles = list(iter_articles([a["input"]]))
        self.articles = len(articles)
        kind = self.predictor.meta.unit
        self.chunks = [
            [u.text for art in articles[i : i + size] for u in split_units(art, kind)]
            for i in range(0, len(articles), size)
        ]
        self.units = sum(map(len, self.chunks))
        self.predictor.probabilities(self.chunks[0][:64])

    def run(self) -> dict:
        def loop():
            for texts in self.chunks:
                self.predictor.probabilities(texts)

        wall, cpu = timed(loop)
        return {"seconds": wall, "cpu_seconds": cpu, "units": self.units, "articles": self.articles}


SERVERS = {
    "serve-framelab": FramelabScoring,
    "serve-predictor": PredictorOnly,
    "serve-pipeline": PipelineScoring,
    "serve-bare": BareForward,
}


def serve(job: str, a: dict) -> None:
    server = SERVERS[job](a)
    emit({"ready": True, "env": environment()})
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            emit(server.run())
        elif command == "quit":
            emit({"peak_rss_bytes": peak_rss_bytes()})
            return
        else:
            raise SystemExit(f"unknown command {command!r}")


# ---------------------------------------------------------------- one-shot jobs


def job_data(a: dict) -> dict:
    from framelab.config import load_config
    from framelab.dataset import build_dataset

    config = load_config(a["config"], a["overrides"])
    started = time.perf_counter()
    result = build_dataset(config, force=True)
    seconds = time.perf_counter() - started
    splits = result.stats["splits"]
    return {
        "seconds": seconds,
        "articles": sum(s["articles"] for s in splits.values()),
        "units": sum(s["units"] for s in splits.values()),
        "path": str(result.path),
    }


def job_train(a: dict) -> dict:
    from transformers import TrainerCallback

    from framelab.config import load_config
    from framelab.train.run import train

    class StepTimer(TrainerCallback):
        """Wall time inside optimisation steps only (no evaluation, no checkpoints)."""

        def __init__(self):
            self.seconds, self.steps, self._t = 0.0, 0, None

        def on_step_begin(self, args, state, control, **kwargs):
            self._t = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if self._t is not None:
                self.seconds += time.perf_counter() - self._t
                self.steps += 1
                self._t = None

    config = load_config(a["config"], a["overrides"])
    timer = StepTimer()
    result = train(config, callbacks=[timer])
    step_examples = timer.steps * config.train.batch_size
    return {
        "train_examples_per_second": result.train_examples_per_second,
        "train_seconds": result.train_seconds,
        "steps": timer.steps,
        "step_seconds": timer.seconds,
        "step_examples_per_second": step_examples / timer.seconds if timer.seconds else 0.0,
        "batch_size": config.train.batch_size,
        "dev_micro_f1": result.dev_metrics["at_tuned_thresholds"]["micro"]["f1"]
        if "at_tuned_thresholds" in result.dev_metrics
        else None,
        "model_dir": str(result.model_dir),
        "peak_rss_bytes": peak_rss_bytes(),
    }


def job_f1(a: dict) -> dict:
    import numpy as np

    from framelab.eval.report import evaluate_model
    from framelab.eval.scores import multilabel_scores
    from framelab.models.predictor import Predictor
    from framelab.splits import load_task_split

    evaluated = evaluate_model(a["model"], a["dataset"], "dev", a["report_dir"])
    out = {"fp32_micro_f1_evaluate_model": evaluated.metrics["model"]["micro"]["f1"]}
    decisions = {}
    for quantize in (None, "int8"):
        predictor = Predictor(a["model"], quantize=quantize)
        meta = predictor.meta
        if not meta.multi_label:
            raise SystemExit("the int8 F1 comparison needs a multi-label (techniques or frames) model")
        dev, names = load_task_split(Path(a["dataset"]), meta.task, "dev", meta.labels)
        probs = predictor.probabilities(dev.texts)
        decided = predictor.decide(probs)
        decisions[quantize or "fp32"] = (probs, decided)
        out[f"{quantize or 'fp32'}_micro_f1"] = multilabel_scores(decided, dev.targets, names)["micro"]["f1"]
        out["dev_examples"] = len(dev.texts)
    (p32, d32), (p8, d8) = decisions["fp32"], decisions["int8"]
    out["decision_agreement"] = float((d32 == d8).mean())
    out["max_abs_prob_diff_int8_vs_fp32"] = float(np.abs(p32 - p8).max())
    return out


def job_check(a: dict) -> dict:
    """Do framelab, the pipeline and the bare forward pass give the same probabilities?"""
    import numpy as np
    import torch
    from transformers import pipeline

    from framelab.encoding import activate
    from framelab.models.predictor import Predictor

    meta = model_meta(a["model"])
    _, texts = read_units(a["input"], meta.unit)
    predictor = Predictor(a["model"], batch_size=a["batch_size"])
    probs = predictor.probabilities(texts)

    model, batches = bare_batches(a["model"], texts, a["batch_size"])
    logits = np.zeros((len(texts), len(meta.labels)), dtype=np.float32)
    with torch.inference_mode():
        for idx, batch in batches:
            logits[idx] = model(**batch).logits.numpy()
    bare = activate(logits.astype(np.float64), meta.multi_label)

    pipe = pipeline(
        "text-classification",
        model=a["model"],
        top_k=None,
        function_to_apply="sigmoid" if meta.multi_label else "softmax",
        device="cpu",
    )
    n = min(len(texts), a.get("pipeline_units", 200))
    piped = np.zeros((n, len(meta.labels)))
    for r, text in enumerate(texts[:n]):
        result = pipe(text, truncation=True, max_length=meta.max_length)
        result = result[0] if result and isinstance(result[0], list) else result
        scores = {d["label"]: d["score"] for d in result}
        piped[r] = [scores[label] for label in meta.labels]

    # The JSONL the framelab scoring runs wrote (scores rounded to 4 decimals).
    written = []
    with open(a["jsonl"], encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["type"] == "unit":
                scores = record["predictions"][predictor.name]["scores"]
                written.append([scores[label] for label in meta.labels])
    written = np.asarray(written)
    return {
        "units": len(texts),
        "max_abs_diff_framelab_vs_bare": float(np.abs(probs - bare).max()),
        "max_abs_diff_framelab_vs_pipeline": float(np.abs(probs[:n] - piped).max()),
        "pipeline_units_compared": n,
        "max_abs_diff_jsonl_vs_framelab": float(np.abs(written - probs).max())
        if written.shape == probs.shape
        else None,
        "jsonl_units": len(written),
    }


def rss_bytes() -> int:
    """Resident memory of this process now."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def workers_private_bytes() -> int:
    """Memory private to this process's children (the sentence-splitting workers), summed.

    Forked workers share the parent's pages until they write to them, so
    their own cost is their private pages (``smaps_rollup``), not their RSS.
    """
    import multiprocessing

    total = 0
    for child in multiprocessing.active_children():
        try:
            for line in Path(f"/proc/{child.pid}/smaps_rollup").read_text().splitlines():
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def job_stream(a: dict) -> dict:
    """``score()`` over a folder, with resident memory sampled every ``rss_every`` seconds."""
    import threading

    from framelab.score.scorer import score

    started = time.perf_counter()
    trace: list[tuple[float, int]] = []
    workers_peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal workers_peak
        while not done.wait(a.get("rss_every", 5.0)):
            trace.append((round(time.perf_counter() - started, 1), rss_bytes()))
            workers_peak = max(workers_peak, workers_private_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    extra = {"chunk_articles": a["chunk_articles"]} if a.get("chunk_articles") else {}
    try:
        summary = score(
            [a["model"]], [a["input"]], fmt="jsonl", out=a["out"], batch_size=a["batch_size"], progress=False, **extra
        )
    finally:
        done.set()
        sampler.join()
    return {
        "articles": summary.articles,
        "units": summary.units,
        "seconds": summary.seconds,
        "wall_seconds": time.perf_counter() - started,
        "peak_rss_bytes": peak_rss_bytes(),
        "rss_trace": trace,
        "workers_private_peak_bytes": workers_peak,
    }


ONE_SHOT = {"data": job_data, "train": job_train, "f1": job_f1, "check": job_check, "stream": job_stream}


def main() -> None:
    job, args = sys.argv[1], json.loads(sys.argv[2])
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if job in SERVERS:
        serve(job, args)
    elif job in ONE_SHOT:
        result = ONE_SHOT[job](args)
        result.setdefault("peak_rss_bytes", peak_rss_bytes())
        result["env"] = environment()
        emit(result)
    else:
        raise SystemExit(f"unknown job {job!r}; one of {', '.join([*SERVERS, *ONE_SHOT])}")


if __name__ == "__main__":
    main()
