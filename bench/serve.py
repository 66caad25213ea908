"""Load test of ``framelab serve`` on 127.0.0.1: request batching against one article per forward pass, and overload.

Starts the server itself (``python -m framelab serve``, a subprocess on a
free port of 127.0.0.1, nothing else is reachable), then runs three bounded
phases with real articles of the sample corpus, each request one article:

1. batching on (``--max-batch 32``): ``--clients`` concurrent clients for ``--seconds``;
2. batching off (``--max-batch 1``, one article per forward pass): the same load.
   Both servers run at once and the two loads alternate in ``--rounds``
   windows each, so a drift in the machine's load touches both alike;
3. overload: ``--overload-clients`` clients (more than the queue of
   ``--overload-queue`` requests holds) for ``--overload-seconds`` against a
   batching server: the surplus must be answered 503 with Retry-After, never
   time out, fail otherwise or crash the server.

Reports throughput (articles/s) and its ratio on/off, p50/p95/p99 latency,
status counts, failures (anything but 200 below the queue limit; anything
but 200/503 above it), the server's RSS after warm-up and at the end of each
phase (sampled every second), and the load average.

    python bench/serve.py --model models/sample-techniques --out-md reports/serve.md --out-json reports/serve.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "articles.jsonl"
HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


class Server:
    """``framelab serve`` in a subprocess on 127.0.0.1, its log in a temporary file."""

    def __init__(self, models: list[str], *options: str):
        self.port = _free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="framelab-serve-", suffix=".log", delete=False)
        command = [
            sys.executable,
            "-m",
            "framelab",
            "serve",
            *(a for m in models for a in ("--model", m)),
            "--host",
            HOST,
            "--port",
            str(self.port),
            *options,
        ]
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        env.pop("FRAMELAB_SERVE_TOKEN", None)
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.url = f"http://{HOST}:{self.port}"

    def wait_ready(self, limit_s: float = 600) -> None:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited ({self.process.returncode}); log: {self.log.name}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SystemExit(f"the server did not start within {limit_s:.0f} s; log: {self.log.name}")

    def alive(self) -> bool:
        try:
            return self.process.poll() is None and httpx.get(self.url + "/health", timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _load(url: str, articles: list[dict], clients: int, seconds: float, pid: int, timeout_s: float) -> dict:
    """``clients`` clients, each sending one article at a time until ``seconds`` have passed."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    rss: list[float] = []
    stop_at = time.perf_counter() + seconds
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client(c: httpx.AsyncClient) -> None:
        while time.perf_counter() < stop_at:
            n = next(counter)
            body = {"id": f"{articles[n % len(articles)]['id']}-{n}", "text": articles[n % len(articles)]["text"]}
            started = time.perf_counter()
            try:
                response = await c.post(url + "/score", json=body)
                key = str(response.status_code)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                elif response.status_code == 503:
                    await asyncio.sleep(float(response.headers.get("retry-after", "1")) / 10)
            except httpx.TimeoutException:
                key = "timeout"
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            statuses[key] = statuses.get(key, 0) + 1

    async def sample_rss() -> None:
        while time.perf_counter() < stop_at:
            rss.append(_rss_mb(pid))
            await asyncio.sleep(1)

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as c:
        await asyncio.gather(sample_rss(), *(client(c) for _ in range(clients)))
    # Requests in flight at the end are waited for and counted, and so is the time they take.
    return {
        "clients": clients,
        "seconds": time.perf_counter() - started,
        "statuses": statuses,
        "latencies": latencies,
        "rss": rss,
    }


def _merge(name: str, options: list[str], windows: list[dict], health: dict, alive: bool) -> dict:
    """One phase's figures from its windows: counts added up, latencies pooled."""
    statuses: dict[str, int] = {}
    for w in windows:
        for k, n in w["statuses"].items():
            statuses[k] = statuses.get(k, 0) + n
    latencies = [x for w in windows for x in w["latencies"]]
    rss = [x for w in windows for x in w["rss"]]
    seconds = sum(w["seconds"] for w in windows)
    return {
        "name": name,
        "options": " ".join(options),
        "clients": windows[0]["clients"],
        "windows": len(windows),
        "seconds": round(seconds, 1),
        "requests": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "articles_per_s": round(statuses.get("200", 0) / seconds, 2),
        "p50_ms": round(_percentile(latencies, 50) * 1000),
        "p95_ms": round(_percentile(latencies, 95) * 1000),
        "p99_ms": round(_percentile(latencies, 99) * 1000),
        "rss_mb_first": rss[0] if rss else None,
        "rss_mb_last": rss[-1] if rss else None,
        "rss_mb_max": max(rss) if rss else None,
        "batches": health["batches"],
        "largest_batch": health["largest_batch"],
        "mean_batch": round(health["articles"] / max(1, health["batches"]), 2),
        "server_alive": alive,
    }


def _compare(
    models: list[str],
    on_options: list[str],
    off_options: list[str],
    articles: list[dict],
    clients: int,
    seconds: float,
    rounds: int,
    timeout_s: float,
    warmup_s: float,
) -> list[dict]:
    """Batching on and off, both servers up at once, in alternating windows: the machine's load drifts alike over both."""
    servers = [Server(models, *on_options), Server(models, *off_options)]
    try:
        for server in servers:
            server.wait_ready()
            # Warm-up under the full load, not counted: the first calls are several times slower.
            asyncio.run(_load(server.url, articles, clients, warmup_s, server.process.pid, timeout_s))
        before = [httpx.get(s.url + "/health", timeout=10).json() for s in servers]
        windows: list[list[dict]] = [[], []]
        for n in range(rounds):
            for i in (0, 1) if n % 2 == 0 else (1, 0):
                windows[i].append(
                    asyncio.run(
                        _load(servers[i].url, articles, clients, seconds / rounds, servers[i].process.pid, timeout_s)
                    )
                )
                print(
                    f"round {n + 1}/{rounds}, {'on' if i == 0 else 'off'}: {windows[i][-1]['statuses']} in {windows[i][-1]['seconds']} s",
                    flush=True,
                )
        after = [httpx.get(s.url + "/health", timeout=10).json() for s in servers]
        counted = [
            {k: a[k] - b[k] for k in ("batches", "articles")} | {"largest_batch": a["largest_batch"]}
            for a, b in zip(after, before)
        ]
        return [
            _merge(name, options, windows[i], counted[i], servers[i].alive())
            for i, (name, options) in enumerate([("batching on", on_options), ("batching off", off_options)])
        ]
    finally:
        for server in servers:
            server.stop()


def _overload(
    models: list[str], options: list[str], articles: list[dict], clients: int, seconds: float, timeout_s: float
) -> dict:
    server = Server(models, *options)
    try:
        server.wait_ready()
        before = httpx.get(server.url + "/health", timeout=10).json()
        window = asyncio.run(_load(server.url, articles, clients, seconds, server.process.pid, timeout_s))
        after = httpx.get(server.url + "/health", timeout=10).json()
        counted = {k: after[k] - before[k] for k in ("batches", "articles")} | {"largest_batch": after["largest_batch"]}
        return _merge("overload", options, [window], counted, server.alive())
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="model folder (repeatable)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--seconds",
        type=float,
        default=60,
        help="load time of each of batching on and off, cut into --rounds alternating windows",
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=20, help="seconds of uncounted load on each server first")
    parser.add_argument(
        "--queue", type=int, default=64, help="queue of the first two phases (more than --clients: no 503 expected)"
    )
    parser.add_argument("--overload-clients", type=int, default=48)
    parser.add_argument("--overload-queue", type=int, default=4)
    parser.add_argument("--overload-seconds", type=float, default=20)
    parser.add_argument(
        "--timeout", type=float, default=60, help="the server's per-request limit; clients wait 30 s longer"
    )
    parser.add_argument("--out-json")
    parser.add_argument("--out-md")
    args = parser.parse_args(argv)
    if args.clients >= args.queue:
        raise SystemExit("--clients must stay below --queue: the first phases measure a server that is not refusing")
    articles = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    common = ["--timeout", str(args.timeout)]
    client_timeout = args.timeout + 30
    load_before = os.getloadavg()
    on, off = _compare(
        args.model,
        ["--max-batch", "32", "--queue", str(args.queue), *common],
        ["--max-batch", "1", "--queue", str(args.queue), *common],
        articles,
        args.clients,
        args.seconds,
        args.rounds,
        client_timeout,
        args.warmup,
    )
    over = _overload(
        args.model,
        ["--max-batch", "32", "--queue", str(args.overload_queue), *common],
        articles,
        args.overload_clients,
        args.overload_seconds,
        client_timeout,
    )
    summary = {
        "model": args.model,
        "articles_in_rotation": len(articles),
        "mean_article_chars": round(sum(len(a["text"]) for a in articles) / len(articles)),
        "throughput_ratio_on_off": round(on["articles_per_s"] / off["articles_per_s"], 2)
        if off["articles_per_s"]
        else None,
        "failed_below_queue_limit": sum(
            n for k, n in (*on["statuses"].items(), *off["statuses"].items()) if k != "200"
        ),
        "failed_above_queue_limit": sum(n for k, n in over["statuses"].items() if k not in ("200", "503")),
        "refused_503_above_queue_limit": over["statuses"].get("503", 0),
        "phases": [on, off, over],
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "phases"}, indent=2))
    if args.out_json:
        Path(args.out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_json).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if args.out_md:
        Path(args.out_md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_md).write_text(markdown(summary), encoding="utf-8")


def markdown(s: dict) -> str:
    rows = [
        "| phase | clients | windows, s | requests | statuses | articles/s | p50 / p95 / p99 ms | mean batch | RSS first → last (max) MB | server alive |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in s["phases"]:
        rows.append(
            f"| {p['name']} (`{p['options']}`) | {p['clients']} | {p['windows']}, {p['seconds']} | {p['requests']} | {p['statuses']} | {p['articles_per_s']} | {p['p50_ms']} / {p['p95_ms']} / {p['p99_ms']} "
            f"| {p['mean_batch']} | {p['rss_mb_first']} → {p['rss_mb_last']} ({p['rss_mb_max']}) | {p['server_alive']} |"
        )
    return (
        f"# framelab serve load test, {s['date']}\n\nModel {', '.join(s['model'])}; {s['articles_in_rotation']} sample articles in rotation "
        f"(mean {s['mean_article_chars']} characters), one per request; load average before {s['loadavg_before']}, after {s['loadavg_after']}, {s['cpus']} CPUs.\n\n"
        + "\n".join(rows)
        + f"\n\nThroughput ratio, batching on / off: **{s['throughput_ratio_on_off']}×**. Failed below the queue limit: {s['failed_below_queue_limit']}; "
        f"above it: {s['refused_503_above_queue_limit']} answered 503, {s['failed_above_queue_limit']} failed otherwise.\n"
    )


if __name__ == "__main__":
    main()
