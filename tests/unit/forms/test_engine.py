"""Whole-form behaviour: defaults, visibility, computed fields, form_env and validate."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from bot.forms import FieldProblem, defaults, form_env, validate, visible_fields
from tests.unit.forms.example import NOW, SHANGHAI, example_form, form_of, make_ctx

FORM = example_form()


def keys(fields: list) -> list[str]:
    return [f.key for f in fields]


# -- defaults -----------------------------------------------------------------------------------


def test_constant_now_and_profile_defaults() -> None:
    ctx = make_ctx({"name": "王小明", "phone": "+86 138 0000 0001", "customer_no": "C123456"})
    assert defaults(FORM, ctx) == {
        "customer_name": "王小明",
        "phone": "13800000001",
        "customer_no": "C123456",
        "source": "微信公众号",
        "complaint_date": date(2026, 11, 23),
        "current_status": "待受理",
    }


def test_now_is_the_local_date_not_the_utc_one() -> None:
    late_evening_utc = datetime(2026, 11, 23, 17, 0, tzinfo=NOW.tzinfo)  # 01:00 on the 24th
    assert defaults(FORM, make_ctx(now=late_evening_utc))["complaint_date"] == date(2026, 11, 24)


def test_now_default_of_a_datetime_field_is_the_aware_local_time() -> None:
    form = form_of({"key": "at", "label": "时间", "type": "datetime", "default": "now"})
    assert defaults(form, make_ctx()) == {"at": datetime(2026, 11, 23, 14, 5, tzinfo=SHANGHAI)}


def test_missing_or_invalid_profile_values_are_left_out() -> None:
    found = defaults(FORM, make_ctx({"phone": "12345"}))
    assert "phone" not in found and "customer_name" not in found


def test_any_profile_key_can_feed_a_default() -> None:
    form = form_of(
        {"key": "vip", "label": "会员等级", "type": "text", "default": {"profile": "level"}}
    )
    assert defaults(form, make_ctx({"level": "金卡"})) == {"vip": "金卡"}


# -- visibility ---------------------------------------------------------------------------------


def test_order_number_shows_only_for_quality_and_logistics_complaints() -> None:
    assert "order_no" in keys(visible_fields(FORM, {"type": "物流问题"}))
    assert "order_no" in keys(visible_fields(FORM, {"type": "产品质量"}))
    assert "order_no" not in keys(visible_fields(FORM, {"type": "服务态度"}))
    assert "order_no" not in keys(visible_fields(FORM, {}))


def test_a_hidden_field_reads_as_empty_to_later_conditions() -> None:
    form = form_of(
        {"key": "kind", "label": "类型", "type": "select", "options": ["A", "B"]},
        {"key": "detail", "label": "细节", "type": "text", "visible_if": 'kind == "A"'},
        {"key": "extra", "label": "补充", "type": "text", "visible_if": "细节 != null"},
    )
    assert keys(visible_fields(form, {"kind": "A", "detail": "x"})) == ["kind", "detail", "extra"]
    assert keys(visible_fields(form, {"kind": "B", "detail": "x"})) == ["kind"]


def test_a_condition_that_cannot_be_evaluated_hides_the_field() -> None:
    form = form_of(
        {"key": "n", "label": "数量", "type": "number"},
        {"key": "why", "label": "原因", "type": "text", "visible_if": 'n > "abc"'},
    )
    assert keys(visible_fields(form, {"n": Decimal(3)})) == ["n"]


# -- form_env and computed fields ---------------------------------------------------------------


def test_form_env_names_every_field_by_key_and_label() -> None:
    env = form_env(FORM, {"type": "物流问题"})
    assert env["type"] == env["投诉类型"] == "物流问题"
    assert env["phone"] is None and env["联系电话"] is None
    assert len(env) == 2 * len(FORM.fields)


COMPUTED = form_of(
    {"key": "price", "label": "单价", "type": "money"},
    {"key": "qty", "label": "数量", "type": "number"},
    {"key": "total", "label": "合计", "type": "computed", "formula": "小计 + 运费"},
    {"key": "subtotal", "label": "小计", "type": "computed", "formula": "price * qty"},
    {"key": "shipping", "label": "运费", "type": "money", "default": "10"},
)


def test_computed_fields_are_recomputed_in_dependency_order() -> None:
    result = validate(COMPUTED, {"单价": "25.5", "qty": "2", "shipping": "10"}, make_ctx())
    assert result.ok
    assert result.values["subtotal"] == Decimal("51.00")
    assert result.values["total"] == Decimal("61.00")


def test_a_supplied_computed_value_is_ignored_and_recomputed() -> None:
    result = validate(COMPUTED, {"price": "1", "qty": "1", "total": "999"}, make_ctx())
    assert result.values["total"] is None  # 运费 missing: arithmetic with an empty value is empty
    assert result.values["subtotal"] == Decimal("1.00")


def test_a_formula_that_fails_gives_no_value() -> None:
    form = form_of(
        {"key": "a", "label": "甲", "type": "text"},
        {"key": "b", "label": "乙", "type": "computed", "formula": "a * 2"},
    )
    assert validate(form, {"a": "文字"}, make_ctx()).values["b"] is None


# -- validate -----------------------------------------------------------------------------------

GOOD = {
    "客户姓名": "王小明",
    "phone": "138 0000 0001",
    "type": "3",
    "order_no": "123456789012",
    "description": "快递把我的东西弄坏了",
}


def test_a_good_submission_is_typed_and_ok() -> None:
    result = validate(FORM, GOOD, make_ctx())
    assert result.ok
    assert result.values == {
        "customer_name": "王小明",
        "phone": "13800000001",
        "type": "物流问题",
        "order_no": "123456789012",
        "description": "快递把我的东西弄坏了",
    }


def test_every_problem_is_reported_at_once_in_form_order() -> None:
    result = validate(FORM, {"phone": "123", "type": "9", "description": "坏"}, make_ctx())
    assert not result.ok
    assert result.problems == (
        FieldProblem("customer_name", "客户姓名", "请填写客户姓名"),
        FieldProblem("phone", "联系电话", "手机号格式不正确，请输入11位手机号"),
        FieldProblem("type", "投诉类型", "没有第9项，请回复序号（1-4）或选项名称"),
        FieldProblem("description", "问题描述", "问题描述至少需要5个字，请再详细说明一下"),
    )


def test_hidden_fields_are_dropped_without_complaint() -> None:
    result = validate(FORM, {**GOOD, "type": "服务态度", "order_no": "bad"}, make_ctx())
    assert result.ok
    assert "order_no" not in result.values


def test_unknown_names_are_problems() -> None:
    result = validate(FORM, {**GOOD, "颜色": "红"}, make_ctx())
    assert result.problems == (FieldProblem("颜色", "颜色", "没有“颜色”这一项"),)


def test_partial_skips_missing_required_fields_but_not_emptied_ones() -> None:
    assert validate(FORM, {"phone": "13800000001"}, make_ctx(), partial=True).ok
    emptied = validate(FORM, {"phone": ""}, make_ctx(), partial=True)
    assert emptied.problems == (FieldProblem("phone", "联系电话", "请填写联系电话"),)
    assert emptied.values == {"phone": None}


def test_only_checks_and_returns_the_named_fields() -> None:
    raw = {"type": "产品质量", "solution": "换新", "compensation": "1500", "phone": "bad"}
    result = validate(FORM, raw, make_ctx(), only=["solution", "赔偿金额"])
    assert result.ok
    assert result.values == {"solution": "换新", "compensation": Decimal("1500.00")}


def test_only_with_an_unknown_field_name_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        validate(FORM, {}, make_ctx(), only=["nope"])


def test_typed_values_validate_to_themselves() -> None:
    first = validate(FORM, {**GOOD, "media": [{"attachment_id": "1", "kind": "image"}]}, make_ctx())
    again = validate(FORM, dict(first.values), make_ctx())
    assert again.ok and again.values == first.values
