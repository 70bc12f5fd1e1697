"""HTTP API: an app factory whose lifespan loads the engine; thin routes over the core."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from service import __version__
from service.ask_api import add_ask_routes
from service.errors import ShisakuError
from service.limits import install_limits
from service.mcp_server import mcp_lifespan, mount_mcp
from service.reload import add_admin_routes, watch_sighup
from service.research_api import add_research_routes
from service.runtime import load_engine
from service.schemas import (
    QUERY_PATTERN,
    ErrorResponse,
    HealthResponse,
    InfoResponse,
    MeasureOut,
    MeasuresResponse,
    ModelInfo,
    SearchRequest,
    SearchResponse,
    SimilarMeasure,
    SimilarResponse,
    StatusName,
)
from service.search import SearchEngine
from service.security import install_security, public_message
from service.settings import Settings, load_settings
from service.state import engine_of
from service.web import add_page_routes

logger = logging.getLogger(__name__)

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    413: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


def error_json(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"error": {"code": code, "message": message}}, headers=headers
    )


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    errors = exc.errors()
    for error in errors:
        if error.get("type") == "json_invalid":
            return 400, "malformed_json", "the request body is not valid JSON"
    parts = []
    for error in errors[:3]:
        location = ".".join(
            str(p) for p in error.get("loc", ()) if p not in ("query", "body", "path")
        )
        message = error.get("msg")
        if error.get("type") == "string_pattern_mismatch":  # QUERY_PATTERN
            message = "must contain a non-space character and no NUL character"
        parts.append(f"{location or 'request'}: {message}")
    return 422, "invalid_request", "; ".join(parts)


def allowed_methods(request: Request) -> str:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ShisakuError)
    async def _shisaku(request: Request, exc: ShisakuError) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.http_status == 503 else None
        return error_json(exc.http_status, exc.code, public_message(exc.message), headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _validation_message(exc)
        return error_json(status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Allow lists the methods of every route at this path
            headers["Allow"] = allowed_methods(request)
        return error_json(exc.status_code, code, message, headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_json(500, "internal_error", "the service failed to answer; see its log")


def create_app(
    settings: Settings | None = None,
    engine: SearchEngine | None = None,
    on_fatal: Callable[[str], None] | None = None,
) -> FastAPI:
    """Build the app. The engine is loaded in the background at startup unless given."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = engine
        app.state.load_error = None
        task = None
        if engine is None:
            task = asyncio.create_task(_load(app))

        unwatch = watch_sighup(app)  # SIGHUP reloads the index
        async with mcp_lifespan(app):  # the MCP session manager at /mcp
            yield
        unwatch()
        if task is not None and not task.done():
            task.cancel()

    async def _load(app: FastAPI) -> None:
        try:
            app.state.engine = await asyncio.to_thread(load_engine, settings)
            logger.info("ready")
        except ShisakuError as exc:
            app.state.load_error = public_message(exc.message)  # clients see no local paths
            logger.error("cannot serve: %s", exc.message)
            if on_fatal is not None:
                on_fatal(exc.message)

    app = FastAPI(
        title="shisaku-search",
        version=__version__,
        description="Search and answers over Japanese government policy measures.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    install_error_handlers(app)

    install_limits(app, settings.max_body_bytes, settings.request_timeout_seconds)
    install_security(app, settings.cors_origins)  # outermost: headers on every response
    add_admin_routes(app, settings)  # POST /admin/reload, only with SHISAKU_ADMIN_TOKEN
    add_routes(app)

    add_research_routes(app)
    add_page_routes(app)

    add_ask_routes(app)  # POST /ask, /ask/stream
    mount_mcp(app, host=settings.host)  # MCP over streamable HTTP at /mcp
    return app


def add_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=HealthResponse, tags=["ops"])
    def healthz() -> HealthResponse:
        return HealthResponse(status="ok")

    @app.get("/readyz", response_model=HealthResponse, tags=["ops"])
    def readyz(request: Request) -> HealthResponse:
        engine_of(request)
        return HealthResponse(status="ready")

    @app.get("/search", response_model=SearchResponse, tags=["search"])
    def search_get(
        request: Request,
        q: Annotated[
            str,
            Query(
                min_length=1,
                max_length=1000,
                pattern=QUERY_PATTERN,
                description="Question or keywords",
            ),
        ],
        k: Annotated[int, Query(ge=1, le=50)] = 10,
        status: Annotated[list[StatusName] | None, Query()] = None,
    ) -> SearchResponse:
        outcome = engine_of(request).search(q, k=k, statuses=status or [])
        return SearchResponse.of(outcome)

    @app.post("/search", response_model=SearchResponse, tags=["search"])
    def search_post(request: Request, body: SearchRequest) -> SearchResponse:
        outcome = engine_of(request).search(body.q, k=body.k, statuses=body.status)
        return SearchResponse.of(outcome)

    @app.get("/measures", response_model=MeasuresResponse, tags=["measures"])
    def measures(request: Request) -> MeasuresResponse:
        engine = engine_of(request)
        return MeasuresResponse(measures=[MeasureOut.of(m) for m in engine.index.measures])

    @app.get("/measures/{number}", response_model=MeasureOut, tags=["measures"])
    def measure(request: Request, number: Annotated[int, Path(ge=0, le=100_000)]) -> MeasureOut:
        return MeasureOut.of(engine_of(request).get_measure(number))

    @app.get("/measures/{number}/similar", response_model=SimilarResponse, tags=["measures"])
    def similar(
        request: Request,
        number: Annotated[int, Path(ge=0, le=100_000)],
        k: Annotated[int, Query(ge=1, le=50)] = 5,
    ) -> SimilarResponse:
        pairs = engine_of(request).similar_measures(number, k=k)
        return SimilarResponse(
            number=number,
            results=[SimilarMeasure(**MeasureOut.of(m).model_dump(), score=s) for m, s in pairs],
        )

    @app.get("/info", response_model=InfoResponse, tags=["ops"])
    def info(request: Request) -> InfoResponse:
        engine = engine_of(request)
        manifest = engine.index.manifest
        second = engine.second
        return InfoResponse(
            version=__version__,
            model=ModelInfo(
                name=engine.encoder.name,
                path=str(engine.encoder.path),
                dimension=engine.encoder.dimension,
            ),
            second_model=None
            if second is None
            else ModelInfo(name=second.name, path=None, dimension=second.dimension),
            index={
                "path": str(engine.index.path),
                "built_at": manifest.get("built_at"),
                "build_id": manifest.get("build_id"),
                "counts": manifest.get("counts"),
                "corpus_sha256": manifest.get("corpus_sha256"),
                "schema_version": manifest.get("schema_version"),
            },
        )
