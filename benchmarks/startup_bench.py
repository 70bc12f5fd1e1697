"""Start-up times of two or more builds, interleaved: launch by launch under the same load.

Usage: python benchmarks/startup_bench.py [--rounds 5] BUILD [BUILD ...]

Each BUILD is ``name=path``: a checkout of shisaku-search with its own index at
``path/var/index`` (``make index`` there), run by this Python with ``PYTHONPATH=path`` and
the model cache ``path/var/models`` if there is one (else the environment's
SHISAKU_MODEL_CACHE). Every round runs, for each build in turn (the order
alternates between rounds): the one-shot ``shisaku search`` (wall, max RSS), ``shisaku
measures``, ``shisaku mcp`` launch to the first tool call answered, and ``shisaku serve``
launch to ``/readyz`` 200 (and its RSS then); for the one-shot search and ``serve``, also the
CPU seconds used, which other jobs on the machine change far less than the wall time. Prints the medians, every launch and the load
average before and after, as markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import free_port, memory_mb, wait_ready  # noqa: E402

QUERY = "特定技能2号の分野は?"


def environment(path: Path) -> dict[str, str]:
    env = dict(
        os.environ,
        PYTHONPATH=str(path),
        SHISAKU_INDEX_DIR=str(path / "var" / "index"),
        SHISAKU_LOG_LEVEL="warning",
    )
    if (path / "var" / "models").is_dir():  # the build's own model cache, if it has one
        env["SHISAKU_MODEL_CACHE"] = str(path / "var" / "models")
    return env


def one_shot(path: Path, args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, max RSS (MB) and CPU seconds of one `shisaku ARGS` process (a fresh
    child each time: RUSAGE_CHILDREN's peak is the largest so far, so it is read in a
    throwaway process)."""
    code = (
        "import resource, subprocess, sys, time\n"
        "started = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "wall = time.perf_counter() - started\n"
        "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "print(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", "service.cli", *args],
        cwd=path,
        env=environment(path),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2])


def mcp_first_call(path: Path) -> float:
    """Seconds from launching `shisaku mcp` to the answer of the first tool call."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    async def run() -> float:
        started = time.perf_counter()
        parameters = StdioServerParameters(
            command=sys.executable,
            args=["-m", "service.cli", "mcp"],
            cwd=str(path),
            env=environment(path),
        )
        async with Client(parameters, read_timeout_seconds=120) as client:
            result = await client.call_tool("search_measures", {"query": QUERY})
            assert not result.is_error, result
            return time.perf_counter() - started

    return asyncio.run(run())


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_ready(path: Path) -> tuple[float, float, float]:
    """Seconds from launching `shisaku serve` to /readyz 200, its RSS (MB) and the CPU
    seconds it used to get there (a figure the machine's load changes far less)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/readyz"
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        cwd=path,
        env=environment(path),
    )
    try:
        wait_ready(server, url, 0.01, str(path))
        return time.perf_counter() - started, memory_mb(server.pid), cpu_seconds(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("builds", nargs="+", metavar="NAME=PATH")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    builds = [(name, Path(path).resolve()) for name, path in (b.split("=", 1) for b in args.builds)]
    figures: dict[str, dict[str, list[float]]] = {name: {} for name, _ in builds}
    loads = [load_average()]
    print(f"load average before: {loads[0]}", file=sys.stderr)
    for round_ in range(args.rounds):
        order = builds if round_ % 2 == 0 else builds[::-1]
        for name, path in order:
            rows = figures[name]
            wall, rss, cpu = one_shot(path, ["search", QUERY, "--k", "3"])
            rows.setdefault("`shisaku search` one shot, wall (s)", []).append(wall)
            rows.setdefault("`shisaku search` one shot, CPU (s)", []).append(cpu)
            rows.setdefault("`shisaku search` one shot, max RSS (MB)", []).append(rss)
            wall, _, _ = one_shot(path, ["measures"])
            rows.setdefault("`shisaku measures`, wall (s)", []).append(wall)
            rows.setdefault("`shisaku mcp`: launch to first tool call answered (s)", []).append(
                mcp_first_call(path)
            )
            ready, rss, cpu = serve_ready(path)
            rows.setdefault("`shisaku serve`: launch to /readyz 200 (s)", []).append(ready)
            rows.setdefault("`shisaku serve`: CPU used until ready (s)", []).append(cpu)
            rows.setdefault("`shisaku serve`: RSS when ready (MB)", []).append(rss)
            print(
                f"round {round_ + 1} {name}: "
                + ", ".join(f"{values[-1]:.2f}" for values in rows.values()),
                file=sys.stderr,
            )
        loads.append(load_average())
    names = [name for name, _ in builds]
    print(f"{args.rounds} rounds, interleaved; load average (1, 5, 15 min) by round: ")
    print("; ".join(loads))
    print()
    print("| figure (median; every launch) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for figure in figures[names[0]]:
        cells = []
        for name in names:
            values = figures[name][figure]
            every = ", ".join(f"{v:.0f}" if v >= 100 else f"{v:.2f}" for v in values)
            median = statistics.median(values)
            cells.append(
                f"**{median:.0f}** ({every})" if median >= 100 else f"**{median:.2f}** ({every})"
            )
        print(f"| {figure} | " + " | ".join(cells) + " |")
    print(f"\n{time.strftime('%Y-%m-%d %H:%M')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
