"""``serve --workers N``: load the engine once, then fork N server processes that share it.

The workers are forked from the process that loaded the engine, so the models, the index and
the dictionaries are in memory once (copy-on-write) rather than once per worker, and a new
worker serves at once. SIGHUP to this process (or ``POST /admin/reload`` in any worker) loads
the current index here and replaces the workers one by one; when that load fails, the
workers keep serving the previous index. A worker that dies is replaced.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from service.config import Settings
from service.engine import load_replacement
from service.errors import ConfigError, ShisakuError
from service.search import SearchEngine

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_HANDLED = (*STOP_SIGNALS, signal.SIGHUP, signal.SIGCHLD)
POLL_SECONDS = 0.2
# A worker that dies this soon after it was forked, this many times in a row, is not
# replaced again: something is wrong with every worker, and the supervisor stops.
EARLY_DEATH_SECONDS = 5.0
MAX_EARLY_DEATHS = 5
STOP_GRACE_SECONDS = 30.0  # a stopped worker finishes its requests in this time, or is killed

RunWorker = Callable[[SearchEngine, socket.socket], int]


def serve_forked(
    settings: Settings, engine: SearchEngine, sock: socket.socket, loading_since: float
) -> int:
    """Serve ``engine`` from ``settings.workers`` forked processes on ``sock`` (from
    ``listening_socket``) until SIGTERM or SIGINT; the exit code."""
    from service.http.app import create_app
    from service.http.server import server_of

    def run_worker(engine: SearchEngine, sock: socket.socket) -> int:
        server_of(create_app(settings, engine=engine), settings).run(sockets=[sock])
        return 0

    logger.info(
        "ready at http://%s:%d/ with %d workers: index build %s (%d measures) loaded in %.1f s",
        settings.host,
        settings.port,
        settings.workers,
        engine.index.manifest.get("build_id"),
        len(engine.index.measures),
        time.perf_counter() - loading_since,
    )
    return Supervisor(settings, engine, sock, run_worker).run()


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` that forked workers inherit and serve on."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
            "choose another address with --host/--port (SHISAKU_HOST, SHISAKU_PORT)"
        ) from exc
    sock.set_inheritable(True)
    return sock


@dataclass
class Supervisor:
    """The parent of the workers: forks them, replaces them, stops them."""

    settings: Settings
    engine: SearchEngine
    sock: socket.socket
    run_worker: RunWorker  # what a forked worker runs: serve on the socket, return its exit code
    workers: dict[int, float] = field(default_factory=dict)  # pid -> when it was forked
    early_deaths: int = 0
    _signals: list[int] = field(default_factory=list)

    def run(self) -> int:
        """Fork the workers and look after them until SIGTERM or SIGINT; the exit code."""
        previous = {signum: signal.signal(signum, self._note) for signum in _HANDLED}
        try:
            self._share(self.engine)
            for _ in range(self.settings.workers):
                self._fork()
            return self._watch()
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _note(self, signum: int, frame: object) -> None:
        self._signals.append(signum)

    def _watch(self) -> int:
        while True:
            time.sleep(POLL_SECONDS)
            pending = set()
            while self._signals:  # one pop at a time: a signal arriving meanwhile is kept
                pending.add(self._signals.pop())
            if pending & set(STOP_SIGNALS):
                logger.info("stopping %d workers", len(self.workers))
                return 0
            if not self._replace_dead():
                return 3
            if signal.SIGHUP in pending:
                self._reload()

    def _replace_dead(self) -> bool:
        """Reap workers that exited unasked and fork their replacements; False when they keep
        dying at start."""
        while self.workers:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return True
            forked = self.workers.pop(pid, None)
            if forked is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            early = time.monotonic() - forked < EARLY_DEATH_SECONDS
            self.early_deaths = self.early_deaths + 1 if early else 0
            if self.early_deaths >= MAX_EARLY_DEATHS:
                logger.error("workers keep exiting at start (last: %s); stopping", code)
                return False
            logger.warning("worker %d exited (%s); starting another", pid, code)
            self._fork()
        return True

    def _reload(self) -> None:
        started = time.perf_counter()
        previous = self.engine.index.manifest.get("build_id")
        try:
            engine, _ = load_replacement(self.settings, self.engine)
        except ShisakuError as exc:
            logger.error("SIGHUP reload failed; the workers keep serving: %s", exc.message)
            return
        # The old engine's objects become collectable here (the old workers hold copies), and
        # the new one is frozen before any worker shares it.
        gc.unfreeze()
        self.engine = engine
        self._share(engine)
        for pid in list(self.workers):
            self._fork()
            self._stop(pid)
        logger.info(
            "reloaded the index (SIGHUP): build %s -> %s in %.0f ms; %d workers replaced",
            previous,
            engine.index.manifest.get("build_id"),
            (time.perf_counter() - started) * 1000,
            len(self.workers),
        )

    def _share(self, engine: SearchEngine) -> None:
        """Make the engine safe and cheap to share with forked workers: no helper threads
        (they would not exist in a worker), and every object moved out of the cyclic garbage
        collector's reach, whose passes would otherwise write to (and so copy) every page.
        The workers' helpers go where the kernel puts them: with several processes on the
        CPUs, waking each off its caller's CPU cost ~5 % of the throughput (BENCHMARKS.md)."""
        engine.stop_threads(steer=False)
        gc.collect()
        gc.freeze()

    def _fork(self) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                for signum in _HANDLED:
                    signal.signal(signum, signal.SIG_DFL)
                code = self.run_worker(self.engine, self.sock)
            except BaseException:  # noqa: BLE001 - a worker never returns into the supervisor
                logger.exception("worker %d failed", os.getpid())
            finally:
                logging.shutdown()
                os._exit(code)
        self.workers[pid] = time.monotonic()

    def _stop(self, pid: int, grace: float = STOP_GRACE_SECONDS) -> None:
        """Ask one worker to finish its requests and exit; kill it after the grace period."""
        self.workers.pop(pid, None)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                return
            if done:
                return
            time.sleep(0.05)
        logger.warning("worker %d did not stop in %.0f s; killing it", pid, grace)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass

    def _stop_all(self) -> None:
        pids = list(self.workers)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in pids:
            self._stop(pid)
