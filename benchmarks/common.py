"""Helpers shared by the benchmark scripts: ports, questions, percentiles, process memory."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def questions() -> list[str]:
    """The development questions, as a pool of realistic queries."""
    path = ROOT / "data" / "eval" / "questions.jsonl"
    return [
        json.loads(line)["question"]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """A /proc/<pid>/status memory figure in MB: VmRSS (now) or VmHWM (peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_ready(
    server: subprocess.Popen[bytes], url: str, poll: float = 0.02, what: str = ""
) -> None:
    """Return once ``url`` (a /readyz) answers 200; SystemExit if ``server`` exits first."""
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"{what}{': ' if what else ''}the server exited during start-up")
        time.sleep(poll)


def start_server(port: int, env: dict[str, str], checkout: Path = ROOT) -> subprocess.Popen[bytes]:
    """`shisaku serve` of ``checkout`` (its code, its var/) on 127.0.0.1:``port``, returned
    once /readyz answers 200."""
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)], cwd=checkout, env=env
    )
    wait_ready(server, f"http://127.0.0.1:{port}/readyz")
    return server
