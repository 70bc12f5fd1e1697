"""onnxruntime's graph rewrites for the int8 e5 query model: which ones to leave out.

Usage: python benchmarks/graph_rewrites.py [--rounds 5] [--extra GeluFusion,AttentionFusion]

Loads the shipped int8 export in several forms (every rewrite onnxruntime applies; the
service's ``DISABLED_OPTIMIZERS`` left out; that plus each ``--extra`` rewrite left out) and
prints, per form: the median time of one query's session run (one thread, the development
questions, the forms alternated in a shuffled order per question), runs per second with two
threads encoding at once, and the cosine of the pooled query vectors to the fp32 export's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import questions  # noqa: E402
from indexer.onnx_export import mean_pool_normalise  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.engine import load_query_encoder  # noqa: E402
from service.query_encoder import (  # noqa: E402
    DISABLED_OPTIMIZERS,
    OnnxQueryEncoder,
    session_options,
)


def session(path: Path, disabled: list[str]) -> Any:
    """The service's session of ``path`` (one thread), with ``disabled`` rewrites left out."""
    import onnxruntime as ort

    return ort.InferenceSession(
        str(path),
        session_options(1, 0),
        providers=["CPUExecutionProvider"],
        disabled_optimizers=disabled,
    )


def two_threads(run: Any, feeds: list[dict[str, np.ndarray]]) -> float:
    """Session runs per second with two threads running at once."""

    def work(part: list[dict[str, np.ndarray]]) -> None:
        for feed in part:
            run(None, feed)

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(feeds[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(feeds) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--extra", default="", help="more rewrites to try leaving out, comma-separated"
    )
    args = parser.parse_args()
    settings = load_settings().model_copy(update={"query_encoder": "int8"})
    encoder = load_query_encoder(settings)
    if not isinstance(encoder, OnnxQueryEncoder):
        raise SystemExit("the int8 query encoder did not load")
    fp32 = OnnxQueryEncoder(encoder.onnx_dir, "fp32")
    pool = questions()
    prepared = [encoder.features([encoder.query_prompt + q]) for q in pool]
    feeds = [feed for feed, _ in prepared]
    shipped = list(DISABLED_OPTIMIZERS)
    forms = {"every rewrite": session(encoder.path, []), "shipped": session(encoder.path, shipped)}
    for name in filter(None, args.extra.split(",")):
        forms[f"shipped, also without {name}"] = session(encoder.path, [*shipped, name])

    reference = fp32.encode_queries(pool)
    times: dict[str, list[float]] = {name: [] for name in forms}
    rates: dict[str, list[float]] = {name: [] for name in forms}
    names = list(forms)
    for _ in range(args.rounds):
        for feed in feeds:
            random.shuffle(names)
            for name in names:
                started = time.perf_counter()
                forms[name].run(None, feed)
                times[name].append((time.perf_counter() - started) * 1000)
        for name in names:
            rates[name].append(two_threads(forms[name].run, feeds))

    print(f"{len(pool)} questions, {args.rounds} rounds; left out by the service: {shipped}")
    print("| form | one run, median | runs/s, two threads at once | cosine to fp32, mean (min) |")
    print("|---|---:|---:|---:|")
    for name, form in forms.items():
        vectors = np.vstack(
            [mean_pool_normalise(form.run(None, feed)[0], mask) for feed, mask in prepared]
        )
        cosine = (vectors * reference).sum(axis=1)
        print(
            f"| {name} | {statistics.median(times[name]):.2f} ms | "
            f"{statistics.median(rates[name]):.0f} | {cosine.mean():.5f} ({cosine.min():.5f}) |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
