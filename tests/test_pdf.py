"""Tests for report PDFs: extraction (indexer.pdf_text), parsing, and their errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pdf_fixtures import (
    HEADER_LINES,
    REPORT_TEXT,
    SECOND_EDITION,
    expected_second_edition,
    layout_pages,
    render_report_text,
    second_edition_text,
    write_corrupt_pdf,
    write_not_a_pdf,
    write_other_document_pdf,
    write_report_pdf,
)

from indexer.errors import ParseError, ReportFileError, ShisakuError
from indexer.parse import parse_report
from indexer.pdf_text import PdfLine, extract_pdf_text, parse_report_pdf
from indexer.records import Measure


@pytest.fixture(scope="module")
def report_text() -> str:
    return REPORT_TEXT.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def measures(report_text: str) -> list[Measure]:
    return parse_report(report_text, source=str(REPORT_TEXT))


@pytest.fixture(scope="module")
def report_pdf(report_text: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report_pdf(report_text, tmp_path_factory.mktemp("pdf") / "report.pdf")


def test_the_report_pdf_parses_to_the_same_measures_as_the_text(
    report_pdf: Path, measures: list[Measure]
) -> None:
    parsed = parse_report_pdf(report_pdf)
    assert len(parsed) == 33
    for from_pdf, from_text in zip(parsed, measures, strict=True):
        assert from_pdf == from_text, from_text.number


def test_extraction_keeps_lines_full_width_characters_and_headers(
    report_pdf: Path, report_text: str
) -> None:
    pdf = extract_pdf_text(report_pdf)
    drawn = layout_pages(report_text)
    assert pdf.pages == len(drawn)
    got = [line.strip() for line in pdf.text.split("\n") if line.strip()]
    assert got == [line.strip() for page in drawn for line in page if line.strip()]
    # The indentation that starts a paragraph is kept, full-width characters as they are.
    assert "　 入管DXの一環としての円滑・厳格な審査に向けて、電子渡航認" in pdf.text.split("\n")
    assert "２０２２年３月" in pdf.text and "ＵＮＨＣＲ" in pdf.text and "2023年3月" in pdf.text
    for header in HEADER_LINES:
        assert got.count(header) == pdf.pages


def test_each_extracted_line_knows_its_page_and_line(report_pdf: Path) -> None:
    pdf = extract_pdf_text(report_pdf)
    lines = pdf.text.split("\n")
    assert len(pdf.lines) == len(lines) - 1  # the text ends with a newline
    starts = [i for i, line in enumerate(lines) if re.match(r"\s*\d+ 実施状況 ", line)]
    assert len(starts) == 33
    # Every measure opens a page: measure 1 under 資料② (line 2), the others at the top
    # (measure 7 runs over two pages, so later measures are one page further on).
    assert pdf.position(starts[0] + 1) == PdfLine(page=1, line=2)
    assert pdf.position(starts[1] + 1) == PdfLine(page=2, line=1)
    assert pdf.position(starts[7] + 1) == PdfLine(page=9, line=1)
    assert {where.page for where in pdf.lines} == set(range(1, pdf.pages + 1))


def test_the_second_edition_pdf_parses_with_its_changes(
    report_text: str, measures: list[Measure], tmp_path: Path
) -> None:
    second = second_edition_text(report_text)
    assert second_edition_text(report_text) == second  # deterministic
    pdf = write_report_pdf(second, tmp_path / "second.pdf")
    parsed = parse_report_pdf(pdf)
    assert parsed == expected_second_edition(measures)
    changed = {m.number for m, old in zip(parsed, measures, strict=True) if m != old}
    assert changed == SECOND_EDITION.changed_measures
    assert parsed[2].status == "実施中" and measures[2].status == "検討中"
    assert parsed[0].status == "実施済み" and measures[0].status == "実施中"
    assert parsed[0].explanation.endswith("両省庁で実証実験を行い、本格導入を決定した。")
    assert parsed[3].explanation.endswith("\n" + SECOND_EDITION.added_sentences[4])


def test_measures_rendered_as_a_pdf_parse_back_to_themselves(
    measures: list[Measure], tmp_path: Path
) -> None:
    assert parse_report(render_report_text(measures)) == measures
    edited = expected_second_edition(measures)
    assert parse_report_pdf(write_report_pdf(edited, tmp_path / "from-measures.pdf")) == edited


def test_a_pdf_of_another_document_is_a_parse_error_naming_page_and_line(
    tmp_path: Path,
) -> None:
    pdf = write_other_document_pdf(tmp_path / "minutes.pdf")
    with pytest.raises(ParseError) as err:
        parse_report_pdf(pdf)
    assert (err.value.page, err.value.line) == (1, 1)
    assert err.value.message.startswith(f"{pdf}, page 1, line 1: unexpected text")


def test_a_bad_measure_on_a_later_page_names_that_page(report_text: str, tmp_path: Path) -> None:
    bad = report_text.replace(" 5 実施状況 実施済み", " 5 実施状況 完了", 1)
    with pytest.raises(ParseError) as err:
        parse_report_pdf(write_report_pdf(bad, tmp_path / "bad-status.pdf"))
    assert (err.value.page, err.value.line) == (5, 1)
    assert "page 5, line 1: unknown status '完了' for measure 5" in err.value.message

    duplicate = report_text.replace(" 9 実施状況 実施済み", " 8 実施状況 実施済み", 1)
    with pytest.raises(ParseError) as err:
        parse_report_pdf(write_report_pdf(duplicate, tmp_path / "duplicate.pdf"))
    # Measure 7 takes two pages: measure 8 is on page 9, the second "8" on page 10.
    assert err.value.message.endswith(
        "page 10, line 1: duplicate measure number 8 (first at page 9, line 1)"
    )


def test_parse_error_without_a_page_keeps_its_message() -> None:
    err = ParseError("bad", line=3, source="r.txt")
    assert err.message == "r.txt, line 3: bad" and err.page is None
    assert ParseError("bad", line=3, source="r.pdf", page=2).message == "r.pdf, page 2, line 3: bad"


@pytest.mark.parametrize("kind", ["text", "empty", "corrupt", "missing"])
def test_an_unreadable_file_is_a_report_file_error(
    kind: str, report_pdf: Path, tmp_path: Path
) -> None:
    path = tmp_path / f"{kind}.pdf"
    if kind == "text":
        write_not_a_pdf(path)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "corrupt":
        write_corrupt_pdf(path, report_pdf)
    with pytest.raises(ReportFileError) as err:
        parse_report_pdf(path)
    assert err.value.code == "report_file_error"
    assert isinstance(err.value, ShisakuError)
    assert err.value.message.startswith(f"{path}: ")


def test_an_encrypted_pdf_is_a_report_file_error(report_pdf: Path, tmp_path: Path) -> None:
    pypdf = pytest.importorskip("pypdf")
    writer = pypdf.PdfWriter(clone_from=report_pdf)
    writer.encrypt(user_password="secret", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    writer.write(path)
    with pytest.raises(ReportFileError, match="encrypted"):
        extract_pdf_text(path)


def test_a_pdf_without_text_is_a_report_file_error(tmp_path: Path) -> None:
    from reportlab.pdfgen.canvas import Canvas

    path = tmp_path / "scan.pdf"
    canvas = Canvas(str(path))
    canvas.rect(100, 100, 200, 200, fill=1)  # an image stands in for a scanned page
    canvas.showPage()
    canvas.save()
    with pytest.raises(ReportFileError, match="no text"):
        extract_pdf_text(path)


def test_page_breaks_inside_paragraphs_change_nothing(
    report_text: str, measures: list[Measure], tmp_path: Path
) -> None:
    # 20 lines a page: most measures run over several pages, each under the repeated headers.
    pdf = write_report_pdf(report_text, tmp_path / "short-pages.pdf", lines_per_page=20)
    assert extract_pdf_text(pdf).pages > 60
    assert parse_report_pdf(pdf) == measures
