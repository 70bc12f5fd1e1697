"""The HTTP API through a real `shisaku serve` process."""

from __future__ import annotations

import httpx
import pytest

STATUS_OF = {1: "実施中", 3: "検討中", 7: "実施済み", 11: "検討中", 20: "検討中", 29: "実施中"}


def get(url: str, path: str, **params):
    return httpx.get(url + path, params=params, timeout=30)


def test_health_and_ready(server_url: str) -> None:
    assert get(server_url, "/healthz").json() == {"status": "ok"}
    assert get(server_url, "/readyz").json() == {"status": "ready"}


def test_measures_lists_all_33_with_statuses(server_url: str) -> None:
    measures = get(server_url, "/measures").json()["measures"]
    assert [m["number"] for m in measures] == list(range(1, 34))
    by_number = {m["number"]: m for m in measures}
    for number, status in STATUS_OF.items():
        assert by_number[number]["status"] == status
    assert by_number[7]["status_en"] == "implemented"
    assert "（注２）" in by_number[7]["notes"]
    assert by_number[1]["target"].startswith("厳格な入国管理について")
    assert set(by_number[1]) == {
        "number",
        "status",
        "status_en",
        "target",
        "explanation",
        "notes",
        "report",
    }
    assert by_number[1]["report"] == {
        "id": "isa-7th-roundtable-status-2024",
        "title": "出入国在留管理基本計画策定後に第７次出入国管理政策懇談会報告書において提言された施策の実施状況",
        "date": "2024",
    }


def test_measure_by_number_and_unknown_number(server_url: str) -> None:
    assert get(server_url, "/measures/12").json()["number"] == 12
    response = get(server_url, "/measures/99")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "query", ["特定技能2号の分野は?", "Which fields were added to Specified Skilled Worker (ii)?"]
)
def test_ssw_ii_question_returns_measure_7_with_footnote(server_url: str, query: str) -> None:
    body = get(server_url, "/search", q=query).json()
    first = body["results"][0]
    assert first["number"] == 7
    assert body["query"] == query and body["took_ms"] >= 0
    notes = [p for p in first["passages"] if p["field"] == "note"]
    assert notes, "the footnote listing the 11 fields should be among the matching passages"
    assert any("ビルクリーニング分野" in p["text"] for p in notes)
    for passage in first["passages"]:
        field = {"target": "target", "explanation": "explanation", "note": "notes"}[
            passage["field"]
        ]
        assert first[field][passage["start"] : passage["end"]] == passage["text"]


def test_results_are_one_per_measure_best_first(server_url: str) -> None:
    results = get(server_url, "/search", q="難民", k=10).json()["results"]
    numbers = [r["number"] for r in results]
    assert len(numbers) == len(set(numbers)) == 10
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)


def test_post_search_matches_get(server_url: str) -> None:
    posted = httpx.post(server_url + "/search", json={"q": "日系四世", "k": 3}, timeout=30).json()
    got = get(server_url, "/search", q="日系四世", k=3).json()
    assert [r["number"] for r in posted["results"]] == [r["number"] for r in got["results"]]
    assert posted["results"][0]["number"] == 12


def test_status_filter_is_repeatable(server_url: str) -> None:
    response = httpx.get(
        server_url + "/search",
        params=[("q", "外国人"), ("status", "検討中"), ("status", "実施中")],
        timeout=30,
    )
    statuses = {r["status"] for r in response.json()["results"]}
    assert statuses <= {"検討中", "実施中"} and statuses


@pytest.mark.parametrize(
    ("query", "status", "expected"),
    [
        ("検討中の施策は?", "検討中", {3, 11, 20}),
        ("Which measures are still under consideration?", "検討中", {3, 11, 20}),
        ("List every measure that is in progress", "実施中", {1, 2, 4, 17, 21, 28, 29}),
    ],
)
def test_status_only_query_returns_every_measure_with_that_status(
    server_url: str, query: str, status: str, expected: set[int]
) -> None:
    results = get(server_url, "/search", q=query).json()["results"]
    assert {r["number"] for r in results} == expected
    assert all(r["status"] == status for r in results)


def test_implemented_list_is_complete_even_beyond_k(server_url: str) -> None:
    results = get(server_url, "/search", q="実施済みの施策をすべて教えて").json()["results"]
    assert len(results) == 23


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": ""}, 422),
        ({"q": "   "}, 422),
        ({"q": "あ" * 1001}, 422),
        ({"q": "難民", "k": 0}, 422),
        ({"q": "難民", "k": 51}, 422),
        ({"q": "難民", "k": "ten"}, 422),
        ({"q": "難民", "status": "保留"}, 422),
        ({}, 422),
    ],
)
def test_bad_search_input_gets_json_4xx(server_url: str, params: dict, status: int) -> None:
    response = get(server_url, "/search", **params)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] and error["message"]


def test_malformed_json_body_gets_400(server_url: str) -> None:
    response = httpx.post(
        server_url + "/search",
        content='{"q": "難民",'.encode(),
        timeout=30,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


@pytest.mark.parametrize(
    "body",
    [
        {"q": " "},
        {"q": "難民", "k": 100},
        {"q": "難民", "status": ["done"]},
        {"k": 3},
        {"q": "難民", "extra": 1},
        ["難民"],
    ],
)
def test_bad_post_bodies_get_json_4xx(server_url: str, body: object) -> None:
    response = httpx.post(server_url + "/search", json=body, timeout=30)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["message"]


def test_unknown_route_is_json_404(server_url: str) -> None:
    response = get(server_url, "/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_info_reports_model_and_index(server_url: str) -> None:
    info = get(server_url, "/info").json()
    assert info["model"]["dimension"] == 384
    assert info["model"]["name"]
    assert info["index"]["counts"]["measures"] == 33
    assert info["index"]["built_at"]
    assert info["version"]


def test_similar_measures_excludes_itself(server_url: str) -> None:
    body = get(server_url, "/measures/28/similar", k=5).json()
    numbers = [r["number"] for r in body["results"]]
    assert len(numbers) == 5 and 28 not in numbers
    assert 29 in numbers  # the two measures share most of their explanation


def test_highlights_mark_the_query_words_in_each_passage(server_url: str) -> None:
    body = get(server_url, "/search", q="特定技能2号の分野は?").json()
    first = body["results"][0]
    assert first["relevance"] == "high" and body["shown"] >= 1
    words = set()
    for passage in first["passages"]:
        spans = passage["highlights"]
        for span in spans:
            words.add(passage["text"][span["start"] : span["end"]])
    assert "特定技能２号" in words and words <= {"特定技能２号", "特定技能", "分野", "特定", "技能"}
    best = [p for p in first["passages"] if p["sentence"]]
    assert len(best) == 1
    sentence = best[0]["sentence"]
    assert "特定技能２号" in best[0]["text"][sentence["start"] : sentence["end"]]


def test_off_topic_results_are_low_and_unmarked(server_url: str) -> None:
    body = get(server_url, "/search", q="今日の天気は?").json()
    assert {r["relevance"] for r in body["results"]} == {"low"}
    assert all(not p["highlights"] for r in body["results"] for p in r["passages"])


def test_a_repeated_search_is_marked_cached(server_url: str) -> None:
    first = get(server_url, "/search", q="永住者の実態調査", k=4).json()
    again = get(server_url, "/search", q="永住者の実態調査", k=4).json()
    assert first["cached"] is False and again["cached"] is True


def test_status_takes_english_names(server_url: str) -> None:
    response = httpx.get(
        server_url + "/search", params=[("q", "外国人"), ("status", "in-progress")], timeout=30
    )
    assert response.status_code == 200
    assert {r["status"] for r in response.json()["results"]} == {"実施中"}
    posted = httpx.post(
        server_url + "/ask", json={"question": "難民", "status": ["implemented"]}, timeout=60
    ).json()
    assert {r["status"] for r in posted["results"]} == {"実施済み"}


@pytest.mark.parametrize(
    ("method", "path", "body", "model", "exclude_none"),
    [
        ("GET", "/search?q=特定技能2号の分野は?", None, "SearchResponse", False),
        ("POST", "/search", {"q": "Which fields were added to SSW (ii)?"}, "SearchResponse", False),
        ("POST", "/ask", {"question": "特定技能2号の分野は?"}, "AskResponse", True),
        ("POST", "/ask", {"question": "What is the capital of Mongolia?"}, "AskResponse", True),
        ("POST", "/search/batch", {"queries": ["ビザ", "難民"]}, "BatchSearchResponse", False),
        ("POST", "/similar", {"text": "日本語教育の推進"}, "SimilarResponse", False),
        ("GET", "/measures", None, "MeasuresResponse", False),
        ("GET", "/measures/7", None, "MeasureOut", False),
        ("GET", "/measures/7/history", None, "HistoryResponse", False),
        ("GET", "/measures/7/similar", None, "SimilarResponse", False),
        ("GET", "/reports", None, "ReportsResponse", False),
    ],
)
def test_json_bodies_are_their_response_models(
    server_url: str, method: str, path: str, body, model: str, exclude_none: bool
) -> None:
    """The routes serialise their models themselves (service/http/responses.py): each body is
    JSON, is exactly its model's serialisation, and the OpenAPI schema still names the model."""
    from service import schemas

    response = httpx.request(method, server_url + path, json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    cls = getattr(schemas, model)
    assert cls.model_validate(data).model_dump(mode="json", exclude_none=exclude_none) == data
    route = path.split("?")[0].replace("/7", "/{number}")
    spec = httpx.get(server_url + "/openapi.json", timeout=30).json()
    ok = spec["paths"][route][method.lower()]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"]["$ref"].endswith("/" + model)
