"""Split measure fields into sentence-bounded passages with exact character offsets."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from indexer.records import Field, Measure, Passage

FIELDS: tuple[Field, ...] = ("target", "explanation", "note")
_OPENERS = "（(「『【〔［[｛{〈《“‘"
_CLOSERS = "）)」』】〕］]｝}〉》”’"
_SOFT_BREAKS = "、，,"


def split_passages(measures: list[Measure], max_chars: int = 300) -> list[Passage]:
    """Passages of every field of every measure, in document order, ids 0..n-1."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    out: list[Passage] = []
    for measure in measures:
        for fld in FIELDS:
            text = measure.field_text(fld)
            for start, end in split_text(text, max_chars):
                out.append(
                    Passage(
                        len(out), measure.number, fld, start, end, text[start:end], measure.report
                    )
                )
    return out


def split_text(text: str, max_chars: int = 300) -> list[tuple[int, int]]:
    """(start, end) spans of the passages of one field text; never raises on any str.

    Lines that continue a sentence (after a line ending in 、, a bulleted list, a line that
    opens with hiragana) are read as one block with it, so a bullet such as "・安全・安心な
    社会" is never a passage of its own; any remaining fragment with fewer than
    ``MIN_CONTENT_CHARS`` letters joins a neighbour.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    spans: list[tuple[int, int]] = []
    for block_start, block_end in _blocks(text):
        block = text[block_start:block_end]
        units: list[tuple[int, int]] = []
        for s, e in _sentences(block):
            for u in _hard_split(block, s, e, max_chars):
                units.append((u[0] + block_start, u[1] + block_start))
        spans.extend(_merge(units, max_chars))
    return _absorb_fragments(text, spans, max_chars)


MIN_CONTENT_CHARS = 12  # a passage with fewer letters or digits says nothing on its own
_BULLETS = "・●○◆◇■□※-－*＊•"


def _continues(previous: str, line: str) -> bool:
    """Whether ``line`` carries on the sentence of the line before it."""
    prev, cur = previous.strip(), line.strip()
    if not prev or not cur:
        return False
    if prev.endswith(("、", "，", ",")):
        return True
    if cur[0] in _BULLETS and prev[0] in _BULLETS:
        return True  # siblings of one list
    return "\u3041" <= cur[0] <= "\u309f" and prev[0] in _BULLETS  # "…の３つを掲げ" after a list


def _blocks(text: str) -> list[tuple[int, int]]:
    """Runs of lines that belong together (see :func:`_continues`), as spans of ``text``."""
    blocks: list[tuple[int, int]] = []
    pos = 0
    previous = ""
    for line in text.split("\n"):
        end = pos + len(line)
        if blocks and _continues(previous, line):
            blocks[-1] = (blocks[-1][0], end)
        else:
            blocks.append((pos, end))
        previous = line
        pos = end + 1
    return blocks


def _content_chars(text: str) -> int:
    return sum(1 for ch in text if ch.isalnum())


def _absorb_fragments(
    text: str, spans: list[tuple[int, int]], max_chars: int
) -> list[tuple[int, int]]:
    """Join each span with fewer than MIN_CONTENT_CHARS letters to the next span (or the
    previous one), unless that would pass ``max_chars`` or the next span opens a footnote."""
    out = list(spans)
    i = 0
    while i < len(out):
        s, e = out[i]
        if _content_chars(text[s:e]) >= MIN_CONTENT_CHARS or len(out) == 1:
            i += 1
            continue
        if (
            i + 1 < len(out)
            and out[i + 1][1] - s <= max_chars
            and not _NOTE_MARKER.match(text, out[i + 1][0])
        ):
            out[i : i + 2] = [(s, out[i + 1][1])]
        elif i > 0 and e - out[i - 1][0] <= max_chars and not _NOTE_MARKER.match(text, s):
            out[i - 1 : i + 1] = [(out[i - 1][0], e)]
            i -= 1
        else:
            i += 1
    return out


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``: split after 。 outside brackets and at line
    breaks, surrounding whitespace left out."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for para in text.split("\n"):
        for s, e in _sentences(para):
            stripped = _strip(para, s, e)
            if stripped is not None:
                spans.append((stripped[0] + pos, stripped[1] + pos))
        pos += len(para) + 1
    return spans


def _sentences(para: str) -> list[tuple[int, int]]:
    """Split a paragraph after each 。 outside brackets (closing brackets stay attached)."""
    spans = []
    start = 0
    depth = 0
    n = len(para)
    i = 0
    while i < n:
        c = para[i]
        if c in _OPENERS:
            depth += 1
        elif c in _CLOSERS:
            depth = max(0, depth - 1)
        elif c == "。" and depth == 0:
            i += 1
            while i < n and (para[i] in _CLOSERS or para[i] == "。"):
                i += 1
            spans.append((start, i))
            start = i
            continue
        i += 1
    if start < n:
        spans.append((start, n))
    return spans


def _strip(text: str, s: int, e: int) -> tuple[int, int] | None:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return (s, e) if s < e else None


def _hard_split(text: str, s: int, e: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut a stripped span longer than max_chars after its last 、 in reach, else at max_chars."""
    out = []
    span = _strip(text, s, e)
    while span is not None:
        s, e = span
        if e - s <= max_chars:
            out.append(span)
            break
        limit = s + max_chars
        cut = max(text.rfind(ch, s, limit) for ch in _SOFT_BREAKS) + 1
        if cut <= s:
            cut = limit
        head = _strip(text, s, cut)
        if head is not None:
            out.append(head)
        span = _strip(text, cut, e)
    return out


def _merge(units: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """Greedily merge consecutive units while the merged span stays within max_chars."""
    merged: list[tuple[int, int]] = []
    for s, e in units:
        if merged and e - merged[-1][0] <= max_chars:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


_NOTE_MARKER = re.compile(r"[（(]注\s*([0-9０-９]+)\s*[）)]")


def cited_footnotes(text: str) -> list[int]:
    """Numbers of the footnote markers such as （注２） that ``text`` cites, in order."""
    return [int(unicodedata.normalize("NFKC", m.group(1))) for m in _NOTE_MARKER.finditer(text)]


def footnote_spans(notes: str) -> dict[int, tuple[int, int]]:
    """Footnote number → (start, end) of that footnote in ``notes``: from its marker at the
    start of a line to the next marker, trailing whitespace excluded."""
    heads = [
        m for m in _NOTE_MARKER.finditer(notes) if m.start() == 0 or notes[m.start() - 1] == "\n"
    ]
    spans: dict[int, tuple[int, int]] = {}
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(notes)
        while end > m.start() and notes[end - 1].isspace():
            end -= 1
        spans[int(unicodedata.normalize("NFKC", m.group(1)))] = (m.start(), end)
    return spans


def footnote_links(
    measures: Sequence[Measure], passages: Sequence[Passage]
) -> dict[int, tuple[int, ...]]:
    """Map each passage that cites a footnote marker such as （注２） to the note passages of
    that footnote in the same measure."""
    spans = {m.key: footnote_spans(m.notes) for m in measures}
    notes: dict[tuple[tuple[str, int], int], list[int]] = {}
    for passage in passages:
        if passage.field != "note":
            continue
        for number, (start, end) in spans.get(passage.measure_key, {}).items():
            if start <= passage.start < end:
                notes.setdefault((passage.measure_key, number), []).append(passage.id)
    links: dict[int, tuple[int, ...]] = {}
    for passage in passages:
        if passage.field == "note":
            continue
        cited = cited_footnotes(passage.text)
        targets = [pid for n in cited for pid in notes.get((passage.measure_key, n), [])]
        if targets:
            links[passage.id] = tuple(dict.fromkeys(targets))
    return links
