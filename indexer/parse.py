"""Parse a PDF-to-text dump of a "施策の実施状況" report into Measure records."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from indexer.errors import ParseError
from indexer.records import STATUSES, Measure, Status

LABEL_TARGET = "対象施策"
LABEL_EXPLANATION = "実施状況の説明"
_LABELS = {LABEL_TARGET: "target", LABEL_EXPLANATION: "explanation"}

# "12 実施状況 実施済み"; in the first measure the PDF glues "施策番号" to the status.
_MEASURE_RE = re.compile(r"^(?P<num>\d+)?\s*実施状況\s+(?P<status>\S+?)(?:施策番号)?$")
# Page headers repeated on every page; dropped wherever they occur.
_PAGE_HEADER_RES = (
    re.compile(r"^資料[①-⑳0-9０-９]*$"),
    re.compile(r"^施策番号$"),
    re.compile(r"^.*基本計画策定後に$"),
    re.compile(r"^.*において提言された施策の実施状況$"),
)
# A footnote marker at the start of a line: （注１） / (注2) ...
_NOTE_RE = re.compile(r"^[（(]注\s*[0-9０-９]+\s*[）)]")
_INDENT = " \t\u3000"
# A line narrower than this fraction of its block's widest line ends its paragraph.
_SHORT_LINE_RATIO = 0.6


def normalize_for_matching(text: str) -> str:
    """NFKC-normalise text for matching (full-width digits/letters → ASCII etc.)."""
    return unicodedata.normalize("NFKC", text)


def parse_report_file(path: Path) -> list[Measure]:
    """Read a UTF-8 report file and parse it."""
    return parse_report(read_report_text(path), source=str(path))


def read_report_text(path: Path) -> str:
    """A report file's text; ParseError names the offset of any byte that is not UTF-8."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.end].hex(" ")
        raise ParseError(
            f"file is not valid UTF-8 (bytes {bad} at offset {exc.start})",
            line=line,
            source=str(path),
        ) from None
    return text


@dataclass
class _Block:
    kind: str  # "label", "text" or "notes"
    line: int
    label: str = ""  # "target" / "explanation" for labels
    lines: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _RawMeasure:
    number: int
    status: str
    line: int
    blocks: list[_Block] = field(default_factory=list)


def parse_report(text: str, source: str = "<text>") -> list[Measure]:
    """Parse report text into measures numbered 1..N; raise ParseError on malformed input."""
    if text.startswith("\ufeff"):
        text = text[1:]
    raws: list[_RawMeasure] = []
    seen: dict[int, int] = {}
    cur: _RawMeasure | None = None
    prev_blank = True
    in_notes = False

    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.rstrip()
        stripped = line.strip(_INDENT)
        if not stripped:
            prev_blank = True
            continue
        blank_before, prev_blank = prev_blank, False
        if any(r.match(stripped) for r in _PAGE_HEADER_RES):
            continue
        m = _MEASURE_RE.match(stripped)
        if m:
            cur = _start_measure(m, lineno, raws, seen, source)
            raws.append(cur)
            in_notes = False
            continue
        if cur is None:
            raise ParseError(
                f"unexpected text before the first measure: {stripped[:30]!r}",
                line=lineno,
                source=source,
            )
        if stripped in _LABELS:
            cur.blocks.append(_Block("label", lineno, label=_LABELS[stripped]))
            in_notes = False
            continue
        note = _NOTE_RE.match(stripped)
        if note and not in_notes and (blank_before or note.end() == len(stripped)):
            in_notes = True
            cur.blocks.append(_Block("notes", lineno))
        elif not in_notes and (not cur.blocks or cur.blocks[-1].kind != "text"):
            cur.blocks.append(_Block("text", lineno))
        cur.blocks[-1].lines.append((lineno, line))

    if not raws:
        raise ParseError(
            "no measures found (expected lines like '1 実施状況 実施中')", line=1, source=source
        )
    return [_resolve(r, source) for r in raws]


def _start_measure(
    m: re.Match[str], lineno: int, raws: list[_RawMeasure], seen: dict[int, int], source: str
) -> _RawMeasure:
    if m.group("num") is None:
        raise ParseError("measure header without a number", line=lineno, source=source)
    number = int(m.group("num"))
    status = m.group("status")
    if number in seen:
        raise ParseError(
            f"duplicate measure number {number} (first at line {seen[number]})",
            line=lineno,
            source=source,
        )
    expected = raws[-1].number + 1 if raws else 1
    if number != expected:
        raise ParseError(
            f"expected measure {expected}, found measure {number}", line=lineno, source=source
        )
    if status not in STATUSES:
        raise ParseError(
            f"unknown status {status!r} for measure {number} (expected one of "
            f"{', '.join(STATUSES)})",
            line=lineno,
            source=source,
        )
    seen[number] = lineno
    return _RawMeasure(number, status, lineno)


def _resolve(raw: _RawMeasure, source: str) -> Measure:
    """Attribute text blocks to labels: a block right after a label belongs to it; a block
    not preceded by a label (measure 1) belongs to the label right after it, if that
    label has no text of its own."""
    texts: dict[str, _Block | None] = {}
    label_line: dict[str, int] = {}
    pending: list[_Block] = []
    notes: list[str] = []
    prev_label: str | None = None
    for blk in raw.blocks:
        if blk.kind == "label":
            if blk.label in texts:
                raise ParseError(
                    f"measure {raw.number}: second {_label_name(blk.label)} label",
                    line=blk.line,
                    source=source,
                )
            texts[blk.label] = None
            label_line[blk.label] = blk.line
            prev_label = blk.label
        elif blk.kind == "notes":
            notes.append(_render(blk.lines, notes=True))
        elif prev_label is not None and texts[prev_label] is None:
            texts[prev_label] = blk
            prev_label = None
        else:
            pending.append(blk)
    for blk in pending:
        after = sorted((ln, lbl) for lbl, ln in label_line.items() if ln > blk.line)
        if not after or texts[after[0][1]] is not None:
            raise ParseError(
                f"measure {raw.number}: text not attributable to a label",
                line=blk.line,
                source=source,
            )
        texts[after[0][1]] = blk

    values: dict[str, str] = {}
    for lbl in ("target", "explanation"):
        if lbl not in texts:
            raise ParseError(
                f"measure {raw.number} has no {_label_name(lbl)} section",
                line=raw.line,
                source=source,
            )
        owned = texts[lbl]
        value = _render(owned.lines) if owned is not None else ""
        if not value.strip():
            raise ParseError(
                f"measure {raw.number}: {_label_name(lbl)} is empty",
                line=label_line[lbl],
                source=source,
            )
        values[lbl] = value
    status: Status = raw.status  # type: ignore[assignment]  # validated in _start_measure
    return Measure(
        number=raw.number,
        status=status,
        target=values["target"],
        explanation=values["explanation"],
        notes="\n".join(n for n in notes if n),
    )


def _label_name(lbl: str) -> str:
    return LABEL_TARGET if lbl == "target" else LABEL_EXPLANATION


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _wide(c: str) -> bool:
    return unicodedata.east_asian_width(c) in "WF"


def _latin_word_char(c: str) -> bool:
    if _wide(c):
        return False
    if c.isascii():
        return c.isalnum()
    return c.isalpha() and "LATIN" in unicodedata.name(c, "")


def _joiner(prev: str, nxt: str) -> str:
    """What to put between two hard-wrapped lines: a space only between Latin words."""
    if not prev or not nxt:
        return ""
    a, b = prev[-1], nxt[0]
    if _latin_word_char(b) and not b.isdigit():
        if _latin_word_char(a) or a in ",.;:!?)]":
            return " "
    return ""


_SPACE_RUN = re.compile(r"[ \t]+")


def _drop_cjk_spaces(s: str) -> str:
    """Drop ASCII spaces the PDF put between two Japanese characters ("、 規制", "・ 安全")."""

    def repl(m: re.Match[str]) -> str:
        i, j = m.start(), m.end()
        if 0 < i and j < len(s) and _wide(s[i - 1]) and _wide(s[j]):
            return ""
        return m.group()

    return _SPACE_RUN.sub(repl, s)


def _render(lines: list[tuple[int, str]], notes: bool = False) -> str:
    """Join hard-wrapped lines into paragraphs separated by "\\n"."""
    if not lines:
        return ""
    max_w = max(_width(line) for _, line in lines)
    paras: list[str] = []
    break_after = True
    glue = False
    for _, line in lines:
        body = line.lstrip(_INDENT)
        indented = len(body) < len(line)
        body = _drop_cjk_spaces(body)
        marker = notes and _NOTE_RE.match(body) is not None
        new_para = not paras or indented or body.startswith("・") or marker or break_after
        if glue:
            new_para = False
        if new_para:
            paras.append(body)
        else:
            paras[-1] += _joiner(paras[-1], body) + body
        # A footnote marker alone on its line is joined with the line that follows it.
        glue = marker and _NOTE_RE.fullmatch(body) is not None
        break_after = _width(line) < _SHORT_LINE_RATIO * max_w or (notes and body.endswith("。"))
    return "\n".join(p for p in paras if p)
