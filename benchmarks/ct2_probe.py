"""CTranslate2 as the e5 query runtime, against the shipped onnxruntime int8 encoder (measured,
not adopted: BENCHMARKS.md, issue 9, fourth round).

Usage: pip install ctranslate2  # not a dependency of the project
       python benchmarks/ct2_probe.py [--rounds 3]
Converts the prepared sentence-transformers e5 folder to CTranslate2 (int8 weights) in a
temporary folder, then encodes the development questions one at a time with both runtimes,
interleaved, on 1 thread: prints each one's cosine to the fp32 ONNX vectors (mean, min) and
its median milliseconds per query. CT2_FORCE_CPU_ISA=AVX512 and
CT2_USE_EXPERIMENTAL_PACKED_GEMM=1 are CTranslate2's own switches worth trying.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import questions  # noqa: E402
from indexer.onnx_export import mean_pool_normalise  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.engine import onnx_dir  # noqa: E402
from service.query_encoder import OnnxQueryEncoder  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        import ctranslate2
        from ctranslate2.converters import TransformersConverter
    except ImportError:
        raise SystemExit("ctranslate2 is not installed: pip install ctranslate2") from None
    settings = load_settings()
    folder = onnx_dir(settings)
    fp32, int8 = OnnxQueryEncoder(folder, "fp32"), OnnxQueryEncoder(folder, "int8")
    source = Path(settings.model_cache) / folder.name.removesuffix("-onnx")
    texts = questions()
    reference = fp32.encode_queries(texts)
    with tempfile.TemporaryDirectory() as tmp:
        TransformersConverter(str(source)).convert(tmp, quantization="int8", force=True)
        ct2 = ctranslate2.Encoder(tmp, device="cpu", compute_type="int8", intra_threads=1)

        def encode_ct2(text: str) -> np.ndarray:
            feeds, mask = fp32.features([fp32.query_prompt + text])
            ids = [int(i) for i in feeds["input_ids"][0]]
            hidden = np.asarray(ct2.forward_batch([ids]).last_hidden_state)
            return mean_pool_normalise(hidden, mask)

        runtimes = {
            "onnxruntime int8 (shipped)": lambda text: int8.encode_queries([text]),
            "CTranslate2 int8": encode_ct2,
        }
        times: dict[str, list[float]] = {name: [] for name in runtimes}
        for name, encode in runtimes.items():
            vectors = np.vstack([encode(t) for t in texts])
            cosine = (vectors * reference).sum(axis=1)
            print(f"{name}: cosine to fp32 mean {cosine.mean():.5f}, min {cosine.min():.5f}")
        for _ in range(args.rounds):
            for text in texts:
                for name, encode in runtimes.items():
                    started = time.perf_counter()
                    encode(text)
                    times[name].append((time.perf_counter() - started) * 1000)
    for name, values in times.items():
        print(f"{name}: {statistics.median(values):.2f} ms per query (median, 1 thread)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
