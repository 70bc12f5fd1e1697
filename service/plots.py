"""Figures for researchers: a 2-D map of the measures and their similarity heatmap.

PNG and SVG are drawn with matplotlib (no pyplot: a bare ``Figure``, safe in any thread);
HTML with plotly, self-contained (the plotly library is embedded; nothing is fetched).
Image text is ASCII (numbers, English status names), so no Japanese font is needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.records import STATUS_EN, STATUSES
from service.errors import InvalidRequest
from service.research import MeasureMap, SimilarityMatrix
from service.text import shorten

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


# ---- label placement -------------------------------------------------------------------


def place_labels(
    points: np.ndarray,
    bounds: tuple[float, float],
    *,
    clearance: float = 16.0,
    label_gap: float = 20.0,
    leader: float = 24.0,
    iterations: int = 400,
) -> np.ndarray:
    """Positions for one label per point (all in pixels), clear of every point and label.

    Each label starts ``leader`` pixels from its point, pointing away from its nearest
    neighbours, then a relaxation step pushes labels off points (closer than ``clearance``)
    and off each other (closer than ``label_gap``) while a spring keeps each near its point.
    """
    pts = np.asarray(points, dtype=np.float64)
    n = len(pts)
    if n == 0:
        return pts.copy()
    width, height = bounds
    rng = np.random.default_rng(0)
    directions = np.zeros_like(pts)
    for i in range(n):
        d = pts[i] - pts
        dist = np.linalg.norm(d, axis=1)
        dist[i] = np.inf
        near = np.argsort(dist)[: min(4, n - 1)]
        if len(near):
            weights = 1.0 / np.maximum(dist[near], 1.0)
            away = (d[near] * weights[:, None]).sum(axis=0)
        else:
            away = np.zeros(2)
        if np.linalg.norm(away) < 1e-9:
            away = rng.normal(size=2)
        directions[i] = away / np.linalg.norm(away)
    labels = pts + leader * directions
    margin = 10.0
    for step in range(iterations):
        push = np.zeros_like(labels)
        # labels off points
        d = labels[:, None, :] - pts[None, :, :]
        dist = np.linalg.norm(d, axis=2)
        overlap = np.clip(clearance - dist, 0.0, None)
        unit = d / np.maximum(dist, 1e-6)[:, :, None]
        push += (unit * overlap[:, :, None]).sum(axis=1)
        # labels off labels
        d = labels[:, None, :] - labels[None, :, :]
        dist = np.linalg.norm(d, axis=2)
        np.fill_diagonal(dist, np.inf)
        overlap = np.clip(label_gap - dist, 0.0, None)
        unit = d / np.maximum(dist, 1e-6)[:, :, None]
        push += 0.5 * (unit * overlap[:, :, None]).sum(axis=1)
        # spring towards leader length
        d = labels - pts
        dist = np.linalg.norm(d, axis=1)
        unit = d / np.maximum(dist, 1e-6)[:, None]
        push -= 0.1 * ((dist - leader)[:, None] * unit)
        jitter = rng.normal(scale=0.3, size=labels.shape) if step < iterations // 2 else 0.0
        labels = labels + 0.5 * push + jitter
        labels[:, 0] = np.clip(labels[:, 0], margin, width - margin)
        labels[:, 1] = np.clip(labels[:, 1], margin, height - margin)
    return labels


def _limits(values: np.ndarray) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.1 or 1.0
    return low - pad, high + pad


@dataclass(frozen=True)
class _MapLayout:
    xs: np.ndarray
    ys: np.ndarray
    label_xs: np.ndarray
    label_ys: np.ndarray
    xlim: tuple[float, float]
    ylim: tuple[float, float]


def _map_layout(data: MeasureMap, width: int, height: int) -> _MapLayout:
    xs = np.array([p.x for p in data.points])
    ys = np.array([p.y for p in data.points])
    xlim, ylim = _limits(xs), _limits(ys)
    ax_w = width * _MAP_AXES[2]
    ax_h = height * _MAP_AXES[3]
    to_px = np.column_stack(
        [
            (xs - xlim[0]) / (xlim[1] - xlim[0]) * ax_w,
            (ys - ylim[0]) / (ylim[1] - ylim[0]) * ax_h,
        ]
    )
    labels = place_labels(to_px, (ax_w, ax_h))
    label_xs = xlim[0] + labels[:, 0] / ax_w * (xlim[1] - xlim[0])
    label_ys = ylim[0] + labels[:, 1] / ax_h * (ylim[1] - ylim[0])
    return _MapLayout(xs, ys, label_xs, label_ys, xlim, ylim)


# ---- the map ---------------------------------------------------------------------------


def draw_map(data: MeasureMap, out: Path, width: int = 1200, height: int = 900) -> FigureSummary:
    """Write the measure map to ``out`` (.png, .svg or .html)."""
    fmt = figure_format(out)
    check_size(width, height)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    layout = _map_layout(data, width, height)
    title = (
        f"{len(data.points)} measures: PCA of whole-measure embeddings "
        f"(PC1 {data.explained[0]:.0%}, PC2 {data.explained[1]:.0%} of variance)"
    )
    if fmt == "html":
        _map_html(data, layout, out, width, height, title)
    else:
        _map_matplotlib(data, layout, out, fmt, width, height, title)
    logger.info("wrote measure map %s", out)
    return FigureSummary(out, fmt, width, height)


def _map_matplotlib(
    data: MeasureMap,
    layout: _MapLayout,
    out: Path,
    fmt: str,
    width: int,
    height: int,
    title: str,
) -> None:
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    ax = fig.add_axes(_MAP_AXES)
    statuses = [p.measure.status for p in data.points]
    for i, point in enumerate(data.points):
        ax.annotate(
            str(point.measure.number),
            xy=(layout.xs[i], layout.ys[i]),
            xytext=(layout.label_xs[i], layout.label_ys[i]),
            textcoords="data",
            ha="center",
            va="center",
            fontsize=10,
            color="#1f2933",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85},
            arrowprops={
                "arrowstyle": "-",
                "color": "#8a94a6",
                "lw": 0.7,
                "shrinkA": 0,
                "shrinkB": 4,
            },
            zorder=3,
        )
    ax.scatter(
        layout.xs,
        layout.ys,
        s=70,
        c=[STATUS_COLOURS[s] for s in statuses],
        edgecolors="white",
        linewidths=0.8,
        zorder=4,
    )
    ax.set_xlim(*layout.xlim)
    ax.set_ylim(*layout.ylim)
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
    ax.legend(handles=handles, loc="best", frameon=True, framealpha=0.9, title="status")
    fig.savefig(out, format=fmt, dpi=DPI)


def _map_html(
    data: MeasureMap, layout: _MapLayout, out: Path, width: int, height: int, title: str
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
        fig.add_annotation(
            x=layout.xs[i],
            y=layout.ys[i],
            ax=layout.label_xs[i],
            ay=layout.label_ys[i],
            axref="x",
            ayref="y",
            text=str(point.measure.number),
            showarrow=True,
            arrowhead=0,
            arrowwidth=0.8,
            arrowcolor="#8a94a6",
            standoff=5,
            bgcolor="rgba(255,255,255,0.85)",
            font={"size": 12},
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
    out.parent.mkdir(parents=True, exist_ok=True)
    title = "Cosine similarity of whole-measure embeddings"
    if fmt == "html":
        _heatmap_html(matrix, out, width, height, title)
    else:
        _heatmap_matplotlib(matrix, out, fmt, width, height, title)
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
