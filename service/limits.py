"""Request limits as ASGI middleware: body size (413) and a per-request time limit (503).

Both answer with the API's JSON error shape. The time limit bounds the time to the first
byte of the response: routes run their engine call in a worker thread, and when the limit
passes first the client gets ``503`` with ``Retry-After`` at once while the thread finishes
in the background (a thread cannot be killed) and its late response is dropped. Streaming
responses (``/ask/stream``, ``/mcp``) are limited until they start, not while they stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from service.errors import PayloadTooLarge, ShisakuError, TimedOut

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Probes answer from memory at once; a time limit there would only make them flaky.
UNTIMED_PATHS = frozenset({"/healthz", "/readyz"})
RETRY_AFTER_SECONDS = 2


async def send_error(send: Send, error: ShisakuError, retry_after: int | None = None) -> None:
    """Send ``{"error": {"code", "message"}}`` with the error's HTTP status."""
    body = json.dumps(
        {"error": {"code": error.code, "message": error.message}}, ensure_ascii=False
    ).encode("utf-8")
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode("ascii")))
    await send({"type": "http.response.start", "status": error.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
                    await send_error(send, self._too_large())
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
                await send_error(send, self._too_large())
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
        await send_error(send, error, retry_after=RETRY_AFTER_SECONDS)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("an abandoned request failed later: %r", task.exception())


def install_limits(app: Any, max_body_bytes: int, request_timeout_seconds: float) -> None:
    """Add both limits to a FastAPI app (the body limit inside the time limit)."""
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(TimeLimitMiddleware, seconds=request_timeout_seconds)
