"""The one place domain errors become HTTP: status codes, the JSON error body, handlers."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from service import errors

logger = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]

# Domain error -> HTTP status; the first matching class (in MRO order) wins, default 400.
HTTP_STATUS: dict[type[errors.ShisakuError], int] = {
    errors.InvalidRequest: 422,
    errors.NotFound: 404,
    errors.NotReady: 503,
    errors.Overloaded: 503,
    errors.TimedOut: 503,
    errors.IndexError_: 503,
    errors.ConfigError: 503,
    errors.EncoderLoadError: 503,
    errors.PayloadTooLarge: 413,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.ReloadFailed: 409,
    errors.GenerativeUnavailable: 409,  # a valid request this configuration cannot serve
}
RETRY_AFTER_SECONDS = 2

# An absolute POSIX path with at least one directory: "/work/main/var/index" → "…/index".
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[\w.@+~-]+/)+([\w.@+~-]*)")


def public_message(message: str) -> str:
    """``message`` fit for a client: local paths reduced to their last component."""
    return _ABSOLUTE_PATH.sub(lambda m: "…/" + m.group(1), message)


def status_of(error: errors.ShisakuError) -> int:
    for cls in type(error).__mro__:
        status = HTTP_STATUS.get(cls)
        if status is not None:
            return status
    return 400


def error_body(code: str, message: str) -> bytes:
    """``{"error": {"code", "message"}}``: the body of every error the API sends."""
    content = {"error": {"code": code, "message": public_message(message)}}
    return json.dumps(content, ensure_ascii=False).encode("utf-8")


def error_headers(status: int) -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    response = JSONResponse(status_code=status, content=None, headers=headers)
    response.body = error_body(code, message)
    response.headers["content-length"] = str(len(response.body))
    return response


def domain_error_response(error: errors.ShisakuError) -> JSONResponse:
    status = status_of(error)
    return error_response(status, error.code, error.message, error_headers(status) or None)


async def send_error(
    send: Send, status: int, code: str, message: str, extra: dict[str, str] | None = None
) -> None:
    """Send the JSON error from ASGI middleware (where there is no Response object)."""
    body = error_body(code, message)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    for name, value in {**error_headers(status), **(extra or {})}.items():
        headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_domain_error(send: Send, error: errors.ShisakuError) -> None:
    await send_error(send, status_of(error), error.code, error.message)


def _validation_message(exc: RequestValidationError) -> tuple[int, str, str]:
    problems = exc.errors()
    for problem in problems:
        if problem.get("type") == "json_invalid":
            return 400, "malformed_json", "the request body is not valid JSON"
    parts = []
    for problem in problems[:3]:
        location = ".".join(
            str(p) for p in problem.get("loc", ()) if p not in ("query", "body", "path")
        )
        message = problem.get("msg")
        if problem.get("type") == "string_pattern_mismatch":  # QUERY_PATTERN
            message = "must contain a non-space character and no NUL character"
        parts.append(f"{location or 'request'}: {message}")
    return 422, "invalid_request", "; ".join(parts)


def _allowed_methods(request: Request) -> str:
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Our errors, validation errors and routing errors all answer with the JSON error body.
    Unexpected exceptions are turned into a 500 by the outermost middleware."""

    @app.exception_handler(errors.ShisakuError)
    async def _domain(request: Request, exc: errors.ShisakuError) -> JSONResponse:
        return domain_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _validation_message(exc)
        return error_response(status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Allow lists the methods of every route at this path
            headers["Allow"] = _allowed_methods(request)
        return error_response(exc.status_code, code, message, headers or None)
