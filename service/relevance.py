"""How relevant each result is, in words a reader can use, and where the list is cut.

Fused scores are sums of z-scores: their size says little on its own (an off-topic query
can top 7), but the distance from the best result of the same query says a lot. A result
within :data:`HIGH_GAP` of the best is *high*, within :data:`CUTOFF_GAP` *medium*, and the
rest *low*; results beyond :data:`CUTOFF_GAP` are below the cut-off, which the page and the
CLI fold behind "show more". When the report does not cover the question (the answerability
rule of ``service.answerability``), no result is better than *low*. A question that only asks
for a status lists every measure with it: all of them are the answer, all *high*, none cut.

The numbers were measured on the development set (``benchmarks/relevance.py``, figures in
BENCHMARKS.md): no question whose gold measure is in the top 5 has it more than 1.5 below
the best, so the cut-off at twice that keeps hit@5 as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from service.search import SearchOutcome

Relevance = Literal["high", "medium", "low"]
RELEVANCES: tuple[Relevance, ...] = get_args(Relevance)

HIGH_GAP = 1.5  # a result this close to the best one (in fused score) is highly relevant
CUTOFF_GAP = 3.0  # further below the best than this, a result is folded away


@dataclass(frozen=True)
class Graded:
    """Relevance of each result (in the outcome's order) and how many, from the first, are
    above the cut-off."""

    levels: tuple[Relevance, ...]
    shown: int


def level_of(gap: float) -> Relevance:
    """The relevance of a result ``gap`` below the best result of its query."""
    if gap <= HIGH_GAP:
        return "high"
    if gap <= CUTOFF_GAP:
        return "medium"
    return "low"


def grade(outcome: SearchOutcome, covered: bool = True) -> Graded:
    """Grade ``outcome``'s results; ``covered`` is whether the report answers the query."""
    results = outcome.results
    if not results:
        return Graded((), 0)
    if outcome.signals.intent.status_only:
        every: list[Relevance] = ["high"] * len(results)
        return Graded(tuple(every), len(results))
    best = results[0].score
    gaps = [best - hit.score for hit in results]
    levels: list[Relevance] = [level_of(gap) if covered else "low" for gap in gaps]
    shown = sum(1 for gap in gaps if gap <= CUTOFF_GAP)
    return Graded(tuple(levels), max(shown, 1))
