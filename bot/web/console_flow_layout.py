"""Where a flow's steps and arrows go: a small layered (Sugiyama-style) layout, pure geometry.

Back edges (a sign-off's rejection, loops) are set aside and run along a side lane; steps are put
in rows by their longest path from the start; long edges get invisible waypoints so they pass
beside the boxes; a few barycentre sweeps order each row; every run is made orthogonal.
flow_diagram.py draws the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.domain.directory import Directory
from bot.workflow.definition import (
    EndStep,
    ExclusiveStep,
    FlowDefinition,
    ParallelStep,
    TaskStep,
)

BOX_W, BOX_H = 180, 54
DIAMOND_W, DIAMOND_H = 184, 66
END_W, END_H = 112, 44
COLUMN = 224
ROW_GAP = 56  # between rows, plus room for edge labels
LABEL_LINE = 15
MARGIN = 28
LANE = 26
START_GAP = 30

AnyStep = TaskStep | ExclusiveStep | ParallelStep | EndStep
Point = tuple[float, float]


@dataclass
class Edge:
    """An arrow: its labels, whether it is a rejection or runs back, and where it goes."""

    source: str
    target: str
    labels: list[str]
    reject: bool = False
    back: bool = False
    points: list[Point] = field(default_factory=list)
    label_at: Point = (0.0, 0.0)  # forward edges: the first label line's start
    side: str = "right"  # back edges: the lane they run along


@dataclass
class Node:
    """A step's box (or a long edge's waypoint, step None) with its centre."""

    id: str
    layer: int
    step: AnyStep | None = None
    order: float = 0.0
    x: float = 0.0
    y: float = 0.0

    @property
    def height(self) -> float:
        if isinstance(self.step, ExclusiveStep):
            return DIAMOND_H
        if isinstance(self.step, EndStep):
            return END_H
        return BOX_H if self.step is not None else 0.0

    @property
    def width(self) -> float:
        if isinstance(self.step, EndStep):
            return END_W
        if isinstance(self.step, ExclusiveStep):
            return DIAMOND_W
        return BOX_W if self.step is not None else 0.0


@dataclass
class FlowLayout:
    order: list[str]  # step ids, start first, in discovery order
    nodes: dict[str, Node]
    edges: list[Edge]
    width: float
    height: float


def _edges(flow: FlowDefinition, directory: Directory | None) -> list[Edge]:
    """One edge per (source, target, kind); branches to the same step share an edge."""
    known = {s.id for s in flow.steps}
    edges: dict[tuple[str, str, bool], Edge] = {}

    def add(source: str, target: str, label: str, reject: bool = False) -> None:
        if target not in known:
            return
        edge = edges.setdefault((source, target, reject), Edge(source, target, [], reject))
        if label:
            edge.labels.append(label)

    for step in flow.steps:
        if isinstance(step, TaskStep):
            add(step.id, step.next, "")
        elif isinstance(step, ParallelStep):
            add(step.id, step.next, "通过")
            add(step.id, step.on_reject, "驳回", reject=True)
        elif isinstance(step, ExclusiveStep):
            for branch in step.branches:
                label = "否则" if branch.is_else else str(branch.if_)
                if branch.department:
                    name = directory.department_name(branch.department) if directory else ""
                    label += f" → {name or branch.department}"
                add(step.id, branch.next, label)
    return list(edges.values())


def _mark_back_edges(flow: FlowDefinition, edges: list[Edge]) -> list[str]:
    """Depth-first from the start: an edge into a step still on the path is a back edge.

    Returns the steps in discovery order (unreachable ones after, in definition order).
    """
    out_edges: dict[str, list[Edge]] = {s.id: [] for s in flow.steps}
    for edge in edges:
        out_edges[edge.source].append(edge)
    seen: list[str] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done
    roots = [flow.start] if flow.has_step(flow.start) else []
    roots += [s.id for s in flow.steps]
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        seen.append(root)
        stack = [(root, iter(out_edges[root]))]
        while stack:
            node, pending = stack[-1]
            edge = next(pending, None)
            if edge is None:
                state[node] = 2
                stack.pop()
                continue
            if state.get(edge.target) == 1:
                edge.back = True
            elif edge.target not in state:
                state[edge.target] = 1
                seen.append(edge.target)
                stack.append((edge.target, iter(out_edges[edge.target])))
    return seen


def _layers(order: list[str], edges: list[Edge]) -> dict[str, int]:
    """Longest path from a source over the forward edges (the graph without back edges)."""
    preds: dict[str, list[str]] = {s: [] for s in order}
    succs: dict[str, list[str]] = {s: [] for s in order}
    for edge in edges:
        if not edge.back:
            preds[edge.target].append(edge.source)
            succs[edge.source].append(edge.target)
    waiting = {s: len(p) for s, p in preds.items()}
    ready = [s for s in order if waiting[s] == 0]
    layer: dict[str, int] = {}
    while ready:
        node = ready.pop(0)
        layer[node] = max((layer[p] + 1 for p in preds[node]), default=0)
        for nxt in succs[node]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    return layer


def _arrange(rows: list[list[Node]], links: list[tuple[Node, Node]]) -> None:
    """Order each row by the mean position of its neighbours, down then up, a few times."""
    ups: dict[int, list[Node]] = {}
    downs: dict[int, list[Node]] = {}
    for a, b in links:
        downs.setdefault(id(a), []).append(b)
        ups.setdefault(id(b), []).append(a)
    for _ in range(4):
        for neighbours, sequence in ((ups, rows[1:]), (downs, list(reversed(rows[:-1])))):
            for row in sequence:
                for node in row:
                    near = neighbours.get(id(node), [])
                    if near:
                        node.order = sum(n.order for n in near) / len(near)
                row.sort(key=lambda n: n.order)
                for index, node in enumerate(row):
                    node.order = float(index)


def _orthogonal(
    points: list[tuple[float, float]], *, first_bend: float | None
) -> list[tuple[float, float]]:
    """Turn diagonal runs into vertical-horizontal-vertical ones (the first at `first_bend`)."""
    out = [points[0]]
    for index, (x, y) in enumerate(points[1:]):
        px, py = out[-1]
        if abs(px - x) > 0.5:
            bend = first_bend if index == 0 and first_bend is not None else (py + y) / 2
            out += [(px, bend), (x, bend)]
        out.append((x, y))
    return out


def _build_rows(
    flow: FlowDefinition, edges: list[Edge], order: list[str]
) -> tuple[dict[str, Node], list[list[Node]], dict[int, list[Node]]]:
    """Nodes in rows, with waypoints for every forward edge that spans several rows."""
    layer = _layers(order, edges)
    steps = {s.id: s for s in flow.steps}
    nodes = {sid: Node(sid, layer[sid], steps[sid], float(i)) for i, sid in enumerate(order)}
    rows: list[list[Node]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    for node in nodes.values():
        rows[node.layer].append(node)
    links: list[tuple[Node, Node]] = []
    chains: dict[int, list[Node]] = {}
    for index, edge in enumerate(edges):
        if edge.back:
            continue
        a, b = nodes[edge.source], nodes[edge.target]
        chain = [a]
        for level in range(a.layer + 1, b.layer):
            waypoint = Node(f"~{index}:{level}", level, None, a.order + 0.5)
            rows[level].append(waypoint)
            chain.append(waypoint)
        chain.append(b)
        chains[index] = chain
        links.extend(zip(chain, chain[1:], strict=False))
    for row in rows:
        row.sort(key=lambda n: n.order)
    _arrange(rows, links)
    return nodes, rows, chains


def _route_forward(edges: list[Edge], chains: dict[int, list[Node]]) -> None:
    """Points of forward edges: ports spread along the boxes' bottom and top edges."""
    outgoing: dict[str, list[int]] = {}
    incoming: dict[str, list[int]] = {}
    for index, chain in chains.items():
        outgoing.setdefault(chain[0].id, []).append(index)
        incoming.setdefault(chain[-1].id, []).append(index)
    for index_list in outgoing.values():
        index_list.sort(key=lambda i: chains[i][1].x)
    for index_list in incoming.values():
        index_list.sort(key=lambda i: chains[i][-2].x)

    def port(node: Node, index: int, group: dict[str, list[int]]) -> float:
        members = group[node.id]
        spread = 16 if not isinstance(node.step, ExclusiveStep) else 0
        return node.x + (members.index(index) - (len(members) - 1) / 2) * spread

    for index, chain in chains.items():
        edge = edges[index]
        a, b = chain[0], chain[-1]
        raw = [(port(a, index, outgoing), a.y + a.height / 2)]
        raw += [(w.x, w.y) for w in chain[1:-1]]
        raw.append((port(b, index, incoming), b.y - b.height / 2))
        bend = raw[0][1] + 14
        edge.points = _orthogonal(raw, first_bend=bend if edge.labels else None)
        # Labels sit beside the vertical run just after the first bend, below the fork.
        points = edge.points
        x = points[2][0] if len(points) > 2 and points[1][1] == bend else points[0][0]
        edge.label_at = (x + 6, bend + 12)


def layout_flow(flow: FlowDefinition, directory: Directory | None = None) -> FlowLayout:
    """Positions of every step and the route of every edge (pure)."""
    edges = _edges(flow, directory)
    order = _mark_back_edges(flow, edges)
    nodes, rows, chains = _build_rows(flow, edges, order)

    # Rows: each gap is tall enough for the labels of the edges leaving the row above.
    label_lines = [0] * len(rows)
    for index, chain in chains.items():
        label_lines[chain[0].layer] = max(label_lines[chain[0].layer], len(edges[index].labels))
    core = max((len(r) for r in rows), default=1) * COLUMN
    y = MARGIN + START_GAP
    for level, row in enumerate(rows):
        tallest = max((n.height for n in row), default=BOX_H) or 10
        for index, node in enumerate(row):
            node.x = MARGIN + core / 2 + (index - (len(row) - 1) / 2) * COLUMN
            node.y = y + tallest / 2
        y += tallest + ROW_GAP + label_lines[level] * LABEL_LINE

    back = [e for e in edges if e.back]
    for edge in back:  # the left lane only when both ends are leftmost in their rows
        a, b = nodes[edge.source], nodes[edge.target]
        leftmost = rows[a.layer][0] is a and rows[b.layer][0] is b
        rightmost = rows[a.layer][-1] is a and rows[b.layer][-1] is b
        edge.side = "left" if leftmost and not rightmost else "right"
    lanes_left = sum(e.side == "left" for e in back)
    lanes_right = len(back) - lanes_left
    shift = lanes_left * LANE + (24 if lanes_left else 0)
    for node in [n for row in rows for n in row]:
        node.x += shift
    _route_forward(edges, chains)

    right, left = MARGIN + shift + core + 12, MARGIN + shift - 12
    used = {"left": 0, "right": 0}
    for edge in back:
        a, b = nodes[edge.source], nodes[edge.target]
        used[edge.side] += 1
        sign = 1 if edge.side == "right" else -1
        lane_x = (right if sign > 0 else left) + sign * used[edge.side] * LANE
        edge.points = [
            (a.x + sign * a.width / 2, a.y),
            (lane_x, a.y),
            (lane_x, b.y),
            (b.x + sign * b.width / 2, b.y),
        ]
        edge.label_at = (lane_x + sign * 5, (a.y + b.y) / 2)
    width = MARGIN * 2 + core + shift + lanes_right * LANE + (40 if lanes_right else 0)
    return FlowLayout(order, nodes, edges, width, y - ROW_GAP + MARGIN)
