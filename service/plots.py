"""Figures for researchers: a 2-D map of the measures and their similarity heatmap.

PNG and SVG are drawn with matplotlib (no pyplot: a bare ``Figure``, safe in any thread);
HTML with plotly, self-contained (the plotly library is embedded; nothing is fetched). Map
labels are placed by adjustText so that none overlaps another or a point; they carry each
measure's short title when a Japanese font is installed (fonts-noto-cjk), its number alone
otherwise. Every other text is ASCII.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from indexer.records import STATUS_EN, STATUSES
from service.errors import InvalidRequest
from service.research import MeasureMap, SimilarityMatrix
from service.text import shorten
from service.user_files import written_whole

logger = logging.getLogger(__name__)

# The same colours as the search page's status badges (service/static/style.css).
STATUS_COLOURS: dict[str, str] = {
    "実施中": "#1d5fd1",  # in progress: blue
    "実施済み": "#14803c",  # implemented: green
    "検討中": "#c2570c",  # under consideration: orange
}
IMAGE_FORMATS = ("png", "svg", "html")
DPI = 100

# Axes rectangle inside the figure, as fractions (left, bottom, width, height).
_MAP_AXES = (0.07, 0.08, 0.9, 0.84)


@dataclass(frozen=True)
class FigureSummary:
    path: Path
    format: str
    width: int  # pixels (PNG/HTML); SVG is written at the same size in points × 72/DPI
    height: int


def figure_format(out: Path) -> str:
    fmt = Path(out).suffix.lower().lstrip(".")
    if fmt not in IMAGE_FORMATS:
        raise InvalidRequest(
            f"cannot tell the format of {str(out)!r}: name the file .png, .svg or .html"
        )
    return fmt


def check_size(width: int, height: int) -> None:
    for name, value in (("width", width), ("height", height)):
        if not 200 <= value <= 8000:
            raise InvalidRequest(f"{name} must be 200–8000 pixels (got {value})")


# ---- the map ---------------------------------------------------------------------------

# Fonts with Japanese glyphs, best first; without one the labels are numbers only (ASCII).
JAPANESE_FONTS = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "TakaoGothic",
    "Noto Serif CJK JP",
)
LABEL_SIZE = 8.5


def japanese_font() -> str | None:
    """The first installed font of :data:`JAPANESE_FONTS`, or None."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in JAPANESE_FONTS if name in installed), None)


def map_labels(data: MeasureMap, font: str | None) -> list[str]:
    """One label per point: the number and short title (the number alone without a font that
    can draw the title)."""
    return [
        f"{p.measure.number} {p.title}" if font and p.title else str(p.measure.number)
        for p in data.points
    ]


@dataclass(frozen=True)
class MapLayout:
    """Where everything of the map goes: points and labels in data coordinates, and each
    label's box in pixels (for checks that no two overlap)."""

    xs: np.ndarray
    ys: np.ndarray
    label_xs: np.ndarray
    label_ys: np.ndarray
    labels: tuple[str, ...]
    boxes: tuple[tuple[float, float, float, float], ...]  # x0, y0, x1, y1 in pixels
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def _limits(values: np.ndarray) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.1 or 1.0
    return low - pad, high + pad


def _map_figure(data: MeasureMap, width: int, height: int) -> tuple[Any, MapLayout]:
    """The map drawn with matplotlib, its labels moved off each other and off the points
    by adjustText, and where they ended up."""
    from adjustText import adjust_text
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    xs = np.array([p.x for p in data.points])
    ys = np.array([p.y for p in data.points])
    xlim, ylim = _limits(xs), _limits(ys)
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_axes(_MAP_AXES)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    statuses = [p.measure.status for p in data.points]
    dots = ax.scatter(
        xs,
        ys,
        s=70,
        c=[STATUS_COLOURS[s] for s in statuses],
        edgecolors="white",
        linewidths=0.8,
        zorder=4,
    )
    font = japanese_font()
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    labels = map_labels(data, font)
    texts = [
        ax.text(
            x,
            y,
            label,
            fontsize=LABEL_SIZE,
            family=family,
            color="#1f2933",
            ha="center",
            va="center",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
        )
        for x, y, label in zip(xs, ys, labels, strict=True)
    ]
    np.random.seed(0)  # adjustText jitters with numpy's global generator: one map per input
    adjust_text(
        texts,
        x=xs,
        y=ys,
        objects=dots,
        ax=ax,
        expand=(1.1, 1.35),
        force_text=(0.3, 0.5),
        force_static=(0.2, 0.4),
        ensure_inside_axes=True,
        iter_lim=600,
    )
    # adjustText stops after its iterations; a crowded small map may keep a few overlaps,
    # which a last pass pushes apart (in pixels, inside the axes).
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    found = np.array([t.get_window_extent(renderer).extents for t in texts], dtype=np.float64)
    area = ax.get_window_extent(renderer).extents
    x0, y0, x1, y1 = (float(v) for v in area)
    moved = separate_boxes(found, (x0, y0, x1, y1))
    to_data = ax.transData.inverted()
    for text, before, after in zip(texts, found, moved, strict=True):
        shift = (after[:2] + after[2:]) / 2 - (before[:2] + before[2:]) / 2
        if shift.any():
            x, y = ax.transData.transform(text.get_position())
            new_x, new_y = to_data.transform((x + shift[0], y + shift[1]))
            text.set_position((float(new_x), float(new_y)))
    for text, x, y in zip(texts, xs, ys, strict=True):
        ax.annotate(
            "",
            xy=(x, y),
            xytext=text.get_position(),
            arrowprops={"arrowstyle": "-", "color": "#8a94a6", "lw": 0.7, "shrinkA": 0},
            zorder=3,
        )
    boxes = tuple(tuple(t.get_window_extent(renderer).extents) for t in texts)
    label_xy = np.array([t.get_position() for t in texts], dtype=np.float64)
    layout = MapLayout(
        xs=xs,
        ys=ys,
        label_xs=label_xy[:, 0],
        label_ys=label_xy[:, 1],
        labels=tuple(labels),
        boxes=boxes,  # type: ignore[arg-type]
        xlim=xlim,
        ylim=ylim,
    )
    return fig, layout


def separate_boxes(
    boxes: np.ndarray, area: tuple[float, float, float, float], gap: float = 4.0
) -> np.ndarray:
    """``boxes`` (x0, y0, x1, y1 rows) moved the least, in turns, until no two overlap (or
    after 500 rounds), each kept inside ``area``."""
    out = np.array(boxes, dtype=np.float64)
    n = len(out)
    for _ in range(500):
        clear = True
        for i in range(n):
            for j in range(i + 1, n):
                a, b = out[i], out[j]
                dx = min(a[2], b[2]) - max(a[0], b[0]) + gap
                dy = min(a[3], b[3]) - max(a[1], b[1]) + gap
                if dx <= 0 or dy <= 0:
                    continue
                clear = False
                if dx < dy:
                    sign = 1.0 if (a[0] + a[2]) >= (b[0] + b[2]) else -1.0
                    out[i, [0, 2]] += sign * dx / 2
                    out[j, [0, 2]] -= sign * dx / 2
                else:
                    sign = 1.0 if (a[1] + a[3]) >= (b[1] + b[3]) else -1.0
                    out[i, [1, 3]] += sign * dy / 2
                    out[j, [1, 3]] -= sign * dy / 2
        for box in out:  # back inside the axes
            for low, high in ((0, 2), (1, 3)):
                if box[low] < area[low]:
                    box[[low, high]] += area[low] - box[low]
                if box[high] > area[high]:
                    box[[low, high]] -= box[high] - area[high]
        if clear:
            break
    return out


def map_layout(data: MeasureMap, width: int = 1200, height: int = 900) -> MapLayout:
    """Where the map's points and labels go at this size."""
    return _map_figure(data, width, height)[1]


def draw_map(data: MeasureMap, out: Path, width: int = 1200, height: int = 900) -> FigureSummary:
    """Write the measure map to ``out`` (.png, .svg or .html)."""
    fmt = figure_format(out)
    check_size(width, height)
    out = Path(out)
    title = (
        f"{len(data.points)} measures: PCA of whole-measure embeddings "
        f"(PC1 {data.explained[0]:.0%}, PC2 {data.explained[1]:.0%} of variance)"
    )
    fig, layout = _map_figure(data, width, height)
    with written_whole(out) as temporary:
        if fmt == "html":
            _map_html(data, layout, temporary, width, height, title)
        else:
            _finish_map(fig, title)
            fig.savefig(temporary, format=fmt, dpi=DPI)
    logger.info("wrote measure map %s", out)
    return FigureSummary(out, fmt, width, height)


def _finish_map(fig: Any, title: str) -> None:
    from matplotlib.lines import Line2D

    ax = fig.axes[0]
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.grid(True, color="#e5e8ee", lw=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.suptitle(title, fontsize=12)
    handles = [
        Line2D(
            [0],
            [0],
            marker="o",
            ls="",
            markersize=8,
            markerfacecolor=STATUS_COLOURS[s],
            markeredgecolor="white",
            label=STATUS_EN[s],
        )
        for s in STATUSES
    ]
    ax.legend(handles=handles, loc="lower right", frameon=True, framealpha=0.9, title="status")


def _map_html(
    data: MeasureMap, layout: MapLayout, out: Path, width: int, height: int, title: str
) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    for status in STATUSES:
        rows = [i for i, p in enumerate(data.points) if p.measure.status == status]
        fig.add_trace(
            go.Scatter(
                x=layout.xs[rows],
                y=layout.ys[rows],
                mode="markers",
                name=STATUS_EN[status],
                marker={
                    "size": 11,
                    "color": STATUS_COLOURS[status],
                    "line": {"color": "white", "width": 1},
                },
                customdata=[
                    [
                        data.points[i].measure.number,
                        status,
                        shorten(data.points[i].measure.target, 80),
                    ]
                    for i in rows
                ],
                hovertemplate="施策 %{customdata[0]} (%{customdata[1]})<br>%{customdata[2]}"
                "<extra></extra>",
            )
        )
    for i, point in enumerate(data.points):
        # A browser has Japanese fonts: the title goes on the label whatever the server has.
        label = f"{point.measure.number} {point.title}".strip()
        fig.add_annotation(
            x=layout.xs[i],
            y=layout.ys[i],
            ax=layout.label_xs[i],
            ay=layout.label_ys[i],
            axref="x",
            ayref="y",
            text=label,
            showarrow=True,
            arrowhead=0,
            arrowwidth=0.8,
            arrowcolor="#8a94a6",
            standoff=5,
            bgcolor="rgba(255,255,255,0.85)",
            font={"size": 11},
        )
    fig.update_layout(
        title=title,
        width=width,
        height=height,
        template="plotly_white",
        xaxis={"title": "PC1", "range": list(layout.xlim)},
        yaxis={"title": "PC2", "range": list(layout.ylim)},
        legend={"title": "status"},
    )
    fig.write_html(out, include_plotlyjs=True, full_html=True)


# ---- the heatmap -----------------------------------------------------------------------


def draw_heatmap(
    matrix: SimilarityMatrix, out: Path, width: int = 1000, height: int = 900
) -> FigureSummary:
    """Write the measure-by-measure similarity heatmap to ``out`` (.png, .svg or .html)."""
    fmt = figure_format(out)
    check_size(width, height)
    out = Path(out)
    title = "Cosine similarity of whole-measure embeddings"
    with written_whole(out) as temporary:
        if fmt == "html":
            _heatmap_html(matrix, temporary, width, height, title)
        else:
            _heatmap_matplotlib(matrix, temporary, fmt, width, height, title)
    logger.info("wrote similarity heatmap %s", out)
    return FigureSummary(out, fmt, width, height)


def _off_diagonal_range(values: np.ndarray) -> tuple[float, float]:
    mask = ~np.eye(len(values), dtype=bool)
    off = values[mask] if mask.any() else values.ravel()
    return float(off.min()), float(off.max())


def _heatmap_matplotlib(
    matrix: SimilarityMatrix, out: Path, fmt: str, width: int, height: int, title: str
) -> None:
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes((0.08, 0.13, 0.74, 0.8))
    cax = fig.add_axes((0.85, 0.13, 0.025, 0.8))
    low, high = _off_diagonal_range(matrix.values)
    image = ax.imshow(matrix.values, cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
    labels = [str(n) for n in matrix.numbers]
    ticks = np.arange(len(labels))
    font = max(5, min(9, int(560 / max(len(labels), 1))))
    ax.set_xticks(ticks, labels, fontsize=font)
    ax.set_yticks(ticks, labels, fontsize=font)
    for tick_list in (ax.get_xticklabels(), ax.get_yticklabels()):
        for tick, status in zip(tick_list, matrix.statuses, strict=True):
            tick.set_color(STATUS_COLOURS[status])
            tick.set_fontweight("bold")
    ax.set_xlabel("measure")
    ax.set_ylabel("measure")
    ax.set_title(title, fontsize=12)
    fig.colorbar(image, cax=cax, label="cosine similarity (diagonal = 1, off scale)")
    fig.legend(
        handles=[Patch(color=STATUS_COLOURS[s], label=STATUS_EN[s]) for s in STATUSES],
        loc="lower center",
        bbox_to_anchor=(0.45, 0.0),
        ncol=3,
        frameon=False,
        title="label colour = status",
        fontsize=9,
        title_fontsize=9,
    )
    fig.savefig(out, format=fmt, dpi=DPI)


def _heatmap_html(matrix: SimilarityMatrix, out: Path, width: int, height: int, title: str) -> None:
    import plotly.graph_objects as go

    labels = [f"{n}" for n in matrix.numbers]
    low, high = _off_diagonal_range(matrix.values)
    fig = go.Figure(
        go.Heatmap(
            z=np.round(matrix.values, 4),
            x=labels,
            y=labels,
            colorscale="Viridis",
            zmin=low,
            zmax=high,
            colorbar={"title": "cosine"},
            hovertemplate="施策 %{y} × 施策 %{x}: %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        width=width,
        height=height,
        template="plotly_white",
        xaxis={"title": "measure", "type": "category"},
        yaxis={"title": "measure", "type": "category", "autorange": "reversed"},
    )
    fig.write_html(out, include_plotlyjs=True, full_html=True)
