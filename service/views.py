"""What every front end shows with a search outcome besides the engine's ranking: the query's
words marked in the passages and a relevance a reader can use. The HTTP routes, the CLI and
the MCP tools all build their responses through :func:`view_of`, so they mark and grade the
same way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from service.answerability import Decision, decide, read_features
from service.highlight import PassageMarks, highlighter_of
from service.relevance import Graded, grade
from service.search import SearchEngine, SearchOutcome


@dataclass(frozen=True)
class OutcomeView:
    """Marks per passage id, the graded results and whether the report covers the query."""

    marks: dict[int, PassageMarks] = field(default_factory=dict)
    graded: Graded = field(default_factory=lambda: Graded((), 0))
    covered: bool = True
    reports: Mapping[str, Any] = field(default_factory=dict)  # the index's reports, by id

    def marks_of(self, passage_id: int) -> PassageMarks:
        return self.marks.get(passage_id, PassageMarks())


def view_of(
    engine: SearchEngine, outcome: SearchOutcome, decision: Decision | None = None
) -> OutcomeView:
    """Highlights and relevance of ``outcome``; ``decision`` is the answerability decision
    when the caller has made it already (``/ask``).

    Without ``decision`` the view is cached beside the engine's result cache: an outcome
    answered from that cache shares its results with the first one, and gets its view.
    """
    if decision is not None:
        return _view(engine, outcome, decision)
    key = (outcome.query, id(outcome.results))
    cached = engine.view_cache.get(key)
    # The entry holds the results it was made for, so their id is not reused meanwhile.
    if cached is not None and cached[0] is outcome.results:
        view: OutcomeView = cached[1]
        return view
    view = _view(engine, outcome, decide(read_features(engine, outcome.query, outcome)))
    engine.view_cache.put(key, (outcome.results, view))
    return view


def _view(engine: SearchEngine, outcome: SearchOutcome, decision: Decision) -> OutcomeView:
    return OutcomeView(
        marks=highlighter_of(engine).mark(outcome),
        graded=grade(outcome, covered=decision.answerable),
        covered=decision.answerable,
        reports=engine.index.reports,
    )
