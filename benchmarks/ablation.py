"""Retrieval ablation on the development set: which signals and choices earn their place.

Usage: python benchmarks/ablation.py [data/eval/questions.jsonl]
Prints hit@1 / hit@5 per language for each method, computed from the same per-measure
signals the service uses (status-list questions excluded: a rule handles them).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.evaluate import load_questions  # noqa: E402
from service.fusion import max_per_group, zscore  # noqa: E402
from service.intent import read_intent  # noqa: E402
from service.runtime import load_engine  # noqa: E402
from service.search import WHOLE_MEASURE_WEIGHT, normalize_query  # noqa: E402
from service.settings import load_settings  # noqa: E402

Signals = dict[str, np.ndarray]


def signals_for(engine, text: str, original: str) -> Signals:  # type: ignore[no-untyped-def]
    idx = engine.index
    groups, n = idx.passage_measure, len(idx.measures)
    vec = engine.encode_queries([normalize_query(text)], [normalize_query(original)])[0]
    raw = engine.encode_queries([normalize_query(original)], [normalize_query(original)])[0]
    out = {}
    for tag, v in (("exp", vec), ("raw", raw)):
        out[f"e5_best_{tag}"] = max_per_group(
            engine._all_scores(idx.dense_passages, v.dense), groups, n
        )
        out[f"e5_whole_{tag}"] = engine._all_scores(idx.dense_measures, v.dense)
    out["use_best"] = max_per_group(engine._all_scores(idx.second_passages, vec.second), groups, n)
    out["use_whole"] = engine._all_scores(idx.second_measures, vec.second)
    out["bm25_exp"] = max_per_group(engine._lexical_scores(normalize_query(text)), groups, n)
    out["bm25_raw"] = max_per_group(engine._lexical_scores(normalize_query(original)), groups, n)
    return out


def rrf(*scores: np.ndarray, k: int = 60) -> np.ndarray:
    total = np.zeros(len(scores[0]))
    for s in scores:
        ranks = np.empty(len(s))
        ranks[np.argsort(-s)] = np.arange(len(s))
        total += 1 / (k + ranks + 1)
    return total


W = WHOLE_MEASURE_WEIGHT
METHODS: dict[str, Callable[[Signals], np.ndarray]] = {
    "e5 dense, best passage (no glossary)": lambda s: s["e5_best_raw"],
    "BM25 (no glossary)": lambda s: s["bm25_raw"],
    "RRF e5 + BM25 (no glossary)": lambda s: rrf(s["e5_best_raw"], s["bm25_raw"]),
    "USE alone (query as written)": lambda s: s["use_best"],
    "e5 + glossary": lambda s: s["e5_best_exp"],
    "e5 best + 0.5 whole, + glossary": lambda s: s["e5_best_exp"] + W * s["e5_whole_exp"],
    "z-fusion e5 + BM25, glossary": lambda s: (
        zscore(s["e5_best_exp"] + W * s["e5_whole_exp"]) + zscore(s["bm25_exp"])
    ),
    "z-fusion e5 + USE + BM25, glossary (service)": lambda s: (
        zscore(s["e5_best_exp"] + W * s["e5_whole_exp"])
        + zscore(s["use_best"] + W * s["use_whole"])
        + zscore(s["bm25_exp"])
    ),
    "same, without whole-measure for USE": lambda s: (
        zscore(s["e5_best_exp"] + W * s["e5_whole_exp"])
        + zscore(s["use_best"])
        + zscore(s["bm25_exp"])
    ),
}


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "eval" / "questions.jsonl"
    engine = load_engine(load_settings())
    questions = [q for q in load_questions(path) if q.gold and q.kind != "status_list"]
    rows = []
    for q in questions:
        language = read_intent(q.question).language
        rows.append(
            (q, language, signals_for(engine, engine.expand(q.question, language), q.question))
        )
    numbers = np.array([m.number for m in engine.index.measures])
    print(f"{len(questions)} answerable questions (status lists excluded)")
    print(f"{'method':<48}{'hit@1 ja':>9}{'hit@1 en':>9}{'hit@5 all':>10}")
    for name, method in METHODS.items():
        hits1: dict[str, list[bool]] = {"ja": [], "en": []}
        hits5 = []
        for q, language, s in rows:
            order = numbers[np.argsort(-method(s), kind="stable")]
            hits1[language].append(order[0] in q.gold)
            hits5.append(bool(set(order[:5]) & set(q.gold)))
        print(
            f"{name:<48}{np.mean(hits1['ja']):>9.3f}{np.mean(hits1['en']):>9.3f}"
            f"{np.mean(hits5):>10.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
