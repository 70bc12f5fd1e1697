"""Limits over HTTP: body size (413), batch size, the per-request time limit and the encoder's
bounded concurrency (503 + Retry-After), CORS only for configured origins, the result cache.

One extra `shisaku serve` with small limits is started for this module."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from conftest import free_port, server_env, start_server, stop_server

pytestmark = pytest.mark.slow

ALLOWED_ORIGIN = "http://allowed.example"
TIMEOUT_SECONDS = 0.75
WORDS = (
    "在留資格",
    "特定技能",
    "難民認定",
    "共生社会",
    "日本語教育",
    "オンライン申請",
    "技能実習",
    "外国人材",
    "地方公共団体",
    "出入国審査",
    "受入れ環境",
    "情報提供",
)


@pytest.fixture(scope="module")
def limited_url(settings, built_index) -> Iterator[str]:
    env = server_env(
        settings,
        SHISAKU_MAX_BODY_BYTES="200000",
        SHISAKU_REQUEST_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
        SHISAKU_ENCODER_SLOTS="1",
        SHISAKU_MAX_BATCH_CHARS="200000",  # so one batch can outlast the time limit
        SHISAKU_ENCODER_WAIT_SECONDS="0.05",
        SHISAKU_RESULT_CACHE_SIZE="0",
        SHISAKU_CORS_ORIGINS=ALLOWED_ORIGIN,
    )
    port = free_port()
    process = start_server(env, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def _slow_batch(tag: str) -> dict[str, object]:
    """100 distinct long queries: several seconds of encoding, far beyond TIMEOUT_SECONDS."""
    queries = [
        f"{tag}{i} " + "、".join(WORDS[(i + j) % len(WORDS)] for j in range(40)) for i in range(100)
    ]
    return {"queries": queries, "k": 3}


def _wait_until_idle(url: str) -> None:
    deadline = time.monotonic() + 120
    n = 0
    while time.monotonic() < deadline:
        n += 1
        response = httpx.get(
            url + "/search", params={"q": f"回復確認 {time.time()} {n}"}, timeout=30
        )
        if response.status_code == 200:
            return
        time.sleep(0.5)
    raise AssertionError("the server did not recover")


def _assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    return body


def test_body_over_the_limit_by_content_length_is_413(limited_url: str) -> None:
    body = b'{"q": "' + b"a" * 300_000 + b'"}'
    response = httpx.post(
        limited_url + "/search",
        content=body,
        timeout=30,
        headers={"content-type": "application/json"},
    )
    _assert_error(response, 413, "payload_too_large")
    assert response.headers["x-content-type-options"] == "nosniff"


def test_chunked_body_over_the_limit_is_413(limited_url: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"queries": ["'
        for _ in range(40):
            yield b"b" * 10_000
        yield b'"]}'

    response = httpx.post(
        limited_url + "/search/batch",
        content=chunks(),
        timeout=30,
        headers={"content-type": "application/json"},
    )
    assert "content-length" not in response.request.headers  # really chunked
    _assert_error(response, 413, "payload_too_large")


def test_body_under_the_limit_is_served(limited_url: str) -> None:
    response = httpx.post(limited_url + "/search", json={"q": "難民認定"}, timeout=30)
    assert response.status_code == 200


def test_request_over_the_time_limit_is_503_with_retry_after(limited_url: str) -> None:
    started = time.monotonic()
    response = httpx.post(limited_url + "/search/batch", json=_slow_batch("time"), timeout=60)
    elapsed = time.monotonic() - started
    try:
        _assert_error(response, 503, "timeout")
        assert int(response.headers["retry-after"]) >= 1
        assert elapsed < TIMEOUT_SECONDS + 2  # answered at the limit, not when the work ended
    finally:
        _wait_until_idle(limited_url)


def test_busy_encoder_is_503_overloaded_with_retry_after(limited_url: str) -> None:
    """One encoder slot, 0.05 s of patience: of many new long queries at once, some wait
    longer than that and are told to come back (a batch no longer holds the slot: see
    tests/test_faults.py)."""
    replies: list[httpx.Response] = []

    def ask(i: int) -> None:
        query = f"{i} " + "、".join(WORDS[(i + j) % len(WORDS)] for j in range(60))
        replies.append(httpx.get(limited_url + "/search", params={"q": query[:1000]}, timeout=60))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        overloaded = [r for r in replies if r.status_code == 503]
        assert overloaded and all(r.status_code in (200, 503) for r in replies)
        _assert_error(overloaded[0], 503, "overloaded")
        assert int(overloaded[0].headers["retry-after"]) >= 1
    finally:
        _wait_until_idle(limited_url)


def test_cors_only_for_configured_origins(limited_url: str, server_url: str) -> None:
    allowed = httpx.get(limited_url + "/healthz", headers={"Origin": ALLOWED_ORIGIN}, timeout=10)
    assert allowed.headers.get("access-control-allow-origin") == ALLOWED_ORIGIN
    other = httpx.get(
        limited_url + "/healthz", headers={"Origin": "http://evil.example"}, timeout=10
    )
    assert "access-control-allow-origin" not in other.headers
    # Unconfigured (the default): no CORS at all, not even for a preflight.
    plain = httpx.get(server_url + "/healthz", headers={"Origin": ALLOWED_ORIGIN}, timeout=10)
    assert "access-control-allow-origin" not in plain.headers
    preflight = httpx.options(
        server_url + "/search",
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_batch_over_the_configured_limit_is_422(settings, encoders, built_index) -> None:
    from fastapi.testclient import TestClient

    from service.engine import load_engine
    from service.http.app import create_app

    small = settings.model_copy(update={"max_batch": 2})
    app = create_app(small, engine=load_engine(small, encoders=encoders))
    with TestClient(app) as client:
        ok = client.post("/search/batch", json={"queries": ["難民", "在留"]})
        assert ok.status_code == 200
        response = client.post("/search/batch", json={"queries": ["難民", "在留", "就労"]})
    assert response.status_code == 422
    assert "at most 2" in response.json()["error"]["message"]  # the schema has the limit


def test_result_cache_answers_repeats_and_can_be_disabled(settings, encoders, built_index) -> None:
    from service.engine import load_engine

    engine = load_engine(settings, encoders=encoders)
    first = engine.search("特定技能 の 見直し", k=3)
    again = engine.search("  特定技能　の見直し ".replace("の見直し", "の 見直し"), k=3)
    assert again.results is first.results  # the very same outcome object: a cache hit
    assert again.query == "特定技能　の 見直し"  # but reported as the caller typed it
    assert engine.search("特定技能 の 見直し", k=4).results is not first.results  # k is in the key
    engine.clear_cache()
    assert engine.search("特定技能 の 見直し", k=3).results is not first.results

    uncached = load_engine(settings.model_copy(update={"result_cache_size": 0}), encoders=encoders)
    one = uncached.search("特定技能 の 見直し", k=3)
    assert uncached.search("特定技能 の 見直し", k=3).results is not one.results
    assert [h.measure.number for h in one.results] == [h.measure.number for h in first.results]
