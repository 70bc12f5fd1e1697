"""Do two builds answer alike? Every /search, /ask and /similar response to the question sets.

Usage: python benchmarks/same_responses.py OLD_PATH NEW_PATH [--k 10]

Starts ``shisaku serve`` from each checkout (``PYTHONPATH=path``, its ``var/index``, its
``var/models`` if it has one, else SHISAKU_MODEL_CACHE), sends both the same requests (the
development and held-back questions of data/eval, each as GET /search, POST /ask and POST
/similar) and compares the JSON bodies, every field but the timings (``took_ms``). Prints
the number of requests and the differing ones; exits 1 if any differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import free_port, wait_ready  # noqa: E402
from benchmarks.startup_bench import environment  # noqa: E402


def question_sets() -> list[str]:
    out: list[str] = []
    for path in sorted((ROOT / "data" / "eval").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line)["question"])
    return list(dict.fromkeys(out))


def without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k != "took_ms"}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def responses(path: Path, queries: list[str], k: int) -> list[Any]:

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        cwd=path,
        env=environment(path),
    )
    out: list[Any] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            wait_ready(server, f"http://127.0.0.1:{port}/readyz", 0.05, str(path))
            for q in queries:
                for method, url, kwargs in (
                    ("GET", "/search", {"params": {"q": q, "k": k}}),
                    ("POST", "/ask", {"json": {"question": q}}),
                    ("POST", "/similar", {"json": {"text": q, "k": 5}}),
                ):
                    response = client.request(method, url, **kwargs)
                    out.append((url, q, response.status_code, without_timings(response.json())))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    queries = question_sets()
    old = responses(args.old.resolve(), queries, args.k)
    new = responses(args.new.resolve(), queries, args.k)
    differing = [(a[0], a[1]) for a, b in zip(old, new, strict=True) if a != b]
    statuses = Counter(f"{url} {status}" for url, _, status, _ in new)
    print(
        f"{len(old)} requests ({len(queries)} questions × /search, /ask, /similar; "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))}), "
        f"{len(differing)} differ"
    )
    for url, q in differing[:20]:
        print(f"  {url} {q!r}")
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())
