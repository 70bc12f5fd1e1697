"""HTTP routes of measures: the list, one measure, and the measures similar to one."""

# No ``from __future__ import annotations``: the limits in the annotations come from the settings.
from typing import Annotated

from fastapi import FastAPI, Path, Query, Request

from service.http.deps import engine_of, state_of
from service.schemas import MeasureOut, MeasuresResponse, SimilarResponse

NUMBER = Path(ge=0, le=100_000, description="measure number (施策番号)", examples=[7])


def add_measure_routes(app: FastAPI) -> None:
    max_k = state_of(app).settings.max_k

    @app.get("/measures", response_model=MeasuresResponse, tags=["measures"])
    def measures(request: Request) -> MeasuresResponse:
        """Every measure of the report, by number."""
        engine = engine_of(request)
        return MeasuresResponse(measures=[MeasureOut.of(m) for m in engine.index.measures])

    @app.get("/measures/{number}", response_model=MeasureOut, tags=["measures"])
    def measure(request: Request, number: Annotated[int, NUMBER]) -> MeasureOut:
        """One measure: status, target, explanation and notes (404 when there is none)."""
        return MeasureOut.of(engine_of(request).get_measure(number))

    @app.get("/measures/{number}/similar", response_model=SimilarResponse, tags=["measures"])
    def similar(
        request: Request,
        number: Annotated[int, NUMBER],
        k: Annotated[
            int, Query(ge=1, le=max_k, description="how many measures to list", examples=[5])
        ] = 5,
    ) -> SimilarResponse:
        """The measures most similar to one measure, by whole-measure embeddings."""
        pairs = engine_of(request).similar_measures(number, k=k)
        return SimilarResponse.of_pairs(pairs, number=number)
