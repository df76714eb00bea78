"""A flow definition drawn as SVG by the service itself: no Mermaid, no Graphviz, no browser code.

Boxes per step (task; exclusive as a diamond; parallel sign-off with double bars; end as a
stadium), arrows labelled with the branch conditions, the rejection dashed, the current step
highlighted and visited ones tinted. The geometry comes from console_flow_layout.py; this module
only draws. Styling is attributes only (fill, stroke, …), no <style>: the console's CSP forbids
inline CSS.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from xml.sax.saxutils import escape, quoteattr

from bot.domain.directory import Directory
from bot.web.console_flow_layout import (
    COLUMN,
    LABEL_LINE,
    START_GAP,
    AnyStep,
    Edge,
    Node,
    layout_flow,
)
from bot.web.console_format import assignee_text
from bot.workflow.definition import (
    EndStep,
    ExclusiveStep,
    FlowDefinition,
    ParallelStep,
    TaskStep,
)

FONT = (
    "'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC','Source Han Sans SC',"
    "'WenQuanYi Zen Hei','WenQuanYi Micro Hei',sans-serif"
)
INK = "#343a40"
MUTED = "#868e96"
EDGE = "#495057"
REJECT = "#c92a2a"
STYLES = {
    # (fill, stroke, stroke-width)
    "plain": ("#ffffff", "#868e96", 1.5),
    "visited": ("#ebfbee", "#2f9e44", 1.5),
    "current": ("#fff4e6", "#e8590c", 3.0),
}


def text_width(text: str, size: float) -> float:
    """Rough rendered width: CJK and full-width characters 1 em, others 0.6 em."""
    return sum(size if ord(ch) >= 0x2E80 else size * 0.6 for ch in text)


def fit(text: str, size: float, width: float) -> str:
    """`text` shortened with … to fit `width` at font `size`."""
    if text_width(text, size) <= width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch + "…", size) > width:
            break
        out += ch
    return out + "…"


def _style(step_id: str, current: Collection[str], visited: Collection[str]) -> str:
    if step_id in current:
        return "current"
    return "visited" if step_id in visited else "plain"


def _subtitle(step: AnyStep, directory: Directory | None) -> str:
    parts: list[str] = []
    if isinstance(step, TaskStep) and directory is not None:
        parts.append(assignee_text(step.assignee, directory))
    if isinstance(step, ParallelStep):
        parts.append("会签·全部同意" if step.mode == "all" else "会签·任一同意")
    if isinstance(step, TaskStep | ParallelStep) and step.time_limit:
        parts.append(f"限时{step.time_limit}")
    return " · ".join(parts)


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: float,
    fill: str = INK,
    bold: bool = False,
    anchor: str = "middle",
    halo: bool = False,
    cls: str = "",
) -> str:
    attrs = [
        f'x="{x:.1f}"',
        f'y="{y:.1f}"',
        f'font-size="{size:g}"',
        f'fill="{fill}"',
        f'text-anchor="{anchor}"',
        'dominant-baseline="middle"',
    ]
    if bold:
        attrs.append('font-weight="600"')
    if halo:
        attrs.append(
            'stroke="#ffffff" stroke-width="4" stroke-linejoin="round" paint-order="stroke"'
        )
    if cls:
        attrs.append(f'class="{cls}"')
    return f"<text {' '.join(attrs)}>{escape(text)}</text>"


def _shape(node: Node, style: str, directory: Directory | None) -> list[str]:
    step = node.step
    assert step is not None
    fill, stroke, width = STYLES[style]
    x, y, w, h = node.x, node.y, node.width, node.height
    left, top = x - w / 2, y - h / 2
    paint = f'fill="{fill}" stroke="{stroke}" stroke-width="{width:g}"'
    out: list[str] = []
    sub = _subtitle(step, directory)
    if isinstance(step, ExclusiveStep):
        out.append(
            f'<polygon points="{x:.1f},{top:.1f} {x + w / 2:.1f},{y:.1f} {x:.1f},{top + h:.1f} '
            f'{left:.1f},{y:.1f}" {paint}/>'
        )
        out.append(_text(x, y, fit(step.name, 13, w * 0.62), size=13, bold=True))
        return out
    if isinstance(step, EndStep):
        out.append(
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{w:g}" height="{h:g}" rx="{h / 2:g}" '
            f"{paint}/>"
        )
        out.append(
            f'<rect x="{left + 4:.1f}" y="{top + 4:.1f}" width="{w - 8:g}" height="{h - 8:g}" '
            f'rx="{(h - 8) / 2:g}" fill="none" stroke="{stroke}" stroke-width="1"/>'
        )
        out.append(_text(x, y, fit(step.name, 13, w - 24), size=13, bold=True))
        return out
    out.append(f'<rect x="{left:.1f}" y="{top:.1f}" width="{w:g}" height="{h:g}" rx="8" {paint}/>')
    if isinstance(step, ParallelStep):  # sign-off: the double bars of a parallel gateway
        for bar in (left + 7, left + w - 7):
            out.append(
                f'<line x1="{bar:.1f}" y1="{top + 6:.1f}" x2="{bar:.1f}" y2="{top + h - 6:.1f}" '
                f'stroke="{stroke}" stroke-width="1.5"/>'
            )
    name_y = y - 8 if sub else y
    out.append(_text(x, name_y, fit(step.name, 14, w - 22), size=14, bold=True))
    if sub:
        out.append(_text(x, y + 12, fit(sub, 11, w - 14), size=11, fill=MUTED))
    return out


def _tooltip(step: AnyStep, directory: Directory | None) -> str:
    kind = {"task": "任务", "exclusive": "条件分支", "parallel": "会签", "end": "结束"}[step.kind]
    sub = _subtitle(step, directory)
    return f"{step.name}（{step.id}，{kind}）" + (f"：{sub}" if sub else "")


def _path(points: Iterable[tuple[float, float]]) -> str:
    pts = list(points)
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts)


def _marker(marker_id: str, color: str) -> str:
    return (
        f'<marker id={quoteattr(marker_id)} viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
    )


def _edge(edge: Edge, arrow: str, arrow_reject: str) -> tuple[str, list[str]]:
    """One arrow and its labels."""
    color, marker = (REJECT, arrow_reject) if edge.reject else (EDGE, arrow)
    classes = "edge" + (" edge-back" if edge.back else "") + (" edge-reject" if edge.reject else "")
    dash = ' stroke-dasharray="6 4"' if edge.reject or edge.back else ""
    path = (
        f"<path class={quoteattr(classes)} data-from={quoteattr(edge.source)} "
        f'data-to={quoteattr(edge.target)} d="{_path(edge.points)}" fill="none" '
        f'stroke="{color}" stroke-width="1.5"{dash} marker-end="url(#{marker})"/>'
    )
    x, y = edge.label_at
    if edge.back:
        anchor = "start" if edge.side == "right" else "end"
        label = "、".join(edge.labels) or "返回"
        return path, [
            _text(x, y, label, size=12, fill=color, anchor=anchor, halo=True, cls="edge-label")
        ]
    labels = [
        _text(
            x,
            y + number * LABEL_LINE,
            fit(label, 12, COLUMN * 1.3),
            size=12,
            fill=color if edge.reject else INK,
            anchor="start",
            halo=True,
            cls="edge-label",
        )
        for number, label in enumerate(edge.labels)
    ]
    return path, labels


def render_flow_svg(
    flow: FlowDefinition,
    *,
    current: Collection[str] = (),
    visited: Collection[str] = (),
    directory: Directory | None = None,
    id_prefix: str = "flow",
) -> str:
    """The flow as a standalone SVG document; `current` steps highlighted, `visited` tinted.

    `id_prefix` keeps marker ids unique when several diagrams share one HTML page.
    """
    layout = layout_flow(flow, directory)
    arrow, arrow_reject = f"{id_prefix}-arrow", f"{id_prefix}-arrow-reject"
    edge_parts: list[str] = []
    label_parts: list[str] = []
    for edge in layout.edges:
        path, labels = _edge(edge, arrow, arrow_reject)
        edge_parts.append(path)
        label_parts.extend(labels)

    step_parts: list[str] = []
    if flow.start in layout.nodes:
        first = layout.nodes[flow.start]
        top = first.y - first.height / 2
        step_parts.append(
            f'<g class="start"><circle cx="{first.x:.1f}" cy="{top - START_GAP + 6:.1f}" r="6" '
            f'fill="{EDGE}"/><path d="M{first.x:.1f},{top - START_GAP + 12:.1f} '
            f'L{first.x:.1f},{top:.1f}" stroke="{EDGE}" stroke-width="1.5" '
            f'marker-end="url(#{arrow})"/></g>'
        )
    for sid in layout.order:
        node = layout.nodes[sid]
        step = node.step
        assert step is not None
        style = _style(sid, current, visited)
        classes = f"step step-{step.kind}" + ("" if style == "plain" else f" {style}")
        extra = ' aria-current="step"' if style == "current" else ""
        step_parts.append(
            f"<g class={quoteattr(classes)} data-step={quoteattr(sid)} "
            f"data-kind={quoteattr(step.kind)}{extra}>"
            f"<title>{escape(_tooltip(step, directory))}</title>"
            + "".join(_shape(node, style, directory))
            + "</g>"
        )

    title = f"{flow.title}流程图"
    width, height = layout.width, layout.height
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-diagram" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        f'role="img" aria-label={quoteattr(title)} font-family={quoteattr(FONT)}>'
        f"<title>{escape(title)}</title>"
        f"<defs>{_marker(arrow, EDGE)}{_marker(arrow_reject, REJECT)}</defs>"
        f'<g class="edges">{"".join(edge_parts)}</g>'
        f'<g class="steps">{"".join(step_parts)}</g>'
        f'<g class="labels">{"".join(label_parts)}</g>'
        "</svg>"
    )
