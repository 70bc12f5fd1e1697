"""Pydantic models of the HTTP API's requests and responses (also used by CLI and MCP)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from indexer.records import Measure
from service.search import MeasureHit, SearchOutcome

StatusName = Literal["実施中", "実施済み", "検討中"]
# What the engine accepts as a query, stated in the schema: some non-space text, no NUL.
QUERY_PATTERN = r"^[^\x00]*[^\s\x00\x1c-\x1f\x85][^\x00]*$"
QueryText = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=QUERY_PATTERN)]
FieldName = Literal["target", "explanation", "note"]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        min_length=1, max_length=1000, pattern=QUERY_PATTERN, description="The question or keywords"
    )
    k: int = Field(default=10, ge=1, le=50, description="How many measures to return")
    status: list[StatusName] = Field(default_factory=list, description="Only these statuses")


class PassageOut(BaseModel):
    field: FieldName
    text: str
    start: int
    end: int
    score: float


class MeasureOut(BaseModel):
    number: int
    status: StatusName
    status_en: str
    target: str
    explanation: str
    notes: str

    @classmethod
    def of(cls, measure: Measure) -> MeasureOut:
        return cls(
            number=measure.number,
            status=measure.status,
            status_en=measure.status_en,
            target=measure.target,
            explanation=measure.explanation,
            notes=measure.notes,
        )


class SearchResult(MeasureOut):
    score: float
    passages: list[PassageOut]

    @classmethod
    def of_hit(cls, hit: MeasureHit) -> SearchResult:
        return cls(
            **MeasureOut.of(hit.measure).model_dump(),
            score=hit.score,
            passages=[
                PassageOut(
                    field=p.passage.field,
                    text=p.passage.text,
                    start=p.passage.start,
                    end=p.passage.end,
                    score=p.score,
                )
                for p in hit.passages
            ],
        )


class SearchResponse(BaseModel):
    query: str
    took_ms: float
    results: list[SearchResult]

    @classmethod
    def of(cls, outcome: SearchOutcome) -> SearchResponse:
        return cls(
            query=outcome.query,
            took_ms=outcome.took_ms,
            results=[SearchResult.of_hit(hit) for hit in outcome.results],
        )


class MeasuresResponse(BaseModel):
    measures: list[MeasureOut]


class SimilarMeasure(MeasureOut):
    score: float


class SimilarResponse(BaseModel):
    number: int | None = None
    results: list[SimilarMeasure]


class ModelInfo(BaseModel):
    name: str
    path: str | None
    dimension: int


class InfoResponse(BaseModel):
    version: str
    model: ModelInfo
    second_model: ModelInfo | None
    index: dict[str, object]


class HealthResponse(BaseModel):
    status: str


# ---- researcher API (service/research_api.py) --------------------------------------------


class SimilarTextRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1, max_length=1000, pattern=QUERY_PATTERN, description="Any free text"
    )
    k: int = Field(default=5, ge=1, le=50, description="How many measures to return")


class BatchSearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    queries: list[QueryText] = Field(min_length=1, max_length=100, description="Up to 100 queries")
    k: int = Field(default=10, ge=1, le=50, description="How many measures per query")
    status: list[StatusName] = Field(default_factory=list, description="Only these statuses")


class BatchSearchResponse(BaseModel):
    results: list[SearchResponse]
