"""Which PDF text extractor keeps the report's Japanese text: fidelity and time per library.

Usage: python benchmarks/pdf_fidelity.py [--repeat 3]
Draws the report as a PDF from its own text in its layout (tests/pdf_fixtures.py), extracts
it with pdfminer.six, pypdf and pdfplumber in their text modes (a library that is not
installed is skipped: ``pip install pdfminer.six pdfplumber`` for the full table), and
compares each page's text with the lines drawn on it:

- chars: difflib ratio of the text, each line stripped of ASCII spaces, blank lines dropped;
- full-width: full-width characters (``０-９``, ``Ａ-Ｚ``, ``　``, ``（）`` …) found / drawn;
- lines: drawn lines found intact, in order (compared without surrounding whitespace);
- indents: of the found text lines, those whose indentation (a leading space or ``　``,
  which starts a paragraph for the parser) is kept, page headers excepted;
- blanks: of the drawn blank-line gaps between two found lines, those kept;
- headers: page header lines found / drawn;
- parse: measures equal (number, status, texts) to parsing the text dump, of 33;
- time: seconds to extract the whole PDF (best of ``--repeat``).

The last row is the project's own extraction (indexer.pdf_text), post-processing included.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import pdf_fixtures  # noqa: E402

from indexer.errors import ShisakuError  # noqa: E402
from indexer.parse import parse_report  # noqa: E402
from indexer.records import Measure  # noqa: E402

HEADERS = {*pdf_fixtures.HEADER_LINES, pdf_fixtures.DOCUMENT_MARK, pdf_fixtures.NUMBER_LABEL}

Extractor = Callable[[Path], list[str]]  # a PDF → the text of each page


def pypdf_plain(path: Path) -> list[str]:
    import pypdf

    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


def pypdf_layout(path: Path) -> list[str]:
    import pypdf

    return [page.extract_text(extraction_mode="layout") for page in pypdf.PdfReader(path).pages]


def pdfminer_text(path: Path) -> list[str]:
    from pdfminer.high_level import extract_text

    # One call per page would reparse the file: split the whole text at the form feeds that
    # end its pages (left in, a form feed hides the next page's measure line from the parser).
    return extract_text(str(path)).split("\f")[:-1]


def pdfplumber_text(path: Path, layout: bool = False) -> list[str]:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        return [page.extract_text(layout=layout) for page in pdf.pages]


def pdfplumber_layout(path: Path) -> list[str]:
    return pdfplumber_text(path, layout=True)


def project_pipeline(path: Path) -> list[str]:
    from indexer.pdf_text import extract_pdf_text

    pdf = extract_pdf_text(path)
    pages: dict[int, list[str]] = {}
    for line, where in zip(pdf.text.split("\n"), pdf.lines):
        pages.setdefault(where.page, []).append(line)
    return ["\n".join(pages.get(n, [])) for n in range(1, pdf.pages + 1)]


EXTRACTORS: tuple[tuple[str, str, Extractor], ...] = (
    ("pdfminer.six extract_text", "pdfminer", pdfminer_text),
    ("pypdf extract_text", "pypdf", pypdf_plain),
    ("pypdf extract_text layout", "pypdf", pypdf_layout),
    ("pdfplumber extract_text", "pdfplumber", pdfplumber_text),
    ("pdfplumber extract_text layout", "pdfplumber", pdfplumber_layout),
    ("indexer.pdf_text (pypdf layout + post)", "pypdf", project_pipeline),
)


@dataclass
class Score:
    chars: float = 0.0
    fullwidth: tuple[int, int] = (0, 0)
    lines: tuple[int, int] = (0, 0)
    indents: tuple[int, int] = (0, 0)
    blanks: tuple[int, int] = (0, 0)
    headers: tuple[int, int] = (0, 0)
    parse: str = ""
    seconds: float = 0.0


def _fullwidth(text: str) -> int:
    return sum(1 for c in text if unicodedata.east_asian_width(c) == "F")


def _indented(line: str) -> bool:
    return line[:1] in (" ", "\t", "\u3000")


def _gaps(lines: list[str]) -> list[tuple[str, bool]]:
    """(stripped text line, whether a blank line precedes it) for each non-blank line."""
    out: list[tuple[str, bool]] = []
    blank = False
    for line in lines:
        if not line.strip():
            blank = True
            continue
        out.append((line.strip(), blank and bool(out)))
        blank = False
    return out


def score(drawn_pages: list[list[str]], pages: list[str], reference: list[Measure]) -> Score:
    s = Score()
    matched_chars = total_chars = 0
    fw_src = fw_out = 0
    lines_found = lines_total = 0
    ind_ok = ind_total = 0
    gap_ok = gap_total = 0
    hdr_found = hdr_total = 0
    for drawn, page in zip(drawn_pages, pages + [""] * (len(drawn_pages) - len(pages))):
        out_lines = [line.rstrip() for line in page.split("\n")]
        a = "\n".join(line.strip(" \t") for line in drawn if line.strip())
        b = "\n".join(line.strip(" \t") for line in out_lines if line.strip())
        sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
        matched_chars += sum(block.size for block in sm.get_matching_blocks())
        total_chars += len(a) + len(b)
        fw_src += _fullwidth(a)
        fw_out += _fullwidth(b)

        src = [line for line in drawn if line.strip()]
        out = [line for line in out_lines if line.strip()]
        src_gaps, out_gaps = _gaps(drawn), _gaps(out_lines)
        lm = difflib.SequenceMatcher(
            None, [x.strip() for x in src], [x.strip() for x in out], autojunk=False
        )
        lines_total += len(src)
        hdr_total += sum(1 for x in src if x.strip() in HEADERS)
        hdr_found += sum(1 for x in out if x.strip() in HEADERS)
        for block in lm.get_matching_blocks():
            for k in range(block.size):
                i, j = block.a + k, block.b + k
                lines_found += 1
                if src[i].strip() not in HEADERS:
                    ind_total += 1
                    ind_ok += _indented(src[i]) == _indented(out[j])
                if src_gaps[i][1]:
                    gap_total += 1
                    gap_ok += out_gaps[j][1]
    s.chars = 2 * matched_chars / total_chars if total_chars else 1.0
    s.fullwidth = (fw_out, fw_src)
    s.lines = (lines_found, lines_total)
    s.indents = (ind_ok, ind_total)
    s.blanks = (gap_ok, gap_total)
    s.headers = (hdr_found, hdr_total)
    try:
        measures = parse_report("\n".join(pages))
    except ShisakuError as exc:
        s.parse = f"error: {exc.message[:40]}"
    else:
        same = sum(1 for m, r in zip(measures, reference) if m == r)
        s.parse = f"{same}/{len(reference)}" + ("" if len(measures) == len(reference) else "*")
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="extractions per library (best time)")
    args = ap.parse_args()

    text = pdf_fixtures.REPORT_TEXT.read_text(encoding="utf-8")
    reference = parse_report(text)
    drawn = pdf_fixtures.layout_pages(text)
    versions = {}
    for module, dist in (
        ("pdfminer", "pdfminer.six"),
        ("pypdf", "pypdf"),
        ("pdfplumber", "pdfplumber"),
    ):
        if importlib.util.find_spec(module) is not None:
            from importlib.metadata import version

            versions[module] = f"{dist} {version(dist)}"
    print("libraries:", ", ".join(versions.values()) or "none")

    with tempfile.TemporaryDirectory() as tmp:
        pdf = pdf_fixtures.write_report_pdf(text, Path(tmp) / "report.pdf")
        print(
            f"report PDF: {len(drawn)} pages, {sum(map(len, drawn))} lines drawn, "
            f"{pdf.stat().st_size:,} bytes\n"
        )
        header = (
            f"{'extractor':40} {'chars':>7} {'full-width':>11} {'lines':>9} {'indents':>9} "
            f"{'blanks':>9} {'headers':>7} {'parse':>7} {'time s':>7}"
        )
        print(header)
        print("-" * len(header))
        for name, module, extract in EXTRACTORS:
            if module not in versions:
                print(f"{name:40} (not installed)")
                continue
            best = float("inf")
            pages: list[str] = []
            for _ in range(max(1, args.repeat)):
                started = time.perf_counter()
                pages = extract(pdf)
                best = min(best, time.perf_counter() - started)
            s = score(drawn, pages, reference)
            s.seconds = best

            def frac(pair: tuple[int, int]) -> str:
                return f"{pair[0]}/{pair[1]}"

            print(
                f"{name:40} {s.chars:7.4f} {frac(s.fullwidth):>11} {frac(s.lines):>9} "
                f"{frac(s.indents):>9} {frac(s.blanks):>9} {frac(s.headers):>7} {s.parse:>7} "
                f"{s.seconds:7.2f}"
            )


if __name__ == "__main__":
    main()
