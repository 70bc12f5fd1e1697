"""Int8 recipes of the e5 query model judged by the real engine: the export's (SmoothQuant
on the feed-forward output projections, every MatMul int8), SmoothQuant at other strengths,
the previous recipe (those projections left in fp32), all-int8 without smoothing, fp32 and
torch.

Usage: python benchmarks/smoothquant.py [--alpha 0.5 --alpha 0.75 ...] [--rounds 3]

For each query encoder, over the development questions (data/eval/questions.jsonl): cosine of
its query vectors to the fp32 ONNX ones, ms per query alone on 1 thread (interleaved per
question), then the full engine (index at SHISAKU_INDEX_DIR, USE beside it): hit@1 per
language, hit@5 and MRR@10 (`shisaku eval`'s figures), and /ask's answerability decisions
(unanswerable questions refused, answerable questions refused; benchmarks/answerability.py's
figures); and hit@1 per language on the spent held-back sets (data/eval/heldback*.jsonl) as a
check that a recipe chosen on the development set is not fitted to it. ONNX encoders encode
one query per run, as the service does (int8 activations are quantised per run). The variants are built from the export's fp32 graph in a temporary folder,
calibrated on indexer/vocab/e5_calibration.txt as the export does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.embed import Encoder  # noqa: E402
from indexer.onnx_export import (  # noqa: E402
    FP32_FILE,
    INT8_DATA_FILE,
    INT8_FILE,
    SMOOTH_ALPHA,
    externalize_weights,
    quantize_int8,
)
from service.answer import answer_question  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.engine import load_engine, load_query_encoder, load_second_encoder, onnx_dir  # noqa: E402
from service.evaluate import evaluate, load_questions  # noqa: E402
from service.query_encoder import OnnxQueryEncoder  # noqa: E402

HELDBACK = ("heldback.jsonl", "heldback2.jsonl")


def variant(onnx: Path, work: Path, alpha: float | None, keep_ffn_output: bool = False) -> Path:
    """A copy of the export folder whose int8 model quantises every MatMul, smoothed with
    ``alpha`` (None: not smoothed), or all but the feed-forward output projections."""
    from indexer.onnx_export import smooth_graph_for_int8

    folder = work / ("ffn-fp32" if keep_ffn_output else "all" if alpha is None else f"{alpha}")
    folder.mkdir()
    for path in onnx.iterdir():
        if path.name not in (INT8_FILE, INT8_DATA_FILE):
            (folder / path.name).symlink_to(path)
    source = onnx / FP32_FILE
    if alpha is not None:
        encoder = OnnxQueryEncoder(onnx, "int8", threads=1)
        source = work / f"smoothed-{alpha}.onnx"
        smooth_graph_for_int8(onnx / FP32_FILE, source, encoder.features, alpha)
    quantize_int8(source, folder / INT8_FILE, keep_ffn_output=keep_ffn_output)
    externalize_weights(folder / INT8_FILE, INT8_DATA_FILE)
    if source != onnx / FP32_FILE:
        source.unlink()
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alpha", type=float, action="append")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    alphas = args.alpha or []
    settings = load_settings()
    onnx = onnx_dir(settings)
    questions = load_questions(ROOT / "data" / "eval" / "questions.jsonl")
    texts = [q.question for q in questions]
    heldback = [  # spent held-back sets: a check that a recipe is not fitted to the dev set
        q for name in HELDBACK for q in load_questions(ROOT / "data" / "eval" / name)
    ]
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="smoothquant-", dir=onnx.parent) as tmp:
        work = Path(tmp)
        encoders: dict[str, Encoder] = {
            "torch": load_query_encoder(settings.model_copy(update={"query_encoder": "torch"})),
            "ONNX fp32": OnnxQueryEncoder(onnx, "fp32", batch_size=1),
            f"ONNX int8, SmoothQuant α {SMOOTH_ALPHA} (the export)": OnnxQueryEncoder(
                onnx, "int8", batch_size=1
            ),
            "ONNX int8, feed-forward outputs fp32 (previous)": OnnxQueryEncoder(
                variant(onnx, work, None, keep_ffn_output=True), "int8", batch_size=1
            ),
            "ONNX int8, every MatMul": OnnxQueryEncoder(
                variant(onnx, work, None), "int8", batch_size=1
            ),
        }
        for alpha in alphas:
            folder = variant(onnx, work, alpha)
            encoders[f"ONNX int8, SmoothQuant α {alpha}"] = OnnxQueryEncoder(
                folder, "int8", batch_size=1
            )
        print("variants built", flush=True)

        vectors = {name: e.encode_queries(texts) for name, e in encoders.items()}
        times: dict[str, list[float]] = {name: [] for name in encoders}
        for _ in range(args.rounds):
            for text in texts:
                for name, encoder in encoders.items():
                    if name == "torch":
                        continue
                    started = time.perf_counter()
                    encoder.encode_queries([text])
                    times[name].append((time.perf_counter() - started) * 1000)

        second = load_second_encoder(settings)
        rows = []
        for name, encoder in encoders.items():
            engine = load_engine(settings, encoders=(encoder, second), long_running=False)
            scores = evaluate(engine, questions)["scores"]
            held = evaluate(engine, heldback)["scores"]
            refused = {"un": [0, 0], "an": [0, 0]}
            for q in questions:
                key = "an" if q.gold else "un"
                refused[key][0] += not answer_question(engine, q.question).answerable
                refused[key][1] += 1
            cos = np.sum(vectors[name] * vectors["ONNX fp32"], axis=1)
            timing = f"{statistics.median(times[name]):.2f}" if times[name] else "—"
            rows.append(
                f"| {name} | {scores['lang:ja']['hit_at_1']:.3f} | "
                f"{scores['lang:en']['hit_at_1']:.3f} | {scores['all']['hit_at_5']:.3f} | "
                f"{scores['all']['mrr_at_10']:.3f} | {refused['un'][0]} / {refused['un'][1]} | "
                f"{refused['an'][0]} / {refused['an'][1]} | {cos.mean():.5f} ({cos.min():.5f}) | "
                f"{timing} | {held['lang:ja']['hit_at_1']:.3f} / {held['lang:en']['hit_at_1']:.3f} |"
            )
            print(rows[-1], flush=True)
    print(f"\nload average after: {os.getloadavg()}\n")
    print(
        "| query encoder | hit@1 ja | hit@1 en | hit@5 | MRR@10 | unanswerable refused | "
        "answerable refused | cosine to fp32, mean (min) | ms per query, 1 thread | "
        "held-back hit@1 ja / en |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
