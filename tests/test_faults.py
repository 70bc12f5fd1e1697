"""The fault suite: damaged and odd indexes, failed writes, huge or slow request heads, host
checks on /mcp, batches next to a search. Each failure is one clear line, a 4xx or a non-zero
exit, and nothing a user had is lost."""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import free_port
from pydantic import SecretStr

from indexer.manifest import DENSE_PASSAGES, MANIFEST, sha256_file
from service.errors import BuildError, IndexError_

ROOT = Path(__file__).resolve().parents[1]


def copy_index(source: Path, target: Path) -> Path:
    """A private copy of a built index (the link resolved) to damage."""
    shutil.copytree(source.resolve(), target)
    return target


def rewrite_manifest(index: Path, change) -> None:
    path = index / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(change(manifest), ensure_ascii=False), encoding="utf-8")


def reseal(index: Path, name: str) -> None:
    """Recompute one file's checksum in the manifest, as someone covering a change would."""

    def update(manifest):
        manifest["files"][name] = sha256_file(index / name)
        return manifest

    rewrite_manifest(index, update)


def load(index: Path, encoder):
    from service.index import load_index

    return load_index(index, encoder, None)


# ---- loads that fail loudly --------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda m: [], "JSON list, not an object"),
        (lambda m: {**m, "dense_model": "x"}, "dense_model"),
        (lambda m: {k: v for k, v in m.items() if k != "counts"}, "counts"),
        (lambda m: {**m, "files": {}}, "files"),
        (lambda m: {**m, "schema_version": 99}, "schema version 99"),
    ],
)
def test_odd_shaped_manifests_are_refused_with_one_line(
    fake_settings, fake_engine, fake_encoder, tmp_path, change, words
) -> None:
    index = copy_index(fake_settings.index_dir, tmp_path / "index")
    rewrite_manifest(index, change)
    with pytest.raises(IndexError_) as info:
        load(index, fake_encoder)
    message = info.value.message
    assert words in message and "shisaku index" in message and "\n" not in message


def test_vectors_of_the_wrong_dimension_are_refused(
    fake_settings, fake_engine, fake_encoder, tmp_path
) -> None:
    import faiss

    index = copy_index(fake_settings.index_dir, tmp_path / "index")
    small = faiss.IndexFlatIP(32)
    small.add(np.zeros((len(fake_engine.index.passages), 32), dtype=np.float32))
    faiss.write_index(small, str(index / DENSE_PASSAGES))
    reseal(index, DENSE_PASSAGES)
    with pytest.raises(IndexError_, match="32-d vectors but the model makes 64-d"):
        load(index, fake_encoder)


def test_a_file_the_manifest_does_not_list_is_refused(
    fake_settings, fake_engine, fake_encoder, tmp_path
) -> None:
    index = copy_index(fake_settings.index_dir, tmp_path / "index")
    (index / "bm25" / "extra.npy").write_bytes(b"not ours")
    with pytest.raises(IndexError_, match="bm25/extra.npy is not listed"):
        load(index, fake_encoder)


def test_a_replaced_bm25_vocabulary_with_a_recomputed_checksum_is_refused(
    fake_settings, fake_engine, fake_encoder, tmp_path
) -> None:
    from service.index import check_vocabulary

    index = copy_index(fake_settings.index_dir, tmp_path / "index")
    vocab_file = next(p for p in (index / "bm25").iterdir() if "vocab" in p.name)
    vocab = json.loads(vocab_file.read_text(encoding="utf-8"))
    renamed = vocab.copy()
    renamed["入管庁ではない語"] = renamed.pop("在留")  # the same column, another token
    vocab_file.write_text(json.dumps(renamed, ensure_ascii=False), encoding="utf-8")
    reseal(index, f"bm25/{vocab_file.name}")
    loaded = load(index, fake_encoder)  # the checksums agree now …
    with pytest.raises(IndexError_, match="vocabulary does not match the passages"):
        check_vocabulary(loaded, fake_engine.tokenizer.tokenize)  # … the content does not
    # A token past the score matrix's last column is refused as the index loads.
    vocab["入管庁ではない語"] = len(vocab)
    vocab_file.write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    reseal(index, f"bm25/{vocab_file.name}")
    with pytest.raises(IndexError_, match="vocabulary names more tokens than the matrix holds"):
        load(index, fake_encoder)


def test_serve_refuses_a_damaged_index_at_once(
    fake_settings, fake_engine, fake_encoder, tmp_path
) -> None:
    index = copy_index(fake_settings.index_dir, tmp_path / "index")
    rewrite_manifest(index, lambda m: [])
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env={**os.environ, "SHISAKU_INDEX_DIR": str(index)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and time.monotonic() - started < 30
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and "manifest.json" in lines[0] and "shisaku index" in lines[0]


def test_a_reload_that_fails_for_any_reason_is_409_and_the_old_index_serves(
    fake_settings, fake_engine, tmp_path, monkeypatch
) -> None:
    from fastapi.testclient import TestClient

    import service.engine
    from service.http.app import create_app

    token = "t" * 20
    settings = fake_settings.model_copy(update={"admin_token": SecretStr(token)})

    def explode(*args, **kwargs):
        raise RuntimeError("something unexpected while loading")

    monkeypatch.setattr(service.engine, "load_engine", explode)
    with TestClient(create_app(settings, engine=fake_engine)) as client:
        response = client.post("/admin/reload", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "reload_failed" and "keeps the previous one" in error["message"]
        assert client.get("/search", params={"q": "難民"}).status_code == 200


# ---- builds that cannot write --------------------------------------------------------------


def test_a_full_disk_during_a_build_leaves_the_served_index_untouched(
    fake_settings, fake_engine, fake_encoder, tmp_path, monkeypatch
) -> None:
    import indexer.build
    from indexer.build import build_index

    home = tmp_path / "home"
    home.mkdir()
    link = home / "index"
    build_index(fake_settings.corpus, link, fake_encoder, None)
    before = sorted(p.name for p in home.iterdir())
    served = link.resolve()

    def full(path, vectors, kind="exact"):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(indexer.build, "_write_faiss", full)
    with pytest.raises(BuildError, match="No space left on device") as info:
        build_index(fake_settings.corpus, link, fake_encoder, None)
    assert "previous index" in info.value.message and "\n" not in info.value.message
    assert link.resolve() == served and sorted(p.name for p in home.iterdir()) == before


def test_an_unwritable_target_is_one_line_and_exit_1() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "index", "--index-dir", "/proc/shisaku/index"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not write the index" in lines[0]


# ---- request heads: size and time bounds ----------------------------------------------------


@pytest.fixture
def bounded_server() -> Iterator[tuple[str, int]]:
    """uvicorn with our bounded protocol (1 KB heads, 0.5 s to send them) over a tiny app."""
    import uvicorn

    from service.http.server import bounded_protocol

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=bounded_protocol(1024, 0.5), log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(5)


def raw_request(address: tuple[str, int], data: bytes, pause: float = 0.0) -> bytes:
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(data)
        if pause:
            time.sleep(pause)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_small_head_is_served(bounded_server) -> None:
    reply = raw_request(bounded_server, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n",  # one huge header
        b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * 2000 + b"\r\n",  # many headers
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"a" * 300_000,  # never ends
    ],
)
def test_a_head_over_the_limit_is_431_json(bounded_server, head: bytes) -> None:
    reply = raw_request(bounded_server, head)
    status, _, body = reply.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 431")
    assert json.loads(body)["error"]["code"] == "headers_too_large"
    assert b"content-security-policy" in status


def test_a_head_sent_too_slowly_is_408(bounded_server) -> None:
    reply = raw_request(bounded_server, b"GET / HTTP/1.1\r\nHost: a\r\n", pause=1.0)
    assert reply.startswith(b"HTTP/1.1 408")
    assert json.loads(reply.partition(b"\r\n\r\n")[2])["error"]["code"] == "request_timeout"


def test_raw_utf8_in_the_url_is_400_saying_how_to_encode_it(bounded_server) -> None:
    """curl "…/search?q=ビザ" sends the bytes as they are, which HTTP does not allow."""
    head = "GET /search?q=ビザ HTTP/1.1\r\nHost: a\r\n\r\n".encode()
    status, _, body = raw_request(bounded_server, head).partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 400")
    error = json.loads(body.decode("utf-8"))["error"]
    assert error["code"] == "bad_request"
    assert "percent-encoded" in error["message"] and "--data-urlencode 'q=ビザ'" in error["message"]
    other = raw_request(bounded_server, b"GET / HTTP/9\r\n\r\n").partition(b"\r\n\r\n")[2]
    assert json.loads(other)["error"]["message"] == "the request is not valid HTTP/1.1"


def test_the_real_server_refuses_a_huge_header(server_url: str) -> None:
    response = httpx.get(server_url + "/healthz", headers={"X-Big": "a" * 20_000}, timeout=30)
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "headers_too_large"


# ---- /mcp host checks on every bind ---------------------------------------------------------


@pytest.mark.parametrize(
    ("bind", "allowed_hosts", "host", "origin", "refused"),
    [
        ("127.0.0.2", [], "127.0.0.2:8000", "http://evil.example", 403),
        ("127.0.0.2", [], "evil.example", None, 421),
        ("0.0.0.0", [], "203.0.113.5:8000", None, 421),
        ("0.0.0.0", ["search.example.org"], "search.example.org", "http://evil.example", 403),
    ],
)
def test_mcp_refuses_foreign_host_and_origin(
    fake_settings, fake_engine, bind, allowed_hosts, host, origin, refused
) -> None:
    from fastapi.testclient import TestClient

    from service.http.app import create_app

    settings = fake_settings.model_copy(update={"host": bind, "allowed_hosts": allowed_hosts})
    headers = {"Host": host, "Content-Type": "application/json", "Accept": "application/json"}
    if origin:
        headers["Origin"] = origin
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    with TestClient(create_app(settings, engine=fake_engine)) as client:
        assert client.post("/mcp", json=body, headers=headers).status_code == refused
        own = {**headers, "Host": f"{bind if bind != '0.0.0.0' else '127.0.0.1'}:8000"}
        own.pop("Origin", None)
        if allowed_hosts:
            own["Host"] = allowed_hosts[0]
        assert client.post("/mcp", json=body, headers=own).status_code not in (403, 421)


# ---- a batch does not take the encoder from a search ------------------------------------------


def test_a_batch_over_the_character_budget_is_413(fake_client) -> None:
    queries = ["在留資格の手続" * 100] * 30  # 21,000 characters
    response = fake_client.post("/search/batch", json={"queries": queries})
    assert response.status_code == 413
    assert "SHISAKU_MAX_BATCH_CHARS" in response.json()["error"]["message"]


def test_a_search_behind_a_maximal_batch_answers_before_it(engine) -> None:
    fresh = engine.with_recipe(engine.recipe)  # empty caches
    batch = [f"{i} 外国人材の受入れと共生社会の実現に向けた施策 " * 25 for i in range(20)]
    batch = [q[:1000] for q in batch]
    finished: dict[str, float] = {}

    def run_batch() -> None:
        fresh.search_batch(batch, k=3)
        finished["batch"] = time.perf_counter()

    thread = threading.Thread(target=run_batch)
    thread.start()
    time.sleep(0.3)  # the batch holds the encoder now
    fresh.search("難民認定の手続", k=3)
    finished["search"] = time.perf_counter()
    thread.join()
    assert finished["search"] < finished["batch"]
