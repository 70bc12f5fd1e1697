"""The search page (``/``), the measure pages (``/m/{number}``) and their static files.

The search page is a static HTML file driven by ``static/app.js`` over the JSON API. Measure
pages are rendered here, every corpus string escaped with :func:`html.escape`, so they read
without JavaScript; ``app.js`` only switches their labels between Japanese and English.
"""

from __future__ import annotations

import json
import logging
from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from indexer.records import Measure
from service.errors import NotFound, NotReady
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
        try:
            if not number.isascii() or not number.isdigit() or len(number) > 6:
                raise NotFound(f"{number!r} is not a measure number")
            measure = engine.get_measure(int(number))
        except NotFound as exc:
            return HTMLResponse(not_found_page(number, exc, engine), status_code=404)
        similar = engine.similar_measures(measure.number, k=SIMILAR_ON_PAGE)
        highlight = _highlight(request, measure)
        return HTMLResponse(measure_html(measure, similar, highlight))


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


def _page(
    title: str,
    body: str,
    page: str,
    title_key: str,
    title_vars: dict[str, object] | None,
    lang: str = "ja",
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
<a class="back" href="/" data-i18n="backToSearch">← 検索に戻る</a>
{body}
</main>
</body>
</html>
"""


def _badge(status: str) -> str:
    return (
        f'<span class="badge" data-status="{escape(status)}" '
        f'data-i18n="status.{escape(status)}">{escape(STATUS_LABELS.get(status, status))}</span>'
    )


def _measure_label(number: int) -> str:
    vars_attr = escape(json.dumps({"n": number}))
    return f'<span data-i18n="measure" data-i18n-vars="{vars_attr}">施策 {number}</span>'


def _field_text(text: str, mark: tuple[int, int] | None) -> str:
    if mark is None:
        return f'<span class="field-text">{escape(text)}</span>'
    start, end = mark
    return (
        f'<span class="field-text">{escape(text[:start])}'
        f'<mark id="hl" class="hit">{escape(text[start:end])}</mark>'
        f"{escape(text[end:])}</span>"
    )


def measure_html(
    measure: Measure,
    similar: list[tuple[Measure, float]],
    highlight: tuple[str, int, int] | None = None,
) -> str:
    sections = []
    for field, (key, label) in FIELD_LABELS.items():
        text = measure.field_text(field)  # type: ignore[arg-type]
        if not text:
            continue
        mark = highlight[1:] if highlight and highlight[0] == field else None
        sections.append(
            f'<section class="measure-section" id="{field}" data-field="{field}">'
            f'<h2 data-i18n="{key}">{escape(label)}</h2>{_field_text(text, mark)}</section>'
        )
    items = []
    for other, score in similar:
        target = shorten(other.target, 90)
        items.append(
            f'<li class="similar-item" data-similar="{other.number}">'
            f'<a class="similar-link" href="/m/{other.number}">{_measure_label(other.number)}</a>'
            f"{_badge(other.status)}"
            f'<span class="similar-target">{escape(target)}</span>'
            f'<span class="score">{score:.2f}</span></li>'
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
    body = (
        f'<article class="measure" data-measure-page="{measure.number}">'
        f'<div class="measure-head"><h1>{_measure_label(measure.number)}</h1>'
        f"{_badge(measure.status)}</div>"
        f"{''.join(sections)}</article>{similar_html}"
    )
    return _page(
        f"施策 {measure.number} — 施策サーチ",
        body,
        "measure",
        "measureTitle",
        {"n": measure.number},
    )


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
