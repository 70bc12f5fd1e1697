"""Answerability and citation figures of /ask on the development question set.

    .venv/bin/python benchmarks/answerability.py [--questions data/eval/questions.jsonl] [-v]

Uses the index at SHISAKU_INDEX_DIR (build it with `shisaku index`). Prints, per language:
unanswerable questions refused, answerable questions refused, and for answered questions the
share whose first cited measure is a gold measure and the share of all cited measures that
are gold. With -v, every question's features and decision.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.answer import THRESHOLDS, answer_question  # noqa: E402
from service.runtime import load_engine  # noqa: E402
from service.settings import load_settings  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", default="data/eval/questions.jsonl")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    questions = [json.loads(line) for line in Path(args.questions).read_text().splitlines() if line]
    engine = load_engine(load_settings())
    stats: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for q in questions:
        answer = answer_question(engine, q["question"])
        gold = set(q["gold"])
        s = stats[q["lang"]]
        cited = list(dict.fromkeys(c.number for c in answer.citations))
        f = answer.decision.features
        if args.verbose:
            mark = "ok " if answer.answerable == bool(gold) else "BAD"
            print(f"{mark} {q['id']:7} {q['kind'][:8]:8} ans={answer.answerable!s:5} "
                  f"gold={sorted(gold)} cited={cited} dense={f.dense_top:.3f} "
                  f"absent={list(f.absent_concepts)} | {q['question'][:50]}")
        if not gold:
            s["unanswerable"] += 1
            s["unanswerable_refused"] += not answer.answerable
            continue
        s["answerable"] += 1
        if not answer.answerable:
            s["answerable_refused"] += 1
            continue
        s["answered"] += 1
        s["first_cited_gold"] += bool(cited) and cited[0] in gold
        s["any_cited_gold"] += bool(gold & set(cited))
        s["cited"] += len(cited)
        s["cited_gold"] += len(gold & set(cited))
    print(f"thresholds: { {lang: vars(t) for lang, t in THRESHOLDS.items()} }")
    header = (f"{'lang':<6}{'unanswerable refused':>22}{'answerable refused':>20}"
              f"{'a cited measure gold':>22}{'first cited gold':>18}{'cited gold':>12}")
    print(header)
    total: dict[str, int] = defaultdict(int)
    for lang in sorted(stats) + ["all"]:
        s = total if lang == "all" else stats[lang]
        if lang != "all":
            for key, value in s.items():
                total[key] += value
        answered = max(s["answered"], 1)
        print(f"{lang:<6}{s['unanswerable_refused']:>15} / {s['unanswerable']:<4}"
              f"{s['answerable_refused']:>13} / {s['answerable']:<4}"
              f"{s['any_cited_gold'] / answered:>22.3f}{s['first_cited_gold'] / answered:>18.3f}"
              f"{s['cited_gold'] / max(s['cited'], 1):>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
