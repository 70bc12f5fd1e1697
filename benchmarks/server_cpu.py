"""What a server spends per request under load: CPU, cores kept busy, memory by kind.

Usage:
    python benchmarks/server_cpu.py [--workers N] [--requests 500] [--concurrency 8] \\
        [--env SHISAKU_ENCODER_SLOTS=1 ...]

Starts `shisaku serve` (with ``--workers N`` when given), warms it, sends 100 new queries one
at a time (the p50), then ``--requests`` new queries at ``--concurrency``, and prints the
throughput, the server's CPU milliseconds per request (every process of it), the client's,
how many of the machine's cores the two kept busy, and the server's memory: RSS and PSS
summed over its processes, and for the first worker the file-backed and anonymous parts with
its largest mappings, of the largest process (a worker) (what the models, the dictionary and the heap hold).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import free_port, percentile, questions, wait_ready  # noqa: E402


def processes(pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [pid, *(int(p) for p in children.split())]


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def rollup(pid: int) -> dict[str, float]:
    """/proc/<pid>/smaps_rollup in MB."""
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value, *_ = line.split()
        out[key.rstrip(":")] = int(value) / 1024
    return out


def largest_mappings(pid: int, n: int = 8) -> list[tuple[float, str]]:
    rows = subprocess.run(["pmap", "-x", str(pid)], capture_output=True, text=True).stdout
    found = []
    for line in rows.splitlines()[2:-2]:
        parts = line.split()
        if len(parts) >= 6 and parts[2].isdigit():
            found.append((int(parts[2]) / 1024, " ".join(parts[5:])))
    return sorted(found, reverse=True)[:n]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args()
    env = dict(os.environ, SHISAKU_LOG_LEVEL="warning")
    env.update(item.split("=", 1) for item in args.env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "service.cli", "serve", "--port", str(port)]
    if args.workers > 1:
        command += ["--workers", str(args.workers)]
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_ready(server, url + "/readyz")
        time.sleep(2)  # every worker up
        pool = questions()
        tag = time.strftime("%H%M%S")
        fresh = [f"{q} 〔{tag}-{i}〕" for i, q in enumerate(pool * 8)]
        local = threading.local()

        def one(q: str) -> None:
            client = getattr(local, "client", None)
            if client is None:
                client = local.client = httpx.Client(base_url=url, timeout=60)
            assert client.get("/search", params={"q": q}).status_code == 200

        with ThreadPoolExecutor(args.concurrency) as workers:
            list(workers.map(one, fresh[:60]))  # warm every worker
        latencies = []
        with httpx.Client(base_url=url, timeout=60) as client:
            for q in fresh[60:160]:
                started = time.perf_counter()
                assert client.get("/search", params={"q": q}).status_code == 200
                latencies.append((time.perf_counter() - started) * 1000)
        batch = fresh[160 : 160 + args.requests]
        pids = processes(server.pid)
        server_before, client_before = cpu_seconds(pids), resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as workers:
            list(workers.map(one, batch))
        wall = time.perf_counter() - started
        client_after = resource.getrusage(resource.RUSAGE_SELF)
        server_cpu = cpu_seconds(pids) - server_before
        client_cpu = (client_after.ru_utime + client_after.ru_stime) - (
            client_before.ru_utime + client_before.ru_stime
        )
        n = len(batch)
        memory = [rollup(pid) for pid in pids]
        print(f"| configuration | {args.workers} worker(s), {' '.join(args.env) or 'defaults'} |")
        print(f"| uncached /search p50, one at a time | {percentile(latencies, 0.5):.1f} ms |")
        print(f"| throughput, concurrency {args.concurrency}, new queries | {n / wall:.1f} req/s |")
        print(f"| server CPU per request | {1000 * server_cpu / n:.1f} ms |")
        print(f"| client CPU per request | {1000 * client_cpu / n:.1f} ms |")
        print(f"| cores kept busy (of {os.cpu_count()}) | {(server_cpu + client_cpu) / wall:.2f} |")
        print(f"| processes | {len(pids)} |")
        print(f"| RSS, summed | {sum(m['Rss'] for m in memory):.0f} MB |")
        print(f"| PSS, summed | {sum(m['Pss'] for m in memory):.0f} MB |")
        # The largest process: a worker (the parent of workers only supervises).
        worker = max(zip(memory, pids), key=lambda pair: pair[0]["Rss"])[1]
        first = rollup(worker)
        print(f"| one worker: file-backed / anonymous | {first['Pss_File']:.0f} / "
              f"{first['Anonymous']:.0f} MB |")  # fmt: skip
        for size, name in largest_mappings(worker):
            print(f"|   {name} | {size:.0f} MB |")
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
