"""A held-back evaluation (data/eval/heldback.jsonl, heldback2.jsonl): run once, at the end.

Usage: python benchmarks/heldback.py [data/eval/heldback2.jsonl]
Prints hit@1 / hit@5 of the paraphrase questions per language, the share of unanswerable
questions refused (per subkind) and of answerable ones refused, with the service as shipped.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.answer import answer_question  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.engine import load_engine  # noqa: E402
from service.evaluate import evaluate, load_questions  # noqa: E402


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "eval" / "heldback.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    engine = load_engine(load_settings())
    report = evaluate(engine, load_questions(path))
    print(f"{path.name}: {len(rows)} questions")
    print(f"{'group':<22}{'n':>5}{'hit@1':>8}{'hit@5':>8}{'MRR@10':>8}")
    for key, s in report["scores"].items():
        print(
            f"{key:<22}{s['count']:>5}{s['hit_at_1']:>8.3f}{s['hit_at_5']:>8.3f}{s['mrr_at_10']:>8.3f}"
        )
    refused: dict[str, list[bool]] = defaultdict(list)
    for row in rows:
        answer = answer_question(engine, row["question"])
        group = f"unanswerable:{row.get('subkind', '?')}" if not row["gold"] else "answerable"
        refused[group].append(not answer.answerable)
        refused[f"{group.split(':')[0]}:{row['lang']}"].append(not answer.answerable)
        if not row["gold"] and answer.answerable or row["gold"] and not answer.answerable:
            print(
                f"  {'answered' if answer.answerable else 'refused '} {row['id']}: {row['question']}"
            )
    print(f"{'refused':<28}{'n':>5}{'share':>8}")
    for group in sorted(refused):
        values = refused[group]
        print(f"{group:<28}{sum(values):>5}{sum(values) / len(values):>8.3f}  of {len(values)}")
    for miss in report["misses"]:
        print(f"  miss {miss['id']}: gold {miss['gold']} got {miss['got']}  {miss['question']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
