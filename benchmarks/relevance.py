"""How the relevance cut-off and grades (``service/relevance.py``) behave on the development set.

    .venv/bin/python benchmarks/relevance.py [--questions data/eval/questions.jsonl]

Uses the index at SHISAKU_INDEX_DIR. For a sweep of cut-off gaps (fused-score distance below
the best result), prints hit@5 over all results and over the results above the cut-off only
(the cut-off must not lower it), the share of gold measures in the top 10 kept above it, and
how many results are shown on average for answerable and unanswerable questions. Then, with
the shipped numbers, how the gold measures are graded and how unanswerable questions' first
results are graded.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.config import load_settings  # noqa: E402
from service.engine import load_engine  # noqa: E402
from service.relevance import CUTOFF_GAP, HIGH_GAP  # noqa: E402
from service.views import view_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SWEEP = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default=str(ROOT / "data" / "eval" / "questions.jsonl"))
    args = parser.parse_args()
    items = [
        json.loads(line)
        for line in Path(args.questions).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    engine = load_engine(load_settings())
    rows = []
    for item in items:
        outcome = engine.search(item["question"], k=10)
        view = view_of(engine, outcome)
        rows.append((item, outcome, view))

    answerable = [r for r in rows if r[0]["gold"]]
    unanswerable = [r for r in rows if not r[0]["gold"]]
    print(f"{len(rows)} questions: {len(answerable)} answerable, {len(unanswerable)} not")
    print(f"{'cut-off gap':>12}{'hit@5 all':>11}{'hit@5 shown':>13}{'golds kept':>12}"
          f"{'shown (ans.)':>14}{'shown (unans.)':>16}")  # fmt: skip
    for gap in SWEEP:
        hit_all = hit_shown = kept = golds = 0
        shown_ans: list[int] = []
        shown_un: list[int] = []
        for item, outcome, _ in rows:
            results = outcome.results
            best = results[0].score if results else 0.0
            status_only = outcome.signals.intent.status_only
            shown = (
                len(results) if status_only else sum(1 for h in results if best - h.score <= gap)
            )
            shown = max(shown, 1) if results else 0
            numbers = [h.measure.number for h in results]
            if item["gold"]:
                gold = set(item["gold"])
                hit_all += any(n in gold for n in numbers[:5])
                hit_shown += any(n in gold for n in numbers[: min(5, shown)])
                in_top = [i for i, n in enumerate(numbers) if n in gold]
                golds += len(in_top)
                kept += sum(1 for i in in_top if i < shown)
                shown_ans.append(shown)
            else:
                shown_un.append(shown)
        mark = "  <- shipped" if gap == CUTOFF_GAP else ""
        print(
            f"{gap:>12.1f}{hit_all / len(answerable):>11.3f}{hit_shown / len(answerable):>13.3f}"
            f"{kept / max(golds, 1):>12.3f}{statistics.mean(shown_ans):>14.2f}"
            f"{statistics.mean(shown_un) if shown_un else 0:>16.2f}{mark}"
        )
    grades: Counter[str] = Counter()
    for item, outcome, view in answerable:
        for i, hit in enumerate(outcome.results):
            if hit.measure.number in item["gold"]:
                grades[view.graded.levels[i]] += 1
    firsts: Counter[str] = Counter(v.graded.levels[0] for _, o, v in unanswerable if o.results)
    total = sum(grades.values()) or 1
    print(f"\nshipped: high within {HIGH_GAP} of the best, medium within {CUTOFF_GAP}")
    print(
        "gold measures in the top 10 graded: "
        + ", ".join(f"{level} {grades[level] / total:.0%}" for level in ("high", "medium", "low"))
    )
    print(
        "first result of unanswerable questions graded: "
        + ", ".join(f"{level} {firsts[level]}" for level in ("high", "medium", "low"))
    )


if __name__ == "__main__":
    main()
