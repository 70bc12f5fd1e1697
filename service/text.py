"""Text helpers shared by every front end: one-line excerpts."""

from __future__ import annotations


def shorten(text: str, width: int) -> str:
    """``text`` on one line (whitespace collapsed), cut to ``width`` characters with "…"."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
