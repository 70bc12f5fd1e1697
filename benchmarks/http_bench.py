"""Benchmark the real server over HTTP: build time, cold start, /search latency, throughput, RSS.

Usage: python benchmarks/http_bench.py [--requests 200] [--out BENCHMARKS.md]
Starts `shisaku serve` on a free loopback port against a freshly built index, and compares
the p50 HTTP latency with the time the same model takes to encode one query in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import free_port, memory_mb, percentile, questions  # noqa: E402

sys.path.insert(0, str(ROOT))


def load_dense_encoder():
    """The same dense model the server uses, loaded in this process."""
    from service.config import load_settings
    from service.engine import load_encoders

    encoder, _ = load_encoders(load_settings())
    encoder.encode_queries(["warm up"])
    return encoder


def timed_ms(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    env = dict(os.environ, SHISAKU_LOG_LEVEL="warning")
    base = tempfile.mkdtemp(prefix="shisaku-bench-")
    env["SHISAKU_INDEX_DIR"] = str(Path(base) / "index")
    cli = [sys.executable, "-m", "service.cli"]

    started = time.perf_counter()
    subprocess.run(
        [*cli, "index", "--quiet"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )
    build_wall = time.perf_counter() - started
    manifest = json.loads((Path(base) / "index" / "manifest.json").read_text())

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    server = subprocess.Popen([*cli, "serve", "--port", str(port)], cwd=ROOT, env=env)
    try:
        while True:
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise SystemExit("server exited during start-up")
            time.sleep(0.05)
        cold_start = time.perf_counter() - started

        qs = questions()
        # Unique texts so no request is served from the query cache.
        unique = [
            f"{q} {i}" if i >= len(qs) else q
            for i, q in enumerate(qs * (args.requests // len(qs) + 1))
        ][: args.requests]
        # One run, interleaved: each query over HTTP, then the same query encoded in-process
        # by the same model, so both see the same machine state.
        encoder = load_dense_encoder()
        with httpx.Client(base_url=url, timeout=30) as client:
            for q in qs[:5]:
                client.get("/search", params={"q": q + " warm"})
            latencies, encodes = [], []
            for q in unique:
                response = None

                def request(q: str = q) -> None:
                    nonlocal response
                    response = client.get("/search", params={"q": q})

                latencies.append(timed_ms(request))
                assert response is not None and response.status_code == 200
                encodes.append(timed_ms(lambda q=q: encoder.encode_queries([q])))
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        encode_ms = statistics.median(encodes)

        errors = 0
        lock = threading.Lock()
        local = threading.local()

        def one(q: str) -> None:
            nonlocal errors
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(base_url=url, timeout=60)
            if client.get("/search", params={"q": q + " c8"}).status_code != 200:
                with lock:
                    errors += 1

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool:
            list(pool.map(one, unique))
        throughput = len(unique) / (time.perf_counter() - t0)
        peak = memory_mb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=30)

    rows = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
        "index build (CLI wall clock, incl. model load)": f"{build_wall:.1f} s",
        "index build (manifest: parse, embed, BM25)": f"{manifest['build_seconds']:.1f} s",
        "cold start to /readyz 200": f"{cold_start:.1f} s",
        f"/search p50 at concurrency 1 ({len(latencies)} requests)": f"{p50:.1f} ms",
        "/search p99 at concurrency 1": f"{p99:.1f} ms",
        "e5 encode of the same queries in-process (median)": f"{encode_ms:.1f} ms",
        "ratio p50 HTTP / in-process encode": f"{p50 / encode_ms:.2f}",
        f"/search throughput at concurrency {args.concurrency}": f"{throughput:.1f} req/s "
        f"({errors} errors)",
        "server peak RSS": f"{peak:.0f} MB",
    }
    for key, value in rows.items():
        print(f"{key:<55} {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
