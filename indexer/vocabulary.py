"""Word lists kept as data files in ``indexer/vocab/`` (see its README), read once each."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

_PACKAGE = "indexer"
_FOLDER = "vocab"


def _lines(name: str) -> list[str]:
    text = files(_PACKAGE).joinpath(_FOLDER, name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@cache
def word_list(name: str) -> frozenset[str]:
    """The words of ``vocab/<name>``, one a line."""
    return frozenset(_lines(name))


@cache
def concept_table(name: str) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    """Rows of a two-column TSV (with a header) of ``|``-separated alternatives."""
    rows = []
    for line in _lines(name)[1:]:
        english, japanese = line.split("\t")
        rows.append((tuple(english.split("|")), tuple(japanese.split("|"))))
    return tuple(rows)
