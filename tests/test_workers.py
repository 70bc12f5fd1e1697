"""`shisaku serve --workers 2` on real processes: the engine is loaded once and the workers are
forked from it; SIGHUP and POST /admin/reload replace every worker with one serving the new
index; a failed reload leaves the workers serving; a killed worker is replaced; MCP calls work
whichever worker a connection reaches; a taken port stops the command with a clear error;
SIGTERM stops every worker.

The module builds a small index (tests/fixtures/second_report.txt, 3 measures) and serves it
with a real `shisaku serve --workers 2`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, drain_output, free_port, server_env, wait_for

pytestmark = pytest.mark.slow

TOKEN = "w0rk3rs-" + "admin-token-value-8d2e"
SMALL_CORPUS = ROOT / "tests" / "fixtures" / "second_report.txt"


@dataclass
class Farm:
    index_dir: Path
    corpus_a: Path  # 3 measures
    corpus_b: Path  # the first 2 of them
    url: str
    process: subprocess.Popen[bytes]
    output: list[str] = field(default_factory=list)

    def workers(self) -> set[int]:
        """The server's child processes, from /proc."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return {int(child) for child in children}

    def log(self) -> str:
        return "".join(self.output)

    def served_builds(self, requests: int = 12) -> set[str]:
        """The build ids that ``requests`` new connections are answered with (each request on
        a connection of its own, so the kernel spreads them over the workers)."""
        return {
            str(httpx.get(self.url + "/info", timeout=30).json()["index"]["build_id"])
            for _ in range(requests)
        }


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _build(index_dir: Path, corpus: Path, models) -> str:
    from indexer.build import build_index

    manifest = build_index(corpus, index_dir, models.encoder, models.second, onnx=models.onnx)
    return str(manifest["build_id"])


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.fixture(scope="module")
def farm_env(settings, index_models, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("workers")
    _build(home / "index", SMALL_CORPUS, index_models)
    return server_env(
        settings,
        SHISAKU_INDEX_DIR=str(home / "index"),
        SHISAKU_CORPUS=str(SMALL_CORPUS),
        SHISAKU_ADMIN_TOKEN=TOKEN,
        SHISAKU_LOG_LEVEL="info",
    )


@pytest.fixture(scope="module")
def farm(farm_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Farm]:
    home = tmp_path_factory.mktemp("corpora")
    text = SMALL_CORPUS.read_text(encoding="utf-8")
    corpus_b = home / "two_measures.txt"
    corpus_b.write_text(text[: text.index(" 3 実施状況")], encoding="utf-8")
    port = free_port()
    process = _serve(farm_env, port)
    state = Farm(Path(farm_env["SHISAKU_INDEX_DIR"]), SMALL_CORPUS, corpus_b, "", process)
    state.url = f"http://127.0.0.1:{port}"
    threading.Thread(target=drain_output, args=(process, state.output), daemon=True).start()
    try:
        assert wait_for(lambda: _ready(state.url), 180), state.log()
        assert wait_for(lambda: len(state.workers()) == 2, 30), state.log()
        yield state
    finally:
        process.terminate()
        process.wait(timeout=60)


def _replaced(farm: Farm, before: int) -> Callable[[], bool]:
    return lambda: farm.log().count("workers replaced") > before


def test_the_engine_is_loaded_once_and_both_workers_answer(farm: Farm) -> None:
    log = farm.log()
    assert log.count("service.index: loaded index") == 1, log  # in the parent, before forking
    assert "ready at http://127.0.0.1" in log and "with 2 workers" in log
    for query in ("難民", "visa", "特定技能", "交通"):
        response = httpx.get(farm.url + "/search", params={"q": query}, timeout=30)
        assert response.status_code == 200 and response.json()["results"]
    assert farm.log().count("service.index: loaded index") == 1


def test_sighup_replaces_every_worker_with_the_new_index(farm: Farm, index_models) -> None:
    corpus = farm.corpus_b if _measures(farm) == 3 else farm.corpus_a
    before, old_workers = farm.log().count("workers replaced"), farm.workers()
    build_id = _build(farm.index_dir, corpus, index_models)
    farm.process.send_signal(signal.SIGHUP)
    assert wait_for(_replaced(farm, before)), farm.log()
    assert farm.served_builds() == {build_id}
    new_workers = farm.workers()
    assert len(new_workers) == 2 and not new_workers & old_workers
    assert _measures(farm) == (2 if corpus == farm.corpus_b else 3)


def test_admin_reload_reaches_every_worker(farm: Farm, index_models) -> None:
    before = farm.log().count("workers replaced")
    build_id = _build(farm.index_dir, farm.corpus_a, index_models)
    response = httpx.post(
        farm.url + "/admin/reload", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
    )
    assert response.status_code == 200 and response.json()["build_id"] == build_id
    assert wait_for(_replaced(farm, before)), farm.log()
    assert farm.served_builds() == {build_id}


def test_a_failed_reload_leaves_the_workers_serving(farm: Farm, index_models) -> None:
    served, workers = farm.served_builds(), farm.workers()
    failures = farm.log().count("SIGHUP reload failed")
    target = farm.index_dir.resolve() / "passages.json"
    target.write_bytes(target.read_bytes()[:-10])  # truncate a file of the linked build
    try:
        farm.process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: farm.log().count("SIGHUP reload failed") > failures), farm.log()
        assert farm.workers() == workers
        assert farm.served_builds() == served
        assert httpx.get(farm.url + "/search", params={"q": "交通"}, timeout=30).status_code == 200
    finally:
        before = farm.log().count("workers replaced")
        _build(farm.index_dir, farm.corpus_a, index_models)
        farm.process.send_signal(signal.SIGHUP)
        wait_for(_replaced(farm, before))


def test_a_killed_worker_is_replaced(farm: Farm) -> None:
    workers = farm.workers()
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: len(farm.workers()) == 2 and victim not in farm.workers(), 30)
    assert f"worker {victim} exited" in farm.log()
    for _ in range(6):
        assert httpx.get(farm.url + "/search", params={"q": "難民"}, timeout=30).status_code == 200


def test_mcp_calls_on_new_connections_reach_any_worker(farm: Farm) -> None:
    """A chat tool reconnects after the keep-alive; its calls must not depend on which worker
    the new connection reaches (a session of one worker is unknown to the other)."""
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "mcp-protocol-version": "2025-06-18",
    }
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        },
    }
    assert httpx.post(farm.url + "/mcp", json=hello, headers=headers, timeout=30).is_success
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "search_measures", "arguments": {"query": "難民", "k": 1}},
    }
    for _ in range(12):
        with httpx.Client(timeout=30) as client:  # a new connection each time
            response = client.post(farm.url + "/mcp", json=call, headers=headers)
        assert response.status_code == 200 and '"number"' in response.text, response.text


def test_a_taken_port_stops_serve_with_a_clear_error(farm: Farm, farm_env: dict[str, str]) -> None:
    port = int(farm.url.rsplit(":", 1)[1])
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=farm_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - started < 30  # before any model is loaded
    assert _ready(farm.url)  # the running server is untouched


def test_sigterm_stops_every_worker(farm_env: dict[str, str]) -> None:
    port = free_port()
    process = _serve(farm_env, port)
    output: list[str] = []
    threading.Thread(target=drain_output, args=(process, output), daemon=True).start()
    try:
        assert wait_for(lambda: _ready(f"http://127.0.0.1:{port}"), 180), "".join(output)
        pid = process.pid
        workers = {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
        assert len(workers) == 2
        process.terminate()
        assert process.wait(timeout=60) == 0
        for worker in workers:
            assert not Path(f"/proc/{worker}").exists() or _zombie(worker)
    finally:
        if process.poll() is None:
            process.kill()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def _measures(farm: Farm) -> int:
    return len(httpx.get(farm.url + "/measures", timeout=30).json()["measures"])
