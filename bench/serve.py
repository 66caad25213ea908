"""Load test of ``framelab serve`` on 127.0.0.1: batching on and off, overload, and one long article among short ones.

Starts the server itself (``python -m framelab serve``, a subprocess on a
free port of 127.0.0.1, nothing else is reachable), then runs bounded
phases (``--phases``, default all) with real articles of the sample corpus,
each request one article:

1. batching on (``--max-batch 32``): ``--clients`` concurrent clients for ``--seconds``;
2. batching off (``--max-batch 1``, one article per forward pass): the same load.
   Both servers run at once and the two loads alternate in ``--rounds``
   windows each, so a drift in the machine's load touches both alike;
3. overload: ``--overload-clients`` clients (more than the queue of
   ``--overload-queue`` requests holds) for ``--overload-seconds`` against a
   batching server: the surplus must be answered 503 with Retry-After, never
   time out, fail otherwise or crash the server;
4. long article (issue 42): ``--long-clients`` clients sending short sample
   articles to a server with its default settings and ``--long-timeout``,
   for ``--long-seconds`` alone, then as long again while one more client
   sends a ``--long-kb`` article (sample articles joined) back to back. The
   short requests' p99 with the long one and their 504s are the figures
   that count (goal: p99 under 1 s, no 504); without it, the baseline.

Reports throughput (articles/s) and its ratio on/off, p50/p95/p99 latency,
status counts, failures (anything but 200 below the queue limit; anything
but 200/503 above it), the server's RSS after warm-up and at the end of each
phase (sampled every second), and the load average.

    python bench/serve.py --model models/sample-techniques --out-md reports/serve.md --out-json reports/serve.json
    python bench/serve.py --model models/sample-techniques --phases long   # the long-article phase alone
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


async def _long_client(url: str, body: dict, seconds: float, timeout_s: float) -> dict:
    """One client sending ``body`` (a long article) again and again until ``seconds`` have passed."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    stop_at = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=timeout_s) as c:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                response = await c.post(url + "/score", json=body)
                key = str(response.status_code)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
            except httpx.TimeoutException:
                key = "timeout"
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            statuses[key] = statuses.get(key, 0) + 1
    return {"statuses": statuses, "latencies_s": [round(x, 1) for x in latencies]}


def _short_figures(window: dict) -> dict:
    return {
        "requests": sum(window["statuses"].values()),
        "statuses": dict(sorted(window["statuses"].items())),
        "p50_ms": round(_percentile(window["latencies"], 50) * 1000),
        "p99_ms": round(_percentile(window["latencies"], 99) * 1000),
        "max_ms": round(max(window["latencies"], default=float("nan")) * 1000),
        "504": window["statuses"].get("504", 0),
    }


def _long_article(
    models: list[str],
    articles: list[dict],
    kb: int,
    clients: int,
    seconds: float,
    server_timeout: float,
    batch_size: int | None = None,
) -> dict:
    """Short requests alone, then with one client sending a long article back to back, on one server."""
    text, joined = "", 0
    while len(text.encode("utf-8")) < kb * 1000:
        text += articles[joined % len(articles)]["text"] + "\n\n"
        joined += 1
    body = {"id": "long", "text": text}
    sized = ["--batch-size", str(batch_size)] if batch_size else []
    server = Server(models, "--timeout", str(server_timeout), *sized)
    client_timeout = server_timeout + 30
    try:
        server.wait_ready()
        asyncio.run(_load(server.url, articles, clients, min(10.0, seconds), server.process.pid, client_timeout))
        alone = asyncio.run(_load(server.url, articles, clients, seconds, server.process.pid, client_timeout))

        async def together() -> tuple[dict, dict]:
            return await asyncio.gather(
                _load(server.url, articles, clients, seconds, server.process.pid, client_timeout),
                _long_client(server.url, body, seconds, client_timeout),
            )

        short, long = asyncio.run(together())
        # A long request answered 504 stops at its job's next forward pass: wait for that to be counted.
        deadline = time.monotonic() + 30
        while True:
            health = httpx.get(server.url + "/health", timeout=10).json()
            if health.get("cancelled", 0) >= long["statuses"].get("504", 0) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        return {
            "name": "long article",
            "options": f"--timeout {server_timeout:g}",
            "clients": clients,
            "seconds": seconds,
            "long_chars": len(text),
            "long_bytes": len(text.encode("utf-8")),
            "long_articles_joined": joined,
            "short_alone": _short_figures(alone),
            "short_with_long": _short_figures(short),
            "long": long,
            "cancelled_jobs": health.get("cancelled"),
            "server_alive": server.alive(),
        }
    finally:
        server.stop()


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
    """Batching on and off, both servers up at once, in alternating windows: the machine's load drifts alike
    over both."""
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
                    f"round {n + 1}/{rounds}, {'on' if i == 0 else 'off'}: "
                    f"{windows[i][-1]['statuses']} in {windows[i][-1]['seconds']} s",
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


PHASES = ("batching", "overload", "long")


def _phases(value: str) -> list[str]:
    chosen = [p.strip() for p in value.split(",")]
    unknown = [p for p in chosen if p not in PHASES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown phase {unknown[0]!r}; choose from {', '.join(PHASES)}")
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="model folder (repeatable)")
    parser.add_argument(
        "--phases", type=_phases, default=list(PHASES), help=f"comma-separated, of {', '.join(PHASES)} (default all)"
    )
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
    parser.add_argument("--long-kb", type=int, default=200, help="size of the long article, in kB of UTF-8")
    parser.add_argument(
        "--long-batch-size", type=int, help="the server's --batch-size there (default: framelab serve's own)"
    )
    parser.add_argument("--long-clients", type=int, default=8, help="clients sending short articles meanwhile")
    parser.add_argument(
        "--long-seconds", type=float, default=30, help="each window: short requests alone, then with the long one"
    )
    parser.add_argument(
        "--long-timeout", type=float, default=30, help="the server's per-request limit there (framelab serve's default)"
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
    summary: dict = {
        "model": args.model,
        "articles_in_rotation": len(articles),
        "mean_article_chars": round(sum(len(a["text"]) for a in articles) / len(articles)),
    }
    phases: list[dict] = []
    if "batching" in args.phases:
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
        phases += [on, off]
        summary["throughput_ratio_on_off"] = (
            round(on["articles_per_s"] / off["articles_per_s"], 2) if off["articles_per_s"] else None
        )
        summary["failed_below_queue_limit"] = sum(
            n for k, n in (*on["statuses"].items(), *off["statuses"].items()) if k != "200"
        )
    if "overload" in args.phases:
        over = _overload(
            args.model,
            ["--max-batch", "32", "--queue", str(args.overload_queue), *common],
            articles,
            args.overload_clients,
            args.overload_seconds,
            client_timeout,
        )
        phases.append(over)
        summary["failed_above_queue_limit"] = sum(n for k, n in over["statuses"].items() if k not in ("200", "503"))
        summary["refused_503_above_queue_limit"] = over["statuses"].get("503", 0)
    if "long" in args.phases:
        long = _long_article(
            args.model,
            articles,
            args.long_kb,
            args.long_clients,
            args.long_seconds,
            args.long_timeout,
            args.long_batch_size,
        )
        summary["long_article"] = long
        summary["short_p99_ms_with_long"] = long["short_with_long"]["p99_ms"]
        summary["short_504_with_long"] = long["short_with_long"]["504"]
    summary.update(
        phases=phases,
        loadavg_before=[round(x, 2) for x in load_before],
        loadavg_after=[round(x, 2) for x in os.getloadavg()],
        cpus=os.cpu_count(),
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )
    print(json.dumps({k: v for k, v in summary.items() if k != "phases"}, indent=2))
    if args.out_json:
        Path(args.out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_json).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if args.out_md:
        Path(args.out_md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_md).write_text(markdown(summary), encoding="utf-8")


def markdown(s: dict) -> str:
    out = [
        f"# framelab serve load test, {s['date']}\n",
        f"Model {', '.join(s['model'])}; {s['articles_in_rotation']} sample articles in rotation "
        f"(mean {s['mean_article_chars']} characters), one per request; load average before "
        f"{s['loadavg_before']}, after {s['loadavg_after']}, {s['cpus']} CPUs.\n",
    ]
    if s["phases"]:
        rows = [
            "| phase | clients | windows, s | requests | statuses | articles/s | p50 / p95 / p99 ms | mean batch "
            "| RSS first → last (max) MB | server alive |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for p in s["phases"]:
            rows.append(
                f"| {p['name']} (`{p['options']}`) | {p['clients']} | {p['windows']}, {p['seconds']} | {p['requests']} "
                f"| {p['statuses']} | {p['articles_per_s']} | {p['p50_ms']} / {p['p95_ms']} / {p['p99_ms']} "
                f"| {p['mean_batch']} | {p['rss_mb_first']} → {p['rss_mb_last']} ({p['rss_mb_max']}) "
                f"| {p['server_alive']} |"
            )
        out.append("\n".join(rows) + "\n")
    if "throughput_ratio_on_off" in s:
        out.append(
            f"Throughput ratio, batching on / off: **{s['throughput_ratio_on_off']}×**. "
            f"Failed below the queue limit: {s['failed_below_queue_limit']}.\n"
        )
    if "refused_503_above_queue_limit" in s:
        out.append(
            f"Above the queue limit: {s['refused_503_above_queue_limit']} answered 503, "
            f"{s['failed_above_queue_limit']} failed otherwise.\n"
        )
    if "long_article" in s:
        g = s["long_article"]
        rows = [
            "| short requests | requests | statuses | p50 / p99 / max ms | 504 |",
            "|---|---|---|---|---|",
        ]
        for name, key in (("alone", "short_alone"), ("with the long article", "short_with_long")):
            f = g[key]
            rows.append(
                f"| {name} | {f['requests']} | {f['statuses']} | {f['p50_ms']} / {f['p99_ms']} / {f['max_ms']} "
                f"| {f['504']} |"
            )
        out.append(
            f"Long article (`{g['options']}`): {g['clients']} clients of short articles for {g['seconds']:g} s "
            f"alone, then {g['seconds']:g} s while one more client sent a {g['long_bytes']:,}-byte article "
            f"({g['long_articles_joined']} sample articles joined) back to back.\n\n"
            + "\n".join(rows)
            + f"\n\nLong requests: {g['long']['statuses']}, scored in {g['long']['latencies_s']} s; jobs cancelled "
            f"after a timeout: {g['cancelled_jobs']}; server alive: {g['server_alive']}.\n"
        )
    return "\n".join(out)


if __name__ == "__main__":
    main()
