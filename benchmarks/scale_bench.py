"""Scale, measured: index build, disk, memory and uncached search latency at 1, 10 and 100
reports, exact FAISS against HNSW (SHISAKU_FAISS_INDEX).

Usage: python benchmarks/scale_bench.py [--sizes 1,10,100] [--queries 50] [--work DIR]
       python benchmarks/scale_bench.py --micro   (FAISS alone on random vectors, to 10^6 rows)

The corpora are synthetic: copy 0 is data/reports/isa-7th-roundtable-status-2024 as it is;
copy i ≥ 1 is a report series of its own (id ``synthetic-NNN``, its own title) whose text is
perturbed deterministically from i (``perturb``): every paragraph opens with a place
(「{県}では、」, the place chosen from i and the paragraph's position), every number followed by a unit (年, 月,
人, 件, %, …) has its digits shifted by i, a few same-length words are swapped for
synonyms (推進↔促進, 支援↔援助, 外国人↔在留者, 制度↔仕組, … ten pairs, a different subset per copy)
outside headers and labels, and every 7th measure (offset by i) changes its status. Lengths of lines stay as they were, so the parser reads the same 33 measures;
every copy's passage texts differ, so each copy is embedded for itself (no vector-cache
hits between copies). Builds use the real encoders (torch e5 + USE); searches run in a child
process per index, the way a server loads it (ONNX int8 e5 + USE), with the caches cleared
before every query, so each one is encoded and scored. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import memory_mb, percentile  # noqa: E402

ORIGINAL = "isa-7th-roundtable-status-2024"
SOURCE = ROOT / "data" / "reports" / ORIGINAL
SYNONYMS = (
    ("推進", "促進"),
    ("強化", "充実"),
    ("改善", "向上"),
    ("周知", "広報"),
    ("支援", "援助"),
    ("検討", "検証"),
    ("外国人", "在留者"),
    ("制度", "仕組"),
    ("情報", "資料"),
    ("関係機関", "関係団体"),
)
PLACES = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県",
    "群馬県", "埼玉県", "千葉県", "東京都", "新潟県", "富山県", "石川県", "福井県", "山梨県",
    "長野県", "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県",
    "奈良県", "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県",
    "高知県", "福岡県", "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "沖縄県",
)  # fmt: skip
_PARAGRAPH_START = re.compile(r"^(　 | 　)(?=\S)")
_HEADER_WORDS = ("実施状況", "施策番号", "対象施策", "資料", "基本計画策定後に")
STATUS_CYCLE = ("実施中", "実施済み", "検討中")
_UNIT_NUMBER = re.compile(r"[0-9０-９]+(?=[年月日人件回名か%％万億])")
_STATUS_LINE = re.compile(r"^(\s*\d+\s*実施状況\s+)(実施中|実施済み|検討中)(施策番号)?$", re.M)
_FULL = "０１２３４５６７８９"


# ---- the synthetic corpus ------------------------------------------------------------------


def perturb(text: str, i: int) -> str:
    """Copy ``i`` of the report text (i = 0: unchanged); see the module's docstring."""
    if i == 0:
        return text

    def shift(match: re.Match[str]) -> str:
        out = []
        for ch in match.group(0):
            if ch in _FULL:
                out.append(_FULL[(_FULL.index(ch) + i) % 10])
            else:
                out.append(str((int(ch) + i) % 10))
        return "".join(out)

    lines = []
    paragraph = 0
    for line in text.split("\n"):
        if not any(word in line for word in _HEADER_WORDS):  # labels, statuses, page headers
            if _PARAGRAPH_START.match(line):  # each paragraph names a place of its own
                place = PLACES[(i * 7 + paragraph) % len(PLACES)]
                opening = _PARAGRAPH_START.match(line)
                assert opening is not None
                line = f"{opening.group(1)}{place}では、{line[opening.end() :]}"
                paragraph += 1
            line = _UNIT_NUMBER.sub(shift, line)
            for n, (a, b) in enumerate(SYNONYMS):
                if ((i * 0x9E37) >> n) & 1:  # a different subset of swaps for each copy
                    line = line.replace(a, "\0").replace(b, a).replace("\0", b)
        lines.append(line)
    text = "\n".join(lines)
    count = 0

    def status(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        if (count + i) % 7:
            return match.group(0)
        new = STATUS_CYCLE[(STATUS_CYCLE.index(match.group(2)) + 1) % 3]
        return match.group(1) + new + (match.group(3) or "")

    return _STATUS_LINE.sub(status, text)


def write_copy(corpus: Path, i: int) -> str:
    meta = json.loads((SOURCE / "report.json").read_text(encoding="utf-8"))
    report_id = ORIGINAL if i == 0 else f"synthetic-{i:03d}"
    if i:
        meta.update(
            id=report_id,
            series=report_id,
            title=f"{meta['title']}（合成コピー {i}）",
            notes=f"synthetic copy {i} of {ORIGINAL} (benchmarks/scale_bench.py)",
        )
    folder = corpus / report_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    text = (SOURCE / "source.txt").read_text(encoding="utf-8")
    (folder / "source.txt").write_text(perturb(text, i), encoding="utf-8")
    return report_id


def disk_mb(path: Path) -> float:
    path = path.resolve()
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# ---- the child: one index loaded as a server loads it, searched -----------------------------


def _timed(stages: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            stages[name] += time.perf_counter() - started

    return wrapper


def _recall(exact: np.ndarray, found: np.ndarray, k: int = 10) -> float:
    """Share of the approximate top k whose exact score reaches the exact k-th score (ties
    between identical copies count as found)."""
    kth = np.sort(exact)[-k]
    return float(np.mean(exact[found[:k]] >= kth - 1e-6))


def measure(index_dir: Path, kind: str, queries: int, exact_dir: Path | None) -> dict[str, Any]:
    import faiss

    import service.search
    from service.config import Settings
    from service.engine import load_engine, load_query_encoders

    settings = Settings(index_dir=index_dir, faiss_index=kind)  # type: ignore[arg-type]
    encoders = load_query_encoders(settings)
    rss_models = memory_mb(os.getpid())
    started = time.perf_counter()
    engine = load_engine(settings, encoders=encoders)  # as a server: checks and warm-up
    load_seconds = time.perf_counter() - started
    rss_loaded = memory_mb(os.getpid())
    rows = [
        json.loads(line)
        for line in (ROOT / "data" / "eval" / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    timed_rows = rows[:queries]
    stages: dict[str, float] = defaultdict(float)
    engine._encode_chunk = _timed(stages, "encode", engine._encode_chunk)  # type: ignore[method-assign]
    engine._encoder_scores = _timed(stages, "faiss", engine._encoder_scores)  # type: ignore[method-assign]
    engine._lexical_scores = _timed(stages, "bm25", engine._lexical_scores)  # type: ignore[method-assign]
    engine.cross.lexical = _timed(stages, "bm25", engine.cross.lexical)  # type: ignore[method-assign]
    engine._rank = _timed(stages, "rank", engine._rank)  # type: ignore[method-assign]
    service.search.combine = _timed(stages, "fusion", service.search.combine)
    out: dict[str, Any] = {
        "passages": len(engine.index.passages),
        "measures": len(engine.index.measures),
        "rss_models_mb": round(rss_models),
        "rss_loaded_mb": round(rss_loaded),
        "load_seconds": round(load_seconds, 2),
    }
    scopes: dict[str, dict[str, Any]] = {
        "all": {"editions": "all"},
        "latest": {},
        "original": {"reports": [ORIGINAL]},
    }
    for name, scope in scopes.items():
        for row in timed_rows[:5]:  # warm the code paths
            engine.clear_cache()
            engine.search(row["question"], k=10, **scope)
        times = []
        stages.clear()
        for _ in range(2):  # two passes over the queries: a shared machine
            for row in timed_rows:
                engine.clear_cache()
                started = time.perf_counter()
                engine.search(row["question"], k=10, **scope)
                times.append((time.perf_counter() - started) * 1000)
        total = sum(times) / 1000
        out[f"latency_{name}"] = {
            "p50": round(percentile(times, 0.5), 1),
            "p95": round(percentile(times, 0.95), 1),
            "n": len(times),
            "share": {k: round(v / total, 3) for k, v in stages.items()},
            "ms": {k: round(v * 1000 / len(times), 2) for k, v in stages.items()},
        }
    # Quality: the top measure for every answerable question, over the original report only
    # and over every report (any copy's measure with a gold number counts there).
    answerable = [r for r in rows if r.get("gold")]
    tops: dict[str, list[str]] = {"original": [], "all": []}
    hits: dict[str, int] = {"original": 0, "all": 0}
    for row in answerable:
        for name in ("original", "all"):
            scope = scopes[name]
            results = engine.search(row["question"], k=10, **scope).results
            top = results[0].measure if results else None
            tops[name].append("" if top is None else f"{top.report}#{top.number}")
            hits[name] += int(top is not None and top.number in row["gold"])
    out["hit1"] = {name: round(hits[name] / len(answerable), 3) for name in hits}
    out["tops"] = tops
    out["answerable"] = len(answerable)
    if exact_dir is not None:  # recall@10 of the approximate indexes against exact search
        recalls: dict[str, list[float]] = defaultdict(list)
        texts = [r["question"] for r in timed_rows]
        vectors = engine.encode_queries(texts)
        for name in ("dense_passages", "dense_measures", "second_passages", "second_measures"):
            exact = faiss.read_index(str(exact_dir / f"{name}.faiss"))
            scorer = engine._scorers[name]
            for vector in vectors:
                q = vector.dense if name.startswith("dense") else vector.second
                assert q is not None
                full = np.asarray(exact.reconstruct_n(0, exact.ntotal) @ q[0])
                approx, _ = scorer.scores(q)
                found = np.argsort(-approx, kind="stable")
                recalls[name].append(_recall(full, found))
        out["recall10"] = {k: round(float(np.mean(v)), 4) for k, v in recalls.items()}
    return out


def run_child(index_dir: Path, kind: str, queries: int, exact_dir: Path | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(index_dir), "--kind", kind]
    cmd += ["--queries", str(queries)]
    if exact_dir is not None:
        cmd += ["--exact-dir", str(exact_dir)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SHISAKU_LOG_LEVEL": "warning"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"child failed: {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# ---- FAISS alone, beyond the corpus --------------------------------------------------------


def micro(
    sizes: list[int], dims: tuple[int, ...] = (384, 512), repeat: int = 30, hnsw_max: int = 20_000
) -> None:
    """Per-query time of one exact scoring of every row (what the service does, twice per
    encoder) against HNSW top-500, on random unit vectors."""
    import faiss

    from service.dense import DenseScorer, all_scores

    faiss.omp_set_num_threads(1)
    print(
        "| rows | d | FAISS search(k=n) ms | V·q (service/dense.py) ms | HNSW build s | HNSW top-500 ms |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for n in sizes:
        for d in dims:
            x = rng.standard_normal((n, d)).astype(np.float32)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            q = rng.standard_normal((repeat, d)).astype(np.float32)
            q /= np.linalg.norm(q, axis=1, keepdims=True)
            flat = faiss.IndexFlatIP(d)
            flat.add(x)
            runs = max(3, repeat * 13_000 // n)
            t = time.perf_counter()
            for i in range(runs):
                flat.search(q[i : i + 1], n)  # what the service did before: k = every row
            exact_ms = (time.perf_counter() - t) * 1000 / runs
            t = time.perf_counter()
            for i in range(runs):
                all_scores(flat, q[i : i + 1])
            numpy_ms = (time.perf_counter() - t) * 1000 / runs
            hnsw_build = hnsw_ms = float("nan")
            if n <= hnsw_max:  # an HNSW build of 10^5 rows takes minutes on this machine
                t = time.perf_counter()
                graph = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
                graph.hnsw.efConstruction = 80
                graph.add(x)
                hnsw_build = time.perf_counter() - t
                scorer = DenseScorer(graph, 500, np.arange(0, n, max(1, n // 1000)))
                t = time.perf_counter()
                for i in range(repeat):
                    scorer.scores(q[i : i + 1])
                hnsw_ms = (time.perf_counter() - t) * 1000 / repeat
            print(
                f"| {n:,} | {d} | {exact_ms:.2f} | {numpy_ms:.2f} | {hnsw_build:.1f} | "
                f"{hnsw_ms:.2f} |",
                flush=True,
            )
            del x, flat


# ---- the parent -----------------------------------------------------------------------------


def _texts(corpus: Path, report_id: str) -> tuple[list[str], list[str]]:
    """One report's passage texts and whole-measure texts, in index order."""
    from indexer.build import measure_text
    from indexer.passages import split_passages
    from indexer.reports import read_corpus, read_measures

    measures = read_measures(read_corpus(corpus / report_id)[0])
    return [p.text for p in split_passages(measures)], [measure_text(m) for m in measures]


def _vectors_of(index_dir: Path, name: str) -> np.ndarray:
    import faiss

    index = faiss.read_index(str(index_dir / f"{name}.faiss"))
    return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


def prefill(
    models: Any, cache: Path, corpus: Path, copies: range, base: Path, noise: dict[str, float]
) -> None:
    """Vectors of the synthetic copies, stored in the vector cache under their own texts:
    copy 0's real vectors plus Gaussian noise (seeded by copy and model) of the size that
    gives the cosine measured between copy 1's real vectors and copy 0's."""
    from indexer.vector_cache import VectorCache

    for model, prefix in ((models.encoder, "dense"), (models.second, "second")):
        store = VectorCache(cache, f"{model.name}:{model.fingerprint}")
        originals = {
            "passages": _vectors_of(base, f"{prefix}_passages"),
            "measures": _vectors_of(base, f"{prefix}_measures"),
        }
        for i in copies:
            texts = dict(zip(("passages", "measures"), _texts(corpus, f"synthetic-{i:03d}")))
            for what, vectors in originals.items():
                path = store._path(texts[what])
                if path is None or path.is_file():
                    continue
                rng = np.random.default_rng([i, len(prefix), len(what)])
                g = rng.standard_normal(vectors.shape).astype(np.float32)
                g /= np.sqrt(vectors.shape[1])
                out = vectors + noise[prefix] * g
                store._store(path, out / np.linalg.norm(out, axis=1, keepdims=True))


def build_all(sizes: list[int], work: Path, queries: int) -> None:
    """Copy 0 (the real report) is embedded for real (the cold 1-report build), and copy 1
    (the rebuild after adding one report); the cosine between their vectors sets the noise
    of the other copies' vectors, which are put in the vector cache (``prefill``): embedding
    13,000 passages with torch e5 on this 2-core machine would take over an hour. Cold builds
    of 10 and 100 reports are then the measured build with every vector cached plus N times
    the measured embedding time of one report."""
    from indexer.build import build_index
    from service.config import Settings
    from service.engine import load_index_encoders

    models = load_index_encoders(Settings())
    cache = work / "cache"
    results: dict[int, dict[str, Any]] = {}
    embed_per_report = float("nan")
    noise: dict[str, float] = {}
    for n in sizes:
        corpus = work / f"corpus-{n}"
        for i in range(n):
            write_copy(corpus, i)

        def build(index: Path, kind: str = "exact", into: Path = corpus) -> tuple[float, Any]:
            started = time.perf_counter()
            manifest = build_index(
                into,
                index,
                models.encoder,
                models.second,
                onnx=models.onnx,
                vector_cache=cache,
                faiss_index=kind,
            )
            return time.perf_counter() - started, manifest

        row: dict[str, Any] = {}
        if not noise:  # the first size: real embeddings of copies 0 and 1
            first = work / "first"
            write_copy(first, 0)
            row["cold_measured_s"], _ = build(work / "first-index" / "index", into=first)
            base = work / "copy0"  # a rebuild removes the build it replaces
            shutil.copytree((work / "first-index" / "index").resolve(), base)
            cached, _ = build(work / "first-index" / "index", into=first)
            embed_per_report = row["cold_measured_s"] - cached
            write_copy(first, 1)
            build(work / "first-index" / "index", into=first)
            second_dir = (work / "first-index" / "index").resolve()
            for prefix in ("dense", "second"):
                a = _vectors_of(base, f"{prefix}_passages")
                both = _vectors_of(second_dir, f"{prefix}_passages")
                b = both[len(a) :] if both.shape[0] == 2 * len(a) else both[: len(a)]
                cos = float(np.mean(np.sum(a * b, axis=1)))
                noise[prefix] = float(np.sqrt(max(1 / cos**2 - 1, 0.0)))
                row[f"cosine_{prefix}"] = round(cos, 4)
        write_copy(corpus, n)  # the report to add, vectors prefilled too
        prefill(models, cache, corpus, range(1, n + 1), work / "copy0", noise)
        shutil.rmtree(corpus / f"synthetic-{n:03d}")
        cached_s, manifest = build(work / f"exact-{n}" / "index")
        assert manifest["counts"]["measures"] == 33 * n, manifest["counts"]
        write_copy(corpus, n)
        plus1_s, _ = build(work / f"plus1-{n}" / "index")
        shutil.rmtree(corpus / f"synthetic-{n:03d}")
        shutil.rmtree((work / f"plus1-{n}" / "index").resolve())
        hnsw_seconds, _ = build(work / f"hnsw-{n}" / "index", "hnsw")
        exact_dir = (work / f"exact-{n}" / "index").resolve()
        hnsw_dir = (work / f"hnsw-{n}" / "index").resolve()
        row.update(
            counts=manifest["counts"],
            cached_s=cached_s,
            cold_s=cached_s + n * embed_per_report,
            plus1_s=plus1_s + embed_per_report,
            embed_per_report_s=embed_per_report,
            hnsw_build_s=hnsw_seconds,
            disk_exact=disk_mb(exact_dir),
            disk_hnsw=disk_mb(hnsw_dir),
            noise=noise,
        )
        row["exact"] = run_child(exact_dir, "exact", queries, None)
        row["hnsw"] = run_child(hnsw_dir, "hnsw", queries, exact_dir)
        results[n] = row
        brief = {k: v for k, v in row.items() if k not in ("exact", "hnsw")}
        print(f"[{n} reports done: {json.dumps(brief)}]", flush=True)
    report(results)


def report(results: dict[int, dict[str, Any]]) -> None:
    print(
        "\n| reports | measures | passages | build, vectors cached s | build cold s | rebuild +1 report s | HNSW build s (cached) | disk MB exact / hnsw | RSS MB: models → +index exact / hnsw |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, r in results.items():
        e, h = r["exact"], r["hnsw"]
        print(
            f"| {n} | {r['counts']['measures']:,} | {r['counts']['passages']:,} | {r['cached_s']:.1f} | "
            f"{r['cold_s']:.0f}{'' if 'cold_measured_s' in r else ' (est.)'} | "
            f"{r['plus1_s']:.1f} (est.) | {r['hnsw_build_s']:.1f} | {r['disk_exact']:.1f} / {r['disk_hnsw']:.1f} | "
            f"{e['rss_models_mb']} → {e['rss_loaded_mb']} / {h['rss_loaded_mb']} |"
        )
    print(
        "\n| reports | index | scope | p50 ms | p95 ms | encode | FAISS | BM25 | fusion | rank | FAISS ms | BM25 ms | fusion ms |"
    )
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, r in results.items():
        for kind in ("exact", "hnsw"):
            for scope in ("all", "latest", "original"):
                lat = r[kind][f"latency_{scope}"]
                share, ms = lat["share"], lat["ms"]

                def pct(name: str, share: dict[str, float] = share) -> str:
                    return f"{100 * share.get(name, 0):.0f} %"

                print(
                    f"| {n} | {kind} | {scope} | {lat['p50']} | {lat['p95']} | {pct('encode')} | "
                    f"{pct('faiss')} | {pct('bm25')} | {pct('fusion')} | {pct('rank')} | "
                    f"{ms.get('faiss', 0)} | {ms.get('bm25', 0)} | {ms.get('fusion', 0)} |"
                )
    print(
        "\n| reports | recall@10 e5 passages / measures | recall@10 USE passages / measures | hit@1 original exact / hnsw | hit@1 all exact / hnsw | same top-1 as exact (original / all) |"
    )
    print("|---:|---|---|---|---|---|")
    for n, r in results.items():
        e, h = r["exact"], r["hnsw"]
        rec = h.get("recall10", {})
        same = {
            s: np.mean([a == b for a, b in zip(e["tops"][s], h["tops"][s])])
            for s in ("original", "all")
        }
        print(
            f"| {n} | {rec.get('dense_passages')} / {rec.get('dense_measures')} | "
            f"{rec.get('second_passages')} / {rec.get('second_measures')} | "
            f"{e['hit1']['original']} / {h['hit1']['original']} | {e['hit1']['all']} / {h['hit1']['all']} | "
            f"{same['original']:.3f} / {same['all']:.3f} |"
        )
    first = next(iter(results.values()))
    print(
        f"\ncold 1-report build measured: {first.get('cold_measured_s', float('nan')):.1f} s; "
        f"embedding one report: {first['embed_per_report_s']:.1f} s; copies' vectors: noise "
        f"{first['noise']} (cosine copy 1 vs copy 0, real: e5 {first.get('cosine_dense')}, "
        f"USE {first.get('cosine_second')})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--work", type=Path, default=None, help="kept when given")
    parser.add_argument("--micro", action="store_true")
    parser.add_argument("--micro-sizes", default="13000,50000,100000,300000,1000000")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--kind", default="exact", help=argparse.SUPPRESS)
    parser.add_argument("--exact-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.kind, args.queries, args.exact_dir)))
        return
    if args.micro:
        micro([int(s) for s in args.micro_sizes.split(",")])
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        build_all(sizes, args.work, args.queries)
        return
    with tempfile.TemporaryDirectory(prefix="shisaku-scale-") as work:
        build_all(sizes, Path(work), args.queries)


if __name__ == "__main__":
    main()
