"""HTTP routes of measures: the list, one measure, and the measures similar to one."""

# No ``from __future__ import annotations``: the limits in the annotations come from the settings.
from typing import Annotated

from fastapi import FastAPI, Path, Query, Request

from service.http.deps import engine_of, state_of
from service.schemas import MeasureOut, MeasuresResponse, SimilarResponse


def add_measure_routes(app: FastAPI) -> None:
    max_k = state_of(app).settings.max_k

    @app.get("/measures", response_model=MeasuresResponse, tags=["measures"])
    def measures(request: Request) -> MeasuresResponse:
        engine = engine_of(request)
        return MeasuresResponse(measures=[MeasureOut.of(m) for m in engine.index.measures])

    @app.get("/measures/{number}", response_model=MeasureOut, tags=["measures"])
    def measure(request: Request, number: Annotated[int, Path(ge=0, le=100_000)]) -> MeasureOut:
        return MeasureOut.of(engine_of(request).get_measure(number))

    @app.get("/measures/{number}/similar", response_model=SimilarResponse, tags=["measures"])
    def similar(
        request: Request,
        number: Annotated[int, Path(ge=0, le=100_000)],
        k: Annotated[int, Query(ge=1, le=max_k)] = 5,
    ) -> SimilarResponse:
        pairs = engine_of(request).similar_measures(number, k=k)
        return SimilarResponse.of_pairs(pairs, number=number)
