"""HTTP routes of search: ``GET /search`` and ``POST /search`` (thin, over SearchEngine.search)."""

# No ``from __future__ import annotations``: the request models are made per configuration,
# so route annotations must be evaluated when the routes are defined.
from typing import Annotated

from fastapi import FastAPI, Query, Request

from indexer.records import Status
from service.http.deps import engine_of, state_of
from service.schemas import QUERY_PATTERN, SearchResponse, request_models


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
                description="Question or keywords",
            ),
        ],
        k: Annotated[int, Query(ge=1, le=settings.max_k, description="How many measures")] = 10,
        status: Annotated[list[Status] | None, Query(description="Only these statuses")] = None,
    ) -> SearchResponse:
        outcome = engine_of(request).search(q, k=k, statuses=status or [])
        return SearchResponse.of(outcome)

    @app.post("/search", response_model=SearchResponse, tags=["search"])
    def search_post(request: Request, body: models.search) -> SearchResponse:  # type: ignore[name-defined]
        outcome = engine_of(request).search(body.q, k=body.k, statuses=body.status)
        return SearchResponse.of(outcome)
