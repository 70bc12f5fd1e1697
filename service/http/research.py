"""HTTP routes for researchers: free-text similarity and batch search (thin, over service.research)."""

# No ``from __future__ import annotations``: the request models are made per configuration.
from fastapi import FastAPI, Request, Response

from service.http.deps import engine_of, state_of
from service.http.responses import json_response
from service.research import search_many, similar_to_text
from service.schemas import (
    BatchSearchResponse,
    SearchResponse,
    SimilarResponse,
    request_models,
)
from service.views import view_of


def add_research_routes(app: FastAPI) -> None:
    models = request_models(state_of(app).settings)

    @app.post("/similar", response_model=SimilarResponse, tags=["research"])
    def similar_text(request: Request, body: models.similar_text) -> Response:  # type: ignore[name-defined]
        """Measures most similar to any free text, by whole-measure embeddings."""
        engine = engine_of(request)
        hits = similar_to_text(engine, body.text, body.k, body.report, body.editions)
        pairs = [(h.measure, h.score) for h in hits]
        return json_response(SimilarResponse.of_pairs(pairs, reports=engine.index.reports))

    @app.post("/search/batch", response_model=BatchSearchResponse, tags=["research"])
    def search_batch(request: Request, body: models.batch_search) -> Response:  # type: ignore[name-defined]
        """Many searches in one request, encoded together."""
        engine = engine_of(request)
        outcomes = search_many(
            engine, body.queries, body.k, body.status, body.report, body.editions
        )
        results = [SearchResponse.of(o, view_of(engine, o)) for o in outcomes]
        return json_response(BatchSearchResponse(results=results))
