"""The lean query path, measured: one-shot CLI commands, MCP start, server cold start, uncached
/search latency against the in-process torch encode (interleaved), throughput and RSS; then
the throughput and memory of `serve --workers 2` (forked workers sharing one loaded engine).

Usage: python benchmarks/lean_bench.py [--requests 300] [--concurrency 8] [--repeat 3]
       [--workers 2]

Uses the index at SHISAKU_INDEX_DIR (build it first: `make index`) and the query encoder of
SHISAKU_QUERY_ENCODER (run it with SHISAKU_QUERY_ENCODER=torch for the torch path). Prints
one table of figures; BENCHMARKS.md holds the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    free_port,
    memory_mb,
    percentile,
    questions,
    wait_ready,
)

CLI = [sys.executable, "-m", "service.cli"]


def one_shot(args: list[str]) -> tuple[float, float]:
    """Wall seconds and max RSS (MB) of one `shisaku ARGS` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run([*CLI, *args], cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def mcp_first_call() -> float:
    """Seconds from launching `shisaku mcp` to the answer of the first tool call."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    async def run() -> float:
        started = time.perf_counter()
        parameters = StdioServerParameters(
            command=sys.executable, args=["-m", "service.cli", "mcp"], cwd=str(ROOT)
        )
        async with Client(parameters, read_timeout_seconds=120) as client:
            result = await client.call_tool("search_measures", {"query": "特定技能2号の分野は?"})
            assert not result.is_error
            return time.perf_counter() - started

    return asyncio.run(run())


def torch_encoder():  # noqa: ANN201
    """The sentence-transformers (torch) e5 encoder, in this process: the reference."""
    from service.config import load_settings
    from service.engine import load_query_encoder

    settings = load_settings().model_copy(update={"query_encoder": "torch"})
    encoder = load_query_encoder(settings)
    encoder.encode_queries(["warm up"])
    return encoder


def throughput(url: str, queries: list[str], concurrency: int) -> tuple[float, int]:
    """Requests per second for ``queries`` sent at ``concurrency``, and the non-200 count."""
    errors = 0
    lock = threading.Lock()
    local = threading.local()

    def one(q: str) -> None:
        nonlocal errors
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=60)
        if client.get("/search", params={"q": q}).status_code != 200:
            with lock:
                errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as workers:
        list(workers.map(one, queries))
    return len(queries) / (time.perf_counter() - started), errors


def with_workers(workers: int, queries: list[str], concurrency: int) -> dict[str, str]:
    """Throughput and memory of `serve --workers N` (forked from one loaded engine)."""
    from benchmarks.load_bench import server_memory

    env = dict(os.environ, SHISAKU_LOG_LEVEL="warning")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), "--workers", str(workers)], cwd=ROOT, env=env
    )
    try:
        wait_ready(server, url + "/readyz")
        time.sleep(1)  # every worker up
        rss, pss = server_memory(server.pid)
        throughput(url, [q + " 〔w-warm〕" for q in queries[:60]], concurrency)
        rate, errors = throughput(url, [q + " 〔w〕" for q in queries], concurrency)
        rss_after, pss_after = server_memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    label = f"`serve --workers {workers}`"
    return {
        f"{label}: throughput, concurrency {concurrency}, new queries": (
            f"{rate:.1f} req/s ({errors} errors)"
        ),
        f"{label}: RSS summed / PSS summed, ready": f"{rss:.0f} / {pss:.0f} MB",
        f"{label}: RSS summed / PSS summed, after the run": f"{rss_after:.0f} / {pss_after:.0f} MB",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=2, help="also measure `serve --workers N` (1: skip)"
    )
    args = parser.parse_args()
    rows: dict[str, str] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
        "query encoder": os.environ.get("SHISAKU_QUERY_ENCODER", "int8 (default)"),
    }

    searches = [
        one_shot(["search", "特定技能2号の分野は?", "--k", "3"]) for _ in range(args.repeat)
    ]
    rows["`shisaku search` one shot: wall (median)"] = (
        f"{statistics.median(w for w, _ in searches):.2f} s"
    )
    rows["`shisaku search` one shot: max RSS"] = f"{max(m for _, m in searches):.0f} MB"
    measures = [one_shot(["measures"]) for _ in range(args.repeat)]
    rows["`shisaku measures`: wall (median)"] = f"{statistics.median(w for w, _ in measures):.2f} s"
    calls = [mcp_first_call() for _ in range(args.repeat)]
    rows["`shisaku mcp`: launch to first tool call answered (median)"] = (
        f"{statistics.median(calls):.2f} s"
    )

    env = dict(os.environ, SHISAKU_LOG_LEVEL="warning")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    starts = []
    for attempt in range(args.repeat):
        started = time.perf_counter()
        server = subprocess.Popen([*CLI, "serve", "--port", str(port)], cwd=ROOT, env=env)
        wait_ready(server, url + "/readyz")
        starts.append(time.perf_counter() - started)
        if attempt < args.repeat - 1:
            server.terminate()
            server.wait(timeout=30)
    rows["`shisaku serve`: cold start to /readyz 200 (median)"] = (
        f"{statistics.median(starts):.2f} s"
    )
    try:
        rows["server RSS when ready"] = f"{memory_mb(server.pid):.0f} MB"
        pool = questions()
        unique = [f"{q} 〔{i}〕" for i, q in enumerate(pool * (args.requests // len(pool) + 1))]
        unique = unique[: args.requests]
        encoder = torch_encoder()
        latencies, encodes = [], []
        with httpx.Client(base_url=url, timeout=30) as client:
            for q in pool[:5]:
                client.get("/search", params={"q": q + " warm"})
            for q in unique:  # interleaved: the same query over HTTP, then encoded in torch
                started = time.perf_counter()
                response = client.get("/search", params={"q": q})
                latencies.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
                started = time.perf_counter()
                encoder.encode_queries([q])
                encodes.append((time.perf_counter() - started) * 1000)
        p50 = percentile(latencies, 0.5)
        encode = statistics.median(encodes)
        rows[f"uncached /search p50 over HTTP ({len(latencies)} requests)"] = f"{p50:.1f} ms"
        rows["uncached /search p99 over HTTP"] = f"{percentile(latencies, 0.99):.1f} ms"
        rows["torch e5 encode of the same queries in-process (median)"] = f"{encode:.1f} ms"
        rows["ratio p50 HTTP / torch encode"] = f"{p50 / encode:.2f}"

        rate, errors = throughput(url, [q + " 〔c8〕" for q in unique], args.concurrency)
        rows[f"throughput, concurrency {args.concurrency}, new queries"] = (
            f"{rate:.1f} req/s ({errors} errors)"
        )
        rows["server RSS after the run"] = (
            f"{memory_mb(server.pid):.0f} MB (anonymous {memory_mb(server.pid, 'RssAnon'):.0f})"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    if args.workers > 1:
        rows.update(with_workers(args.workers, unique, args.concurrency))
    rows["date"] = time.strftime("%Y-%m-%d %H:%M")
    for key, value in rows.items():
        print(f"| {key} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
