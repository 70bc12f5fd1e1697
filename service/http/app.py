"""The HTTP app factory: its lifespan loads the engine into the typed state; routes are thin."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from service import __version__
from service.config import Settings, load_settings
from service.engine import load_engine
from service.errors import ShisakuError
from service.http.admin import add_admin_routes, watch_sighup
from service.http.ask import add_ask_routes
from service.http.deps import AppState, state_of
from service.http.docs import add_docs_routes
from service.http.errors import install_error_handlers, public_message
from service.http.mcp import mcp_lifespan, mount_mcp
from service.http.measures import add_measure_routes
from service.http.middleware import install_middleware
from service.http.ops import add_ops_routes
from service.http.pages import add_page_routes
from service.http.research import add_research_routes
from service.http.search import add_search_routes
from service.schemas import ErrorResponse
from service.search import SearchEngine

logger = logging.getLogger(__name__)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (400, 404, 409, 413, 422, 503)
}


def create_app(
    settings: Settings | None = None,
    engine: SearchEngine | None = None,
    on_fatal: Callable[[str], None] | None = None,
    loading: Future[SearchEngine] | None = None,
    loading_since: float | None = None,
) -> FastAPI:
    """Build the app. Unless ``engine`` is given, the engine is loaded at startup in the
    background (``/healthz`` answers meanwhile, ``/readyz`` says 503). ``on_fatal`` is called
    with one line when it cannot be loaded. ``loading``: the engine, being loaded already (``serve`` starts it
    before it imports the web stack), since ``loading_since`` (a ``time.perf_counter()``
    reading, for the "ready" log line)."""
    settings = settings or load_settings()
    state = AppState(settings=settings, engine=engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_load(app)) if engine is None else None
        unwatch = watch_sighup(app)  # SIGHUP reloads the index
        async with mcp_lifespan(app):  # the MCP session manager at /mcp
            yield
        unwatch()
        if task is not None and not task.done():
            task.cancel()

    def _load_engine() -> SearchEngine:
        if loading is not None:
            return loading.result()
        return load_engine(settings)

    async def _load(app: FastAPI) -> None:
        started = time.perf_counter() if loading_since is None else loading_since
        try:
            state.engine = await asyncio.to_thread(_load_engine)
        except Exception as exc:  # noqa: BLE001 - any failure stops the service with one line
            message = (
                exc.message if isinstance(exc, ShisakuError) else f"{type(exc).__name__}: {exc}"
            )
            state.load_error = public_message(message)  # clients see no local paths
            logger.error("cannot serve: %s", message)
            if on_fatal is not None:
                on_fatal(message)
            return
        manifest = state.engine.index.manifest
        where = f" at http://{settings.host}:{settings.port}/" if settings.port else ""
        logger.info(
            "ready%s: index build %s (%d measures) loaded in %.1f s",
            where,
            manifest.get("build_id"),
            len(state.engine.index.measures),
            time.perf_counter() - started,
        )

    app = FastAPI(
        title="shisaku-search",
        version=__version__,
        description="Search and answers over Japanese government policy measures.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        docs_url=None,  # served offline by service.http.docs
        redoc_url=None,
    )
    app.state.shisaku = state
    install_error_handlers(app)
    install_middleware(
        app, settings.max_body_bytes, settings.request_timeout_seconds, settings.cors_origins
    )
    add_admin_routes(app, settings)  # POST /admin/reload, only with SHISAKU_ADMIN_TOKEN
    add_ops_routes(app)
    add_search_routes(app)
    add_measure_routes(app)
    add_research_routes(app)
    add_ask_routes(app)  # POST /ask, /ask/stream
    add_page_routes(app)
    add_docs_routes(app)  # /docs, /redoc, offline
    mount_mcp(app, host=settings.host)  # MCP over streamable HTTP at /mcp
    return app


__all__ = ["create_app", "state_of"]
