"""Torch vs ONNX (fp32, int8) query encoding: fidelity, latency, dense hit@1, footprint.

Usage:
    python benchmarks/query_encoder.py [--model-dir DIR] [--index-dir DIR] [--onnx-dir DIR]
        [--rounds 5] [--variants] [--no-footprint]

For the development questions (data/eval/questions.jsonl, ``question`` field, encoded one at a
time with the "query: " prompt, as the service does) it prints:
  (a) cosine of each ONNX backend's query vectors to the torch sentence-transformers ones;
  (b) median / p90 ms per single query, all backends on 1 thread, interleaved per question
      so that machine noise hits them alike;
  (c) dense-only hit@1 per language against the built index's e5 vectors: a measure scores
      its best passage + 0.5 x the whole measure (the service's dense signal), queries as
      written and glossary-expanded (English only, as the service does);
  (d) passage side: cosine of ONNX ``encode_passages`` to the index's torch-built vectors;
  (e) footprint: a fresh process per backend, import + load time, first query, peak RSS and
      whether torch got imported.
``--variants`` also quantises per-tensor and QUInt8 models (about 10 s each) for (a)-(c).
The ONNX export is prepared with ensure_onnx (re-used when current).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import percentile  # noqa: E402
from indexer.build import measure_text  # noqa: E402
from indexer.embed import DEFAULT_MODEL, DEFAULT_MODEL_DIRNAME, Encoder, load_encoder  # noqa: E402
from indexer.onnx_export import (  # noqa: E402
    INT8_FILE,
    ONNX_CONFIG,
    SENTENCEPIECE_FILE,
    TOKENIZER_FILE,
    WeightType,
    ensure_onnx,
    model_fingerprint,
    onnx_dir_for,
    quantize_int8,
    smooth_graph_for_int8,
)
from indexer.records import Measure  # noqa: E402
from service.fusion import Recipe  # noqa: E402
from service.glossary import load_glossary  # noqa: E402
from service.intent import read_intent  # noqa: E402
from service.query_encoder import OnnxQueryEncoder  # noqa: E402
from service.search import normalize_query  # noqa: E402

MODEL_CACHE = Path(os.environ.get("SHISAKU_MODEL_CACHE", ROOT / "var" / "models"))
VARIANTS: dict[str, tuple[bool, WeightType]] = {
    "int8 per-tensor QInt8": (False, "QInt8"),
    "int8 per-channel QUInt8": (True, "QUInt8"),
    "int8 per-tensor QUInt8": (False, "QUInt8"),
}


@dataclass(frozen=True)
class Question:
    lang: str
    text: str
    gold: tuple[int, ...]


def load_questions() -> list[Question]:
    path = ROOT / "data" / "eval" / "questions.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [Question(r["lang"], r["question"], tuple(r.get("gold", []))) for r in rows]


def variant_dir(onnx_dir: Path, work: Path, per_channel: bool, weight_type: WeightType) -> Path:
    """A folder like ``onnx_dir`` whose int8 model is quantised with other settings (smoothed
    as the export does)."""
    folder = work / f"int8-{'pc' if per_channel else 'pt'}-{weight_type}"
    folder.mkdir(parents=True, exist_ok=True)
    for name in (ONNX_CONFIG, TOKENIZER_FILE, SENTENCEPIECE_FILE):
        if not (folder / name).exists():
            (folder / name).symlink_to(onnx_dir / name)
    if not (folder / INT8_FILE).exists():
        smoothed = work / "smoothed.onnx"
        if not smoothed.exists():
            tokenize = OnnxQueryEncoder(onnx_dir, "int8").features
            smooth_graph_for_int8(onnx_dir / "model.onnx", smoothed, tokenize)
        quantize_int8(
            smoothed, folder / INT8_FILE, per_channel=per_channel, weight_type=weight_type
        )
    return folder


def single_query_runs(
    encoders: dict[str, Encoder], texts: list[str], rounds: int
) -> tuple[dict[str, np.ndarray], dict[str, list[float]]]:
    """Each text encoded alone by every encoder in turn, ``rounds`` times: vectors, timings."""
    for encoder in encoders.values():
        encoder.encode_queries(texts[:5])  # warm-up
    vectors: dict[str, list[np.ndarray]] = {name: [] for name in encoders}
    times: dict[str, list[float]] = {name: [] for name in encoders}
    for round_no in range(rounds):
        for text in texts:
            for name, encoder in encoders.items():
                started = time.perf_counter()
                vector = encoder.encode_queries([text])
                times[name].append((time.perf_counter() - started) * 1000)
                if round_no == 0:
                    vectors[name].append(vector[0])
    return {name: np.vstack(v) for name, v in vectors.items()}, times


class DenseIndex:
    """The index's e5 vectors and the service's dense measure score."""

    def __init__(self, index_dir: Path) -> None:
        import faiss

        passages = json.loads((index_dir / "passages.json").read_text(encoding="utf-8"))
        measures = json.loads((index_dir / "measures.json").read_text(encoding="utf-8"))
        self.measures = [Measure(**m) for m in measures]
        self.passage_texts = [p["text"] for p in passages]
        self.numbers = np.array([m.number for m in self.measures])
        position = {number: i for i, number in enumerate(self.numbers)}
        self.groups = np.array([position[p["measure"]] for p in passages])
        self.passages = self._vectors(faiss.read_index(str(index_dir / "dense_passages.faiss")))
        self.whole = self._vectors(faiss.read_index(str(index_dir / "dense_measures.faiss")))
        self.manifest = json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))

    @staticmethod
    def _vectors(index: object) -> np.ndarray:
        return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)  # type: ignore[attr-defined]

    def top_measure(self, query: np.ndarray) -> int:
        best = np.full(len(self.numbers), -np.inf)
        np.maximum.at(best, self.groups, self.passages @ query)
        scores = best + Recipe().whole_measure_weight * (self.whole @ query)
        return int(self.numbers[int(np.argmax(scores))])


def hit_at_1(
    index: DenseIndex, questions: list[Question], vectors: np.ndarray
) -> dict[str, tuple[int, int]]:
    """Per language (and all): (hits, answerable questions)."""
    out: dict[str, list[int]] = {}
    for question, vector in zip(questions, vectors):
        if not question.gold:
            continue
        hit = int(index.top_measure(vector) in question.gold)
        for key in (question.lang, "all"):
            out.setdefault(key, [0, 0])
            out[key][0] += hit
            out[key][1] += 1
    return {key: (v[0], v[1]) for key, v in out.items()}


FOOTPRINT_SCRIPT = """
import json, sys, time
started = time.perf_counter()
import os
from benchmarks.common import memory_mb
kind, path = sys.argv[1], sys.argv[2]
if kind == "torch":
    from pathlib import Path
    from indexer.embed import load_encoder
    encoder = load_encoder(path, Path(path).parent, threads=1)
else:
    from pathlib import Path
    from service.query_encoder import OnnxQueryEncoder
    encoder = OnnxQueryEncoder(Path(path), kind, threads=1)
loaded = time.perf_counter()
encoder.encode_queries(["在留資格「特定技能」の分野は?"])
first = time.perf_counter()
print(json.dumps({
    "load_s": loaded - started,
    "first_ms": (first - loaded) * 1000,
    "peak_rss_mb": memory_mb(os.getpid(), "VmHWM"),
    "torch": "torch" in sys.modules,
}))
"""


def footprint(kind: str, path: Path) -> dict[str, float | bool]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", FOOTPRINT_SCRIPT, kind, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=600,
    )
    result: dict[str, float | bool] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - started
    return result


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=MODEL_CACHE / DEFAULT_MODEL_DIRNAME)
    parser.add_argument("--index-dir", type=Path, default=ROOT / "var" / "index")
    parser.add_argument("--onnx-dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--variants", action="store_true")
    parser.add_argument("--no-footprint", action="store_true")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    model_dir: Path = args.model_dir
    onnx_dir: Path = args.onnx_dir or onnx_dir_for(model_dir)
    started = time.perf_counter()
    ensure_onnx(model_dir, onnx_dir)
    print(f"ONNX export ready in {time.perf_counter() - started:.1f} s: {onnx_dir}")
    name = DEFAULT_MODEL if model_dir.name == DEFAULT_MODEL_DIRNAME else str(model_dir)
    encoders: dict[str, Encoder] = {
        "torch (sentence-transformers)": load_encoder(name, model_dir.parent, threads=1),
        "ONNX fp32": OnnxQueryEncoder(onnx_dir, "fp32", threads=1),
        "ONNX int8 per-channel QInt8": OnnxQueryEncoder(onnx_dir, "int8", threads=1),
    }
    with tempfile.TemporaryDirectory(prefix="qe-variants-") as work:
        if args.variants:
            for label, (per_channel, weight_type) in VARIANTS.items():
                folder = variant_dir(onnx_dir, Path(work), per_channel, weight_type)
                encoders[f"ONNX {label}"] = OnnxQueryEncoder(folder, "int8", threads=1)
        report(args, model_dir, onnx_dir, encoders)
    return 0


def report(
    args: argparse.Namespace, model_dir: Path, onnx_dir: Path, encoders: dict[str, Encoder]
) -> None:
    questions = load_questions()
    texts = [q.text for q in questions]
    vectors, times = single_query_runs(encoders, texts, args.rounds)
    reference = vectors["torch (sentence-transformers)"]
    sizes = {name: getattr(e, "path", model_dir) for name, e in encoders.items()}

    index = DenseIndex(args.index_dir)
    same_model = index.manifest["dense_model"]["fingerprint"] == model_fingerprint(model_dir)
    glossary = load_glossary()

    def expanded(text: str) -> str:
        text = normalize_query(text)
        return glossary.expand(text) if read_intent(text).language == "en" else text

    expanded_texts = [expanded(t) for t in texts]
    rows = []
    for name, encoder in encoders.items():
        cos = np.sum(vectors[name] * reference, axis=1)
        raw = hit_at_1(index, questions, vectors[name])
        exp_vectors = np.vstack([encoder.encode_queries([t]) for t in expanded_texts])
        exp = hit_at_1(index, questions, exp_vectors)
        size = sizes[name]
        size_mb = size.stat().st_size / 1e6 if size.is_file() else float("nan")

        def rate(counts: dict[str, tuple[int, int]], key: str) -> str:
            hits, n = counts[key]
            return f"{hits / n:.3f}"

        rows.append(
            [
                name,
                f"{size_mb:.0f}" if size.is_file() else "470 (safetensors)",
                f"{cos.min():.5f}",
                f"{cos.mean():.5f}",
                f"{np.median(times[name]):.2f}",
                f"{percentile(times[name], 0.9):.2f}",
                rate(raw, "ja"),
                rate(raw, "en"),
                rate(raw, "all"),
                rate(exp, "en"),
                rate(exp, "all"),
            ]
        )
    counts = hit_at_1(index, questions, reference)
    print(
        f"\n{len(texts)} questions ({counts['ja'][1]} ja / {counts['en'][1]} en answerable), "
        f"{args.rounds} rounds of single queries, 1 thread each; index {args.index_dir} "
        f"built with {'the same' if same_model else 'ANOTHER'} model fingerprint\n"
    )
    header = [
        "backend",
        "MB",
        "cos min",
        "cos mean",
        "ms median",
        "ms p90",
        "hit@1 ja",
        "hit@1 en",
        "hit@1 all",
        "en +glossary",
        "all +glossary",
    ]
    print(table(header, rows))

    print("\nPassage side (encode_passages vs the index's torch-built vectors):\n")
    whole_texts = [measure_text(m) for m in index.measures]
    prow = []
    for name, encoder in encoders.items():
        if name.startswith("torch"):
            continue
        p = np.sum(encoder.encode_passages(index.passage_texts) * index.passages, axis=1)
        w = np.sum(encoder.encode_passages(whole_texts) * index.whole, axis=1)
        prow.append(
            [name, f"{p.min():.5f}", f"{p.mean():.5f}", f"{w.min():.5f}", f"{w.mean():.5f}"]
        )
    print(table(["backend", "passages min", "mean", "measures min", "mean"], prow))

    if not args.no_footprint:
        print("\nFootprint (fresh process each, 1 thread):\n")
        frow: list[list[str]] = []
        jobs: list[tuple[str, Callable[[], dict[str, float | bool]]]] = [
            ("torch (sentence-transformers)", lambda: footprint("torch", model_dir)),
            ("ONNX fp32", lambda: footprint("fp32", onnx_dir)),
            ("ONNX int8", lambda: footprint("int8", onnx_dir)),
        ]
        for name, job in jobs:
            f = job()
            frow.append(
                [
                    name,
                    f"{f['wall_s']:.1f}",
                    f"{f['load_s']:.1f}",
                    f"{f['first_ms']:.0f}",
                    f"{f['peak_rss_mb']:.0f}",
                    "yes" if f["torch"] else "no",
                ]
            )
        header = ["backend", "process s", "import+load s", "first query ms", "peak RSS MB"]
        print(table([*header, "torch imported"], frow))


if __name__ == "__main__":
    raise SystemExit(main())
