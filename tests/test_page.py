"""The search page and measure pages in headless Chromium, against a real `shisaku serve`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SSW2_JA = "特定技能2号の分野は?"
SSW2_EN = "Which fields were added to Specified Skilled Worker (ii)?"
BADGE_COLOURS = {
    "実施中": "rgb(29, 95, 209)",
    "実施済み": "rgb(20, 128, 60)",
    "検討中": "rgb(194, 87, 12)",
}


def search(page, query: str) -> None:
    page.fill("#q", query)
    page.press("#q", "Enter")
    wait_done(page)


def wait_done(page) -> None:
    page.wait_for_selector("body[data-state=done]")


def card_numbers(page) -> list[int]:
    return [
        int(n)
        for n in page.eval_on_selector_all(
            "#results [data-measure]", "cards => cards.map(c => c.dataset.measure)"
        )
    ]


def open_search(page) -> None:
    page.goto("/")
    page.wait_for_selector("body[data-state=idle]")


# The query's words as the report writes them (Sudachi normalised forms of 特定技能2号の分野).
SSW2_WORDS = {"特定技能２号", "特定技能", "特定", "技能", "分野"}


def marks_of(locator) -> list[str]:
    return [m or "" for m in locator.locator("mark.hit").all_text_contents()]


def test_japanese_question_shows_measure_7_first_with_highlight(page) -> None:
    open_search(page)
    search(page, SSW2_JA)
    assert card_numbers(page)[0] == 7
    first = page.locator("#results [data-measure]").first
    marked = marks_of(first)
    # The words the user typed are marked, and nothing else: no whole passage in yellow.
    assert "特定技能２号" in marked and "分野" in marked
    assert set(marked) <= SSW2_WORDS, set(marked) - SSW2_WORDS
    # The best-matching sentence is marked lightly, around the words.
    sentence = first.locator(".sentence-hit, mark.in-sentence")
    assert "の対象" in "".join(sentence.all_text_contents())
    assert first.locator(".relevance").get_attribute("data-level") == "high"
    assert first.locator(".relevance").text_content() == "関連度 高"
    assert page.locator("#results .score").count() == 0  # no raw fused score on the page
    badge = first.locator(".badge")
    assert badge.text_content() == "実施済み"
    assert badge.evaluate("b => getComputedStyle(b).backgroundColor") == BADGE_COLOURS["実施済み"]
    assert first.locator("a.full-link").get_attribute("href").startswith("/m/7")
    params = parse_qs(urlparse(page.url).query)
    assert params["q"] == [SSW2_JA]
    assert page.js_errors == []


def test_english_question_shows_measure_7_first(page) -> None:
    open_search(page)
    search(page, SSW2_EN)
    assert card_numbers(page)[0] == 7
    assert page.locator("#summary").text_content().count(SSW2_EN) == 1


def test_example_question_runs_a_search(page) -> None:
    open_search(page)
    page.get_by_role(
        "button", name="How are foreign children supported in going to school?"
    ).click()
    wait_done(page)
    assert card_numbers(page)[0] == 29
    assert page.input_value("#q") == "How are foreign children supported in going to school?"


def test_status_filter_keeps_only_that_status_and_goes_into_the_url(page) -> None:
    open_search(page)
    search(page, "難民")
    assert len(card_numbers(page)) == 10
    page.check("input[name=status][value='検討中']")
    page.wait_for_function("new URL(location.href).searchParams.get('status') === '検討中'")
    wait_done(page)
    statuses = page.eval_on_selector_all(
        "#results [data-measure]", "cards => cards.map(c => c.dataset.status)"
    )
    assert statuses and set(statuses) == {"検討中"}
    for badge in page.locator("#results .card-head .badge").all():
        assert badge.evaluate("b => getComputedStyle(b).backgroundColor") == BADGE_COLOURS["検討中"]


def test_url_runs_the_search_on_load_and_restores_the_filter(page) -> None:
    page.goto("/?q=%E9%9B%A3%E6%B0%91&status=%E5%AE%9F%E6%96%BD%E6%B8%88%E3%81%BF")
    wait_done(page)
    assert page.input_value("#q") == "難民"
    assert page.is_checked("input[name=status][value='実施済み']")
    assert not page.is_checked("input[name=status][value='実施中']")
    statuses = page.eval_on_selector_all(
        "#results [data-measure]", "cards => cards.map(c => c.dataset.status)"
    )
    assert statuses and set(statuses) == {"実施済み"}


def test_back_button_restores_the_previous_search(page) -> None:
    open_search(page)
    search(page, SSW2_JA)
    search(page, "How are foreign children supported in going to school?")
    assert card_numbers(page)[0] == 29
    page.go_back()
    page.wait_for_function("document.getElementById('q').value === '特定技能2号の分野は?'")
    wait_done(page)
    assert card_numbers(page)[0] == 7


def test_similar_measures_on_a_card(page) -> None:
    open_search(page)
    search(page, SSW2_JA)
    first = page.locator("#results [data-measure]").first
    first.locator("button.similar-button").click()
    first.locator(".similar-item").first.wait_for()
    similar = [
        int(n)
        for n in first.locator(".similar-item").evaluate_all(
            "items => items.map(i => i.dataset.similar)"
        )
    ]
    assert len(similar) == 5 and 7 not in similar
    assert first.locator("button.similar-button").get_attribute("aria-expanded") == "true"


def test_measure_page_and_similar_link(page) -> None:
    open_search(page)
    search(page, SSW2_JA)
    page.locator("#results [data-measure]").first.locator("a.full-link").click()
    page.wait_for_url(re.compile(r"/m/7\b"))
    assert page.locator("h1").text_content().strip() == "施策 7"
    assert page.locator(".measure-head .badge").text_content() == "実施済み"
    assert "（注２）" in page.locator("#note").text_content()
    assert "特定技能２号" in (page.locator("#hl").text_content() or "")
    assert set(marks_of(page.locator("main"))) <= SSW2_WORDS
    back = page.locator("a.back").get_attribute("href") or ""
    assert parse_qs(urlparse(back).query)["q"] == [SSW2_JA]
    links = page.locator(".similar-section a.similar-link")
    assert links.count() == 5
    target_url = urlparse(links.first.get_attribute("href") or "")
    target = int(target_url.path.rsplit("/", 1)[1])
    assert target != 7
    assert parse_qs(target_url.query)["q"] == [SSW2_JA]  # the search goes along
    links.first.click()
    page.wait_for_url(re.compile(rf"/m/{target}\?"))
    assert page.locator("h1").text_content().strip() == f"施策 {target}"
    assert page.locator("#target").text_content()


def test_unknown_measure_is_a_readable_404(page) -> None:
    for path in ("/m/99", "/m/abc"):
        response = page.goto(path)
        assert response.status == 404
        assert response.headers["content-type"].startswith("text/html")
        assert page.locator("h1").text_content() == "施策が見つかりません"
        assert "1–33" in page.locator(".problem").text_content()
        assert page.locator("a.back").get_attribute("href") == "/"


def test_markup_in_the_query_is_shown_as_text_not_run(page) -> None:
    open_search(page)
    for attack in ("<script>alert(1)</script>", '<img src=x onerror="alert(2)">'):
        search(page, attack)
        assert attack in page.locator("#summary").text_content()
        assert page.input_value("#q") == attack
    page.reload()
    wait_done(page)
    assert page.locator("main script, main img").count() == 0
    assert page.dialogs == []
    assert page.js_errors == []


def test_language_toggle_switches_and_is_remembered(page) -> None:
    open_search(page)
    search(page, SSW2_JA)
    assert page.locator(".brand [data-i18n=brand]").text_content() == "施策サーチ"
    page.click("#lang-toggle")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator(".brand [data-i18n=brand]").text_content() == "Measure search"
    assert page.locator("#search-button").text_content() == "Search"
    assert page.locator("#results .badge").first.text_content() == "Implemented"
    assert page.locator("#results .measure-link").first.text_content() == "Measure 7"
    page.reload()
    wait_done(page)
    assert page.locator(".brand [data-i18n=brand]").text_content() == "Measure search"
    page.goto("/m/7")
    assert page.locator("h1").text_content().strip() == "Measure 7"
    assert page.locator("#target h2").text_content() == "Recommended measure"
    page.click("#lang-toggle")
    assert page.locator("h1").text_content().strip() == "施策 7"


def test_not_ready_then_ready(page) -> None:
    """A 503 shows a clear message and the page retries by itself until the service answers."""
    calls = {"n": 0}

    def not_ready_twice(route) -> None:
        calls["n"] += 1
        if calls["n"] <= 2:
            route.fulfill(
                status=503,
                headers={"Retry-After": "1"},
                content_type="application/json",
                body=json.dumps({"error": {"code": "not_ready", "message": "still loading"}}),
            )
        else:
            route.continue_()

    page.route(re.compile(r"/search\?"), not_ready_twice)
    page.goto("/?q=" + SSW2_JA)
    page.wait_for_selector("#notice:not([hidden])")
    assert "準備中" in page.locator("#notice").text_content()
    wait_done(page)
    assert page.locator("#notice").is_hidden()
    assert card_numbers(page)[0] == 7
    assert calls["n"] >= 3


def test_server_error_is_shown_in_the_pages_language(page) -> None:
    page.route(
        re.compile(r"/search\?"),
        lambda route: route.fulfill(
            status=422,
            content_type="application/json",
            body=json.dumps(
                {"error": {"code": "invalid_request", "message": "q: too long <b>x</b>"}}
            ),
        ),
    )
    page.goto("/?q=x")
    page.wait_for_selector("#notice[data-kind=error]")
    text = page.locator("#notice").text_content() or ""
    assert "入力では検索できませんでした" in text
    assert not re.search(r"[A-Za-z]{3}", text), text  # no raw English in the Japanese UI
    page.click("#lang-toggle")
    text = page.locator("#notice").text_content() or ""
    assert "q: too long <b>x</b>" in text  # the English UI may say the server's reason
    assert page.locator("#notice b").count() == 0


def test_answer_panel_shows_citations_and_hides_without_ask(page) -> None:
    direct = "介護分野を除く11分野が追加された。<i>not markup</i>［施策7］"
    answer = {
        "question": SSW2_JA,
        "answerable": True,
        "answer": direct + "\n次の施策の文。［施策6］",
        "direct_end": len(direct),
        "citations": [
            {
                "number": 7,
                "field": "explanation",
                "start": 709,
                "end": 760,
                "quote": "特定技能２号の対象分野について",
            },
            {"number": 7, "field": "note", "start": 0, "end": 10, "quote": "（注２）…"},
            {"number": 6, "field": "explanation", "start": 0, "end": 9, "quote": "次の施策の文。"},
        ],
        "results": [],
    }
    page.route(
        re.compile(r"/ask$"),
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(answer, ensure_ascii=False)
        ),
    )
    open_search(page)
    search(page, SSW2_JA)
    page.wait_for_selector("#answer[data-state=answer]")
    assert page.locator(".answer-direct").text_content() == direct
    assert page.locator("#answer i").count() == 0
    assert page.locator(".answer-rest").is_hidden()  # what follows the direct answer folds
    page.click(".answer-more")
    assert "次の施策の文。" in (page.locator(".answer-rest").text_content() or "")
    # Each source once, no quote repeated: measure 7 (two fields), then measure 6.
    cited = page.locator("#citations .citation")
    assert [c.get_attribute("data-cite") for c in cited.all()] == ["7", "6"]
    href = cited.first.locator("a.citation-link").get_attribute("href") or ""
    assert href.startswith("/m/7?") and parse_qs(urlparse(href).query)["field"] == ["explanation"]
    assert cited.first.locator(".citation-field").all_text_contents() == ["実施状況の説明", "注"]
    assert "特定技能２号の対象分野について" not in (page.locator("#citations").text_content() or "")
    # Panel above the results.
    answer_box = page.locator("#answer").bounding_box()
    results_box = page.locator("#results").bounding_box()
    assert answer_box["y"] < results_box["y"]

    page.unroute(re.compile(r"/ask$"))
    page.route(
        re.compile(r"/ask$"),
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body=json.dumps({"error": {"code": "not_found", "message": "Not Found"}}),
        ),
    )
    search(page, "難民")
    page.wait_for_timeout(300)
    assert page.locator("#answer").is_hidden()


def test_results_below_the_cut_off_fold_behind_show_more(page) -> None:
    open_search(page)
    search(page, SSW2_JA)
    cards = page.locator("#results .card")
    visible = page.locator("#results .card:visible")
    assert cards.count() == 10
    shown = visible.count()
    assert 1 <= shown < 10
    levels = [c.get_attribute("data-relevance") for c in visible.all()]
    assert levels[0] == "high"
    summary = page.locator("#summary").text_content() or ""
    assert f"{shown}件" in summary
    more = page.locator("button.show-more")
    assert more.text_content() == f"関連度の低い結果をあと{10 - shown}件表示"
    more.click()
    assert visible.count() == 10 and page.locator("button.show-more").count() == 0


def test_off_topic_query_is_graded_low(page) -> None:
    open_search(page)
    search(page, "今日の天気は?")
    levels = {c.get_attribute("data-relevance") for c in page.locator("#results .card").all()}
    assert levels == {"low"}
    assert "よく一致する施策はありません" in (page.locator("#summary").text_content() or "")
    assert page.locator("#results mark.hit").count() == 0  # nothing in the report matches


def test_real_answer_shows_the_answer_and_its_footnote_and_links_markers(page) -> None:
    open_search(page)
    search(page, SSW2_JA)
    page.wait_for_selector("#answer[data-state=answer]")
    direct = page.locator(".answer-direct").text_content() or ""
    assert "特定技能２号の対象分野" in direct and "（注２）ビルクリーニング分野" in direct
    assert page.locator(".answer-direct").is_visible()
    numbers = [c.get_attribute("data-cite") for c in page.locator("#citations .citation").all()]
    assert numbers[0] == "7" and len(numbers) == len(set(numbers))
    # A marker goes to the card of its measure.
    page.locator(".answer-direct a.cite-marker").first.click()
    page.wait_for_function("document.activeElement.closest('#result-7') !== null")
    assert page.locator("#result-7").is_visible()


def test_refusal_under_a_status_filter_names_the_closest_measure_and_why(page) -> None:
    page.goto("/?q=" + "特定技能" + "&status=検討中")
    page.wait_for_selector("#answer[data-state=unanswerable]")
    body = page.locator("#answer-body")
    assert "検討中の施策には、この質問に答えるものがありません" in (body.text_content() or "")
    marker = body.locator("a.cite-marker")
    assert marker.count() == 1
    closest = marker.get_attribute("data-cite")
    assert closest is not None and int(closest) not in card_numbers(page)  # not 検討中
    assert (marker.get_attribute("href") or "").startswith(f"/m/{closest}?")
    reason = page.locator("#answer .answer-reason").text_content() or ""
    assert reason.startswith("判定の理由") and "chosen status" in reason
    page.click("#lang-toggle")
    assert (page.locator("#answer .answer-reason").text_content() or "").startswith("Why: ")


def test_refused_question_says_why(page) -> None:
    open_search(page)
    search(page, "What is the capital of Mongolia?")
    page.wait_for_selector("#answer[data-state=unanswerable]")
    assert "does not cover this question" in (page.locator("#answer-body").text_content() or "")
    assert page.locator("#answer .answer-reason").count() == 1
    assert page.locator("#answer-body a.cite-marker").count() == 0
    assert page.locator("#sources").is_hidden()


def test_answer_panel_holds_its_place_while_loading(page) -> None:
    release: list[Any] = []
    page.route(re.compile(r"/ask$"), lambda route: release.append(route))
    open_search(page)
    page.fill("#q", SSW2_JA)
    page.press("#q", "Enter")
    page.wait_for_selector("#answer[data-state=loading] .answer-placeholder")
    assert page.locator("#answer").get_attribute("aria-busy") == "true"
    wait_done(page)
    top_before = page.locator("#results").bounding_box()["y"]
    assert page.locator("#answer").bounding_box()["y"] < top_before  # its place is kept
    for route in release:
        route.continue_()
    page.wait_for_selector("#answer[data-state=answer]")
    assert page.locator("#results").bounding_box()["y"] >= top_before  # above, not popping in


def test_too_long_query_is_refused_in_the_pages_language(page) -> None:
    searches: list[str] = []
    page.on("request", lambda r: searches.append(r.url) if "/search?" in r.url else None)
    open_search(page)
    page.fill("#q", "あ" * 1200)  # pasted: nothing is cut silently
    assert len(page.input_value("#q")) == 1200
    page.press("#q", "Enter")
    page.wait_for_selector("#notice[data-kind=error]")
    assert "質問が長すぎます（1,200文字）。1,000文字以内" in page.locator("#notice").text_content()
    assert page.get_attribute("#q", "aria-invalid") == "true"
    page.goto("/?q=" + "い" * 1100)  # the same from a URL
    page.wait_for_selector("#notice[data-kind=error]")
    assert "長すぎます" in (page.locator("#notice").text_content() or "")
    assert searches == []


def test_long_query_summary_stays_on_one_line(page) -> None:
    query = "外国人の子どもの就学支援について" * 40  # 640 characters: allowed
    page.goto("/?q=" + query)
    wait_done(page)
    summary = page.locator("#summary")
    line = summary.evaluate("s => parseFloat(getComputedStyle(s).lineHeight)")
    assert summary.bounding_box()["height"] < 2 * line
    assert page.locator("#summary .query-text").get_attribute("title") == query


def test_autofocus_and_slash_shortcut(page) -> None:
    open_search(page)
    assert page.evaluate("document.activeElement.id") == "q"
    page.locator("h2#examples-title").click()
    assert page.evaluate("document.activeElement.id") != "q"
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    assert page.input_value("#q") == ""  # the "/" opens the box, it is not typed into it


def test_cached_result_is_shown_as_cached(page) -> None:
    open_search(page)
    search(page, "在留カードの失効")
    page.goto("/")
    page.wait_for_selector("body[data-state=idle]")
    search(page, "在留カードの失効")
    summary = page.locator("#summary").text_content() or ""
    assert "（キャッシュ）" in summary and "ミリ秒" not in summary


def test_measure_page_keeps_the_search_and_names_its_source(page) -> None:
    page.goto("/m/7?q=" + SSW2_JA)
    assert page.locator(".query-note").is_visible()
    assert "特定技能２号" in marks_of(page.locator("#explanation"))
    back = page.locator("a.back")
    assert back.text_content() == "← 検索結果に戻る"
    nav = page.locator(".measure-top .measure-nav")
    for rel, number in (("prev", 6), ("next", 8)):
        href = nav.locator(f"a[rel={rel}]").get_attribute("href") or ""
        assert urlparse(href).path == f"/m/{number}"
        assert parse_qs(urlparse(href).query)["q"] == [SSW2_JA]
    footer = page.locator("footer").text_content() or ""
    assert "出入国在留管理庁" in footer and "第７次出入国管理政策懇談会報告書" in footer
    assert re.search(r"SHA-256 [0-9a-f]{12}", footer)
    nav.locator("a[rel=next]").click()
    page.wait_for_url(re.compile(r"/m/8\?"))
    back.click()
    wait_done(page)
    assert page.input_value("#q") == SSW2_JA and card_numbers(page)[0] == 7
    page.goto("/m/1")
    assert page.locator(".measure-top a[rel=prev]").count() == 0
    assert page.locator("a.back").get_attribute("href") == "/"


@pytest.mark.parametrize(("path", "ready"), [("/docs", ".opblock"), ("/redoc", ".menu-content li")])
def test_api_docs_render_offline(browser: Any, server_url: str, path: str, ready: str) -> None:
    context = browser.new_context(base_url=server_url)
    outside: list[str] = []
    violations: list[str] = []

    def only_this_server(route) -> None:
        if route.request.url.startswith(server_url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    try:
        docs = context.new_page()
        docs.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        response = docs.goto(path)
        csp = response.headers["content-security-policy"]
        docs.wait_for_selector(ready, timeout=30_000)
        assert docs.locator(ready).count() >= 5
        assert "search" in (docs.locator("body").text_content() or "")
        if path == "/docs":
            assert "unsafe-inline" not in csp and "blob:" not in csp
            assert violations == [] and outside == []
        else:  # ReDoc: inline styles and a blob worker, nothing else; its badge stays away
            assert "style-src 'self' 'unsafe-inline'" in csp and "worker-src blob:" in csp
            assert "script-src 'self';" in csp
            assert all("redoc.ly" in v for v in violations), violations
            assert all("redoc.ly" in url for url in outside), outside
    finally:
        context.close()


def _screenshot(
    browser: Any, server_url: str, out: Path, width: int, height: int, locale: str
) -> None:
    context = browser.new_context(
        viewport={"width": width, "height": height},
        locale=locale,
        base_url=server_url,
        device_scale_factor=1,
    )
    try:
        shot = context.new_page()
        shot.goto("/?q=" + SSW2_JA)
        wait_done(shot)
        shot.evaluate("document.fonts.ready")
        overflow = shot.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"the page is {overflow}px wide on a {width}px screen"
        shot.screenshot(path=str(out))
    finally:
        context.close()


@pytest.mark.parametrize(
    ("name", "width", "height", "locale"),
    [("desktop", 1280, 900, "ja-JP"), ("phone", 390, 844, "ja-JP")],
)
def test_screenshots(
    browser: Any,
    server_url: str,
    artifacts_dir: Path,
    name: str,
    width: int,
    height: int,
    locale: str,
) -> None:
    from PIL import Image

    out = artifacts_dir / f"screenshot-{name}.png"
    _screenshot(browser, server_url, out, width, height, locale)
    with Image.open(out) as image:
        assert image.size == (width, height)
