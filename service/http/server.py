"""Run the app under uvicorn with bounded request heads: at most ``max_header_bytes`` of
request line and headers (431 with the JSON error body beyond), read within
``header_timeout`` seconds of the first byte (408), on uvicorn's fast httptools parser."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.http.middleware import SECURITY_HEADERS

if TYPE_CHECKING:
    from fastapi import FastAPI

    from service.config import Settings

logger = logging.getLogger(__name__)

_REASONS = {400: b"Bad Request", 408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


# Raw UTF-8 in the URL (curl "…/search?q=ビザ") is not valid HTTP: say how to send it.
_BAD_URL = (
    "the URL holds characters that must be percent-encoded, such as Japanese text or spaces "
    "(ビザ is %E3%83%93%E3%82%B6); with curl, pass the query as "
    "-G --data-urlencode 'q=ビザ'"
)


class _HeadTooLarge(Exception):
    pass


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size and a time bound on each request head."""

    max_header_bytes = 16 * 1024
    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_head = True
        self._head_bytes = 0  # bytes received since the request began, until its head ends
        self._head_timer: Any = None

    # ---- the bounds -----------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._awaiting_head and not self.transport.is_closing():
            self._refuse(
                408,
                "request_timeout",
                f"the request headers did not arrive within {self.header_timeout:g} s",
            )

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer with the API's JSON error and close the connection."""
        error = {"error": {"code": code, "message": message}}
        body = json.dumps(error, ensure_ascii=False).encode("utf-8")
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        for name, value in SECURITY_HEADERS:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: application/json\r\n")
        head.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()
        self._awaiting_head = False
        self._disarm_head_timer()

    def _too_large(self) -> None:
        logger.warning("refused a request head over %d bytes (431)", self.max_header_bytes)
        self._refuse(
            431,
            "headers_too_large",
            f"the request line and headers exceed {self.max_header_bytes} bytes",
        )

    # ---- protocol and parser callbacks ----------------------------------------------------

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_head = True

    def on_headers_complete(self) -> None:
        head = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if head > self.max_header_bytes:
            raise _HeadTooLarge
        self._awaiting_head = False
        self._head_bytes = 0
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._awaiting_head = True  # the next request's head, if any, is bounded again

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head:
            self._head_bytes += len(data)
            self._arm_head_timer()
        super().data_received(data)  # a head over the limit comes back via send_400_response
        if self._awaiting_head and self._head_bytes > self.max_header_bytes + 4:
            self._too_large()

    def send_400_response(self, msg: str) -> None:
        context = self._last_parser_error_context()
        if isinstance(context, _HeadTooLarge):
            self._too_large()
            return
        if isinstance(self._last_parser_error(), httptools.HttpParserInvalidURLError):
            self._refuse(400, "bad_request", _BAD_URL)
            return
        self._refuse(400, "bad_request", "the request is not valid HTTP/1.1")

    def _last_parser_error(self) -> BaseException | None:
        import sys

        return sys.exc_info()[1]

    def _last_parser_error_context(self) -> BaseException | None:
        exc = self._last_parser_error()
        if isinstance(exc, httptools.HttpParserCallbackError):
            return exc.__context__
        return None


def bounded_protocol(max_header_bytes: int, header_timeout: float) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's ``http`` setting, with these bounds."""
    return type(
        "BoundedHttpToolsProtocol",
        (BoundedHttpToolsProtocol,),
        {"max_header_bytes": max_header_bytes, "header_timeout": header_timeout},
    )


def server_of(app: FastAPI, settings: Settings) -> uvicorn.Server:
    """The uvicorn server for ``app`` with the settings' address, keep-alive and bounds."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        timeout_keep_alive=settings.keep_alive_seconds,
        http=bounded_protocol(settings.max_header_bytes, settings.header_timeout_seconds),
        log_config=None,  # our logging setup (configure_logging) applies to uvicorn too
    )
    return uvicorn.Server(config)
