"""Retrieval ablation on the development set: which signals and choices earn their place.

Usage: python benchmarks/ablation.py [data/eval/questions.jsonl]
Each row is the service's own search (``SearchEngine.with_recipe``) with parts of the
scoring recipe (``service/fusion.py``) switched off; the last rows are the service as it
runs. Prints hit@1 per language, hit@5 and MRR@10 over the answerable questions.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.config import load_settings  # noqa: E402
from service.engine import load_engine  # noqa: E402
from service.evaluate import evaluate, load_questions  # noqa: E402
from service.fusion import Recipe  # noqa: E402

ONLY_E5 = Recipe(second=False, lexical=False, whole_measure_weight=0.0)
METHODS: dict[str, Recipe] = {
    "e5 dense, best passage (no glossary)": Recipe(
        second=False, lexical=False, whole_measure_weight=0.0, dense_reads_glossary=False
    ),
    "BM25 (no glossary)": Recipe(dense=False, second=False, lexical_reads_glossary=False),
    "RRF e5 + BM25 (no glossary)": Recipe(
        second=False,
        whole_measure_weight=0.0,
        dense_reads_glossary=False,
        lexical_reads_glossary=False,
        method="rrf",
    ),
    "USE alone (query as written)": Recipe(
        dense=False, lexical=False, second_whole_measure_weight=0.0
    ),
    "e5 + glossary": ONLY_E5,
    "e5 best + 0.5 whole, + glossary": Recipe(second=False, lexical=False),
    "z-fusion e5 + BM25, glossary": Recipe(second=False),
    "same + USE, USE reads the glossary too": Recipe(second_reads_glossary=True),
    "same, without whole-measure for USE": Recipe(second_whole_measure_weight=0.0),
    "z-fusion e5 + USE + BM25, glossary (service)": Recipe(),
}


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "eval" / "questions.jsonl"
    service = load_engine(load_settings())
    questions = load_questions(path)
    print(f"{sum(1 for q in questions if q.gold)} answerable questions from {path.name}")
    print(f"{'method':<48}{'hit@1 ja':>9}{'hit@1 en':>9}{'hit@5':>7}{'MRR@10':>8}{'s':>6}")
    for name, recipe in METHODS.items():
        engine = service if recipe == service.recipe else service.with_recipe(recipe)
        started = time.perf_counter()
        scores = evaluate(engine, questions)["scores"]
        seconds = time.perf_counter() - started
        print(
            f"{name:<48}{scores['lang:ja']['hit_at_1']:>9.3f}{scores['lang:en']['hit_at_1']:>9.3f}"
            f"{scores['all']['hit_at_5']:>7.3f}{scores['all']['mrr_at_10']:>8.3f}{seconds:>6.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
