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


def test_japanese_question_shows_measure_7_first_with_highlight(page) -> None:
    open_search(page)
    search(page, SSW2_JA)
    assert card_numbers(page)[0] == 7
    first = page.locator("#results [data-measure]").first
    assert first.locator("mark.hit").count() >= 1
    highlighted = first.locator("mark.hit:not(.weak)").first.text_content() or ""
    assert "特定技能２号" in highlighted
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
    assert "特定技能２号" in (page.locator("mark#hl").text_content() or "")
    links = page.locator(".similar-section a.similar-link")
    assert links.count() == 5
    target = int(links.first.get_attribute("href").rsplit("/", 1)[1])
    assert target != 7
    links.first.click()
    page.wait_for_url(re.compile(rf"/m/{target}$"))
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


def test_server_error_is_shown(page) -> None:
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
    text = page.locator("#notice").text_content()
    assert "q: too long <b>x</b>" in text and "422" in text
    assert page.locator("#notice b").count() == 0


def test_answer_panel_shows_citations_and_hides_without_ask(page) -> None:
    answer = {
        "question": SSW2_JA,
        "answerable": True,
        "answer": "介護分野を除く11分野が追加された。<i>not markup</i>",
        "citations": [
            {
                "number": 7,
                "field": "explanation",
                "start": 709,
                "end": 760,
                "quote": "特定技能２号の対象分野について",
            }
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
    page.wait_for_selector("#answer:not([hidden])")
    assert page.locator("#answer-text").text_content() == answer["answer"]
    assert page.locator("#answer i").count() == 0
    citation = page.locator("#citations .citation").first
    assert citation.locator("a").get_attribute("href").startswith("/m/7?field=explanation")
    assert "特定技能２号の対象分野について" in citation.text_content()
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
