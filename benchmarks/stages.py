"""Where the time of one uncached search goes, by stage, measured with pyinstrument.

Usage: python benchmarks/stages.py [--queries 300]
Profiles the search core and the response's JSON in process over the development questions
made unique (no cache), then times the same requests over loopback HTTP; the difference is
the HTTP layer. Prints the milliseconds per request of each stage.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import free_port, questions, start_server  # noqa: E402

# Function names → stage; the first stage found on a frame's call stack takes its time.
STAGES = (
    ("tokenize (SudachiPy, for BM25)", ("tokenize",), "indexer/tokenize.py"),
    ("e5 encode (onnxruntime)", ("_encode",), "service/query_encoder.py"),
    ("USE encode (numpy, on its own thread beside e5)", ("_encode",), "indexer/embed.py"),
    ("BM25 scores", ("get_scores",), "service/bm25.py"),
    ("FAISS scores", ("_encoder_scores",), "service/search.py"),
    ("fusion", ("combine",), "service/fusion.py"),
    ("ranking and passages", ("_rank",), "service/search.py"),
    ("glossary and lexicon", ("expand", "prepare"), "service/"),
    ("highlights and relevance (views)", ("view_of",), "service/views.py"),
    ("response model and JSON", ("of", "model_dump_json"), ""),
)


def stage_of(frame) -> str | None:  # noqa: ANN001
    for name, functions, where in STAGES:
        if frame.function in functions and where in (frame.file_path or ""):
            return name
    return None


def collect(frame, totals: dict[str, float]) -> None:  # noqa: ANN001
    stage = stage_of(frame)
    if stage is not None:
        totals[stage] = totals.get(stage, 0.0) + frame.time
        return
    for child in frame.children:
        collect(child, totals)


def main() -> int:
    from pyinstrument import Profiler

    from service.config import load_settings
    from service.engine import load_engine
    from service.schemas import SearchResponse
    from service.views import view_of

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    settings = load_settings().model_copy(update={"result_cache_size": 0, "vector_cache_size": 0})
    pool = questions()
    unique = [f"{q} 〔{i}〕" for i, q in enumerate(pool * (args.queries // len(pool) + 1))]
    unique = unique[: args.queries]
    engine = load_engine(settings)
    for q in pool[:5]:
        engine.search(q)
    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    with profiler:  # the core and the response's JSON, as a route runs them
        for q in unique:
            outcome = engine.search(q)
            SearchResponse.of(outcome, view_of(engine, outcome)).model_dump_json()
    in_process = (time.perf_counter() - started) * 1000 / len(unique)
    totals: dict[str, float] = {}
    session = profiler.last_session
    assert session is not None
    root = session.root_frame()
    assert root is not None
    collect(root, totals)
    total = root.time
    scale = in_process / (total * 1000 / len(unique)) if total else 1.0

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SHISAKU_LOG_LEVEL": "warning",
        "SHISAKU_RESULT_CACHE_SIZE": "0",
        "SHISAKU_VECTOR_CACHE_SIZE": "0",
    }
    server = start_server(port, env)
    try:
        latencies = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for q in unique:
                started = time.perf_counter()
                client.get("/search", params={"q": q})
                latencies.append((time.perf_counter() - started) * 1000)
    finally:
        server.terminate()
        server.wait(timeout=30)
    over_http = statistics.mean(latencies)

    print(f"| stage | ms per request (mean of {len(unique)}) |")
    print("|---|---|")
    for name, *_ in STAGES:
        print(f"| {name} | {totals.get(name, 0.0) * 1000 / len(unique) * scale:.2f} |")
    known = sum(totals.values()) * 1000 / len(unique) * scale
    print(f"| other core work (validation, intent, caches, threads) | {in_process - known:.2f} |")
    print(f"| search core + JSON, in process | {in_process:.2f} |")
    http = over_http - in_process
    print(f"| HTTP: uvicorn, routing, middleware, worker thread, client | {http:.2f} |")
    print(f"| total over HTTP | {over_http:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
