"""HTTP routes of search: ``GET /search`` and ``POST /search`` (thin, over SearchEngine.search)."""

# No ``from __future__ import annotations``: the request models are made per configuration,
# so route annotations must be evaluated when the routes are defined.
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response

from service.http.deps import engine_of, state_of
from service.http.responses import json_response
from service.schemas import (
    EDITIONS_DESCRIPTION,
    QUERY_PATTERN,
    REPORT_DESCRIPTION,
    STATUS_DESCRIPTION,
    SearchResponse,
    StatusInput,
    request_models,
)
from service.search import Editions
from service.views import view_of


def add_search_routes(app: FastAPI) -> None:
    settings = state_of(app).settings
    models = request_models(settings)

    @app.get("/search", response_model=SearchResponse, tags=["search"])
    def search_get(
        request: Request,
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=settings.max_query_chars,
                pattern=QUERY_PATTERN,
                description="The question or keywords, Japanese or English",
                examples=["特定技能2号の分野は?"],
            ),
        ],
        k: Annotated[
            int,
            Query(ge=1, le=settings.max_k, description="How many measures", examples=[10]),
        ] = 10,
        status: Annotated[
            list[StatusInput] | None,
            Query(
                description=STATUS_DESCRIPTION + " (repeat the parameter)", examples=[["実施済み"]]
            ),
        ] = None,
        report: Annotated[
            list[str] | None,
            Query(
                description=REPORT_DESCRIPTION + " (repeat the parameter)",
                examples=[["isa-7th-roundtable-status-2024"]],
            ),
        ] = None,
        editions: Annotated[
            Editions, Query(description=EDITIONS_DESCRIPTION, examples=["latest"])
        ] = "latest",
    ) -> Response:
        """Hybrid search: the measures that best match a question, with their passages."""
        engine = engine_of(request)
        outcome = engine.search(
            q, k=k, statuses=status or [], reports=report or [], editions=editions
        )
        return json_response(SearchResponse.of(outcome, view_of(engine, outcome)))

    @app.post("/search", response_model=SearchResponse, tags=["search"])
    def search_post(request: Request, body: models.search) -> Response:  # type: ignore[name-defined]
        """The same search as GET /search, with a JSON body."""
        engine = engine_of(request)
        outcome = engine.search(
            body.q, k=body.k, statuses=body.status, reports=body.report, editions=body.editions
        )
        return json_response(SearchResponse.of(outcome, view_of(engine, outcome)))
