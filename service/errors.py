"""Our own exception classes; the HTTP, CLI and MCP edges map them to readable errors."""

from __future__ import annotations


class ShisakuError(Exception):
    """Base class: carries a stable machine-readable code and an HTTP status."""

    code = "error"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(ShisakuError):
    code = "invalid_request"
    http_status = 422


class NotFound(ShisakuError):
    code = "not_found"
    http_status = 404


class NotReady(ShisakuError):
    code = "not_ready"
    http_status = 503


class Overloaded(ShisakuError):
    code = "overloaded"
    http_status = 503


class IndexError_(ShisakuError):
    """The index directory is missing, incomplete, tampered with or built for another model."""

    code = "index_error"
    http_status = 503


class ConfigError(ShisakuError):
    code = "config_error"
    http_status = 500


class TimedOut(ShisakuError):
    """The request did not finish within SHISAKU_REQUEST_TIMEOUT_SECONDS."""

    code = "timeout"
    http_status = 503


class PayloadTooLarge(ShisakuError):
    code = "payload_too_large"
    http_status = 413


class Unauthorized(ShisakuError):
    code = "unauthorized"
    http_status = 401


class Forbidden(ShisakuError):
    code = "forbidden"
    http_status = 403


class ReloadFailed(ShisakuError):
    """A new index could not be loaded; the service keeps answering from the previous one."""

    code = "reload_failed"
    http_status = 409
