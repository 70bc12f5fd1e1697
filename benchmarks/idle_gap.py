"""A search arriving after a pause, against one right after another, with the second encoder's
helper thread steered off the caller's CPU (shipped) and not.

Usage: python benchmarks/idle_gap.py [--queries 150] [--gap-ms 18] [--rounds 2]

In process, one new question at a time: prints, per variant and pause, the medians of the
whole search, the e5 onnxruntime run, the USE encode, and how long after the e5 run started
the USE encode did, plus how often the helper ran on the caller's CPU.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import questions  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.cpus import CpuSteering, SteeredHelpers  # noqa: E402
from service.engine import load_engine  # noqa: E402


class Timed:
    """An onnxruntime session that records when each run started and ended."""

    def __init__(self, session: Any, marks: dict[str, Any]) -> None:
        self.session, self.marks = session, marks

    def run(self, *args: Any) -> Any:
        started = time.perf_counter()
        out = self.session.run(*args)
        self.marks["run"] = (started, time.perf_counter())
        return out

    def get_inputs(self) -> Any:
        return self.session.get_inputs()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--gap-ms", type=float, default=18.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    engine = load_engine(load_settings())
    if engine.second is None:
        raise SystemExit("the index has no second encoder: nothing runs beside e5")
    steering = CpuSteering.of_process()
    marks: dict[str, Any] = {}
    engine.encoder._session = Timed(engine.encoder._session, marks)  # type: ignore[attr-defined]
    encode_second = engine.second.encode_queries

    def second(texts: list[str]) -> Any:
        started = time.perf_counter()
        marks["use_cpu"] = steering.current_cpu()
        out = encode_second(texts)
        marks["use"] = (started, time.perf_counter())
        return out

    engine.second.encode_queries = second  # type: ignore[method-assign]
    pool = questions()[: args.queries]
    for q in pool[:5]:
        engine.search(q + " warm")
    variants = {"steered (shipped)": steering, "not steered": CpuSteering()}
    print(
        "| round | helper | pause | search ms | e5 run ms | USE ms | USE start after e5 run ms | helper on the caller's CPU |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for round_no in range(args.rounds):
        for name, variant in variants.items():
            engine._second_worker = SteeredHelpers(2, "second-encoder", variant)
            for gap in (0.0, args.gap_ms / 1000):
                parts: dict[str, list[float]] = collections.defaultdict(list)
                same = 0
                for i, q in enumerate(pool):
                    query = f"{q} 〔{name}{gap}{round_no}{i}〕"
                    started = time.perf_counter()
                    caller_cpu = steering.current_cpu()
                    engine.search(query)
                    parts["search"].append(time.perf_counter() - started)
                    run, use = marks["run"], marks["use"]
                    parts["run"].append(run[1] - run[0])
                    parts["use"].append(use[1] - use[0])
                    parts["delay"].append(use[0] - run[0])
                    same += marks["use_cpu"] == caller_cpu
                    if gap:
                        time.sleep(gap)
                ms = {k: statistics.median(v) * 1000 for k, v in parts.items()}
                print(
                    f"| {round_no + 1} | {name} | {gap * 1000:.0f} ms | {ms['search']:.2f} | "
                    f"{ms['run']:.2f} | {ms['use']:.2f} | {ms['delay']:.2f} | {same}/{len(pool)} |"
                )
            engine._second_worker.shutdown()
    print(f"threads: {threading.active_count()}; CPUs allowed: {sorted(steering.cpus)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
