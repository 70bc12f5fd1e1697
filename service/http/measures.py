"""HTTP routes of measures and reports: the lists, one measure, its history, similar ones."""

# No ``from __future__ import annotations``: the limits in the annotations come from the settings.
from typing import Annotated

from fastapi import FastAPI, Path, Query, Request, Response

from service.history import measure_history
from service.http.deps import engine_of, state_of
from service.http.responses import json_response
from service.schemas import (
    EDITIONS_DESCRIPTION,
    REPORT_DESCRIPTION,
    HistoryResponse,
    MeasureOut,
    MeasuresResponse,
    ReportsResponse,
    SimilarResponse,
)
from service.search import Editions, Scope

NUMBER = Path(ge=0, le=100_000, description="measure number (施策番号)", examples=[7])
REPORT = Query(
    max_length=80,
    description="the report (an id from GET /reports); by default the latest edition that "
    "has the measure",
    examples=["isa-7th-roundtable-status-2024"],
)
REPORTS = Query(
    description=REPORT_DESCRIPTION + " (repeat the parameter)",
    examples=[["isa-7th-roundtable-status-2024"]],
)
EDITIONS = Query(description=EDITIONS_DESCRIPTION, examples=["latest"])


def add_measure_routes(app: FastAPI) -> None:
    max_k = state_of(app).settings.max_k

    @app.get("/reports", response_model=ReportsResponse, tags=["measures"])
    def reports(request: Request) -> Response:
        """Every report of the index (its editions, dates and provenance), oldest first."""
        index = engine_of(request).index
        return json_response(ReportsResponse.of(index.reports, index.latest))

    @app.get("/measures", response_model=MeasuresResponse, tags=["measures"])
    def measures(
        request: Request,
        report: Annotated[list[str] | None, REPORTS] = None,
        editions: Annotated[Editions, EDITIONS] = "latest",
    ) -> Response:
        """Every measure of the reports in scope (by default the latest edition of each)."""
        engine = engine_of(request)
        in_scope = engine.scope_reports(engine.validate_scope(report, editions))
        measures = [
            MeasureOut.of(m, engine.index.reports)
            for m in engine.index.measures
            if in_scope is None or m.report in in_scope
        ]
        return json_response(MeasuresResponse(measures=measures))

    @app.get("/measures/{number}", response_model=MeasureOut, tags=["measures"])
    def measure(
        request: Request,
        number: Annotated[int, NUMBER],
        report: Annotated[str | None, REPORT] = None,
    ) -> Response:
        """One measure: status, target, explanation and notes (404 when there is none)."""
        engine = engine_of(request)
        return json_response(
            MeasureOut.of(engine.get_measure(number, report), engine.index.reports)
        )

    @app.get("/measures/{number}/history", response_model=HistoryResponse, tags=["measures"])
    def history(
        request: Request,
        number: Annotated[int, NUMBER],
        report: Annotated[str | None, REPORT] = None,
    ) -> Response:
        """The measure's status in each edition of its report, oldest first, with the
        sentences that changed (matched across editions by number and text)."""
        engine = engine_of(request)
        found = measure_history(
            engine.index.measures, engine.index.reports, engine.get_measure(number, report)
        )
        return json_response(HistoryResponse.of(found, engine.index.reports))

    @app.get("/measures/{number}/similar", response_model=SimilarResponse, tags=["measures"])
    def similar(
        request: Request,
        number: Annotated[int, NUMBER],
        k: Annotated[
            int, Query(ge=1, le=max_k, description="how many measures to list", examples=[5])
        ] = 5,
        report: Annotated[str | None, REPORT] = None,
        editions: Annotated[Editions, EDITIONS] = "latest",
    ) -> Response:
        """The measures most similar to one measure, by whole-measure embeddings."""
        engine = engine_of(request)
        scope = Scope((), editions)
        pairs = engine.similar_measures(number, k=k, report=report, scope=scope)
        return json_response(
            SimilarResponse.of_pairs(pairs, number=number, reports=engine.index.reports)
        )
