"""Chart drawing with matplotlib's object API (Figure + Agg canvas, never pyplot).

Imported only inside the renderer's child processes: the service process never loads matplotlib.
"""

from __future__ import annotations

import io
import math

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.reports.chart_model import NO_DATA, ChartData, Series

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 100  # 800 x 450 px: readable on a phone held upright
PALETTE = ("#4E79A7", "#59A14F", "#F28E2B", "#76B7B2", "#EDC948", "#B07AA1", "#9C755F")
MUTED = "#A8B0B8"
INK = "#2B2B2B"
SOFT_INK = "#6B6B6B"
GRID = "#E6E6E6"
MAX_BARS = 8


def setup(font_path: str) -> str:
    """Register the CJK font file by path and make it the default family; returns its name."""
    before = len(font_manager.fontManager.ttflist)
    font_manager.fontManager.addfont(font_path)
    added = font_manager.fontManager.ttflist[before:] or [
        entry for entry in font_manager.fontManager.ttflist if entry.fname == font_path
    ]
    # A .ttc holds several faces; Noto's "SC" face has the simplified-Chinese glyph forms.
    names = [entry.name for entry in added if "Mono" not in entry.name]
    name = next((n for n in names if n.endswith(" SC")), names[0] if names else None)
    if name is None:
        name = font_manager.FontProperties(fname=font_path).get_name()
    matplotlib.rcParams.update(
        {
            "font.family": [name],
            "axes.unicode_minus": False,  # U+2212 is not in every CJK font
            "font.size": 12,
            "axes.edgecolor": "#BBBBBB",
            "axes.labelcolor": SOFT_INK,
            "xtick.color": SOFT_INK,
            "ytick.color": SOFT_INK,
            "text.color": INK,
            "svg.fonttype": "none",
        }
    )
    return name


def _figure(data: ChartData) -> Figure:
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    figure.text(0.035, 0.915, data.title, fontsize=19, color=INK)
    figure.text(0.035, 0.855, data.subtitle, fontsize=11.5, color=SOFT_INK)
    return figure


def _plain_axes(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(length=0, labelsize=12)


def _format(value: float, unit: str) -> str:
    if unit == "percent":
        return f"{value:.0f}%"
    if unit == "hours":
        return f"{value:.1f} 小时"
    return f"{value:,.0f}"


def _draw_empty(figure: Figure) -> None:
    ax = figure.add_axes((0.05, 0.05, 0.9, 0.72))
    ax.set_axis_off()
    ax.text(0.5, 0.5, NO_DATA, ha="center", va="center", fontsize=22, color=MUTED)


def _draw_donut(figure: Figure, data: ChartData) -> None:
    values = [v or 0.0 for v in data.series[0].values]
    total = sum(values)
    ax = figure.add_axes((0.02, 0.03, 0.5, 0.8))
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(values))]
    wedges, _ = ax.pie(
        values,
        colors=colors,
        startangle=90,
        counterclock=False,
        wedgeprops={"width": 0.4, "edgecolor": "white", "linewidth": 2},
    )
    for wedge, value in zip(wedges, values, strict=True):
        share = value / total if total else 0
        if share < 0.06:
            continue  # too thin for a readable label; the legend carries it
        angle = math.radians((wedge.theta1 + wedge.theta2) / 2)
        ax.text(
            0.8 * math.cos(angle),
            0.8 * math.sin(angle),
            f"{share:.0%}",
            ha="center",
            va="center",
            fontsize=13,
            color="white",
        )
    ax.text(0, 0.08, f"{total:,.0f}", ha="center", va="center", fontsize=24, color=INK)
    ax.text(0, -0.16, "起投诉", ha="center", va="center", fontsize=12, color=SOFT_INK)
    ax.set_aspect("equal")
    labels = [
        f"{name}　{value:,.0f} 起（{value / total:.0%}）" if total else name
        for name, value in zip(data.categories, values, strict=True)
    ]
    legend_ax = figure.add_axes((0.53, 0.05, 0.45, 0.76))
    legend_ax.set_axis_off()
    legend_ax.legend(
        wedges,
        labels,
        loc="center left",
        frameon=False,
        fontsize=14,
        handlelength=1.2,
        labelspacing=0.9,
    )


def _line_values(series: Series) -> list[float]:
    return [math.nan if v is None else v for v in series.values]


def _draw_line(figure: Figure, data: ChartData) -> None:
    ax = figure.add_axes((0.085, 0.12, 0.885, 0.66))
    _plain_axes(ax)
    positions = list(range(len(data.categories)))
    top = 0.0
    for index, series in enumerate(data.series):
        values = _line_values(series)
        top = max([top, *(v for v in values if not math.isnan(v))])
        if series.muted:
            ax.plot(positions, values, color=MUTED, linewidth=2, linestyle="--", label=series.name)
            continue
        color = PALETTE[index % len(PALETTE)]
        ax.plot(
            positions,
            values,
            color=color,
            linewidth=2.8,
            marker="o",
            markersize=5,
            label=series.name,
        )
        for x, y in zip(positions, values, strict=True):
            if not math.isnan(y):
                ax.annotate(
                    _format(y, data.unit),
                    (x, y),
                    textcoords="offset points",
                    xytext=(0, 7),
                    ha="center",
                    fontsize=10,
                    color=color,
                )
    ax.set_xticks(positions, list(data.categories))
    if data.unit == "percent":
        ax.set_ylim(0, 108)
        ax.yaxis.set_major_formatter(lambda value, _pos: f"{value:.0f}%")
    else:
        ax.set_ylim(0, top * 1.18 if top else 1)
    ax.yaxis.grid(True, color=GRID)
    ax.set_axisbelow(True)
    if len(data.series) > 1:
        ax.legend(
            loc="upper left",
            frameon=False,
            fontsize=11.5,
            ncols=len(data.series),
            bbox_to_anchor=(0, 1.1),
        )


def _draw_hbar(figure: Figure, data: ChartData) -> None:
    categories = list(data.categories)[:MAX_BARS]
    values = [v or 0.0 for v in data.series[0].values][:MAX_BARS]
    ax = figure.add_axes((0.25, 0.1, 0.7, 0.7))
    _plain_axes(ax)
    ax.spines["left"].set_visible(False)
    positions = list(range(len(values)))[::-1]  # first category on top
    ax.barh(positions, values, color=PALETTE[0], height=0.6)
    limit = 100.0 if data.unit == "percent" else max(values, default=0.0) or 1.0
    for y, value in zip(positions, values, strict=True):
        ax.text(
            value + limit * 0.015,
            y,
            _format(value, data.unit),
            va="center",
            fontsize=12.5,
            color=INK,
        )
    ax.set_yticks(positions, categories, fontsize=12.5)
    ax.set_xlim(0, limit * 1.2)
    if data.unit == "percent":
        ax.set_xticks(range(0, 101, 20))
        ax.xaxis.set_major_formatter(lambda value, _pos: f"{value:.0f}%")
    ax.xaxis.grid(True, color=GRID)
    ax.set_axisbelow(True)
    ax.set_xlabel(data.axis_label, fontsize=11)


def _draw_table(figure: Figure, data: ChartData) -> None:
    ax = figure.add_axes((0.04, 0.04, 0.92, 0.76))
    ax.set_axis_off()
    table = ax.table(
        cellText=[list(row) for row in data.rows],
        colLabels=list(data.columns),
        loc="center",
        cellLoc="center",
        colWidths=[0.3, 0.3, 0.4],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(15)
    table.scale(1, 2.0)
    for (row, _col), cell in table.get_celld().items():
        cell.set_edgecolor("white")
        if row == 0:
            cell.set_facecolor(PALETTE[0])
            cell.get_text().set_color("white")
        else:
            cell.set_facecolor("#F2F5F9" if row % 2 else "#FFFFFF")


DRAWERS = {"donut": _draw_donut, "line": _draw_line, "hbar": _draw_hbar, "table": _draw_table}


def draw_png(data: ChartData) -> bytes:
    """The chart as PNG bytes, 800 x 450 px."""
    figure = _figure(data)
    if data.is_empty:
        _draw_empty(figure)
    else:
        DRAWERS[data.kind](figure, data)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()
