"""Security at the edge: headers on every response, a page without inline script, errors
without stack traces or local paths, a read-only API with no file-path parameters."""

from __future__ import annotations

import re
import time

import httpx
import pytest

pytestmark = pytest.mark.slow

LEAKS = ("/work", "/tmp", "/home", "Traceback", ".py", "site-packages")


def _assert_security_headers(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    assert directives.get("script-src") == ["'self'"], csp
    assert directives.get("object-src") == ["'none'"] and directives.get("base-uri") == ["'none'"]
    assert directives.get("frame-ancestors") == ["'none'"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") in ("no-referrer", "strict-origin")
    assert response.headers.get("x-frame-options") == "DENY"


def _requests(url: str) -> list[httpx.Response]:
    json_headers = {"content-type": "application/json"}
    return [
        httpx.get(url + "/healthz"),
        httpx.get(url + "/search", params={"q": "難民"}, timeout=30),
        httpx.get(url + "/search", params={"q": "難民", "k": 0}),
        httpx.get(url + "/nope"),
        httpx.get(url + "/measures/999"),
        httpx.delete(url + "/search"),
        httpx.post(url + "/search", content=b'{"q": ', headers=json_headers),
        httpx.post(url + "/search", content=b'{"q": "\xff\xfe"}', headers=json_headers),
        httpx.post(url + "/search", content=b"x" * 1_100_000, headers=json_headers, timeout=30),
        httpx.post(url + "/admin/reload"),
        httpx.get(url + "/"),
        httpx.get(url + "/m/7", timeout=30),
        httpx.get(url + "/m/9999", timeout=30),
        httpx.get(url + "/static/app.js"),
        httpx.get(url + "/static/../service/api.py"),
        httpx.get(url + "/openapi.json"),
    ]


def test_every_response_carries_the_security_headers(server_url: str) -> None:
    for response in _requests(server_url):
        _assert_security_headers(response)


def test_error_bodies_show_no_trace_or_local_path(server_url: str) -> None:
    errors = [r for r in _requests(server_url) if r.status_code >= 400]
    assert {r.status_code for r in errors} >= {400, 404, 405, 413, 422}
    for response in errors:
        for leak in LEAKS:
            assert leak not in response.text, (response.request.url, response.text[:300])


def test_pages_have_no_inline_script_or_style(server_url: str) -> None:
    for path in ("/", "/m/7"):
        html = httpx.get(server_url + path, timeout=30).text
        for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
            assert "src=" in tag, f"inline script on {path}: {tag}"
        assert not re.search(r"<style\b", html, flags=re.I), f"inline <style> on {path}"
        assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), f"inline handler on {path}"
        assert not re.search(r"\sstyle\s*=", html, flags=re.I), f"style attribute on {path}"


def test_api_is_read_only_and_takes_no_file_paths(server_url: str) -> None:
    schema = httpx.get(server_url + "/openapi.json").json()
    queries = {"/search", "/search/batch", "/similar", "/ask", "/ask/stream"}  # POST = a query
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert method in ("get", "post"), f"{method.upper()} {path} changes state"
            if method == "post":
                assert path in queries, f"POST {path} is not a known read-only query"
            for parameter in operation.get("parameters", []):
                assert not re.search(r"path|file|dir", parameter["name"], flags=re.I)
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            for prop in component.get("properties", {}):
                assert not re.search(r"path|file|dir", prop, flags=re.I), (name, prop)


def test_reload_route_is_absent_without_a_token(server_url: str) -> None:
    response = httpx.post(server_url + "/admin/reload", headers={"Authorization": "Bearer x"})
    assert response.status_code == 404
    assert "/admin/reload" not in httpx.get(server_url + "/openapi.json").json()["paths"]


# ---- in-process: errors that need a broken engine --------------------------------------------


def test_unexpected_error_is_a_generic_json_500(settings, engine, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from service.http.app import create_app

    def explode(*args, **kwargs):
        raise RuntimeError("boom in /work/main/service/search.py line 1")

    monkeypatch.setattr(engine, "search", explode)
    with TestClient(create_app(settings, engine=engine), raise_server_exceptions=False) as client:
        response = client.get("/search", params={"q": "難民"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    for leak in LEAKS + ("boom", "RuntimeError"):
        assert leak not in response.text
    _assert_security_headers(response)  # type: ignore[arg-type]


def test_load_failure_is_reported_without_the_local_path(settings, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    import service.http.app
    from service.errors import IndexError_
    from service.http.deps import state_of

    def fail(_settings, *_args, **_kwargs):
        raise IndexError_(
            "index at /work/main/var/index is unusable: file dense_passages.faiss does not "
            "match its checksum (truncated or modified); rebuild it with `shisaku index`"
        )

    monkeypatch.setattr(service.http.app, "load_engine", fail)
    with TestClient(service.http.app.create_app(settings)) as client:
        deadline = time.monotonic() + 10
        state = state_of(client.app)  # type: ignore[arg-type]
        while state.load_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        response = client.get("/search", params={"q": "難民"})
        page = client.get("/m/1")
    assert response.status_code == 503
    message = response.json()["error"]["message"]
    assert "dense_passages.faiss" in message and "shisaku index" in message
    for body in (response.text, page.text):
        assert "/work" not in body and "/main/" not in body
