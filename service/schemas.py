"""The one wire format: pydantic models of requests and responses for HTTP, CLI and MCP.

Request limits (query length, k, batch size) come from the settings: the request models are
made by :func:`request_models` for the configured limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from indexer.records import Field as FieldName
from indexer.records import Measure
from indexer.records import Status as StatusName
from service.answer import DEFAULT_ASK_K, MAX_ASK_K, Answer, Mode
from service.config import Settings
from service.search import MeasureHit, SearchOutcome

__all__ = ["FieldName", "StatusName"]

# What the engine accepts as a query, stated in the schema: some non-space text, no NUL.
QUERY_PATTERN = r"^[^\x00]*[^\s\x00\x1c-\x1f\x85][^\x00]*$"


class ErrorDetail(BaseModel):
    code: str = Field(description="stable machine-readable code", examples=["invalid_request"])
    message: str = Field(description="what went wrong and how to fix it")


class ErrorResponse(BaseModel):
    error: ErrorDetail


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

    @classmethod
    def of_pair(cls, measure: Measure, score: float) -> SimilarMeasure:
        return cls(**MeasureOut.of(measure).model_dump(), score=score)


class SimilarResponse(BaseModel):
    number: int | None = None
    results: list[SimilarMeasure]

    @classmethod
    def of_pairs(
        cls, pairs: list[tuple[Measure, float]], number: int | None = None
    ) -> SimilarResponse:
        return cls(number=number, results=[SimilarMeasure.of_pair(m, s) for m, s in pairs])


class ModelInfo(BaseModel):
    name: str
    path: str | None = Field(description="the model's folder name (never a local path)")
    dimension: int


class InfoResponse(BaseModel):
    version: str
    model: ModelInfo
    second_model: ModelInfo | None
    index: dict[str, object]


class HealthResponse(BaseModel):
    status: str


class BatchSearchResponse(BaseModel):
    results: list[SearchResponse]


# ---- answers (/ask, shisaku ask, MCP answer_question) ------------------------------------


class CitationOut(BaseModel):
    number: int = Field(description="measure number")
    field: FieldName
    start: int = Field(description="offset of the quote in that field")
    end: int
    quote: str = Field(description="exactly field text[start:end]")


class AskResponse(BaseModel):
    question: str
    answerable: bool
    answer: str
    citations: list[CitationOut]
    results: list[SearchResult]
    mode: Mode
    took_ms: float
    warning: str | None = None

    @classmethod
    def of(cls, answer: Answer) -> AskResponse:
        return cls(
            question=answer.question,
            answerable=answer.answerable,
            answer=answer.text,
            citations=[
                CitationOut(number=c.number, field=c.field, start=c.start, end=c.end, quote=c.quote)
                for c in answer.citations
            ],
            results=[SearchResult.of_hit(hit) for hit in answer.outcome.results],
            mode=answer.mode,
            took_ms=answer.took_ms,
            warning=answer.warning,
        )


# ---- requests, with the configured limits -------------------------------------------------


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class RequestModels:
    """The request bodies of the HTTP API for one configuration."""

    search: type[BaseModel]
    similar_text: type[BaseModel]
    batch_search: type[BaseModel]
    ask: type[BaseModel]


def query_field(max_chars: int, description: str, **extra: Any) -> Any:
    return Field(
        min_length=1, max_length=max_chars, pattern=QUERY_PATTERN, description=description, **extra
    )


def _statuses() -> Any:
    return (list[StatusName], Field(default_factory=list, description="Only these statuses"))


def request_models(settings: Settings) -> RequestModels:
    """Request models whose limits are the settings' (SHISAKU_MAX_QUERY_CHARS, _MAX_K, …)."""
    chars, max_k = settings.max_query_chars, settings.max_k
    query_text = Annotated[
        str, StringConstraints(min_length=1, max_length=chars, pattern=QUERY_PATTERN)
    ]
    search = create_model(
        "SearchRequest",
        __base__=_Request,
        q=(str, query_field(chars, "The question or keywords")),
        k=(int, Field(default=10, ge=1, le=max_k, description="How many measures to return")),
        status=_statuses(),
    )
    similar_text = create_model(
        "SimilarTextRequest",
        __base__=_Request,
        text=(str, query_field(chars, "Any free text")),
        k=(int, Field(default=5, ge=1, le=max_k, description="How many measures to return")),
    )
    batch_search = create_model(
        "BatchSearchRequest",
        __base__=_Request,
        queries=(
            list[query_text],
            Field(
                min_length=1,
                max_length=settings.max_batch,
                description=f"Up to {settings.max_batch} queries",
            ),
        ),
        k=(int, Field(default=10, ge=1, le=max_k, description="How many measures per query")),
        status=_statuses(),
    )
    ask = create_model(
        "AskRequest",
        __base__=_Request,
        question=(
            str,
            Field(min_length=1, max_length=chars, description="A question, Japanese or English"),
        ),
        k=(
            int,
            Field(default=DEFAULT_ASK_K, ge=1, le=MAX_ASK_K, description="Measures to retrieve"),
        ),
        status=_statuses(),
        mode=(Mode, Field(default="extractive", description="extractive (default) or generative")),
    )
    return RequestModels(
        search=search, similar_text=similar_text, batch_search=batch_search, ask=ask
    )
