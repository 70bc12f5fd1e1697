"""Domain errors of the service; no transport details (each front end maps them)."""

from __future__ import annotations

from indexer.errors import (
    BuildError,
    EncoderLoadError,
    ModelConversionError,
    ParseError,
    ReportFileError,
    ShisakuError,
)

__all__ = [
    "BuildError",
    "ConfigError",
    "EncoderLoadError",
    "Forbidden",
    "GenerativeUnavailable",
    "IndexError_",
    "InvalidRequest",
    "ModelConversionError",
    "NotFound",
    "NotReady",
    "OutputError",
    "Overloaded",
    "ParseError",
    "PayloadTooLarge",
    "ReloadFailed",
    "ReportFileError",
    "ShisakuError",
    "TimedOut",
    "Unauthorized",
]


class InvalidRequest(ShisakuError):
    """The request itself is wrong: an empty query, k out of range, an unknown status."""

    code = "invalid_request"


class OutputError(ShisakuError):
    """A file the user asked for (an export, a figure) cannot be written where they asked."""

    code = "output_error"


class NotFound(ShisakuError):
    code = "not_found"


class NotReady(ShisakuError):
    """The index and models are still loading (or failed to load)."""

    code = "not_ready"


class Overloaded(ShisakuError):
    """Every encoder slot stayed busy for longer than SHISAKU_ENCODER_WAIT_SECONDS."""

    code = "overloaded"


class IndexError_(ShisakuError):
    """The index directory is missing, incomplete, tampered with or built for another model."""

    code = "index_error"


class ConfigError(ShisakuError):
    """A setting, or a file a setting names (glossary, model), is unusable."""

    code = "config_error"


class TimedOut(ShisakuError):
    """The request did not finish within SHISAKU_REQUEST_TIMEOUT_SECONDS."""

    code = "timeout"


class PayloadTooLarge(ShisakuError):
    code = "payload_too_large"


class Unauthorized(ShisakuError):
    code = "unauthorized"


class Forbidden(ShisakuError):
    code = "forbidden"


class ReloadFailed(ShisakuError):
    """A new index could not be loaded; the service keeps answering from the previous one."""

    code = "reload_failed"


class GenerativeUnavailable(ShisakuError):
    """mode=generative was asked for but no language model endpoint is configured."""

    code = "generative_unavailable"
