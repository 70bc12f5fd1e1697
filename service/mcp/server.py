"""MCP server (official `mcp` SDK): search, measures, similar measures and answers as tools.

Two transports over the same tools: stdio (`shisaku mcp`) and streamable HTTP, mounted at
``/mcp`` inside the HTTP API's app (see :func:`mount_mcp`). Every tool returns structured
content with the same fields as the HTTP API, plus a short text rendering; bad arguments
come back as tool errors (``is_error``), never as a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from service import __version__
from service.answer import DEFAULT_ASK_K, MAX_ASK_K, answer_question
from service.errors import ShisakuError
from service.history import measure_history as history_of
from service.schemas import (
    AskResponse,
    HistoryResponse,
    MeasureOut,
    PassageOut,
    ReportOut,
    ReportsResponse,
    SearchResponse,
    SimilarResponse,
    StatusInput,
)
from service.search import SearchEngine
from service.text import CHANGE_MARKS, FIELD_LABELS, count_noun, excerpt, shorten, sources
from service.views import view_of

logger = logging.getLogger(__name__)

EngineGetter = Callable[[], SearchEngine]

INSTRUCTIONS = (
    "Search and answers over the Immigration Services Agency's report on the measures "
    "recommended by the 7th Immigration Control Policy Roundtable (第７次出入国管理政策懇談会). "
    "Ask in Japanese or English. Each measure has a number, a status (実施中 in progress / "
    "実施済み implemented / 検討中 under consideration), a target (対象施策), an explanation "
    "(実施状況の説明) and footnotes. Cite measures as ［施策N］. The index may hold several "
    "reports and editions (list_reports); searches cover the latest edition of each unless "
    "a report is named, and measure_history shows how a measure's status moved."
)

ReportFilter = Annotated[
    list[str] | None,
    Field(
        description="only these reports (ids from list_reports); default: the latest "
        "edition of each / 報告書で絞り込み"
    ),
]
AllEditions = Annotated[
    bool, Field(description="search every edition, not only the latest / 全ての版を対象にする")
]
ReportId = Annotated[
    str | None,
    Field(description="the report the number refers to (default: the latest edition) / 報告書"),
]


def _result(model: BaseModel, text: str) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=model.model_dump(mode="json"),
    )


async def _call(function: Callable[[], Any]) -> Any:
    """Run core work off the event loop; our errors become tool errors."""
    try:
        return await anyio.to_thread.run_sync(function)
    except ShisakuError as exc:
        raise ToolError(f"{exc.code}: {exc.message}") from None


def bolded(passage: PassageOut, width: int = 100) -> str:
    """The passage on one line around its best match, the query's words in **bold**."""
    cut = excerpt(passage.text, width, [(h.start, h.end) for h in passage.highlights])
    out, cursor = [], 0
    for start, end in sorted(cut.spans):
        if start < cursor:
            continue
        out += [cut.text[cursor:start], "**", cut.text[start:end], "**"]
        cursor = end
    return "".join(out) + cut.text[cursor:]


def _source(report: ReportOut) -> str:
    return f"{report.id}, {report.date}" if report.date else report.id


def render_search(response: SearchResponse) -> str:
    shown = response.results[: response.shown]
    lines = [f"{count_noun(len(shown), 'relevant measure')} for {response.query!r}:"]
    for rank, r in enumerate(shown, start=1):
        lines.append(
            f"{rank}. 施策{r.number} [{r.status} / {r.status_en}] relevance {r.relevance} "
            f"({_source(r.report)}): {shorten(r.target, 100)}"
        )
        matching = [p for p in r.passages if p.highlights] or r.passages[:1]
        for passage in matching[:2]:
            lines.append(f"   > ({FIELD_LABELS[passage.field]}) {bolded(passage)}")
    folded = len(response.results) - len(shown)
    if folded:
        numbers = ", ".join(str(r.number) for r in response.results[response.shown :])
        lines.append(
            f"({count_noun(folded, 'less relevant measure')} below the cut-off: {numbers})"
        )
    return "\n".join(lines)


def render_measure(m: MeasureOut) -> str:
    parts = [
        f"施策{m.number} [{m.status} / {m.status_en}] ({_source(m.report)})",
        f"対象施策: {m.target}",
        f"実施状況の説明: {m.explanation}",
    ]
    if m.notes:
        parts.append(f"注: {m.notes}")
    return "\n".join(parts)


def render_history(response: HistoryResponse) -> str:
    lines = [f"施策{response.number}: {count_noun(len(response.history), 'edition')}"]
    for entry in response.history:
        lines.append(f"- {_source(entry.report)}: {entry.status} / {entry.status_en}")
        for change in entry.changes:
            mark = CHANGE_MARKS[change.kind]
            lines.append(f"  {mark} {change.text}")
    return "\n".join(lines)


def render_answer(response: AskResponse) -> str:
    lines = [response.answer]
    cited = sources((c.number, c.field) for c in response.citations)
    if cited:
        listed = "; ".join(
            f"施策{number} ({', '.join(FIELD_LABELS[f] for f in fields)})"
            for number, fields in cited
        )
        lines += ["", f"Sources: {listed}"]
        quoted = dict.fromkeys(_source(c.report) for c in response.citations)
        lines.append(f"Quoted from: {'; '.join(quoted)}")
    if response.warning:
        lines.append(f"warning: {response.warning}")
    if response.reason:
        lines.append(f"why: {response.reason}")
    return "\n".join(lines)


def build_mcp_server(get_engine: EngineGetter) -> MCPServer:
    """An MCP server whose tools call the same core as the HTTP API."""
    server: MCPServer = MCPServer(
        "shisaku-search", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING"
    )

    @server.tool(
        description=(
            "Search the immigration-policy measures of the report (Japanese or English "
            "query); returns the best-matching measures with their matching passages. / "
            "報告書の施策を日本語・英語で検索し、関連する施策と該当箇所を返します。"
        ),
    )
    async def search_measures(
        query: Annotated[str, Field(description="question or keywords / 質問またはキーワード")],
        k: Annotated[int, Field(description="how many measures (1-50) / 件数")] = 5,
        status: Annotated[
            list[StatusInput] | None,
            Field(
                description="only these statuses: 実施中, 実施済み, 検討中 (or in-progress, "
                "implemented, under-consideration) / 状況で絞り込み"
            ),
        ] = None,
        report: ReportFilter = None,
        all_editions: AllEditions = False,
    ) -> Annotated[CallToolResult, SearchResponse]:
        def run() -> SearchResponse:
            engine = get_engine()
            editions = "all" if all_editions else "latest"
            outcome = engine.search(
                query, k=k, statuses=status or [], reports=report or [], editions=editions
            )
            return SearchResponse.of(outcome, view_of(engine, outcome))

        response = await _call(run)
        return _result(response, render_search(response))

    @server.tool(
        description=(
            "Get one measure by its number: status, target, explanation and footnotes. / "
            "施策番号で施策の全文（実施状況・対象施策・説明・注）を取得します。"
        ),
    )
    async def get_measure(
        number: Annotated[int, Field(description="measure number / 施策番号")],
        report: ReportId = None,
    ) -> Annotated[CallToolResult, MeasureOut]:
        def run() -> MeasureOut:
            engine = get_engine()
            return MeasureOut.of(engine.get_measure(number, report), engine.index.reports)

        response = await _call(run)
        return _result(response, render_measure(response))

    @server.tool(
        description=(
            "The reports in the index (editions, dates, provenance), oldest first. / "
            "索引にある報告書（版・日付・出典）の一覧。"
        ),
    )
    async def list_reports() -> Annotated[CallToolResult, ReportsResponse]:
        def run() -> ReportsResponse:
            index = get_engine().index
            return ReportsResponse.of(index.reports, index.latest)

        response = await _call(run)
        text = "\n".join(
            f"{r.id} ({r.date}, edition {r.edition}{', latest' if r.latest else ''}): {r.title}"
            for r in response.reports
        )
        return _result(response, text)

    @server.tool(
        description=(
            "A measure's status in each edition of its report, oldest first, with the "
            "sentences that changed. / 施策の実施状況の推移（版ごと）と変更された文。"
        ),
    )
    async def measure_history(
        number: Annotated[int, Field(description="measure number / 施策番号")],
        report: ReportId = None,
    ) -> Annotated[CallToolResult, HistoryResponse]:
        def run() -> HistoryResponse:
            engine = get_engine()
            index = engine.index
            found = history_of(index.measures, index.reports, engine.get_measure(number, report))
            return HistoryResponse.of(found, index.reports)

        response = await _call(run)
        return _result(response, render_history(response))

    @server.tool(
        description=(
            "Measures most similar in content to a given measure. / "
            "指定した施策と内容が近い施策を返します。"
        ),
    )
    async def similar_measures(
        number: Annotated[int, Field(description="measure number / 施策番号")],
        k: Annotated[int, Field(description="how many measures (1-50) / 件数")] = 5,
        report: ReportId = None,
    ) -> Annotated[CallToolResult, SimilarResponse]:
        def run() -> SimilarResponse:
            engine = get_engine()
            pairs = engine.similar_measures(number, k=k, report=report)
            return SimilarResponse.of_pairs(pairs, number=number, reports=engine.index.reports)

        response = await _call(run)
        text = "\n".join(
            f"施策{r.number} [{r.status}] {r.score:.3f} {shorten(r.target, 80)}"
            for r in response.results
        )
        return _result(response, f"measures similar to 施策{number}:\n{text}")

    @server.tool(
        name="answer_question",
        description=(
            "Answer a question from the report with citations ［施策N］ quoting the report's "
            "own sentences; says plainly when the report does not cover the question. / "
            "報告書の記述だけから質問に回答し、引用元の施策を示します。報告書に記載がなければそう答えます。"
        ),
    )
    async def answer_question_tool(
        question: Annotated[str, Field(description="the question / 質問")],
        k: Annotated[
            int, Field(description=f"measures to retrieve (1-{MAX_ASK_K})")
        ] = DEFAULT_ASK_K,
        report: ReportFilter = None,
        all_editions: AllEditions = False,
    ) -> Annotated[CallToolResult, AskResponse]:
        def run() -> AskResponse:
            engine = get_engine()
            editions = "all" if all_editions else "latest"
            answer = answer_question(engine, question, k=k, reports=report, editions=editions)
            return AskResponse.of(answer, view_of(engine, answer.outcome, answer.decision))

        response = await _call(run)
        return _result(response, render_answer(response))

    return server


# ---- stdio -------------------------------------------------------------------------------


def run_stdio(engine: EngineGetter) -> None:
    """Serve the tools over stdin/stdout until the client closes the stream; ``engine``
    gives the engine, waiting while it loads (a BackgroundEngine: the handshake is answered
    at once)."""
    build_mcp_server(engine).run("stdio")
