"""Index lifecycle on real processes: a killed `shisaku index` leaves the old index serving;
a truncated or tampered index stops `shisaku serve` at startup; a running service reloads a
new index on POST /admin/reload or SIGHUP without failing a request; the admin token never
reaches the logs; indexing and serving make no network connection but loopback.

The module builds a small index (tests/fixtures/second_report.txt, 3 measures) with a real
`shisaku index` and serves it with a real `shisaku serve`, both under an audit hook
(tests/fixtures/offline_hook/sitecustomize.py) that records and refuses any non-loopback
connection."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, drain_output, free_port, server_env, start_server, stop_server, wait_for

pytestmark = pytest.mark.slow

TOKEN = "t0k3n-" + "s3cr3t-admin-value-4f9a"
WRONG_TOKEN = "wr0ng-" + "guess-of-the-token-77c1"
HOOK_DIR = ROOT / "tests" / "fixtures" / "offline_hook"
SMALL_CORPUS = ROOT / "tests" / "fixtures" / "second_report.txt"


@dataclass
class Life:
    index_dir: Path
    corpus_a: Path  # 3 measures
    corpus_b: Path  # the first 2 of them
    net_log: Path
    env: dict[str, str]
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    output: list[str] = field(default_factory=list)

    def cli(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "service.cli", *args, "--index-dir", str(self.index_dir)],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def logs(self) -> str:
        time.sleep(0.3)  # let the reader thread catch up
        return "".join(self.output)


def _hooked_env(settings, net_log: Path, **extra: str) -> dict[str, str]:
    env = server_env(settings, **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HOOK_DIR), env.get("PYTHONPATH")) if p)
    env["SHISAKU_NET_LOG"] = str(net_log)
    return env


@pytest.fixture(scope="module")
def life(settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Life]:
    home = tmp_path_factory.mktemp("life")
    text = SMALL_CORPUS.read_text(encoding="utf-8")
    corpus_b = home / "two_measures.txt"
    corpus_b.write_text(text[: text.index(" 3 実施状況")], encoding="utf-8")
    net_log = home / "network.jsonl"
    env = _hooked_env(
        settings,
        net_log,
        SHISAKU_CORPUS=str(SMALL_CORPUS),
        SHISAKU_ADMIN_TOKEN=TOKEN,
        SHISAKU_INDEX_DIR=str(home / "index"),
    )
    state = Life(home / "index", SMALL_CORPUS, corpus_b, net_log, env)
    built = state.cli("index", "--quiet")
    out, _ = built.communicate(timeout=600)
    assert built.returncode == 0, out.decode(errors="replace")

    port = free_port()
    state.process = start_server(env, port, verbose=True)
    state.url = f"http://127.0.0.1:{port}"
    reader = threading.Thread(target=drain_output, args=(state.process, state.output), daemon=True)
    reader.start()
    try:
        yield state
    finally:
        stop_server(state.process)


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _build(life: Life, corpus: Path, models) -> str:
    """Build in-process (the models are already loaded) into the served index directory."""
    from indexer.build import build_index

    manifest = build_index(corpus, life.index_dir, models.encoder, models.second, onnx=models.onnx)
    return str(manifest["build_id"])


def _build_id(life: Life) -> str:
    return str(httpx.get(life.url + "/info", timeout=30).json()["index"]["build_id"])


# ---- reload ----------------------------------------------------------------------------------


def test_reload_needs_the_admin_token(life: Life) -> None:
    missing = httpx.post(life.url + "/admin/reload", timeout=30)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    wrong = httpx.post(life.url + "/admin/reload", headers=_auth(WRONG_TOKEN), timeout=30)
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    basic = httpx.post(life.url + "/admin/reload", auth=("admin", TOKEN), timeout=30)
    assert basic.status_code == 401
    right = httpx.post(life.url + "/admin/reload", headers=_auth(TOKEN), timeout=60)
    assert right.status_code == 200, right.text
    assert right.json()["models_reloaded"] is False  # same models: only the index is reloaded


def test_reload_under_concurrent_queries_fails_no_request(life: Life, index_models) -> None:
    query: dict[str, str | int] = {"q": "地域公共交通の計画", "k": 5}
    before = httpx.get(life.url + "/search", params=query, timeout=30).json()  # now cached
    assert {r["number"] for r in before["results"]} == {1, 2, 3}

    failures: list[str] = []
    counts = {"ok": 0}
    stop = threading.Event()

    def hammer(worker: int) -> None:
        with httpx.Client(base_url=life.url, timeout=30) as client:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    if n % 5 == 0:
                        response = client.get("/measures")
                    else:
                        response = client.get("/search", params={"q": f"支援 {worker} {n % 7}"})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    counts["ok"] += 1

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        for corpus in (life.corpus_b, life.corpus_a, life.corpus_b):
            build_id = _build(life, corpus, index_models)
            response = httpx.post(life.url + "/admin/reload", headers=_auth(TOKEN), timeout=60)
            assert response.status_code == 200, response.text
            assert response.json()["build_id"] == build_id
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[:5]
    assert counts["ok"] > 20
    assert len(httpx.get(life.url + "/measures", timeout=30).json()["measures"]) == 2
    after = httpx.get(life.url + "/search", params=query, timeout=30).json()
    assert {r["number"] for r in after["results"]} == {1, 2}  # no stale cached result


def test_sighup_reloads_the_index(life: Life, index_models) -> None:
    assert life.process is not None
    build_id = _build(life, life.corpus_a, index_models)
    life.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 60
    while _build_id(life) != build_id:
        assert time.monotonic() < deadline, "SIGHUP did not reload the index"
        time.sleep(0.2)
    assert len(httpx.get(life.url + "/measures", timeout=30).json()["measures"]) == 3
    assert life.process.poll() is None


def test_failed_reload_keeps_the_old_index(life: Life, index_models) -> None:
    served = _build_id(life)
    target = life.index_dir.resolve() / "passages.json"
    target.write_bytes(target.read_bytes()[:-10])  # truncate a file of the linked build
    try:
        response = httpx.post(life.url + "/admin/reload", headers=_auth(TOKEN), timeout=60)
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "reload_failed" and "passages.json" in error["message"]
        assert str(life.index_dir.parent) not in error["message"]
        assert _build_id(life) == served
        assert httpx.get(life.url + "/search", params={"q": "交通"}, timeout=30).status_code == 200
    finally:
        _build(life, life.corpus_a, index_models)
        httpx.post(life.url + "/admin/reload", headers=_auth(TOKEN), timeout=60)


# ---- a killed build ----------------------------------------------------------------------------


@pytest.mark.parametrize("moment", ["loading models", "writing the build", "writing the manifest"])
def test_killed_index_build_leaves_a_loadable_index(life: Life, encoders, moment: str) -> None:
    from service.index import load_index

    parent = life.index_dir.parent
    old_target = life.index_dir.resolve()
    old_build = _build_id(life)
    before = set(parent.glob(f".{life.index_dir.name}-build-*"))

    def building() -> list[Path]:
        return [p for p in parent.glob(f".{life.index_dir.name}-build-*") if p not in before]

    process = life.cli("index", "--quiet")
    try:
        if moment == "loading models":
            time.sleep(1.5)
        elif moment == "writing the build":
            assert wait_for(lambda: bool(building()), poll=0.002), "the build never started"
        else:
            assert wait_for(
                lambda: (
                    any((p / "manifest.json").exists() for p in building())
                    or life.index_dir.resolve() != old_target
                ),
                poll=0.002,  # catch the build between its manifest and the switch
            ), "the build never reached its manifest"
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL

    # The link points at a complete build: the old one (or, killed after the swap, the new).
    loaded = load_index(life.index_dir, *encoders)
    if life.index_dir.resolve() == old_target:
        assert loaded.manifest["build_id"] == old_build
    response = httpx.post(life.url + "/admin/reload", headers=_auth(TOKEN), timeout=60)
    assert response.status_code == 200, response.text
    search = httpx.get(life.url + "/search", params={"q": "地域公共交通"}, timeout=30)
    assert search.status_code == 200 and search.json()["results"]


# ---- a damaged index stops `shisaku serve` ----------------------------------------------------


def _damage_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _damage_flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("name", "damage"),
    [
        ("dense_passages.faiss", _damage_truncate),
        ("passages.json", _damage_flip),
        ("bm25/params.index.json", Path.unlink),
    ],
)
def test_damaged_index_stops_serve_at_startup(life: Life, tmp_path: Path, name, damage) -> None:
    copy = tmp_path / "index"
    shutil.copytree(life.index_dir.resolve(), copy)
    target = copy / name
    if not target.exists():  # bm25s file names differ across versions: damage any bm25 file
        target = sorted((copy / "bm25").iterdir())[0]
        name = f"bm25/{target.name}"
    damage(target)
    env = dict(life.env, SHISAKU_INDEX_DIR=str(copy))
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    message = result.stderr
    assert name in message and "shisaku index" in message, message
    assert "Traceback" not in message


# ---- secrets and network ------------------------------------------------------------------------


def test_admin_token_never_reaches_the_logs(life: Life) -> None:
    httpx.post(life.url + "/admin/reload", headers=_auth(WRONG_TOKEN), timeout=30)
    httpx.post(life.url + "/admin/reload", headers=_auth(TOKEN), timeout=60)
    logs = life.logs()
    assert "refused /admin/reload" in logs and "reloaded the index" in logs  # logs are captured
    assert TOKEN not in logs and WRONG_TOKEN not in logs
    assert TOKEN[6:] not in logs and WRONG_TOKEN[6:] not in logs


def test_index_and_serve_make_no_network_connection_but_loopback(life: Life) -> None:
    httpx.post(life.url + "/ask", json={"question": "地域公共交通の支援は？"}, timeout=60)
    httpx.get(life.url + "/measures/1/similar", timeout=30)
    records = [json.loads(line) for line in life.net_log.read_text().splitlines()]
    commands = " ".join(" ".join(r["argv"]) for r in records if r["event"] == "hook-installed")
    assert "index" in commands and "serve" in commands, records[:5]
    attempts = [r for r in records if r["event"] != "hook-installed"]
    assert attempts == [], attempts


def test_the_network_hook_catches_a_real_attempt(tmp_path: Path, settings) -> None:
    log = tmp_path / "network.jsonl"
    script = (
        "import socket\n"
        "try:\n    socket.getaddrinfo('example.org', 443)\nexcept PermissionError:\n    pass\n"
        "socket.socket().connect(('192.0.2.1', 80))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=_hooked_env(settings, log),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "offline test" in result.stderr
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events == ["hook-installed", "socket.getaddrinfo", "socket.connect"]
