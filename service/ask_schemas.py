"""Pydantic models of /ask: the request, citations and the answer (also used by CLI and MCP)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.answer import DEFAULT_ASK_K, MAX_ASK_K, Answer
from service.schemas import FieldName, SearchResult, StatusName

ModeName = Literal["extractive", "generative"]


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        min_length=1, max_length=1000, description="A question, Japanese or English"
    )
    k: int = Field(default=DEFAULT_ASK_K, ge=1, le=MAX_ASK_K, description="Measures to retrieve")
    status: list[StatusName] = Field(default_factory=list, description="Only these statuses")
    mode: ModeName = Field(default="extractive", description="extractive (default) or generative")


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
    mode: ModeName
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
