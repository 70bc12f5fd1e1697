"""Security at the HTTP edge: headers on every response, CORS only when configured, and error
messages that never show local paths or stack traces."""

from __future__ import annotations

import logging
import re
from typing import Any

from service.errors import ShisakuError
from service.limits import ASGIApp, Message, Receive, Scope, Send, send_error

logger = logging.getLogger(__name__)

# The page (``/``, ``/m/{n}``) loads its script and style from /static: nothing inline.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_OURS = {name for name, _ in SECURITY_HEADERS}

# An absolute POSIX path with at least one directory: "/work/main/var/index" → "…/index".
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?:[\w.@+~-]+/)+([\w.@+~-]*)")


def public_message(message: str) -> str:
    """``message`` fit for a client: local paths reduced to their last component."""
    return _ABSOLUTE_PATH.sub(lambda m: "…/" + m.group(1), message)


class _InternalError(ShisakuError):
    code = "internal_error"
    http_status = 500


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response, errors included; turn an unexpected
    exception into the API's JSON 500 (no trace, no path) when the response has not started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() not in _OURS
                ]
                message["headers"] = headers + list(SECURITY_HEADERS)
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            logger.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            error = _InternalError("the service failed to answer; see its log")
            await send_error(with_headers, error)


def install_security(app: Any, cors_origins: list[str]) -> None:
    """Security headers on everything; CORS only for the configured origins (none by default)."""
    from fastapi import FastAPI

    assert isinstance(app, FastAPI)
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)  # added last: outermost
