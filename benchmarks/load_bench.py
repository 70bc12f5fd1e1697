"""Load test of the real server: a realistic request mix at fixed concurrency over loopback.

Usage: python benchmarks/load_bench.py [--requests 10000] [--concurrency 32] [--warmup 1000]
       [--workers N]

Starts `shisaku serve` on a free 127.0.0.1 port against the configured index (build it first:
`make index`), drives it from this process with an asyncio/httpx client, and prints
throughput, p50/p99 latency per request kind, the error count (anything but 200) and the
server's RSS after the warm-up and after the run (with workers, summed over the processes,
and their PSS, which counts each shared page once). It also measures the result cache over
HTTP: each question's first (cold) request against its repeat (cached).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import subprocess
import sys
import time
from collections import defaultdict
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import free_port, percentile, questions  # noqa: E402
from benchmarks.server_cpu import processes, rollup  # noqa: E402


def server_memory(pid: int) -> tuple[float, float]:
    """RSS and PSS in MB, summed over the server and its workers."""
    memory = [rollup(p) for p in processes(pid)]
    return sum(m["Rss"] for m in memory), sum(m["Pss"] for m in memory)


def anonymous_memory(pid: int) -> float:
    """Anonymous RSS in MB, summed over the server and its workers: the rest of the RSS is
    clean pages of read-only files (Sudachi's dictionary, the model weights), which a kernel
    that caches files in large folios maps up to 2 MB at a time (BENCHMARKS.md, sixth round)."""
    return sum(rollup(p)["Anonymous"] for p in processes(pid))


KINDS = (  # (kind, share of requests)
    ("search GET (question pool)", 0.42),
    ("search POST (new query)", 0.08),
    ("ask", 0.05),
    ("measures", 0.15),
    ("measure", 0.10),
    ("similar", 0.15),
    ("search batch (5)", 0.05),
)
EXTRA_WORDS = (
    "について",
    "の現状",
    "の課題",
    "today",
    "policy",
    "の見直し",
    "support",
    "制度",
    "status",
    "地方",
    "2024",
    "オンライン",
    "families",
    "手続",
    "workers",
)


def start_server(port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SHISAKU_LOG_LEVEL="warning")
    command = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}; run `make index` first")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise SystemExit("server did not become ready")


def plan(n: int, pool: list[str], rng: random.Random) -> list[tuple[str, str, str, object]]:
    """n requests: (kind, method, path, params-or-json)."""
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    out: list[tuple[str, str, str, object]] = []
    for i in range(n):
        kind = rng.choices(kinds, weights)[0]
        number = rng.randint(1, 33)
        if kind.startswith("search GET"):
            params: dict[str, object] = {"q": rng.choice(pool), "k": rng.choice((3, 5, 10))}
            if rng.random() < 0.1:
                params["status"] = rng.choice(("実施中", "実施済み", "検討中"))
            out.append((kind, "GET", "/search", params))
        elif kind.startswith("search POST"):
            query = f"{rng.choice(pool)} {rng.choice(EXTRA_WORDS)} {i}"
            out.append((kind, "POST", "/search", {"q": query, "k": 5}))
        elif kind == "ask":
            out.append((kind, "POST", "/ask", {"question": rng.choice(pool)}))
        elif kind == "measures":
            out.append((kind, "GET", "/measures", None))
        elif kind == "measure":
            out.append((kind, "GET", f"/measures/{number}", None))
        elif kind == "similar":
            out.append((kind, "GET", f"/measures/{number}/similar", {"k": rng.choice((3, 5))}))
        else:
            out.append((kind, "POST", "/search/batch", {"queries": rng.sample(pool, 5), "k": 3}))
    return out


async def run(
    url: str, requests: list[tuple[str, str, str, object]], concurrency: int
) -> tuple[float, dict[str, list[float]], list[str]]:
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    queue: asyncio.Queue[tuple[str, str, str, object]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:

        async def worker() -> None:
            while True:
                try:
                    kind, method, path, payload = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                started = time.perf_counter()
                try:
                    if method == "GET":
                        response = await client.get(path, params=payload)  # type: ignore[arg-type]
                    else:
                        response = await client.post(path, json=payload)
                    await response.aread()
                    if response.status_code != 200:
                        errors.append(f"{kind}: {response.status_code} {response.text[:120]}")
                except httpx.HTTPError as exc:
                    errors.append(f"{kind}: {exc!r}")
                latencies[kind].append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, errors


def cache_phase(url: str, pool: list[str]) -> tuple[list[float], list[float]]:
    """Sequential: each question once (cold: encode + score), then again (result cache)."""
    cold: list[float] = []
    cached: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for phase in (cold, cached):
            for i, question in enumerate(pool):
                params: dict[str, str | int] = {
                    "q": f"{question} 〔cache {i}〕",
                    "k": 5,
                }  # not seen by the warm-up
                started = time.perf_counter()
                response = client.get("/search", params=params)
                phase.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text[:200]
    return cold, cached


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, default=1, help="`serve --workers`")
    args = parser.parse_args()

    pool = questions()
    rng = random.Random(args.seed)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(port, args.workers)
    try:
        time.sleep(1 if args.workers > 1 else 0)  # every worker up
        rss_ready, pss_ready = server_memory(server.pid)
        cold, cached = cache_phase(url, pool[:60])
        elapsed, _, warm_errors = asyncio.run(
            run(url, plan(args.warmup, pool, rng), args.concurrency)
        )
        rss_before, pss_before = server_memory(server.pid)
        elapsed, latencies, errors = asyncio.run(
            run(url, plan(args.requests, pool, rng), args.concurrency)
        )
        rss_after, pss_after = server_memory(server.pid)
        anon_after = anonymous_memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)

    total = sum(len(v) for v in latencies.values())
    every = [x for v in latencies.values() for x in v]
    growth = (rss_after - rss_before) / rss_before * 100
    print(
        f"# load_bench {date.today().isoformat()} — {os.cpu_count()} cores, "
        f"python {platform.python_version()}, server and client on 127.0.0.1"
    )
    print(
        f"requests {total} at concurrency {args.concurrency} in {elapsed:.1f} s: "
        f"{total / elapsed:.0f} req/s; errors {len(errors)} (warm-up errors {len(warm_errors)})"
    )
    print(f"latency all: p50 {percentile(every, 0.5):.1f} ms, p99 {percentile(every, 0.99):.1f} ms")
    print("| kind | share | requests | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for kind, share in KINDS:
        values = latencies.get(kind, [])
        if values:
            print(
                f"| {kind} | {share:.0%} | {len(values)} | {percentile(values, 0.5):.1f} | "
                f"{percentile(values, 0.99):.1f} |"
            )
    print(
        f"server RSS: ready {rss_ready:.0f} MB, warm (after {args.warmup} requests) "
        f"{rss_before:.0f} MB, after the run {rss_after:.0f} MB: growth {growth:+.1f} %"
    )
    print(
        f"  after the run: anonymous {anon_after:.0f} MB, file-backed "
        f"{rss_after - anon_after:.0f} MB (clean pages of read-only files)"
    )
    if args.workers > 1:
        print(
            f"{args.workers} workers, PSS summed: ready {pss_ready:.0f} MB, warm "
            f"{pss_before:.0f} MB, after the run {pss_after:.0f} MB"
        )
    print(
        f"result cache over HTTP, {len(cold)} questions sequentially: cold p50 "
        f"{percentile(cold, 0.5):.1f} ms (p99 {percentile(cold, 0.99):.1f}), cached p50 "
        f"{percentile(cached, 0.5):.1f} ms (p99 {percentile(cached, 0.99):.1f})"
    )
    for line in errors[:10]:
        print("error:", line)
    return 1 if errors or warm_errors or growth > 10 else 0


if __name__ == "__main__":
    sys.exit(main())
