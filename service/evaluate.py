"""Retrieval evaluation: hit@1, hit@5 and MRR@10 over a JSONL question set."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.errors import InvalidRequest
from service.search import SearchEngine
from service.user_files import read_user_text


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    question: str
    gold: tuple[int, ...]
    kind: str


@dataclass(frozen=True)
class Scores:
    count: int
    hit_at_1: float
    hit_at_5: float
    mrr_at_10: float


def load_questions(path: Path) -> list[Question]:
    """Read a JSONL question set; a malformed line raises InvalidRequest naming it."""
    questions = []
    lines = read_user_text(path, "question set").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            questions.append(
                Question(
                    id=str(item.get("id", number)),
                    lang=str(item["lang"]),
                    question=str(item["question"]),
                    gold=tuple(int(g) for g in item.get("gold", [])),
                    kind=str(item.get("kind", "")),
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InvalidRequest(f"{path}:{number}: not a valid question ({exc})") from None
    if not questions:
        raise InvalidRequest(f"{path} holds no questions")
    return questions


def _score(ranks: list[int | None]) -> Scores:
    n = len(ranks)
    if n == 0:
        return Scores(0, 0.0, 0.0, 0.0)
    return Scores(
        count=n,
        hit_at_1=round(sum(1 for r in ranks if r is not None and r < 1) / n, 3),
        hit_at_5=round(sum(1 for r in ranks if r is not None and r < 5) / n, 3),
        mrr_at_10=round(sum(1 / (r + 1) for r in ranks if r is not None and r < 10) / n, 3),
    )


def evaluate(engine: SearchEngine, questions: list[Question], k: int = 10) -> dict[str, Any]:
    """Rank of the first gold measure per answerable question; figures overall and per group."""
    answerable = [q for q in questions if q.gold]
    texts = [q.question for q in answerable]
    step = engine.max_batch
    outcomes = [
        o for i in range(0, len(texts), step) for o in engine.search_batch(texts[i : i + step], k=k)
    ]
    groups: dict[str, list[int | None]] = defaultdict(list)
    misses = []
    for question, outcome in zip(answerable, outcomes):
        numbers = [hit.measure.number for hit in outcome.results]
        rank = next((i for i, n in enumerate(numbers) if n in question.gold), None)
        for key in ("all", f"lang:{question.lang}", f"kind:{question.kind}"):
            groups[key].append(rank)
        if rank != 0:
            misses.append(
                {
                    "id": question.id,
                    "question": question.question,
                    "gold": list(question.gold),
                    "got": numbers[:5],
                }
            )
    return {
        "questions": len(questions),
        "answerable": len(answerable),
        "scores": {key: _score(ranks).__dict__ for key, ranks in sorted(groups.items())},
        "misses": misses,
    }
