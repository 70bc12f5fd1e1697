"""Text helpers shared by every front end: one-line excerpts centred on a match, counted
nouns, sources listed once."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# How the CLI and MCP texts name a measure's fields (the page has its own, in two languages).
FIELD_LABELS: dict[str, str] = {
    "target": "recommended measure",
    "explanation": "status explanation",
    "note": "note",
}


def shorten(text: str, width: int) -> str:
    """``text`` on one line (whitespace collapsed), cut to ``width`` characters with "…"."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class Excerpt:
    """One line of text and the marked spans within it."""

    text: str
    spans: tuple[tuple[int, int], ...] = ()


def excerpt(text: str, width: int, spans: Sequence[tuple[int, int]] = ()) -> Excerpt:
    """``text`` on one line (whitespace collapsed), cut to at most ``width`` characters around
    the first of ``spans`` (the best match: it starts a third of the way in), "…" where text was
    cut. The spans that remain visible come back in the excerpt's offsets."""
    kept: list[str] = []
    origin: list[int] = []  # offset in ``text`` of each kept character
    for i, ch in enumerate(text):
        if ch.isspace():
            if not kept or kept[-1] == " ":
                continue
            ch = " "
        kept.append(ch)
        origin.append(i)
    while kept and kept[-1] == " ":
        kept.pop()
        origin.pop()
    flat = "".join(kept)

    def flat_offset(offset: int) -> int:
        return bisect_left(origin, offset)

    marked = [(flat_offset(s), flat_offset(e)) for s, e in spans if e > s]
    begin, stop = 0, len(flat)
    if len(flat) > width:
        room = max(1, width - 2)
        if marked:
            first_start, first_end = marked[0]
            length = min(first_end - first_start, room)
            begin = max(0, first_start - (room - length) // 3)
            stop = min(len(flat), begin + room)
            begin = max(0, stop - room)
        else:
            stop = max(1, width - 1)
    head = "…" if begin > 0 else ""
    tail = "…" if stop < len(flat) else ""
    shift = len(head) - begin
    visible = tuple(
        (max(s, begin) + shift, min(e, stop) + shift) for s, e in marked if s < stop and e > begin
    )
    return Excerpt(head + flat[begin:stop] + tail, visible)


def count_noun(count: int, singular: str, plural: str | None = None) -> str:
    """``1 result``, ``2 results`` (``plural`` for irregular nouns)."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def sources(citations: Iterable[tuple[int, str]]) -> list[tuple[int, tuple[str, ...]]]:
    """Each cited measure once, in order of first citation, with the fields quoted from it."""
    grouped: dict[int, list[str]] = {}
    for number, field in citations:
        fields = grouped.setdefault(number, [])
        if field not in fields:
            fields.append(field)
    return [(number, tuple(fields)) for number, fields in grouped.items()]


# How a change between two editions is marked in plain text (CLI, MCP): status, a sentence
# added or removed, the recommendation reworded.
CHANGE_MARKS = {"status": "*", "added": "+", "removed": "-", "target": "~"}
