"""ASGI middleware: security headers and the catch-all 500 (outermost), the per-request time
limit (503) and the request body limit (413). All errors use the one JSON error writer.

The time limit bounds the time to the first byte of the response: routes run their engine
call in a worker thread, and when the limit passes first the client gets ``503`` with
``Retry-After`` at once while the thread finishes in the background (a thread cannot be
killed) and its late response is dropped. Streaming responses (``/ask/stream``, ``/mcp``) are
limited until they start, not while they stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

from service.errors import PayloadTooLarge, TimedOut
from service.http.errors import send_domain_error, send_error

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Probes answer from memory at once; a time limit there would only make them flaky.
UNTIMED_PATHS = frozenset({"/healthz", "/readyz"})

# The page (``/``, ``/m/{n}``) loads its script and style from /static: nothing inline.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# ReDoc (/redoc, service/http/docs.py) writes its styles into <style> elements and runs its
# search in a worker made from a blob: that page alone gets those two; its script stays
# 'self' (/docs-assets/, pinned by integrity hashes). Swagger UI (/docs) needs nothing more.
RELAXED_PATHS = frozenset({"/redoc"})
REDOC_CONTENT_SECURITY_POLICY = (
    CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    + "; worker-src blob:"
)
_OTHER_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    *_OTHER_HEADERS,
)
REDOC_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", REDOC_CONTENT_SECURITY_POLICY.encode("ascii")),
    *_OTHER_HEADERS,
)
_OURS = {name for name, _ in SECURITY_HEADERS}


def security_headers(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """The headers for a response to ``path``: ReDoc's policy, or the strict one."""
    return REDOC_SECURITY_HEADERS if path in RELAXED_PATHS else SECURITY_HEADERS


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, by Content-Length or as they stream."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body is larger than {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await send_domain_error(send, self._too_large())
                    return
        # Read the whole body (bounded), then replay it: chunked uploads are limited too.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_domain_error(send, self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class TimeLimitMiddleware:
    """Answer 503 + Retry-After when a response has not started within ``seconds``."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds
        self._abandoned: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in UNTIMED_PATHS:
            await self.app(scope, receive, send)
            return
        started = asyncio.Event()
        gave_up = False

        async def guarded_send(message: Message) -> None:
            if gave_up:
                return  # the client already has its 503
            if message["type"] == "http.response.start":
                started.set()
            await send(message)

        async def respond() -> None:
            await self.app(scope, receive, guarded_send)

        task = asyncio.create_task(respond())
        waiter = asyncio.create_task(started.wait())
        try:
            await asyncio.wait({task, waiter}, timeout=self.seconds, return_when="FIRST_COMPLETED")
        finally:
            waiter.cancel()
        if task.done() or started.is_set():
            await task  # finished, or streaming: let it run; errors propagate as usual
            return
        gave_up = True
        self._abandoned.add(task)
        task.add_done_callback(self._forget)
        logger.warning(
            "%s %s took longer than %.1f s; answered 503",
            scope.get("method"),
            scope.get("path"),
            self.seconds,
        )
        error = TimedOut(f"the request took longer than {self.seconds:g} s; try again in a moment")
        await send_domain_error(send, error)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("an abandoned request failed later: %r", task.exception())


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
        ours = security_headers(scope.get("path", ""))

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() not in _OURS
                ]
                message["headers"] = headers + list(ours)
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception:
            logger.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await send_error(
                with_headers, 500, "internal_error", "the service failed to answer; see its log"
            )


def install_middleware(
    app: FastAPI, max_body_bytes: int, request_timeout_seconds: float, cors_origins: list[str]
) -> None:
    """Body limit (innermost), time limit, CORS only for the configured origins (none by
    default), then security headers and the catch-all 500 (outermost)."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(TimeLimitMiddleware, seconds=request_timeout_seconds)
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
