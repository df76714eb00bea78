"""Request templates and answer paths of configured connectors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.integrations.templating import extract, machine_text, mapped, render, render_json


def test_placeholders_are_filled_with_machine_values():
    env = {
        "number": "TS20261123-0001",
        "金额": Decimal("12.50"),
        "日期": date(2026, 11, 23),
        "ok": True,
        "tags": ["a", "b"],
    }
    assert render("{number}/{金额}/{日期}/{ok}/{tags}", env) == (
        "TS20261123-0001/12.50/2026-11-23/true/a,b"
    )


def test_a_name_without_a_value_reads_empty_and_braces_can_be_escaped():
    assert render("{{literal}} {missing}", {}) == "{literal} "


def test_url_values_are_percent_encoded():
    assert render("https://erp/orders/{订单号}", {"订单号": "A/1 2"}, encode=True) == (
        "https://erp/orders/A%2F1%202"
    )
    assert render("https://erp/{x}", {"x": "保温杯"}, encode=True) == (
        "https://erp/%E4%BF%9D%E6%B8%A9%E6%9D%AF"
    )


def test_a_json_leaf_that_is_one_placeholder_keeps_its_type():
    env = {"count": 3, "numbers": ["A", "B"], "name": "王", "none": None}
    body = {
        "count": "{count}",
        "list": "{numbers}",
        "title": "{name} 的投诉",
        "n": "{none}",
        "nested": [{"k": "{count}"}],
        "fixed": 7,
    }
    assert render_json(body, env) == {
        "count": 3,
        "list": ["A", "B"],
        "title": "王 的投诉",
        "n": None,
        "nested": [{"k": 3}],
        "fixed": 7,
    }


def test_paths_read_nested_answers():
    doc = {"data": {"items": [{"name": "甲"}, {"name": "乙"}], "level": "VIP"}}
    assert extract(doc, "data.items.1.name") == "乙"
    assert extract(doc, "data.items.-1.name") == "乙"
    assert extract(doc, "data.items.5.name") is None
    assert extract(doc, "data.level.x") is None
    assert extract(None, "data") is None
    assert mapped(doc, {"等级": "data.level", "缺": "data.none"}) == {"等级": "VIP"}


def test_machine_text_of_structures():
    assert machine_text(None) == "" and machine_text(Decimal("1E+2")) == "1E+2"
    assert machine_text({"b": 1, "a": "中"}) == '{"a": "中", "b": 1}'


KEYS = st.text(alphabet="abcdefgh产品订单", min_size=1, max_size=5)


@given(st.lists(KEYS, min_size=1, max_size=5), st.integers() | st.text(min_size=1))
def test_a_value_put_at_a_path_is_read_back(path: list[str], value: object):
    doc: object = value
    for key in reversed(path):
        doc = {key: doc}
    assert extract(doc, ".".join(path)) == value
