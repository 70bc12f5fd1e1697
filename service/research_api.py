"""HTTP routes for researchers: free-text similarity and batch search (thin, over service.research)."""

from __future__ import annotations

from fastapi import FastAPI, Request

from service.research import search_many, similar_to_text
from service.schemas import (
    BatchSearchRequest,
    BatchSearchResponse,
    MeasureOut,
    SearchResponse,
    SimilarMeasure,
    SimilarResponse,
    SimilarTextRequest,
)
from service.state import engine_of


def add_research_routes(app: FastAPI) -> None:
    @app.post("/similar", response_model=SimilarResponse, tags=["research"])
    def similar_text(request: Request, body: SimilarTextRequest) -> SimilarResponse:
        """Measures most similar to any free text, by whole-measure embeddings."""
        hits = similar_to_text(engine_of(request), body.text, k=body.k)
        return SimilarResponse(
            number=None,
            results=[
                SimilarMeasure(**MeasureOut.of(h.measure).model_dump(), score=h.score) for h in hits
            ],
        )

    @app.post("/search/batch", response_model=BatchSearchResponse, tags=["research"])
    def search_batch(request: Request, body: BatchSearchRequest) -> BatchSearchResponse:
        """Up to 100 searches in one request, encoded together."""
        outcomes = search_many(engine_of(request), body.queries, k=body.k, statuses=body.status)
        return BatchSearchResponse(results=[SearchResponse.of(o) for o in outcomes])
