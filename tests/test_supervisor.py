"""The worker supervisor's logic with stand-in workers (no model, no server): workers that keep
failing at start stop it with exit code 3 instead of being forked for ever; a taken port is a
clear error."""

from __future__ import annotations

import signal
import socket
from types import SimpleNamespace

import pytest
from conftest import free_port

from service.config import Settings
from service.errors import ConfigError
from service.http.workers import MAX_EARLY_DEATHS, Supervisor, listening_socket


def _stand_in_engine() -> SimpleNamespace:
    return SimpleNamespace(stop_threads=lambda steer=True: None, index=SimpleNamespace(manifest={}))


def test_workers_that_keep_failing_at_start_stop_the_supervisor() -> None:
    sock = listening_socket("127.0.0.1", free_port())

    def run_worker(engine: object, sock: socket.socket) -> int:
        return 1  # a worker that cannot serve

    def give_up(signum: int, frame: object) -> None:
        raise TimeoutError("the supervisor kept forking failing workers")

    supervisor = Supervisor(Settings(workers=2), _stand_in_engine(), sock, run_worker)  # type: ignore[arg-type]
    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(30)
    try:
        assert supervisor.run() == 3
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        sock.close()
    assert supervisor.early_deaths == MAX_EARLY_DEATHS
    assert not supervisor.workers  # every one reaped, none left behind


def test_a_taken_port_is_a_config_error_naming_the_option() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"cannot listen on 127\.0\.0\.1:{port}.*--port"):
            listening_socket("127.0.0.1", port)
