"""The flow diagram: a well-formed SVG with every step, the current one highlighted."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config.loader import load_config
from bot.web.flow_diagram import fit, render_flow_svg, text_width
from bot.workflow import FlowDefinition
from tests.conftest import EXAMPLE_CONFIG

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def example() -> Any:
    return load_config(EXAMPLE_CONFIG)


def steps_of(svg: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-step"): g for g in svg.iter(f"{SVG}g") if g.get("data-step")}


def texts(svg: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in svg.iter(f"{SVG}text")]


def flow(steps: list[dict[str, Any]], start: str | None = None) -> FlowDefinition:
    return FlowDefinition.model_validate(
        {"title": "测试流程", "form": "f", "start": start or steps[0]["id"], "steps": steps}
    )


def task(step_id: str, next_id: str, name: str | None = None) -> dict[str, Any]:
    return {
        "id": step_id,
        "name": name or step_id,
        "kind": "task",
        "assignee": {"role": "客服"},
        "next": next_id,
    }


END = {"id": "end", "name": "结束", "kind": "end"}


def test_example_flow_has_every_step_with_its_shape_and_the_current_one_highlighted(example):
    complaint = example.flows["complaint"]
    svg = ET.fromstring(
        render_flow_svg(
            complaint, current={"handle"}, visited={"accept", "route"}, directory=example.directory
        )
    )
    assert svg.tag == f"{SVG}svg"
    steps = steps_of(svg)
    assert list(steps) == [
        "accept",
        "route",
        "handle",
        "check_amount",
        "signoff",
        "followup",
        "end",
    ]
    assert steps["handle"].get("aria-current") == "step"
    assert "current" in steps["handle"].get("class")
    assert "visited" in steps["accept"].get("class") and "visited" in steps["route"].get("class")
    assert [k for k, g in steps.items() if "current" in g.get("class")] == ["handle"]
    assert steps["route"].find(f"{SVG}polygon") is not None  # exclusive: a diamond
    assert steps["signoff"].get("data-kind") == "parallel"
    assert len(steps["signoff"].findall(f"{SVG}line")) == 2  # the sign-off's double bars
    assert steps["end"].get("data-kind") == "end"
    # Readable Chinese: names, who does the step, its limit; a CJK font stack.
    words = texts(svg)
    assert "客服受理" in words and "部门处理" in words
    assert any("投诉所在部门负责人" in w and "限时24h" in w for w in words)
    assert "Noto Sans CJK SC" in svg.get("font-family")


def test_branch_labels_carry_the_condition_and_the_rejection_is_dashed(example):
    svg = ET.fromstring(render_flow_svg(example.flows["complaint"], directory=example.directory))
    labels = texts(svg)
    assert '投诉类型 == "产品质量" → 产品部' in labels
    assert "否则 → 技术支持部" in labels
    assert "赔偿金额 > 1000" in labels and "驳回" in labels and "通过" in labels
    edges = {
        (p.get("data-from"), p.get("data-to")): p
        for p in svg.iter(f"{SVG}path")
        if p.get("data-from")
    }
    reject = edges[("signoff", "handle")]
    assert reject.get("stroke-dasharray") and "edge-reject" in reject.get("class")
    assert not edges[("accept", "route")].get("stroke-dasharray")
    # Every edge ends in an arrow defined in this document.
    ids = {m.get("id") for m in svg.iter(f"{SVG}marker")}
    assert all(p.get("marker-end")[5:-1] in ids for p in edges.values())


def test_id_prefix_keeps_two_diagrams_on_one_page_apart(example):
    one = render_flow_svg(example.flows["complaint"], id_prefix="a")
    two = render_flow_svg(example.flows["complaint"], id_prefix="b")
    assert 'id="a-arrow"' in one and 'id="b-arrow"' in two and 'id="a-arrow"' not in two


def test_names_are_escaped_and_long_ones_shortened():
    name = '<script>alert("x")</script> 一个名字非常非常非常非常非常非常长的步骤'
    svg_text = render_flow_svg(flow([task("a", "end", name), END]), current={"a"})
    assert "<script>" not in svg_text
    svg = ET.fromstring(svg_text)
    step = steps_of(svg)["a"]
    assert name in "".join(step.find(f"{SVG}title").itertext())  # the full name on hover
    shown = [t for t in texts(step) if t.startswith("<script>")]
    assert shown and shown[0].endswith("…")


def test_loops_unreachable_steps_and_unknown_highlights_are_drawn_without_fuss():
    steps = [task("a", "b"), task("b", "a"), task("lonely", "end"), END]
    svg = ET.fromstring(render_flow_svg(flow(steps), current={"nope"}, visited={"b"}))
    assert set(steps_of(svg)) == {"a", "b", "lonely", "end"}
    back = [p for p in svg.iter(f"{SVG}path") if p.get("data-from") == "b"]
    assert back and "edge-back" in back[0].get("class")


def test_text_width_counts_chinese_wider_than_latin():
    assert text_width("部门", 10) == 20 and text_width("ab", 10) == 12
    assert fit("客户回访", 14, 200) == "客户回访"
    assert fit("客户回访客户回访", 14, 60).endswith("…")


@st.composite
def random_flows(draw: Any) -> FlowDefinition:
    count = draw(st.integers(1, 8))
    ids = [f"s{i}" for i in range(count)] + ["end"]
    steps: list[dict[str, Any]] = []
    for i in range(count):
        kind = draw(st.sampled_from(["task", "exclusive", "parallel"]))
        target = st.sampled_from(ids)
        if kind == "task":
            steps.append(task(ids[i], draw(target)))
        elif kind == "parallel":
            steps.append(
                {
                    "id": ids[i],
                    "name": f"会签{i}",
                    "kind": "parallel",
                    "assignees": [{"role": "客服"}],
                    "next": draw(target),
                    "on_reject": draw(target),
                }
            )
        else:
            branches = [
                {"if": f"x == {n}", "next": draw(target)} for n in range(draw(st.integers(0, 3)))
            ]
            branches.append({"else": True, "next": draw(target)})
            steps.append(
                {"id": ids[i], "name": f"判断{i}", "kind": "exclusive", "branches": branches}
            )
    steps.append(END)
    return flow(steps)


@settings(max_examples=60, deadline=None)
@given(random_flows(), st.data())
def test_any_flow_renders_as_well_formed_svg_with_every_step(definition, data):
    current = data.draw(st.sets(st.sampled_from([s.id for s in definition.steps]), max_size=2))
    svg = ET.fromstring(render_flow_svg(definition, current=current))
    assert set(steps_of(svg)) == {s.id for s in definition.steps}
    highlighted = {k for k, g in steps_of(svg).items() if "current" in g.get("class")}
    assert highlighted == current
    width, height = float(svg.get("width")), float(svg.get("height"))
    for element in svg.iter():
        for attr in ("x", "cx"):
            if element.get(attr) is not None:
                assert -1 <= float(element.get(attr)) <= width + 1
        for attr in ("y", "cy"):
            if element.get(attr) is not None:
                assert -1 <= float(element.get(attr)) <= height + 1
