"""Extract a report PDF's text in the text dump's layout (pypdf), and parse it into measures."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pypdf
from pypdf.errors import FileNotDecryptedError

from indexer.errors import ParseError, ReportFileError
from indexer.parse import parse_report
from indexer.records import Measure

logger = logging.getLogger(__name__)

# A PDF file starts with "%PDF-" (the standard allows up to 1 KiB of junk before it).
_PDF_MAGIC = b"%PDF-"
_HEADER_WINDOW = 1024
# A parser message referring to another text line: "(first at line 120)".
_LINE_REF = re.compile(r"\bline (\d+)\b")


@dataclass(frozen=True)
class PdfLine:
    """Where one line of the extracted text comes from: a 1-based page and line on that page.

    Lines on a page are counted as a reader counts them, visible text lines only; a blank line
    of the extracted text takes the position of the text line that follows it.
    """

    page: int
    line: int


@dataclass(frozen=True)
class PdfText:
    """A PDF's text in the text dump's layout, with the page and line of each of its lines."""

    text: str
    lines: tuple[PdfLine, ...]  # lines[i] is where line i + 1 of ``text`` comes from
    pages: int

    def position(self, line: int) -> PdfLine:
        """The page and line on the page of 1-based ``line`` of ``text`` (clamped into range)."""
        if not self.lines:
            return PdfLine(1, 1)
        return self.lines[min(max(line, 1), len(self.lines)) - 1]


def extract_pdf_text(path: Path) -> PdfText:
    """Extract the text of the PDF at ``path``, one line per PDF text line.

    pypdf's layout mode keeps each line's leading characters (the report's indentation, e.g.
    ``"　 "``) and renders vertical gaps as blank lines; runs of blank lines become one, and
    pages are separated by a blank line. Page headers are kept (the parser drops them).
    Raises ReportFileError when the file cannot be read as a PDF or has no text.
    """
    path = Path(path)
    source = str(path)
    started = time.perf_counter()
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEADER_WINDOW)
    except OSError as exc:
        raise ReportFileError(
            f"cannot read the file ({exc.strerror or exc})", source=source
        ) from None
    if _PDF_MAGIC not in head:
        raise ReportFileError("not a PDF file (no %PDF header)", source=source)
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileNotDecryptedError("password required")
        pages = [
            page.extract_text(extraction_mode="layout", layout_mode_space_vertically=True)
            for page in reader.pages
        ]
    except FileNotDecryptedError:
        raise ReportFileError(
            "the PDF is encrypted and needs a password; save an unencrypted copy", source=source
        ) from None
    except Exception as exc:  # pypdf raises many kinds of exceptions on a malformed file
        logger.debug("pypdf failed on %s", source, exc_info=True)
        raise ReportFileError(
            f"cannot read the PDF; it may be damaged or incomplete ({type(exc).__name__}: {exc})",
            source=source,
        ) from None

    out: list[str] = []
    where: list[PdfLine] = []
    for number, page_text in enumerate(pages, 1):
        page_lines = _page_lines(page_text)
        if not page_lines:
            continue
        if out:  # a page break is a block break
            out.append("")
            where.append(PdfLine(number, 1))
        visible = 0
        for line in page_lines:
            if line:
                visible += 1
            out.append(line)
            where.append(PdfLine(number, visible if line else visible + 1))
    if not out:
        raise ReportFileError(
            f"no text found in the PDF's {len(pages)} page(s) (a scanned image?)", source=source
        )
    logger.debug(
        "extracted %d lines from %d pages of %s in %.2f s",
        len(out),
        len(pages),
        source,
        time.perf_counter() - started,
    )
    return PdfText(text="\n".join(out) + "\n", lines=tuple(where), pages=len(pages))


def _page_lines(page_text: str) -> list[str]:
    """A page's lines with trailing spaces removed, one blank line for each run of blank lines
    and no blank lines at the page's start or end."""
    lines: list[str] = []
    for raw in page_text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.rstrip()
        if not line.strip():
            if lines and lines[-1]:
                lines.append("")
            continue
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def parse_report_pdf(path: Path) -> list[Measure]:
    """Parse a report PDF into measures, as ``parse_report_file`` parses its text dump.

    A layout the parser does not recognise raises ParseError naming the PDF page and the
    line on that page ("report.pdf, page 3, line 12: …"); an unreadable file raises
    ReportFileError.
    """
    path = Path(path)
    return parse_pdf_text(extract_pdf_text(path), path)


def parse_pdf_text(pdf: PdfText, path: Path) -> list[Measure]:
    """Parse the text extracted from the PDF at ``path`` (errors name its pages)."""
    try:
        return parse_report(pdf.text, source=str(path))
    except ParseError as exc:
        at = pdf.position(exc.line)

        def on_page(m: re.Match[str]) -> str:
            ref = pdf.position(int(m.group(1)))
            return f"page {ref.page}, line {ref.line}"

        raise ParseError(
            _LINE_REF.sub(on_page, exc.reason), line=at.line, page=at.page, source=str(path)
        ) from None
