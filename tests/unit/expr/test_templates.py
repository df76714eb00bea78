"""Message templates: placeholders, escapes, load-time checks and values written for people."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from bot.errors import ExpressionError
from bot.expr import check_template, format_value, render_template, template_names

SHANGHAI = timezone(timedelta(hours=8))


def test_render_fills_placeholders_by_key_or_label() -> None:
    env = {"number": "TS20261123-0001", "投诉类型": "产品质量", "客户姓名": "王女士"}
    text = render_template("新投诉 {number}：{投诉类型}，客户 {客户姓名}", env)
    assert text == "新投诉 TS20261123-0001：产品质量，客户 王女士"


def test_double_braces_are_literal_braces() -> None:
    assert render_template("{{x}} {a} }}{{", {"a": 1}) == "{x} 1 }{"


def test_spaces_inside_a_placeholder_are_ignored() -> None:
    assert render_template("{ a }", {"a": "v"}) == "v"


def test_labels_with_punctuation_need_no_backticks_in_templates() -> None:
    assert (
        render_template("{相关图片/视频}", {"相关图片/视频": ["a.jpg", "b.mp4"]}) == "a.jpg、b.mp4"
    )


def test_render_refuses_a_name_missing_from_the_env() -> None:
    with pytest.raises(ExpressionError) as caught:
        render_template("投诉 {number} {nope}", {"number": "1"})
    assert caught.value.message == "unknown field 'nope'"
    assert caught.value.position == len("投诉 {number} {")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("文本", "文本"),
        (42, "42"),
        (Decimal("12.50"), "12.5"),
        (Decimal("100.00"), "100"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0.00"), "0"),
        (2.50, "2.5"),
        (True, "是"),
        (False, "否"),
        (date(2026, 11, 23), "2026-11-23"),
        (datetime(2026, 11, 23, 14, 5, 33), "2026-11-23 14:05"),
        (datetime(2026, 11, 23, 14, 5, tzinfo=SHANGHAI), "2026-11-23 14:05"),
        (timedelta(days=1, hours=2), "1天2小时"),
        (["a", "b"], "a、b"),
        (frozenset({"b", "a"}), "a、b"),
        ([Decimal("1.0"), None, date(2026, 1, 2)], "1、、2026-01-02"),
    ],
)
def test_values_are_written_for_people(value: Any, text: str) -> None:
    assert format_value(value) == text
    assert render_template("{v}", {"v": value}) == text


def test_aware_datetimes_are_converted_when_a_timezone_is_given() -> None:
    utc_time = datetime(2026, 11, 23, 6, 5, tzinfo=UTC)
    assert render_template("{t}", {"t": utc_time}, timezone=SHANGHAI) == "2026-11-23 14:05"
    assert render_template("{t}", {"t": utc_time}) == "2026-11-23 06:05"


def test_template_names_lists_placeholders_with_positions() -> None:
    template = "新投诉 {number}：{ 投诉类型 } {{literal}}"
    assert template_names(template) == [("number", 5), ("投诉类型", 15)]
    assert template[15:19] == "投诉类型"


def test_template_without_placeholders_has_no_names() -> None:
    assert template_names("没有占位符 {{}}") == []


@pytest.mark.parametrize(
    ("template", "message", "position"),
    [
        ("投诉 {number", "unclosed '{'", 3),
        ("{a {b}", "unclosed '{'", 0),
        ("a } b", "single '}'", 2),
        ("x {} y", "empty placeholder", 2),
        ("x {  } y", "empty placeholder", 2),
    ],
)
def test_malformed_templates_raise_with_position(
    template: str, message: str, position: int
) -> None:
    with pytest.raises(ExpressionError) as caught:
        template_names(template)
    assert message in caught.value.message
    assert caught.value.position == position
    with pytest.raises(ExpressionError):
        render_template(template, {"number": 1, "a": 1, "b": 1})


def test_check_template_reports_unknown_names_and_malformed_braces_without_raising() -> None:
    errors = check_template("{number} {客户性名} {x}", {"number", "客户姓名"})
    assert [(e.message, e.position) for e in errors] == [
        ("unknown field '客户性名' (did you mean '客户姓名'?)", 10),
        ("unknown field 'x'", 17),
    ]
    [malformed] = check_template("{number", {"number"})
    assert "unclosed '{'" in malformed.message
    assert check_template("{number}", {"number"}) == []
