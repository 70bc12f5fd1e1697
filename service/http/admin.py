"""Reload the index into a running service: ``POST /admin/reload`` (bearer token) or SIGHUP.

The new engine is loaded completely in a worker thread, from the build the ``index_dir``
link points at when the reload starts, then installed with one assignment to
``app.state.engine``: requests in flight finish on the engine they started with, new ones
get the new one. The loaded models are reused when the new index was built with them (the
usual case); otherwise they are loaded afresh. A new engine starts with empty caches, so no
result of the old index is served after a reload. If the new index is unusable, the service
keeps the old engine and the reload answers 409.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from service.config import Settings
from service.engine import load_replacement
from service.errors import Forbidden, NotReady, ReloadFailed, ShisakuError, Unauthorized
from service.http.deps import state_of
from service.schemas import ErrorResponse

logger = logging.getLogger(__name__)


class ReloadResponse(BaseModel):
    """What a reload did (the HTTP answer of POST /admin/reload, and the SIGHUP log line)."""

    status: str = "reloaded"
    build_id: str | None
    previous_build_id: str | None
    measures: int
    passages: int
    models_reloaded: bool
    took_ms: float


async def reload_index(app: FastAPI, trigger: str) -> ReloadResponse:
    """Load the current index build in the background and swap it in (one at a time)."""
    state = state_of(app)
    async with state.reload_lock:
        current = state.engine
        if current is None:
            raise NotReady("the service is still loading; reload once it is ready")
        started = time.perf_counter()
        try:
            engine, models_reloaded = await asyncio.to_thread(
                load_replacement, state.settings, current
            )
        except ReloadFailed as exc:
            logger.error(
                "%s reload failed after %.0f ms; build %s keeps serving: %s",
                trigger,
                (time.perf_counter() - started) * 1000,
                current.index.manifest.get("build_id"),
                exc.message,
            )
            raise
        state.engine = engine  # the swap: one assignment
        if state.settings.workers > 1 and trigger == "admin":
            # Other workers load it too: the supervisor replaces them one by one on SIGHUP.
            os.kill(os.getppid(), signal.SIGHUP)
        result = ReloadResponse(
            build_id=engine.index.manifest.get("build_id"),
            previous_build_id=current.index.manifest.get("build_id"),
            measures=len(engine.index.measures),
            passages=len(engine.index.passages),
            models_reloaded=models_reloaded,
            took_ms=round((time.perf_counter() - started) * 1000, 1),
        )
    logger.info(
        "reloaded the index (%s): build %s -> %s (%d measures) in %.0f ms%s",
        trigger,
        result.previous_build_id,
        result.build_id,
        result.measures,
        result.took_ms,
        ", models reloaded" if models_reloaded else "",
    )
    return result


def watch_sighup(app: FastAPI) -> Callable[[], None]:
    """Reload on SIGHUP (main thread of a running loop only). Returns the undo function."""
    loop = asyncio.get_running_loop()
    pending: set[asyncio.Task[None]] = set()

    async def reload_logged() -> None:
        try:
            await reload_index(app, "SIGHUP")
        except ShisakuError:
            pass  # logged by reload_index

    def on_hangup() -> None:
        task = loop.create_task(reload_logged())
        pending.add(task)
        task.add_done_callback(pending.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
    except (ValueError, RuntimeError, NotImplementedError, AttributeError):
        return lambda: None  # not the main thread (tests' in-process clients) or no SIGHUP

    def undo() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return undo


_bearer = HTTPBearer(auto_error=False, description="SHISAKU_ADMIN_TOKEN")


def add_admin_routes(app: FastAPI, settings: Settings) -> None:
    """``POST /admin/reload``, only when SHISAKU_ADMIN_TOKEN is set (otherwise no route: 404)."""
    if settings.admin_token is None:
        return
    expected = settings.admin_token.get_secret_value().encode("utf-8")

    def authorize(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        client = request.client.host if request.client else "?"
        if credentials is None or credentials.scheme.lower() != "bearer":
            logger.warning("refused %s from %s: no bearer token", request.url.path, client)
            raise Unauthorized("send the admin token as `Authorization: Bearer <token>`")
        given = credentials.credentials.encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            logger.warning("refused %s from %s: wrong admin token", request.url.path, client)
            raise Forbidden("the admin token is not valid")

    @app.post(
        "/admin/reload",
        response_model=ReloadResponse,
        tags=["admin"],
        dependencies=[Depends(authorize)],
        responses={code: {"model": ErrorResponse} for code in (401, 403, 409)},
    )
    async def admin_reload(request: Request) -> ReloadResponse:
        """Load the index `shisaku index` last built and swap it in without dropping requests."""
        return await reload_index(request.app, "admin")
