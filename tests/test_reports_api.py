"""The reports API over a real server holding two editions of the report (2024 and 2025-06,
made by ``tests.pdf_fixtures.second_edition_text``)."""

from __future__ import annotations

import httpx
import pytest
from conftest import FIRST_EDITION_ID, SECOND_EDITION_ID
from pdf_fixtures import SECOND_EDITION

pytestmark = pytest.mark.slow

SSW2_JA = "特定技能2号の分野は?"


def get(base: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(base + path, params=params, timeout=60)  # type: ignore[arg-type]


def test_reports_lists_both_editions_oldest_first(two_edition_server_url: str) -> None:
    response = get(two_edition_server_url, "/reports")
    assert response.status_code == 200
    reports = response.json()["reports"]
    assert [r["id"] for r in reports] == [FIRST_EDITION_ID, SECOND_EDITION_ID]
    assert [r["date"] for r in reports] == ["2024", "2025-06"]
    assert [r["edition"] for r in reports] == [1, 2]
    assert [r["latest"] for r in reports] == [False, True]
    assert reports[0]["series"] == reports[1]["series"]
    assert all(r["measures"] == 33 for r in reports)


def test_history_of_measure_3_is_oldest_first_with_the_status_change(
    two_edition_server_url: str,
) -> None:
    response = get(two_edition_server_url, "/measures/3/history")
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == 3
    history = body["history"]
    assert [h["report"]["id"] for h in history] == [FIRST_EDITION_ID, SECOND_EDITION_ID]
    assert [h["status"] for h in history] == ["検討中", "実施中"]
    assert history[0]["changes"] == []
    assert {"kind": "status", "text": "検討中 → 実施中"} in history[1]["changes"]


def test_history_of_measure_4_shows_the_added_sentence(two_edition_server_url: str) -> None:
    history = get(two_edition_server_url, "/measures/4/history").json()["history"]
    added = [c["text"] for c in history[-1]["changes"] if c["kind"] == "added"]
    assert added == [SECOND_EDITION.added_sentences[4]]
    assert [h["status"] for h in history] == ["実施中", "実施中"]


def test_search_scope_defaults_to_the_latest_edition(two_edition_server_url: str) -> None:
    body = get(two_edition_server_url, "/search", q=SSW2_JA, k=10).json()
    assert body["results"], body
    assert {r["report"]["id"] for r in body["results"]} == {SECOND_EDITION_ID}
    numbers = [r["number"] for r in body["results"]]
    assert len(numbers) == len(set(numbers))  # one edition: each measure once


def test_search_report_filter_returns_that_editions_statuses(two_edition_server_url: str) -> None:
    def statuses(report: str) -> dict[int, str]:
        body = get(two_edition_server_url, "/search", q="施策の実施状況", k=50, report=report)
        assert body.status_code == 200, body.text
        results = body.json()["results"]
        assert {r["report"]["id"] for r in results} == {report}
        return {r["number"]: r["status"] for r in results}

    old, new = statuses(FIRST_EDITION_ID), statuses(SECOND_EDITION_ID)
    for number, status in SECOND_EDITION.statuses.items():
        if number in old and number in new:
            assert new[number] == status
            assert old[number] != status
    assert old.get(3) == "検討中" and new.get(3) == "実施中"


def test_editions_all_returns_measure_7_of_both_editions(two_edition_server_url: str) -> None:
    body = get(two_edition_server_url, "/search", q=SSW2_JA, k=10, editions="all").json()
    sevens = [r for r in body["results"] if r["number"] == 7]
    assert {r["report"]["id"] for r in sevens} == {FIRST_EDITION_ID, SECOND_EDITION_ID}
    assert {r["report"]["date"] for r in sevens} == {"2024", "2025-06"}


def test_unknown_report_is_a_404_json_error(two_edition_server_url: str) -> None:
    for response in (
        get(two_edition_server_url, "/search", q=SSW2_JA, report="no-such-report"),
        httpx.post(
            two_edition_server_url + "/ask",
            json={"question": SSW2_JA, "report": ["no-such-report"]},
            timeout=60,
        ),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/json")
        error = response.json()["error"]
        assert error["code"] == "not_found" and "no-such-report" in error["message"]
        assert "isa-7th-roundtable-status-2024" in error["message"]  # the ones there are


def test_ask_what_became_implemented_this_year(two_edition_server_url: str) -> None:
    response = httpx.post(
        two_edition_server_url + "/ask",
        json={"question": "この1年で実施済みになった施策は?"},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answerable"], body
    cited = {c["number"] for c in body["citations"]}
    assert cited == {1, 29}, body["answer"]
    assert "［施策1］" in body["answer"] and "［施策29］" in body["answer"]
    assert {c["report"]["id"] for c in body["citations"]} == {SECOND_EDITION_ID}
    assert {c["report"]["date"] for c in body["citations"]} == {"2025-06"}
