"""The HTTP edge in process over the fake-encoder engine: routing, validation, error mapping,
typed state, limits from the settings (fast tier)."""

from __future__ import annotations

import pytest

from service import errors
from service.http.errors import status_of


def test_search_and_measures_answer_json(fake_client) -> None:
    body = fake_client.get("/search", params={"q": "難民", "k": 3}).json()
    assert body["query"] == "難民" and len(body["results"]) == 3
    assert len(fake_client.get("/measures").json()["measures"]) == 33
    assert fake_client.get("/measures/7").json()["status"] == "実施済み"


def test_unknown_measure_is_a_json_404(fake_client) -> None:
    response = fake_client.get("/measures/99")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("params", [{"q": "難民", "k": 0}, {"q": "難民", "k": 51}, {"q": " "}])
def test_invalid_queries_are_422(fake_client, params) -> None:
    response = fake_client.get("/search", params=params)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_malformed_json_is_400(fake_client) -> None:
    response = fake_client.post(
        "/search", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"


def test_wrong_method_is_405_with_allow(fake_client) -> None:
    response = fake_client.delete("/search")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_info_shows_no_absolute_paths(fake_client) -> None:
    text = fake_client.get("/info").text
    assert '"/' not in text and "/tmp" not in text


def test_schema_limits_come_from_the_settings(fake_settings, fake_engine) -> None:
    from fastapi.testclient import TestClient

    from service.http.app import create_app

    small = fake_settings.model_copy(update={"max_k": 7, "max_query_chars": 20, "max_batch": 2})
    with TestClient(create_app(small, engine=fake_engine)) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        assert schema["SearchRequest"]["properties"]["k"]["maximum"] == 7
        assert schema["SearchRequest"]["properties"]["q"]["maxLength"] == 20
        assert schema["BatchSearchRequest"]["properties"]["queries"]["maxItems"] == 2
        assert client.get("/search", params={"q": "難民", "k": 8}).status_code == 422
        assert client.post("/search/batch", json={"queries": ["a", "b", "c"]}).status_code == 422


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidRequest("x"), 422),
        (errors.NotFound("x"), 404),
        (errors.NotReady("x"), 503),
        (errors.Overloaded("x"), 503),
        (errors.IndexError_("x"), 503),
        (errors.PayloadTooLarge("x"), 413),
        (errors.Unauthorized("x"), 401),
        (errors.Forbidden("x"), 403),
        (errors.ReloadFailed("x"), 409),
        (errors.GenerativeUnavailable("x"), 409),
        (errors.ParseError("x", line=3), 400),
    ],
)
def test_domain_errors_map_to_http_statuses(error: errors.ShisakuError, status: int) -> None:
    assert status_of(error) == status
    assert not hasattr(error, "http_status")  # the domain knows no transport


def test_every_domain_error_is_a_shisaku_error() -> None:
    from indexer.errors import EncoderLoadError, ModelConversionError, ParseError
    from service.glossary import GlossaryError

    for cls in (EncoderLoadError, ModelConversionError, ParseError, GlossaryError):
        assert issubclass(cls, errors.ShisakuError)


def test_the_page_and_measure_pages_credit_jmdict(fake_client) -> None:
    for path in ("/", "/m/7"):
        assert "JMdict" in fake_client.get(path).text
