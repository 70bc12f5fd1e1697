"""Terminal output of the CLI with ``rich``: colour on a terminal only (never when piped, never
with ``NO_COLOR``; ``FORCE_COLOR`` forces it), tables measured in terminal cells so Japanese
text lines up, one line per excerpt."""

from __future__ import annotations

from functools import cache

from rich.console import Console
from rich.table import Table
from rich.text import Text

from service.text import Excerpt, excerpt

# The page's status colours (service/http/static/style.css, service/plots.py).
STATUS_STYLES: dict[str, str] = {
    "実施中": "bold #1d5fd1",
    "実施済み": "bold #14803c",
    "検討中": "bold #c2570c",
}
RELEVANCE_BARS: dict[str, str] = {"high": "●●●", "medium": "●●○", "low": "●○○"}
MATCH_STYLE = "bold black on #ffe066"


@cache
def console() -> Console:
    """Standard output. Rich reads NO_COLOR, FORCE_COLOR and COLUMNS itself; off a terminal
    it writes plain text."""
    return Console(highlight=False, emoji=False, soft_wrap=False)


@cache
def error_console() -> Console:
    return Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)


def status_text(status: str, english: str | None = None) -> Text:
    label = f"{status} ({english})" if english else status
    return Text(label, style=STATUS_STYLES.get(status, "bold"))


def relevance_text(level: str) -> Text:
    return Text(f"{RELEVANCE_BARS.get(level, '')} {level}", style="dim" if level == "low" else "")


def chars_for(cells: int) -> int:
    """How many characters of Japanese text fit ``cells`` terminal cells (two cells each)."""
    return max(16, cells // 2)


def marked_line(text: str, cells: int, spans: list[tuple[int, int]] | None = None) -> Text:
    """``text`` on one line of at most ``cells`` cells, centred on the first span, the spans in
    the highlight style."""
    cut: Excerpt = excerpt(text, chars_for(cells), spans or [])
    line = Text(cut.text, no_wrap=True, overflow="ellipsis")
    for start, end in cut.spans:
        line.stylize(MATCH_STYLE, start, end)
    return line


def table(*columns: str, right: tuple[str, ...] = (), rest: str | None = None) -> Table:
    """A borderless table whose widths are terminal cells; columns named in ``right`` are
    right-aligned, the ``rest`` column takes the remaining width and ends in "…" when cut
    (print it with :func:`print_table`)."""
    grid = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    for name in columns:
        grid.add_column(
            name,
            justify="right" if name in right else "left",
            no_wrap=True,
            overflow="ellipsis",
            ratio=1 if name == rest else None,
        )
    return grid


def print_table(grid: Table) -> None:
    """Print ``grid``: every column at its full width but the flexible one, which gets the
    rest of the line (rich would otherwise shrink every column alike)."""
    out = console()
    fixed = 0
    flexible = None
    for column in grid.columns:
        if column.ratio is None:
            cells = [Text(str(column.header))] + [
                cell if isinstance(cell, Text) else Text(str(cell)) for cell in column.cells
            ]
            column.width = max(cell.cell_len for cell in cells)
            fixed += column.width
        else:
            flexible = column
    if flexible is not None:
        flexible.ratio = None
        flexible.width = max(10, out.width - fixed - 2 * (len(grid.columns) - 1))
    out.print(grid)
