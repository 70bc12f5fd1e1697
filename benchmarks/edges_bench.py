"""Figures for the hard edges: a search waiting behind maximal batches, RSS across batch
floods, and what the bounded request-head parser costs.

Usage: python benchmarks/edges_bench.py [--floods 20]
Starts `shisaku serve` on a free loopback port against SHISAKU_INDEX_DIR.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    free_port,
    memory_mb,
    percentile,
    questions,
    start_server,
)

WORDS = "外国人材 受入れ 共生社会 在留資格 手続 オンライン 難民認定 日本語教育 相談体制 地方公共団体".split()


def maximal_batch(tag: int, chars: int = 20_000) -> list[str]:
    """20 queries of 1,000 characters: the largest batch the default budget admits."""
    queries = []
    for i in range(chars // 1000):
        text = f"{tag}-{i} " + " ".join(WORDS[(i + j) % len(WORDS)] for j in range(300))
        queries.append(text[:1000])
    return queries


def header_cost(requests: int = 3000) -> dict[str, float]:
    """Requests per second of a trivial app on uvicorn's httptools parser, stock and bounded."""
    import uvicorn

    from service.http.server import bounded_protocol

    async def app(scope, receive, send):  # noqa: ANN001, ANN202
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    out = {}
    for name, http in (("httptools", "httptools"), ("bounded", bounded_protocol(16384, 10.0))):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, http=http, log_level="error")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        latencies = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(requests):
                started = time.perf_counter()
                client.get("/", headers={"X-Pad": "a" * 500})
                latencies.append((time.perf_counter() - started) * 1000)
        server.should_exit = True
        thread.join(5)
        out[name] = statistics.median(latencies)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--floods", type=int, default=20)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, SHISAKU_LOG_LEVEL="warning")
    server = start_server(port, env)
    rows: dict[str, str] = {}
    try:
        rss = [memory_mb(server.pid)]
        waits, batches = [], []
        pool = questions()
        for flood in range(args.floods):
            done: dict[str, float] = {}

            def post(flood: int = flood, done: dict[str, float] = done) -> None:
                started = time.perf_counter()
                response = httpx.post(
                    url + "/search/batch", json={"queries": maximal_batch(flood)}, timeout=120
                )
                assert response.status_code == 200, response.text
                done["batch"] = time.perf_counter() - started

            thread = threading.Thread(target=post)
            thread.start()
            time.sleep(0.2)  # the batch is encoding now
            started = time.perf_counter()
            single = httpx.get(
                url + "/search", params={"q": f"{pool[flood]} 〔{flood}〕"}, timeout=60
            )
            waits.append(time.perf_counter() - started)
            assert single.status_code == 200
            thread.join()
            batches.append(done["batch"])
            rss.append(memory_mb(server.pid))
        rows["maximal batch (20 × 1,000 characters): time (median)"] = (
            f"{statistics.median(batches):.2f} s"
        )
        rows["a new search sent behind it: latency p50 / max"] = (
            f"{percentile(waits, 0.5):.2f} s / {max(waits):.2f} s"
        )
        rows[f"server RSS: ready / after {args.floods} maximal batches (min–max during)"] = (
            f"{rss[0]:.0f} MB / {rss[-1]:.0f} MB ({min(rss):.0f}–{max(rss):.0f})"
        )
        rows["server peak RSS"] = f"{memory_mb(server.pid, 'VmHWM'):.0f} MB"
        rows["server RSS after each batch"] = " ".join(f"{r:.0f}" for r in rss)
    finally:
        server.terminate()
        server.wait(timeout=30)
    cost = header_cost()
    rows["trivial request p50, uvicorn httptools / with bounded heads"] = (
        f"{cost['httptools']:.3f} ms / {cost['bounded']:.3f} ms"
    )
    for key, value in rows.items():
        print(f"| {key} | {value} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
