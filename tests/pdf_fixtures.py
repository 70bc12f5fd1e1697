"""Generate report PDFs for tests and benchmarks from the report's own text (reportlab, CID fonts).

The text dump (data/reports/isa-7th-roundtable-status-2024/source.txt) already has the PDF's line
structure, so a PDF in the report's layout is drawn by laying its lines out page by page:
a page starts where the dump starts a new measure (with the ``資料②`` block before it, if
any) and a page that overflows continues on a new page under the repeated page headers.
Fonts are reportlab's built-in Japanese CID fonts (HeiseiMin-W3 for text, HeiseiKakuGo-W5
for headers and labels), so nothing is downloaded and no font is embedded.

The second edition is derived from today's report with a few statuses and sentences
changed; it is test data only and never goes into data/.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from indexer.records import Measure

ROOT = Path(__file__).resolve().parents[1]
REPORT_TEXT = ROOT / "data" / "reports" / "isa-7th-roundtable-status-2024" / "source.txt"

MINCHO = "HeiseiMin-W3"
GOTHIC = "HeiseiKakuGo-W5"

HEADER_LINES = (
    "出入国在留管理基本計画策定後に",
    "第７次出入国管理政策懇談会報告書において提言された施策の実施状況",
)
DOCUMENT_MARK = "資料②"
NUMBER_LABEL = "施策番号"
LABEL_TARGET = "対象施策"
LABEL_EXPLANATION = "実施状況の説明"
_GOTHIC_LINES = frozenset({*HEADER_LINES, DOCUMENT_MARK, NUMBER_LABEL})
_LABELS = frozenset({LABEL_TARGET, LABEL_EXPLANATION})

_MEASURE_LINE = re.compile(r"^\s*(\d+) 実施状況 (\S+?)(施策番号)?$")
_NOTE_MARK = re.compile(r"^（注[０-９0-9]+）")

FONT_SIZE = 10.0
LEADING = 14.0  # points from one baseline to the next
MARGIN_X = 50.0
MARGIN_TOP = 50.0
MARGIN_BOTTOM = 50.0
# Lines that fit on an A4 page with the margins and leading above.
LINES_PER_PAGE = int((A4[1] - MARGIN_TOP - MARGIN_BOTTOM) // LEADING)
WRAP_WIDTH = 60  # half-width units per line when wrapping rendered measures (30 kanji)


def _register_fonts() -> None:
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name in (MINCHO, GOTHIC):
        if name not in registered:
            pdfmetrics.registerFont(UnicodeCIDFont(name))


# --------------------------------------------------------------------------- layout


def layout_pages(text: str, lines_per_page: int = LINES_PER_PAGE) -> list[list[str]]:
    """Split a report text dump into the lines of each page, as ``write_report_pdf`` draws them.

    A page starts at each measure's ``N 実施状況 STATUS`` line (taking the ``資料②`` line
    before it along); leading and trailing blank lines of a page are dropped. A page longer
    than ``lines_per_page`` continues on a new page that repeats the page headers.
    """
    lines = [line.rstrip() for line in text.removeprefix("\ufeff").split("\n")]
    pages: list[list[str]] = [[]]
    for line in lines:
        if _MEASURE_LINE.match(line) and any(s.strip() for s in pages[-1]):
            carried: list[str] = []
            # The 資料② mark (and the blanks after it) opens the new page.
            while pages[-1] and pages[-1][-1].strip() in ("", DOCUMENT_MARK):
                carried.insert(0, pages[-1].pop())
            pages.append(carried)
        pages[-1].append(line)
    out: list[list[str]] = []
    for page in pages:
        page = _trim(page)
        while len(page) > lines_per_page:
            cut = lines_per_page
            out.append(_trim(page[:cut]))
            page = [*HEADER_LINES, "", *_trim(page[cut:])]
        if page:
            out.append(page)
    return out


def _trim(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def write_pages_pdf(
    pages: Sequence[Sequence[str]],
    path: Path,
    *,
    font_size: float = FONT_SIZE,
    leading: float = LEADING,
    title: str = "施策の実施状況",
) -> Path:
    """Draw each page's lines top to bottom, one PDF text line per line; blank lines leave a
    gap. Page headers and labels are set in the gothic font, the rest in the mincho one."""
    _register_fonts()
    path = Path(path)
    canvas = Canvas(str(path), pagesize=A4, pageCompression=1, invariant=1)
    canvas.setTitle(title)
    width, height = A4
    for page in pages:
        y = height - MARGIN_TOP
        for line in page:
            if line.strip():
                stripped = line.strip()
                font = GOTHIC if stripped in _GOTHIC_LINES or stripped in _LABELS else MINCHO
                x = MARGIN_X
                if stripped in HEADER_LINES or stripped == NUMBER_LABEL:
                    x = (width - pdfmetrics.stringWidth(stripped, font, font_size)) / 2
                    line = stripped
                canvas.setFont(font, font_size)
                canvas.drawString(x, y, line)
            y -= leading
        canvas.showPage()
    canvas.save()
    return path


def write_report_pdf(
    measures_or_text: str | Sequence[Measure],
    path: Path,
    *,
    lines_per_page: int = LINES_PER_PAGE,
    font_size: float = FONT_SIZE,
) -> Path:
    """Write a PDF of a report in the report's layout, from its text dump or from measures
    (rendered with ``render_report_text``)."""
    text = (
        measures_or_text
        if isinstance(measures_or_text, str)
        else render_report_text(measures_or_text)
    )
    return write_pages_pdf(layout_pages(text, lines_per_page), path, font_size=font_size)


# --------------------------------------------------------------------------- measures → text


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _wrap(
    paragraph: str, width: int = WRAP_WIDTH, indent: str = "", notes: bool = False
) -> list[str]:
    """Hard-wrap a paragraph as the PDF does: anywhere between Japanese characters, only at a
    space between Latin words (the space is dropped; the parser puts it back). A line never
    starts with a "・" in mid-sentence (it would read as a bullet), nor, in footnotes, ends
    with a "。" in mid-paragraph (it would end the footnote's paragraph)."""
    tokens = re.findall(r"[A-Za-z0-9.,'’()\-]+ ?|.", paragraph)
    lines: list[str] = []
    cur: list[str] = [indent] if indent else []
    for tok in tokens:
        if _width("".join(cur)) + _width(tok.rstrip()) > width and "".join(cur).strip():
            carry: list[str] = []
            if tok == "・" or (notes and cur[-1] == "。"):
                carry = [cur.pop()]
            lines.append("".join(cur).rstrip(" "))
            cur = carry
        cur.append(tok)
    if "".join(cur).strip():
        lines.append("".join(cur).rstrip(" "))
    return lines


def render_report_text(measures: Sequence[Measure], width: int = WRAP_WIDTH) -> str:
    """Render measures as a text dump in the report's layout (headers, labels, wrapped text,
    footnote markers on their own lines), which ``parse_report`` reads back to the same
    measures."""
    out: list[str] = ["", DOCUMENT_MARK, ""]
    for m in measures:
        out += [f" {m.number} 実施状況 {m.status}", "", *HEADER_LINES, "", NUMBER_LABEL, ""]
        out += [LABEL_TARGET, ""]
        out += [line for para in m.target.split("\n") for line in _para_lines(para, width)]
        out += ["", LABEL_EXPLANATION, ""]
        out += [line for para in m.explanation.split("\n") for line in _para_lines(para, width)]
        if m.notes:
            out.append("")
            for para in m.notes.split("\n"):
                mark = _NOTE_MARK.match(para)
                if mark:
                    out.append(mark.group())
                    para = para[mark.end() :]
                    if not para:
                        continue
                out += _para_lines(para, width, indent="　", notes=True)
    out.append("")
    return "\n".join(out)


def _para_lines(para: str, width: int, indent: str = "　 ", notes: bool = False) -> list[str]:
    if para.startswith("・"):
        return _wrap(para[:1] + " " + para[1:], width, notes=notes)
    return _wrap(para, width, indent, notes=notes)


# --------------------------------------------------------------------------- second edition


@dataclass(frozen=True)
class EditionChanges:
    """What the second edition changes, by measure number."""

    statuses: dict[int, str] = field(default_factory=dict)
    # A sentence added as a new paragraph at the end of the measure's explanation.
    added_sentences: dict[int, str] = field(default_factory=dict)
    # (old, new): a sentence of the measure's explanation replaced.
    changed_sentences: dict[int, tuple[str, str]] = field(default_factory=dict)

    @property
    def changed_measures(self) -> set[int]:
        return {*self.statuses, *self.added_sentences, *self.changed_sentences}


SECOND_EDITION = EditionChanges(
    statuses={1: "実施済み", 3: "実施中", 20: "実施中", 29: "実施済み"},
    added_sentences={4: "令和７年４月には、提出書類の様式を改め、オンラインでの提出を可能とした。"},
    changed_sentences={
        1: ("両省庁で実証実験を行っている。", "両省庁で実証実験を行い、本格導入を決定した。"),
    },
)


def second_edition_text(text: str, changes: EditionChanges = SECOND_EDITION) -> str:
    """Today's report text with the second edition's changes applied (deterministic).

    Statuses are rewritten on the measures' ``N 実施状況`` lines, an added sentence becomes a
    new indented paragraph after the last line of the measure's explanation, and a changed
    sentence is replaced where it sits (its last part must be on one line of the dump).
    """
    lines = text.split("\n")
    starts = {
        int(m.group(1)): i for i, line in enumerate(lines) if (m := _MEASURE_LINE.match(line))
    }
    for number, status in changes.statuses.items():
        i = starts[number]
        m = _MEASURE_LINE.match(lines[i])
        assert m is not None
        lines[i] = lines[i][: m.start(2)] + status + (m.group(3) or "")
    for number, (old, new) in changes.changed_sentences.items():
        lines = _replace_in_measure(lines, starts, number, old, new)
    # Insert from the last measure backwards so earlier line indexes stay valid.
    for number in sorted(changes.added_sentences, reverse=True):
        end = _explanation_end(lines, starts, number)
        lines.insert(end, "　 " + changes.added_sentences[number])
    return "\n".join(lines)


def _measure_span(lines: list[str], starts: dict[int, int], number: int) -> tuple[int, int]:
    start = starts[number]
    end = starts.get(number + 1, len(lines))
    return start, end


def _explanation_end(lines: list[str], starts: dict[int, int], number: int) -> int:
    """The index after the last text line of the measure (its explanation, in every measure
    but the first; measures with footnotes are not supported)."""
    start, end = _measure_span(lines, starts, number)
    if number == 1:
        raise ValueError("measure 1 has its explanation before its labels")
    i = end
    while i > start and (not lines[i - 1].strip() or lines[i - 1].strip() == DOCUMENT_MARK):
        i -= 1
    if any(_NOTE_MARK.match(line.strip()) for line in lines[start:i]):
        raise ValueError(f"measure {number} has footnotes")
    return i


def _replace_in_measure(
    lines: list[str], starts: dict[int, int], number: int, old: str, new: str
) -> list[str]:
    """Replace ``old`` by ``new`` in the measure's text, where ``old`` may be wrapped over the
    end of one line and the start of the next."""
    start, end = _measure_span(lines, starts, number)
    for i in range(start, end):
        line = lines[i]
        if old in line:
            lines[i] = line.replace(old, new, 1)
            return lines
        nxt = lines[i + 1] if i + 1 < end else ""
        for k in range(1, len(old)):
            if line.endswith(old[:k]) and nxt.startswith(old[k:]):
                # Keep the line's width: the new text goes where the old text's end was.
                if new.startswith(old[:k]):
                    lines[i + 1] = new[k:] + nxt[len(old) - k :]
                else:
                    lines[i] = line[: len(line) - k]
                    lines[i + 1] = new + nxt[len(old) - k :]
                return lines
    raise ValueError(f"{old!r} not found in measure {number}")


def expected_second_edition(
    measures: Sequence[Measure], changes: EditionChanges = SECOND_EDITION
) -> list[Measure]:
    """Today's measures with the second edition's changes applied, as parsing its text gives."""
    out: list[Measure] = []
    for m in measures:
        if m.number in changes.statuses:
            m = replace(m, status=changes.statuses[m.number])  # type: ignore[arg-type]
        if m.number in changes.changed_sentences:
            old, new = changes.changed_sentences[m.number]
            assert m.explanation.count(old) == 1, (m.number, old)
            m = replace(m, explanation=m.explanation.replace(old, new))
        if m.number in changes.added_sentences:
            m = replace(m, explanation=m.explanation + "\n" + changes.added_sentences[m.number])
        out.append(m)
    return out


# --------------------------------------------------------------------------- other layouts

OTHER_DOCUMENT = """\
令和６年度　第３回　外国人材受入れ連絡会議　議事概要

１　日時
　令和６年１１月２０日（水）１４時から１６時まで

２　場所
　中央合同庁舎第６号館Ａ棟　会議室

３　議事
（１）地域における日本語教育の取組について
　事務局から資料に基づき説明があり、自治体と企業が連携した取組の事例について意見交換
を行った。
（２）今後の進め方について
　次回会議は令和７年２月に開催することとした。
"""


def write_other_document_pdf(path: Path, text: str = OTHER_DOCUMENT) -> Path:
    """A PDF that is not a measures report (meeting minutes): a layout the parser does not
    recognise. Its first text line is on page 1, line 1."""
    return write_pages_pdf([_trim(text.split("\n"))], path, title="議事概要")


def write_not_a_pdf(path: Path) -> Path:
    """A file with a .pdf name that is plain text."""
    path = Path(path)
    path.write_text("これはPDFではありません。\n", encoding="utf-8")
    return path


def write_corrupt_pdf(path: Path, source: Path) -> Path:
    """A PDF cut short: the first half of ``source``'s bytes (no cross-reference table)."""
    data = Path(source).read_bytes()
    path = Path(path)
    path.write_bytes(data[: len(data) // 2])
    return path
