"""The wire format seen through the HTTP app in process (fast tier, fake encoder): highlights,
relevance, the cut-off, cached results, English status names and a documented schema."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.records import STATUS_ALIASES, STATUS_EN, STATUSES, parse_status
from service.answer import direct_end
from service.errors import InvalidRequest
from service.search import validate_statuses
from service.text import count_noun, excerpt, sources


def test_every_passage_has_highlights_into_its_text(fake_client) -> None:
    body = fake_client.get("/search", params={"q": "特定技能2号の分野は?", "k": 10}).json()
    assert body["shown"] >= 1 and body["cached"] in (True, False)
    marked = []
    for result in body["results"]:
        assert result["relevance"] in ("high", "medium", "low")
        for passage in result["passages"]:
            for span in passage["highlights"]:
                assert 0 <= span["start"] < span["end"] <= len(passage["text"])
                marked.append(passage["text"][span["start"] : span["end"]])
    assert "特定技能２号" in marked


def test_a_repeated_search_says_it_came_from_the_cache(fake_client) -> None:
    first = fake_client.get("/search", params={"q": "在留カード 失効"}).json()
    again = fake_client.get("/search", params={"q": "在留カード 失効"}).json()
    assert first["cached"] is False and again["cached"] is True
    assert [r["number"] for r in first["results"]] == [r["number"] for r in again["results"]]


@pytest.mark.parametrize("english", ["implemented", "in-progress", "under-consideration"])
def test_status_filter_takes_english_names(fake_client, english: str) -> None:
    status = STATUS_ALIASES[english]  # type: ignore[index]
    got = fake_client.get("/search", params={"q": "外国人", "status": english}).json()
    assert got["results"] and {r["status"] for r in got["results"]} == {status}
    posted = fake_client.post("/search", json={"q": "外国人", "status": [english]}).json()
    assert [r["number"] for r in posted["results"]] == [r["number"] for r in got["results"]]


def test_unknown_status_names_the_english_ones_too(fake_client) -> None:
    response = fake_client.get("/search", params={"q": "外国人", "status": "done"})
    assert response.status_code == 422
    with pytest.raises(InvalidRequest, match="under-consideration"):
        validate_statuses(["done"])


def test_the_alias_table_is_the_one_list_of_english_names() -> None:
    assert set(STATUS_ALIASES.values()) == set(STATUSES)
    for alias, status in STATUS_ALIASES.items():
        assert STATUS_EN[status] == alias.replace("-", " ")
        assert parse_status(alias) == status
        assert parse_status(alias.replace("-", " ").title()) == status
        assert parse_status(alias.replace("-", "_")) == status
    assert parse_status("実施済み") == "実施済み"
    assert parse_status("done") is None and parse_status(3) is None
    assert validate_statuses(["implemented", "実施済み", "検討中"]) == ("実施済み", "検討中")


def test_info_states_the_limits_the_page_checks(fake_client, fake_settings) -> None:
    limits = fake_client.get("/info").json()["limits"]
    assert limits["max_query_chars"] == fake_settings.max_query_chars
    assert limits["max_k"] == fake_settings.max_k


def test_ask_marks_where_the_direct_answer_ends(fake_client) -> None:
    body = fake_client.post("/ask", json={"question": "特定技能2号の分野は?"}).json()
    assert 0 < body["direct_end"] <= len(body["answer"])


def test_direct_answer_is_the_first_measure_with_its_footnote() -> None:
    answer = (
        "特定技能２号の対象分野について、…決定した。［施策7］\n"
        "（注２）ビルクリーニング分野…外食業分野［施策7］\n"
        "さらに、特定技能については…［施策6］"
    )
    end = direct_end(answer)
    assert answer[:end].endswith("外食業分野［施策7］")
    assert direct_end("「検討中」の施策は施策3、施策11、施策20の3件です。") == len(
        "「検討中」の施策は施策3、施策11、施策20の3件です。"
    )
    lead = "Measure 7 (implemented): the report says, in Japanese:\n特定技能２号…［施策7］\n"
    english = lead + "Measure 6 (implemented): the report says, in Japanese:\n…［施策6］"
    assert english[: direct_end(english)] == lead.rstrip("\n")


# ---- text helpers ---------------------------------------------------------------------------


def test_counted_nouns() -> None:
    assert count_noun(1, "result") == "1 result"
    assert count_noun(0, "result") == "0 results"
    assert count_noun(2, "query", "queries") == "2 queries"


def test_excerpt_is_centred_on_the_match_not_cut_before_it() -> None:
    text = "前置き。" * 40 + "特定技能２号の対象分野" + "後書き。" * 40
    start = text.index("特定技能２号")
    cut = excerpt(text, 40, [(start, start + 6)])
    assert len(cut.text) <= 40
    assert cut.text.startswith("…") and cut.text.endswith("…")
    (first,) = cut.spans
    assert cut.text[first[0] : first[1]] == "特定技能２号"
    assert 3 <= first[0] <= 20  # a third of the way in, context on both sides
    assert excerpt("短い\n  文", 40).text == "短い 文"


def test_sources_are_listed_once_each() -> None:
    cited = [(7, "explanation"), (7, "note"), (6, "explanation"), (7, "note")]
    assert sources(cited) == [(7, ("explanation", "note")), (6, ("explanation",))]


# ---- the OpenAPI document -------------------------------------------------------------------


def _has_example(schema: dict[str, Any]) -> bool:
    return "examples" in schema or "example" in schema


def test_every_field_and_parameter_is_described_with_an_example(fake_client) -> None:
    document = fake_client.get("/openapi.json").json()
    missing = []
    for name, component in document["components"]["schemas"].items():
        for field, schema in component.get("properties", {}).items():
            if not schema.get("description") or not _has_example(schema):
                missing.append(f"{name}.{field}")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if not parameter.get("description") or not (
                    _has_example(parameter) or _has_example(schema)
                ):
                    missing.append(f"{method.upper()} {path} ?{parameter['name']}")
    assert missing == []


def test_the_schema_lists_english_status_names(fake_client) -> None:
    document = fake_client.get("/openapi.json").json()
    items = document["components"]["schemas"]["SearchRequest"]["properties"]["status"]["items"]
    assert set(items["enum"]) == set(STATUSES) | set(STATUS_ALIASES)


# ---- the API documentation pages ------------------------------------------------------------


def test_docs_pages_load_only_local_pinned_files(fake_client) -> None:
    from service.http.middleware import CONTENT_SECURITY_POLICY

    swagger = fake_client.get("/docs")
    assert swagger.status_code == 200
    assert swagger.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    html = swagger.text
    assert "<script>" not in html and "cdn" not in html.lower()
    assert 'src="/docs-assets/swagger-ui-bundle.js" integrity="sha384-' in html
    redoc = fake_client.get("/redoc")
    csp = redoc.headers["content-security-policy"]
    assert (
        csp
        == CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        + "; worker-src blob:"
    )
    assert "<script>" not in redoc.text and "fonts.googleapis" not in redoc.text
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        asset = fake_client.get(f"/docs-assets/{name}")
        assert asset.status_code == 200 and len(asset.content) > 10_000
        # the strict policy: an asset is never a page with relaxed rules
        assert asset.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert fake_client.get("/docs-assets/core.py").status_code == 404
    assert fake_client.get("/docs-assets/../__init__.py").status_code == 404
