"""The page with several reports: the report filter, the report of each card and citation, and
a measure's history on its page. Headless Chromium against a real `shisaku serve` over two
editions of the report (2024 and 2025-06, see ``two_edition_corpus`` in conftest)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from conftest import FIRST_EDITION_ID, SECOND_EDITION_ID
from pdf_fixtures import SECOND_EDITION

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FEE_QUERY = "在留諸申請の手数料の電子納付"  # measure 3: 検討中 (2024) → 実施中 (2025-06)
GREEN = "rgb(20, 128, 60)"
RED = "rgb(179, 38, 30)"


def open_search(page, path: str = "/") -> None:
    page.goto(path)
    page.wait_for_selector("body[data-ready='1']")


def search(page, query: str) -> None:
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_selector("body[data-state=done]")


def cards(page) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "#results .card",
        "cards => cards.map(c => ({number: c.dataset.measure, status: c.dataset.status,"
        " report: c.dataset.report, date: c.dataset.reportDate,"
        " label: (c.querySelector('.card-report') || {}).textContent || ''}))",
    )


def card_for(page, number: int) -> dict[str, str]:
    found = [c for c in cards(page) if c["number"] == str(number)]
    assert found, cards(page)
    return found[0]


def test_report_filter_lists_both_editions(two_edition_page) -> None:
    page = two_edition_page
    open_search(page)
    page.wait_for_selector(f"#report option[value='{SECOND_EDITION_ID}']", state="attached")
    assert page.locator("#report-filter").is_visible()
    assert page.locator("#report-filter label").text_content() == "報告書"
    options = page.eval_on_selector_all(
        "#report option", "os => os.map(o => ({value: o.value, text: o.textContent}))"
    )
    values = [o["value"] for o in options]
    assert values[:2] == ["", ":all"]
    assert values[2:] == [FIRST_EDITION_ID, SECOND_EDITION_ID]
    texts = {o["value"]: o["text"] for o in options}
    assert texts[""] == "各報告書の最新版"
    assert texts[":all"] == "すべての版"
    assert "2024" in texts[FIRST_EDITION_ID] and "…" in texts[FIRST_EDITION_ID]
    assert "2025-06" in texts[SECOND_EDITION_ID] and "最新版" in texts[SECOND_EDITION_ID]
    assert page.input_value("#report") == ""
    assert page.js_errors == []


def test_default_search_shows_only_the_latest_edition(two_edition_page) -> None:
    page = two_edition_page
    open_search(page)
    search(page, FEE_QUERY)
    found = cards(page)
    assert found and {c["report"] for c in found} == {SECOND_EDITION_ID}
    assert len({c["number"] for c in found}) == len(found)
    three = card_for(page, 3)
    assert three["status"] == "実施中"
    assert three["date"] == "2025-06"
    assert "2025-06" in three["label"] and three["label"].startswith("出典: ")
    assert "report" not in parse_qs(urlparse(page.url).query)
    # The card's link opens that edition of the measure.
    href = page.locator("#result-3 a.measure-link").get_attribute("href")
    assert parse_qs(urlparse(href).query)["edition"] == [SECOND_EDITION_ID]
    assert page.js_errors == []


def test_choosing_the_older_report_shows_its_statuses_and_goes_into_the_url(
    two_edition_page,
) -> None:
    page = two_edition_page
    open_search(page)
    search(page, FEE_QUERY)
    page.wait_for_selector(f"#report option[value='{FIRST_EDITION_ID}']", state="attached")
    with page.expect_response(lambda r: "/search?" in r.url and FIRST_EDITION_ID in r.url):
        page.select_option("#report", FIRST_EDITION_ID)
    page.wait_for_selector(f"#results .card[data-report='{FIRST_EDITION_ID}']")
    page.wait_for_selector("body[data-state=done]")
    found = cards(page)
    assert {c["report"] for c in found} == {FIRST_EDITION_ID}
    assert card_for(page, 3)["status"] == "検討中"
    assert "2024" in card_for(page, 3)["label"]
    assert parse_qs(urlparse(page.url).query)["report"] == [FIRST_EDITION_ID]

    # The URL restores the filter on load; "all editions" shows both editions of measure 3.
    open_search(page, f"/?q={FEE_QUERY}&report={FIRST_EDITION_ID}")
    page.wait_for_selector("body[data-state=done]")
    assert page.input_value("#report") == FIRST_EDITION_ID
    assert card_for(page, 3)["status"] == "検討中"
    page.select_option("#report", ":all")
    page.wait_for_function(
        "() => new Set([...document.querySelectorAll('#results .card[data-measure=\"3\"]')]"
        ".map(c => c.dataset.report)).size === 2"
    )
    page.wait_for_selector("body[data-state=done]")
    assert parse_qs(urlparse(page.url).query)["editions"] == ["all"]
    threes = {c["report"]: c["status"] for c in cards(page) if c["number"] == "3"}
    assert threes == {FIRST_EDITION_ID: "検討中", SECOND_EDITION_ID: "実施中"}
    assert page.js_errors == []


def history(page) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "#history .history-entry",
        "es => es.map(e => ({date: e.dataset.date, status: e.dataset.status,"
        " report: e.dataset.report, text: e.textContent}))",
    )


def test_measure_page_shows_the_status_history_oldest_first(two_edition_page) -> None:
    page = two_edition_page
    page.goto("/m/3")
    entries = history(page)
    assert [(e["date"], e["status"]) for e in entries] == [
        ("2024", "検討中"),
        ("2025-06", "実施中"),
    ]
    assert [e["report"] for e in entries] == [FIRST_EDITION_ID, SECOND_EDITION_ID]
    change = page.locator("#history .history-entry").nth(1).locator(".change-status")
    assert change.text_content() == "実施状況: 検討中 → 実施中"
    assert change.evaluate("n => getComputedStyle(n).fontWeight") == "700"
    # The page shows the latest edition by default; ?edition= shows the older one.
    assert page.locator(".measure-head .badge").text_content() == "実施中"
    assert "2025-06" in page.locator(".measure-report").text_content()
    page.goto(f"/m/3?edition={FIRST_EDITION_ID}")
    assert page.locator(".measure-head .badge").text_content() == "検討中"
    assert "2024" in page.locator(".measure-report").text_content()
    current = page.locator("#history .history-entry[aria-current=true]")
    assert current.get_attribute("data-report") == FIRST_EDITION_ID
    assert page.js_errors == []


def test_measure_page_shows_added_and_changed_sentences(two_edition_page) -> None:
    page = two_edition_page
    page.goto("/m/4")
    added = page.locator("#history .change-added")
    assert added.count() == 1
    assert SECOND_EDITION.added_sentences[4] in added.text_content()
    assert added.text_content().startswith("+ ")
    assert added.evaluate("n => getComputedStyle(n).color") == GREEN
    assert page.locator("#history .change-removed").count() == 0

    page.goto("/m/1")
    old, new = SECOND_EDITION.changed_sentences[1]
    removed = page.locator("#history .change-removed")
    added = page.locator("#history .change-added")
    assert any(old in t for t in removed.all_text_contents())
    assert any(new in t for t in added.all_text_contents())
    assert removed.first.text_content().startswith("\u2212 ")
    assert removed.first.evaluate("n => getComputedStyle(n).color") == RED
    statuses = page.locator("#history .change-status").all_text_contents()
    assert statuses == ["実施状況: 実施中 → 実施済み"]
    # An unchanged measure says so.
    page.goto("/m/7")
    assert page.locator("#history .history-same").text_content() == "前の版から変更なし"
    assert page.js_errors == []


def test_answer_citations_show_the_report(two_edition_page) -> None:
    page = two_edition_page
    open_search(page)
    search(page, "この1年で実施済みになった施策は?")
    page.wait_for_selector("#answer[data-state=answer]")
    cites = page.eval_on_selector_all(
        "#citations .citation",
        "cs => cs.map(c => ({number: c.dataset.cite, report: c.dataset.report,"
        " label: (c.querySelector('.citation-report') || {}).textContent || ''}))",
    )
    assert {c["number"] for c in cites} == {"1", "29"}
    assert {c["report"] for c in cites} == {SECOND_EDITION_ID}
    assert all("2025-06" in c["label"] for c in cites), cites
    assert page.js_errors == []


# ---- one report (today's index): the page looks as it did ----------------------------------


def test_single_report_hides_the_filter_and_labels(page) -> None:
    open_search(page)
    search(page, FEE_QUERY)
    assert page.locator("#report-filter").is_hidden()
    found = cards(page)
    assert found and {c["report"] for c in found} == {FIRST_EDITION_ID}
    assert {c["date"] for c in found} == {"2024"}
    assert page.locator("#results .card-report").count() == 0
    href = page.locator("#results a.measure-link").first.get_attribute("href")
    assert "edition" not in parse_qs(urlparse(href).query)
    assert page.js_errors == []


def test_single_report_measure_page_says_one_edition(page) -> None:
    page.goto("/m/3")
    assert page.locator("#history").get_attribute("data-editions") == "1"
    assert page.locator("#history .history-one").text_content() == (
        "この施策は1つの版（2024）にのみ掲載されています。"
    )
    assert page.locator(".measure-report").count() == 0
