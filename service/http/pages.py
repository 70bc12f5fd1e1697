"""The search page (``/``), the measure pages (``/m/{number}``) and their static files.

The search page is a static HTML file driven by ``static/app.js`` over the JSON API. Measure
pages are rendered here, every corpus string escaped with :func:`html.escape`, so they read
without JavaScript; ``app.js`` only switches their labels between Japanese and English.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from indexer.records import STATUSES, Measure
from service.errors import NotFound, NotReady
from service.highlight import Span, measure_marks
from service.history import MeasureHistory, measure_history
from service.http.deps import state_of
from service.search import SearchEngine
from service.text import shorten

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SIMILAR_ON_PAGE = 5
FIELD_LABELS = {
    "target": ("field.target", "対象施策"),
    "explanation": ("field.explanation", "実施状況の説明"),
    "note": ("field.notes", "注"),
}
STATUS_LABELS = {"実施中": "実施中", "実施済み": "実施済み", "検討中": "検討中"}
# The report the corpus comes from (data/README.md); app.js has the English wording.
SOURCE_JA = (
    "出典: 出入国在留管理庁「出入国在留管理基本計画策定後に第７次出入国管理政策懇談会報告書に"
    "おいて提言された施策の実施状況」"
)
REPORT_TITLE_CHARS = 24  # a report's title is shortened to this on the page (app.js: the same)
CHANGE_SIGNS = {"added": "+", "removed": "\u2212"}


@dataclass(frozen=True)
class SearchContext:
    """The search a measure page was reached from (``?q=&status=&report=&editions=``), kept
    in its links."""

    query: str = ""
    statuses: tuple[str, ...] = ()
    marks: dict[str, list[Span]] = field(default_factory=dict)
    report: str = ""
    editions: str = "latest"

    def params(self) -> list[tuple[str, str]]:
        pairs = [("q", self.query)] if self.query else []
        pairs += [("status", s) for s in self.statuses]
        if self.report:
            pairs.append(("report", self.report))
        elif self.editions == "all":
            pairs.append(("editions", "all"))
        return pairs

    def suffix(self, edition: str = "") -> str:
        """``?q=…&status=…`` for a link that keeps the search (and shows ``edition`` of the
        measure, when given), or ""."""
        query = urlencode(self.params() + ([("edition", edition)] if edition else []))
        return f"?{query}" if query else ""


def add_page_routes(app: FastAPI) -> None:
    """Mount ``/static`` and add ``/`` and ``/m/{number}``."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def search_page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/m/{number}", include_in_schema=False, response_class=HTMLResponse)
    def measure_page(request: Request, number: str) -> HTMLResponse:
        try:
            engine = state_of(request.app).ready_engine()
        except NotReady as error:
            return HTMLResponse(loading_page(error), status_code=503, headers={"Retry-After": "2"})
        # ?edition=: the report whose edition of the measure to show (default: the latest).
        edition = request.query_params.get("edition") or ""
        if edition not in engine.index.reports:
            edition = ""
        try:
            if not number.isascii() or not number.isdigit() or len(number) > 6:
                raise NotFound(f"{number!r} is not a measure number")
            measure = engine.get_measure(int(number), edition or None)
        except NotFound as exc:
            return HTMLResponse(not_found_page(number, exc, engine), status_code=404)
        similar = engine.similar_measures(measure.number, k=SIMILAR_ON_PAGE, report=measure.report)
        highlight = _highlight(request, measure)
        context = _context(request, engine, measure)
        numbers = [m.number for m in engine.index.measures if m.report == measure.report]
        return HTMLResponse(
            measure_html(
                measure,
                similar,
                highlight,
                context=context,
                neighbours=_neighbours(numbers, measure.number),
                corpus_sha256=str(engine.index.manifest.get("corpus_sha256") or ""),
                history=measure_history(engine.index.measures, engine.index.reports, measure),
                reports=engine.index.reports,
                edition=edition,
            )
        )


def _context(request: Request, engine: SearchEngine, measure: Measure) -> SearchContext:
    """The search in ``?q=&status=`` (ignored when it is not a valid one), with the query's
    words in this measure."""
    params = request.query_params
    query = " ".join((params.get("q") or "").split())
    if len(query) > engine.max_query_chars or "\x00" in query:
        query = ""
    statuses = tuple(s for s in dict.fromkeys(params.getlist("status")) if s in STATUSES)
    marks = measure_marks(engine, measure.number, query) if query else {}
    report = params.get("report") or ""
    if report not in engine.index.reports:
        report = ""
    editions = "all" if params.get("editions") == "all" else "latest"
    return SearchContext(query, statuses, marks, report, editions)


def _neighbours(numbers: list[int], number: int) -> tuple[int | None, int | None]:
    ordered = sorted(set(numbers))
    at = ordered.index(number)
    return (
        ordered[at - 1] if at > 0 else None,
        ordered[at + 1] if at + 1 < len(ordered) else None,
    )


def _highlight(request: Request, measure: Measure) -> tuple[str, int, int] | None:
    """The ``?field=&start=&end=`` range to mark, when it is valid for this measure."""
    params = request.query_params
    field = params.get("field")
    if field == "notes":
        field = "note"
    if field not in FIELD_LABELS:
        return None
    try:
        start, end = int(params.get("start", "")), int(params.get("end", ""))
    except ValueError:
        return None
    text = measure.field_text(field)  # type: ignore[arg-type]
    if not 0 <= start < end <= len(text):
        return None
    return field, start, end


# ---- rendering ---------------------------------------------------------------------------


# English queries use a lexicon derived from JMdict (data/README.md): CC BY-SA 4.0 asks for credit.
JMDICT_CREDIT = (
    '<p class="credit" data-i18n="jmdictCredit">英語の質問の語彙照合に JMdict（© EDRDG、'
    "CC BY-SA 4.0）を使用しています。</p>"
)


def _footer(corpus_sha256: str = "") -> str:
    provenance = ""
    if corpus_sha256:
        short = escape(corpus_sha256[:12])
        vars_attr = escape(json.dumps({"sha": corpus_sha256[:12]}))
        provenance = (
            f'<p class="provenance" data-i18n="provenance" data-i18n-vars="{vars_attr}">'
            f"本文は報告書（PDF）をテキスト化したものです（索引した報告書のチェックサム SHA-256 {short}…）。</p>"
        )
    return (
        '<footer class="footer">'
        f'<p data-i18n="source">{escape(SOURCE_JA)}</p>{provenance}'
        '<p><a href="/docs" data-i18n="apiLink">API ドキュメント</a> · <a href="/redoc">ReDoc</a></p>'
        f"{JMDICT_CREDIT}"
        "</footer>"
    )


def _page(
    title: str,
    body: str,
    page: str,
    title_key: str,
    title_vars: dict[str, object] | None,
    lang: str = "ja",
    back: str = '<a class="back" href="/" data-i18n="backToSearch">← 検索に戻る</a>',
    footer: str = "",
) -> str:
    vars_attr = escape(json.dumps(title_vars, ensure_ascii=False)) if title_vars else "null"
    return f"""<!doctype html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<script src="/static/app.js" defer></script>
</head>
<body data-page="{page}" data-title-key="{title_key}" data-title-vars="{vars_attr}">
<header class="topbar">
  <a class="brand" href="/"><span class="brand-mark" aria-hidden="true">施</span><span data-i18n="brand">施策サーチ</span></a>
  <button id="lang-toggle" class="lang-toggle" type="button" lang="en">English</button>
</header>
<main class="page">
{back}
{body}
</main>
{footer or _footer()}
</body>
</html>
"""


def _badge(status: str) -> str:
    return (
        f'<span class="badge" data-status="{escape(status)}" '
        f'data-i18n="status.{escape(status)}">{escape(STATUS_LABELS.get(status, status))}</span>'
    )


def _measure_label(number: int, key: str = "measure", text: str = "施策 {n}") -> str:
    vars_attr = escape(json.dumps({"n": number}))
    label = escape(text.format(n=number))
    return f'<span data-i18n="{key}" data-i18n-vars="{vars_attr}">{label}</span>'


def _field_text(text: str, mark: tuple[int, int] | None, terms: list[Span] | None = None) -> str:
    """``text`` escaped, the query's words (``terms``) in <mark class="hit"> and the passage
    the page was opened at (``mark``) lightly marked as ``#hl``."""
    in_term = [False] * len(text)
    for span in terms or []:
        for i in range(max(0, span.start), min(len(text), span.end)):
            in_term[i] = True
    start, end = mark if mark is not None else (-1, -1)
    out = ['<span class="field-text">']
    i = 0
    while i < len(text):
        if i == start:
            out.append('<span id="hl" class="sentence-hit">')
        term = in_term[i]
        j = i + 1
        while j < len(text) and in_term[j] == term and j != start and j != end:
            j += 1
        piece = escape(text[i:j])
        out.append(f'<mark class="hit">{piece}</mark>' if term else piece)
        if j == end:
            out.append("</span>")
        i = j
    out.append("</span>")
    return "".join(out)


def _nav(
    neighbours: tuple[int | None, int | None], context: SearchContext, edition: str = ""
) -> str:
    previous, following = neighbours
    suffix = escape(context.suffix(edition))
    links = []
    if previous is not None:
        label = _measure_label(previous, "prevMeasure", "← 施策 {n}")
        links.append(f'<a class="prev" rel="prev" href="/m/{previous}{suffix}">{label}</a>')
    if following is not None:
        label = _measure_label(following, "nextMeasure", "施策 {n} →")
        links.append(f'<a class="next" rel="next" href="/m/{following}{suffix}">{label}</a>')
    return f'<nav class="measure-nav">{"".join(links)}</nav>'


def measure_html(
    measure: Measure,
    similar: list[tuple[Measure, float]],
    highlight: tuple[str, int, int] | None = None,
    context: SearchContext | None = None,
    neighbours: tuple[int | None, int | None] = (None, None),
    corpus_sha256: str = "",
    history: MeasureHistory | None = None,
    reports: Mapping[str, Any] | None = None,
    edition: str = "",
) -> str:
    """The measure page; ``edition`` is the report asked for with ``?edition=`` (kept in the
    links to the neighbouring measures)."""
    context = context or SearchContext()
    reports = reports or {}
    sections = []
    for name, (key, label) in FIELD_LABELS.items():
        text = measure.field_text(name)  # type: ignore[arg-type]
        if not text:
            continue
        mark = highlight[1:] if highlight and highlight[0] == name else None
        terms = context.marks.get(name)
        sections.append(
            f'<section class="measure-section" id="{name}" data-field="{name}">'
            f'<h2 data-i18n="{key}">{escape(label)}</h2>{_field_text(text, mark, terms)}</section>'
        )
    items = []
    for other, _score in similar:
        target = shorten(other.target, 90)
        items.append(
            f'<li class="similar-item" data-similar="{other.number}">'
            f'<a class="similar-link" href="/m/{other.number}{escape(context.suffix())}">'
            f"{_measure_label(other.number)}</a>"
            f"{_badge(other.status)}"
            f'<span class="similar-target">{escape(target)}</span></li>'
        )
    similar_html = (
        (
            '<section class="measure-section similar-section" id="similar">'
            '<h2 data-i18n="similarMeasures">似ている施策</h2>'
            f'<ul class="similar-list">{"".join(items)}</ul></section>'
        )
        if items
        else ""
    )
    note = ""
    if context.query and context.marks:
        vars_attr = escape(json.dumps({"q": context.query}, ensure_ascii=False))
        note = (
            f'<p class="query-note muted" data-i18n="queryMarked" data-i18n-vars="{vars_attr}">'
            f"「{escape(context.query)}」に一致する語を強調しています</p>"
        )
    nav = _nav(neighbours, context, edition)
    shown = ""
    if len(reports) > 1:
        shown = _report_line(measure.report, reports, "p", "measure-report", "shownEdition")
    body = (
        f'<article class="measure" data-measure-page="{measure.number}" '
        f'data-report="{escape(measure.report)}">'
        f'<div class="measure-head"><h1>{_measure_label(measure.number)}</h1>'
        f"{_badge(measure.status)}</div>{shown}{note}"
        f"{''.join(sections)}{_history_html(history, reports, measure)}</article>"
        f"{similar_html}{nav}"
    )
    if context.query or context.report or context.editions == "all":
        back = (
            f'<a class="back" href="/{escape(context.suffix())}" data-i18n="backToResults">'
            "← 検索結果に戻る</a>"
        )
    else:
        back = '<a class="back" href="/" data-i18n="backToSearch">← 検索に戻る</a>'
    return _page(
        f"施策 {measure.number} — 施策サーチ",
        body,
        "measure",
        "measureTitle",
        {"n": measure.number},
        back=f'<div class="measure-top">{back}{nav}</div>',
        footer=_footer(corpus_sha256),
    )


def _report_vars(report_id: str, reports: Mapping[str, Any]) -> dict[str, str]:
    record = reports.get(report_id)
    title = str(getattr(record, "title", "") or report_id)
    return {"title": shorten(title, REPORT_TITLE_CHARS), "date": str(getattr(record, "date", ""))}


def _report_line(report_id: str, reports: Mapping[str, Any], tag: str, css: str, key: str) -> str:
    """A small "title (date)" label of the report shown, translated by app.js with ``key``."""
    values = _report_vars(report_id, reports)
    text = f"表示中の版: {values['title']}（{values['date']}）"
    vars_attr = escape(json.dumps(values, ensure_ascii=False))
    return (
        f'<{tag} class="{css}" data-report="{escape(report_id)}" data-i18n="{key}" '
        f'data-i18n-vars="{vars_attr}">{escape(text)}</{tag}>'
    )


def _change_html(kind: str, text: str) -> str:
    """One change of a history entry: a status change in bold, a sentence added (green, +)
    or removed (red, −), or the reworded recommendation."""
    if kind == "status":
        vars_attr = escape(json.dumps({"change": text}, ensure_ascii=False))
        return (
            '<li class="change change-status" data-kind="status" data-i18n="historyStatus" '
            f'data-i18n-vars="{vars_attr}">実施状況: {escape(text)}</li>'
        )
    sign = CHANGE_SIGNS.get(kind, "")
    lead = (
        f'<span class="change-sign" aria-hidden="true">{sign} </span>'
        if sign
        else '<span data-i18n="field.target">対象施策</span>: '
    )
    return (
        f'<li class="change change-{escape(kind)}" data-kind="{escape(kind)}">'
        f"{lead}{escape(text)}</li>"
    )


def _history_html(
    history: MeasureHistory | None, reports: Mapping[str, Any], shown: Measure
) -> str:
    """The measure's status in each edition with its date, oldest first, and the sentences
    that changed from the previous edition (from :func:`service.history.measure_history`)."""
    if history is None or not history.entries:
        return ""
    opening = (
        f'<section class="measure-section history-section" id="history" '
        f'data-editions="{len(history.entries)}">'
        '<h2 data-i18n="historyTitle">版ごとの実施状況</h2>'
    )
    if len(history.entries) == 1:
        date = _report_vars(history.entries[0].measure.report, reports)["date"]
        vars_attr = escape(json.dumps({"date": date}, ensure_ascii=False))
        return (
            f'{opening}<p class="history-one" data-i18n="historyOne" '
            f'data-i18n-vars="{vars_attr}">'
            f"この施策は1つの版（{escape(date)}）にのみ掲載されています。</p></section>"
        )
    items = []
    for i, entry in enumerate(history.entries):
        m = entry.measure
        values = _report_vars(m.report, reports)
        current = ' aria-current="true"' if m.key == shown.key else ""
        renumbered = "" if m.number == history.number else f" {_measure_label(m.number)}"
        changes = "".join(_change_html(c.kind, c.text) for c in entry.changes)
        if changes:
            detail = f'<ul class="history-changes">{changes}</ul>'
        elif i == 0:
            detail = ""
        else:
            detail = (
                '<p class="history-same muted" data-i18n="historyUnchanged">前の版から変更なし</p>'
            )
        items.append(
            f'<li class="history-entry" data-report="{escape(m.report)}" '
            f'data-date="{escape(values["date"])}" data-status="{escape(m.status)}"{current}>'
            '<div class="history-head">'
            f'<span class="history-date">{escape(values["date"])}</span>'
            f"{_badge(m.status)}{renumbered}"
            f'<span class="history-report muted">{escape(values["title"])}</span></div>'
            f"{detail}</li>"
        )
    return f'{opening}<ol class="history-list">{"".join(items)}</ol></section>'


def not_found_page(number: str, error: NotFound, engine: SearchEngine) -> str:
    numbers = [m.number for m in engine.index.measures]
    span = f"{min(numbers)}–{max(numbers)}" if numbers else "?"
    vars_attr = escape(json.dumps({"n": number, "range": span}, ensure_ascii=False))
    body = (
        '<section class="problem" data-problem="not-found">'
        '<h1 data-i18n="notFoundTitle">施策が見つかりません</h1>'
        f'<p data-i18n="notFoundText" data-i18n-vars="{vars_attr}">'
        f"施策「{escape(number)}」はありません。施策番号は {span} です。</p>"
        "</section>"
    )
    return _page(
        "施策が見つかりません — 施策サーチ", body, "measure-missing", "notFoundTitle", None
    )


def loading_page(error: NotReady) -> str:
    body = (
        '<section class="problem" data-problem="not-ready">'
        '<h1 data-i18n="loadingTitle">準備中</h1>'
        '<p data-i18n="notReady">サービスを準備中です（モデルと索引を読み込んでいます）。'
        "自動で再試行します…</p>"
        f'<p class="muted">{escape(error.message)}</p>'
        "</section>"
    )
    return _page("準備中 — 施策サーチ", body, "measure-loading", "loadingTitle", None)
