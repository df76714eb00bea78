"""Dashboard charts as inline SVG/HTML from ChartData (pure; the server never imports matplotlib).

The digest's PNGs are drawn by matplotlib in a child process (bot/reports/renderer.py); the
console draws the same ChartData itself, so a page view costs no process and no font lookup.
Attributes only, no inline CSS (the console's CSP forbids it).
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from bot.reports.chart_model import NO_DATA, ChartData

PALETTE = ("#1c7ed6", "#f76707", "#37b24d", "#ae3ec9", "#f59f00", "#0ca678", "#e03131")
MUTED = "#adb5bd"
INK = "#343a40"
GRID = "#e9ecef"
FONT_SIZE = 12


def _number(value: float, unit: str) -> str:
    if unit == "percent":
        return f"{value:.0f}%"
    if unit == "hours":
        return f"{value:.1f}小时"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" '
        f'viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label={quoteattr(label)} '
        f'font-size="{FONT_SIZE}">{body}</svg>'
    )


def _empty() -> str:
    return f'<p class="chart-empty">{escape(NO_DATA)}</p>'


def donut(data: ChartData) -> str:
    """A ring of slices with a legend of counts and shares."""
    values = [max(v or 0.0, 0.0) for v in (data.series[0].values if data.series else ())]
    total = sum(values)
    if total <= 0:
        return _empty()
    cx, cy, outer, inner = 90, 90, 80, 48
    parts: list[str] = []
    angle = -math.pi / 2
    for index, value in enumerate(values):
        if value <= 0:
            continue
        color = PALETTE[index % len(PALETTE)]
        sweep = 2 * math.pi * value / total
        if sweep >= 2 * math.pi - 1e-9:  # one slice: two half rings (an arc cannot close)
            parts.append(
                f'<circle cx="{cx}" cy="{cy}" r="{(outer + inner) / 2}" fill="none" '
                f'stroke="{color}" stroke-width="{outer - inner}"/>'
            )
            break
        end = angle + sweep
        large = 1 if sweep > math.pi else 0
        x1, y1 = cx + outer * math.cos(angle), cy + outer * math.sin(angle)
        x2, y2 = cx + outer * math.cos(end), cy + outer * math.sin(end)
        x3, y3 = cx + inner * math.cos(end), cy + inner * math.sin(end)
        x4, y4 = cx + inner * math.cos(angle), cy + inner * math.sin(angle)
        parts.append(
            f'<path d="M{x1:.2f},{y1:.2f} A{outer},{outer} 0 {large} 1 {x2:.2f},{y2:.2f} '
            f'L{x3:.2f},{y3:.2f} A{inner},{inner} 0 {large} 0 {x4:.2f},{y4:.2f} Z" '
            f'fill="{color}"><title>{escape(data.categories[index])}：{value:.0f}</title></path>'
        )
        angle = end
    parts.append(
        f'<text x="{cx}" y="{cy}" text-anchor="middle" dominant-baseline="middle" '
        f'font-size="20" font-weight="600" fill="{INK}">{total:.0f}</text>'
    )
    legend = "".join(
        f'<li><span class="swatch swatch-{index % len(PALETTE)}"></span>'
        f"{escape(name)}<b>{value:.0f}</b><small>{value / total:.0%}</small></li>"
        for index, (name, value) in enumerate(zip(data.categories, values, strict=False))
    )
    return (
        '<div class="donut">'
        + _svg(180, 180, "".join(parts), data.title)
        + f'<ul class="legend">{legend}</ul></div>'
    )


def line(data: ChartData) -> str:
    """Lines over the categories; a muted series (the comparison) is drawn dashed and grey."""
    series = [s for s in data.series if any(v is not None for v in s.values)]
    if not series or data.is_empty:
        return _empty()
    width, height = 560, 220
    left, right, top, bottom = 40, 12, 14, 34
    count = max(len(data.categories), 1)
    peak = max((v for s in series for v in s.values if v is not None), default=0.0) or 1.0
    step = _nice_step(peak)
    ceiling = step * math.ceil(peak / step)
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(index: int, value: float) -> tuple[float, float]:
        x = left + (plot_w * index / (count - 1) if count > 1 else plot_w / 2)
        return x, top + plot_h * (1 - value / ceiling)

    parts: list[str] = []
    tick = 0.0
    while tick <= ceiling + 1e-9:
        y = top + plot_h * (1 - tick / ceiling)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{y:.1f}" text-anchor="end" dominant-baseline="middle" '
            f'fill="#868e96">{_number(tick, data.unit)}</text>'
        )
        tick += step
    every = max(1, math.ceil(count / 12))
    for index, name in enumerate(data.categories):
        if index % every == 0:
            x, _ = xy(index, 0)
            parts.append(
                f'<text x="{x:.1f}" y="{height - 12}" text-anchor="middle" fill="#868e96">'
                f"{escape(name)}</text>"
            )
    colors = {id(s): PALETTE[i % len(PALETTE)] for i, s in enumerate(series) if not s.muted}
    for s in sorted(series, key=lambda s: not s.muted):  # comparison lines underneath
        color = colors.get(id(s), MUTED)
        dash = ' stroke-dasharray="5 4"' if s.muted else ""
        points = [xy(i, v) for i, v in enumerate(s.values) if v is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}>'
            f"<title>{escape(s.name)}</title></polyline>"
        )
        if not s.muted:
            for (x, y), (i, v) in zip(
                points, [(i, v) for i, v in enumerate(s.values) if v is not None], strict=False
            ):
                parts.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>'
                    f"{escape(data.categories[i])}：{_number(v, data.unit)}</title></circle>"
                )
    legend = "".join(
        f'<li><span class="swatch '
        f'{"swatch-muted" if s.muted else f"swatch-{PALETTE.index(colors[id(s)])}"}"></span>'
        f"{escape(s.name)}</li>"
        for s in series
    )
    return _svg(width, height, "".join(parts), data.title) + f'<ul class="legend row">{legend}</ul>'


def _nice_step(peak: float) -> float:
    """A round grid step giving about four lines up to `peak`."""
    raw = peak / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return max(factor * magnitude, 1e-9)
    return 10 * magnitude


def hbar(data: ChartData) -> str:
    """Horizontal bars, one per category, the value written at the end of each bar."""
    values = [v or 0.0 for v in (data.series[0].values if data.series else ())]
    if not values or data.is_empty:
        return _empty()
    label_w, bar_w, row = 170, 300, 28
    width, height = label_w + bar_w + 80, row * len(values) + 8
    peak = max(values) or 1.0
    parts = []
    for index, (name, value) in enumerate(zip(data.categories, values, strict=False)):
        y = 4 + index * row
        length = bar_w * value / peak
        parts.append(
            f'<text x="{label_w - 8}" y="{y + row / 2:.1f}" text-anchor="end" '
            f'dominant-baseline="middle" fill="{INK}">{escape(name)}</text>'
            f'<rect x="{label_w}" y="{y + 5}" width="{max(length, 1):.1f}" height="{row - 10}" '
            f'rx="3" fill="{PALETTE[0]}"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + row / 2:.1f}" '
            f'dominant-baseline="middle" fill="{INK}">{_number(value, data.unit)}</text>'
        )
    return _svg(width, height, "".join(parts), data.title)


def table(data: ChartData) -> str:
    """The chart's table as an HTML table."""
    if not data.rows:
        return _empty()
    head = "".join(f"<th>{escape(c)}</th>" for c in data.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in data.rows
    )
    return f'<table class="grid"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render_chart(data: ChartData) -> str:
    """The chart as an HTML fragment (inline SVG or a table), every text escaped."""
    draw = {"donut": donut, "line": line, "hbar": hbar, "table": table}[data.kind]
    return draw(data)
