"""Server configurations compared interleaved: uncached /search latency one request at a time,
and throughput at concurrency N with new queries, each configuration in its own server.

Usage:
    python benchmarks/encoder_ab.py --variant base: \\
        --variant t2:SHISAKU_QUERY_THREADS=2,SHISAKU_QUERY_SPINNING=false \\
        [--variant old:CHECKOUT=/path/to/worktree] [--rounds 5] [--sequential 100] [--requests 200] [--concurrency 8] [--mixed 0]

Every variant's server is started once (same index, same machine) and the rounds alternate
between them, rotating the order, so that the load of a shared machine hits them alike; each
phase uses queries no server has seen (no cache). Prints, per variant, the median over rounds
of the sequential p50 (and each round's), the throughput, and the server's RSS at the end;
``--mixed N`` first sends N requests (development questions, repeated and new, concurrency 8)
to each server, for the RSS after a long run. The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import free_port, memory_mb, percentile, questions, start_server  # noqa: E402


@dataclass
class Variant:
    name: str
    env: dict[str, str]
    server: Popen[bytes] | None = None
    url: str = ""
    p50: list[float] = field(default_factory=list)
    p90: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)
    errors: int = 0


def parse_variant(text: str) -> Variant:
    name, _, assignments = text.partition(":")
    env = {}
    for item in filter(None, assignments.split(",")):
        key, _, value = item.partition("=")
        env[key.strip()] = value.strip()
    return Variant(name or "base", env)


def sequential(url: str, queries: list[str]) -> list[float]:
    out = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for q in queries:
            started = time.perf_counter()
            response = client.get("/search", params={"q": q})
            out.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    return out


def concurrent(url: str, queries: list[str], concurrency: int) -> tuple[float, int]:
    errors = 0
    lock = threading.Lock()
    local = threading.local()
    clients: list[httpx.Client] = []

    def one(q: str) -> None:
        nonlocal errors
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=60)
            with lock:
                clients.append(client)
        try:
            ok = client.get("/search", params={"q": q}).status_code == 200
        except httpx.HTTPError:
            ok = False
        if not ok:
            with lock:
                errors += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as workers:
        list(workers.map(one, queries))
    rate = len(queries) / (time.perf_counter() - started)
    for client in clients:
        client.close()
    return rate, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sequential", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--mixed", type=int, default=0)
    args = parser.parse_args()
    variants = [parse_variant(v) for v in args.variant]
    pool = questions()
    print(f"load average before: {os.getloadavg()}", flush=True)
    try:
        for variant in variants:
            port = free_port()
            settings = dict(variant.env)
            checkout = Path(settings.pop("CHECKOUT", str(ROOT)))
            env = dict(os.environ, SHISAKU_LOG_LEVEL="warning", **settings)
            variant.server = start_server(port, env, checkout)
            variant.url = f"http://127.0.0.1:{port}"
            sequential(variant.url, [q + " warm" for q in pool[:10]])
        serial = 0
        for round_no in range(args.rounds):
            shift = round_no % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                serial += 1
                queries = [
                    f"{pool[i % len(pool)]} 〔s{serial}.{i}〕" for i in range(args.sequential)
                ]
                times = sequential(variant.url, queries)
                variant.p50.append(percentile(times, 0.5))
                variant.p90.append(percentile(times, 0.9))
                queries = [f"{pool[i % len(pool)]} 〔c{serial}.{i}〕" for i in range(args.requests)]
                rate, errors = concurrent(variant.url, queries, args.concurrency)
                variant.rate.append(rate)
                variant.errors += errors
                print(
                    f"round {round_no + 1} {variant.name}: p50 {variant.p50[-1]:.1f} ms, "
                    f"{rate:.1f} req/s, load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
        if args.mixed:
            for variant in variants:
                queries = [
                    pool[i % len(pool)] if i % 3 else f"{pool[i % len(pool)]} 〔m{i}〕"
                    for i in range(args.mixed)
                ]
                concurrent(variant.url, queries, args.concurrency)
        print(f"\nload average after: {os.getloadavg()}\n")
        print(
            "| variant | p50 sequential, median (rounds) | p90 | req/s at concurrency "
            f"{args.concurrency}, median (rounds) | errors | RSS after |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for v in variants:
            assert v.server is not None
            rounds_p50 = ", ".join(f"{x:.1f}" for x in v.p50)
            rounds_rate = ", ".join(f"{x:.1f}" for x in v.rate)
            print(
                f"| {v.name} | {statistics.median(v.p50):.1f} ms ({rounds_p50}) | "
                f"{statistics.median(v.p90):.1f} | {statistics.median(v.rate):.1f} "
                f"({rounds_rate}) | {v.errors} | {memory_mb(v.server.pid):.0f} MB |"
            )
    finally:
        for variant in variants:
            if variant.server is not None:
                variant.server.terminate()
                variant.server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
