"""parse_answer for every field type: good answers become typed values, bad ones a reason."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from bot.forms import FieldProblem, parse_answer
from tests.unit.forms.example import SHANGHAI, form_of, make_ctx

FIELDS: dict[str, dict[str, Any]] = {
    "text": {"key": "name", "label": "客户姓名", "type": "text", "max_length": 5},
    "coded": {
        "key": "code",
        "label": "客户编号",
        "type": "text",
        "pattern": r"^[A-Z]{1,3}\d{4,10}$",
        "pattern_message": "客户编号格式不正确，例如 C123456",
    },
    "textarea": {
        "key": "desc",
        "label": "问题描述",
        "type": "textarea",
        "min_length": 5,
        "max_length": 20,
    },
    "number": {"key": "qty", "label": "数量", "type": "number", "min": 1, "max": 100},
    "money": {"key": "amount", "label": "赔偿金额", "type": "money", "min": 0},
    "phone": {"key": "phone", "label": "联系电话", "type": "phone"},
    "email": {"key": "email", "label": "邮箱", "type": "email"},
    "date": {"key": "day", "label": "购买日期", "type": "date"},
    "datetime": {"key": "at", "label": "发生时间", "type": "datetime"},
    "select": {
        "key": "kind",
        "label": "投诉类型",
        "type": "select",
        "options": ["产品质量", "服务态度", "物流问题", "其他"],
    },
    "multiselect": {
        "key": "tags",
        "label": "问题标签",
        "type": "multiselect",
        "options": ["破损", "延迟", "丢件"],
    },
    "boolean": {"key": "refund", "label": "是否退款", "type": "boolean"},
    "rating": {"key": "score", "label": "满意度", "type": "rating"},
    "image": {"key": "photo", "label": "照片", "type": "image"},
    "file": {
        "key": "media",
        "label": "相关图片/视频",
        "type": "file",
        "multiple": True,
        "accept": ["image", "video"],
    },
    "location": {"key": "place", "label": "地点", "type": "location"},
    "person": {"key": "owner", "label": "负责人", "type": "person"},
    "department": {"key": "dept", "label": "责任部门", "type": "department"},
    "order_number": {
        "key": "order",
        "label": "订单号",
        "type": "order_number",
        "pattern": r"^\d{12}$",
    },
    "loose_order": {"key": "order2", "label": "外部单号", "type": "order_number"},
    "url": {"key": "link", "label": "链接", "type": "url"},
    "computed": {"key": "total", "label": "合计", "type": "computed", "formula": "qty * 2"},
    "required": {"key": "must", "label": "必填项", "type": "text", "required": True},
}
FORM = form_of(*FIELDS.values())


def parse(kind: str, raw: Any) -> tuple[Any, FieldProblem | None]:
    return parse_answer(FORM, FIELDS[kind]["key"], raw, make_ctx())


GOOD = [
    ("text", "  张三 ", "张三"),
    ("text", "张\n三", "张 三"),
    ("text", 12345, "12345"),
    ("coded", "C123456", "C123456"),
    ("coded", "ｃ１２３４５６", "C123456"),
    ("textarea", "快递把东西\n弄坏了", "快递把东西\n弄坏了"),
    ("number", "12", Decimal("12")),
    ("number", "１２.５", Decimal("12.5")),
    ("number", 7, Decimal(7)),
    ("number", 2.5, Decimal("2.5")),
    ("money", "1200", Decimal("1200.00")),
    ("money", "¥1,200.50", Decimal("1200.50")),
    ("money", "￥300元", Decimal("300.00")),
    ("money", "1.2万", Decimal("12000.00")),
    ("money", "人民币80块", Decimal("80.00")),
    ("money", Decimal("0"), Decimal("0.00")),
    ("phone", "13800000001", "13800000001"),
    ("phone", "138 0000 0001", "13800000001"),
    ("phone", "+86 13800000001", "13800000001"),
    ("phone", "138-0000-0001", "13800000001"),
    ("phone", "0086-138-0000-0001", "13800000001"),
    ("phone", "１３８０００００００１", "13800000001"),
    ("phone", 13800000001, "13800000001"),
    ("email", " Wang.Li@Example.COM ", "Wang.Li@example.com"),
    ("date", "2026-11-20", date(2026, 11, 20)),
    ("date", "2026/11/20", date(2026, 11, 20)),
    ("date", "2026年11月20日", date(2026, 11, 20)),
    ("date", "11月20号", date(2026, 11, 20)),
    ("date", "20261120", date(2026, 11, 20)),
    ("date", "今天", date(2026, 11, 23)),
    ("date", "昨天", date(2026, 11, 22)),
    ("date", "前天", date(2026, 11, 21)),
    ("date", date(2026, 1, 2), date(2026, 1, 2)),
    ("date", "2026-11-22T20:00:00Z", date(2026, 11, 23)),
    ("datetime", "2026-11-23 14:05", datetime(2026, 11, 23, 14, 5, tzinfo=SHANGHAI)),
    ("datetime", "2026年11月23日 9点", datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)),
    ("datetime", "昨天下午3点半", datetime(2026, 11, 22, 15, 30, tzinfo=SHANGHAI)),
    ("datetime", "今天 08:15", datetime(2026, 11, 23, 8, 15, tzinfo=SHANGHAI)),
    ("datetime", "14:05", datetime(2026, 11, 23, 14, 5, tzinfo=SHANGHAI)),
    ("datetime", "2026-11-23T06:05:00+00:00", datetime(2026, 11, 23, 14, 5, tzinfo=SHANGHAI)),
    ("datetime", datetime(2026, 11, 23, 14, 5), datetime(2026, 11, 23, 14, 5, tzinfo=SHANGHAI)),
    ("select", "2", "服务态度"),
    ("select", "２", "服务态度"),
    ("select", "第三个", "物流问题"),
    ("select", "物流问题", "物流问题"),
    ("select", "物流问题。", "物流问题"),
    ("select", "质量", "产品质量"),
    ("select", "我选服务态度", "服务态度"),
    ("select", 4, "其他"),
    ("multiselect", "1,3", ["破损", "丢件"]),
    ("multiselect", "丢件、破损", ["破损", "丢件"]),
    ("multiselect", "1和2", ["破损", "延迟"]),
    ("multiselect", "延迟 延迟", ["延迟"]),
    ("multiselect", ["丢件", "1"], ["破损", "丢件"]),
    ("boolean", "是", True),
    ("boolean", "是的", True),
    ("boolean", "否", False),
    ("boolean", "不需要", False),
    ("boolean", "Yes", True),
    ("boolean", False, False),
    ("rating", "5", 5),
    ("rating", "五星", 5),
    ("rating", "★★★★", 4),
    ("rating", "★★★☆☆", 3),
    ("rating", "4分", 4),
    ("rating", "两颗星", 2),
    ("rating", "非常满意", 5),
    ("rating", 3, 3),
    ("image", {"attachment_id": "a1"}, {"attachment_id": "a1", "kind": "image"}),
    ("image", {"media_id": "m1", "kind": "image"}, {"media_id": "m1", "kind": "image"}),
    (
        "file",
        [{"attachment_id": 7, "kind": "image"}, {"media_id": "m2", "kind": "video"}],
        [{"attachment_id": "7", "kind": "image"}, {"media_id": "m2", "kind": "video"}],
    ),
    ("file", {"attachment_id": "a9", "kind": "video"}, [{"attachment_id": "a9", "kind": "video"}]),
    (
        "location",
        {"lat": 31.2304, "lng": 121.4737, "label": "上海市人民广场"},
        {"lat": 31.2304, "lng": 121.4737, "label": "上海市人民广场"},
    ),
    (
        "location",
        {"latitude": "39.9", "longitude": "116.4"},
        {"lat": 39.9, "lng": 116.4, "label": ""},
    ),
    ("location", "31.23, 121.47", {"lat": 31.23, "lng": 121.47, "label": ""}),
    (
        "location",
        "北京市朝阳区建国路1号",
        {"lat": None, "lng": None, "label": "北京市朝阳区建国路1号"},
    ),
    ("person", "zhangsan", "zhangsan"),
    ("person", "张三", "zhangsan"),
    ("person", "ZhangSan", "zhangsan"),
    ("person", "13800000003", "lisi"),
    ("department", "logistics", "logistics"),
    ("department", "物流部", "logistics"),
    ("department", "物流", "logistics"),
    ("order_number", "1234 5678 9012", "123456789012"),
    ("order_number", "１２３４５６７８９０１２", "123456789012"),
    ("loose_order", "jd-2026-0001", "JD-2026-0001".lower()),
    ("url", "https://example.com/a?b=1", "https://example.com/a?b=1"),
    ("url", "www.example.com/x", "https://www.example.com/x"),
]


@pytest.mark.parametrize(("kind", "raw", "expected"), GOOD)
def test_good_answers_become_typed_values(kind: str, raw: Any, expected: Any) -> None:
    value, problem = parse(kind, raw)
    assert problem is None
    assert value == expected
    assert type(value) is type(expected)


BAD = [
    ("text", "张三李四王五", "客户姓名最多5个字，请精简一下"),
    ("text", {"a": 1}, "请输入文字"),
    ("coded", "123456", "客户编号格式不正确，例如 C123456"),
    ("textarea", "坏了", "问题描述至少需要5个字，请再详细说明一下"),
    ("textarea", "很" * 21, "问题描述最多20个字，请精简一下"),
    ("number", "十二", "请输入数字，例如 12 或 12.5"),
    ("number", "0", "数量不能小于1"),
    ("number", "101", "数量不能大于100"),
    ("number", "1e5", "请输入数字，例如 12 或 12.5"),
    ("number", True, "请输入数字，例如 12 或 12.5"),
    ("number", float("nan"), "请输入数字，例如 12 或 12.5"),
    ("money", "一千", "请输入金额，例如 1200 或 1200.50"),
    ("money", "12.345", "金额最多保留两位小数"),
    ("money", "-5", "赔偿金额不能小于0元"),
    ("phone", "123", "手机号格式不正确，请输入11位手机号"),
    ("phone", "12800000001", "手机号格式不正确，请输入11位手机号"),
    ("phone", "010-12345678", "手机号格式不正确，请输入11位手机号"),
    ("phone", "+86 1380000000", "手机号格式不正确，请输入11位手机号"),
    ("email", "wang@", "邮箱格式不正确，例如 name@example.com"),
    ("email", "wang at example.com", "邮箱格式不正确，例如 name@example.com"),
    ("date", "下周", "日期格式不正确，例如 2026-11-23"),
    ("date", "2026-02-30", "没有这一天，请检查年月日"),
    ("date", "13月1日", "没有这一天，请检查年月日"),
    ("datetime", "2026-11-23", "时间格式不正确，例如 2026-11-23 14:05"),
    ("datetime", "25:00", "时间不存在，请检查小时和分钟"),
    ("datetime", "刚才", "时间格式不正确，例如 2026-11-23 14:05"),
    ("select", "5", "没有第5项，请回复序号（1-4）或选项名称"),
    ("select", "价格", "没有“价格”这个选项，请回复序号（1-4）或选项名称"),
    ("select", "第0个", "没有第0项，请回复序号（1-4）或选项名称"),
    ("multiselect", "1,9", "没有第9项，请回复序号（1-3）或选项名称，多个请用逗号分隔"),
    ("boolean", "也许", "请回复“是”或“否”"),
    ("rating", "6", "请回复1到5之间的分数，例如 5 或 ★★★★★"),
    ("rating", "10分", "请回复1到5之间的分数，例如 5 或 ★★★★★"),
    ("rating", "还可以吧", "请回复1到5之间的分数，例如 5 或 ★★★★★"),
    ("image", "这是图片", "请发送图片"),
    ("image", {"attachment_id": "v", "kind": "voice"}, "这里需要图片，您发送的是语音"),
    ("image", [{"attachment_id": "a"}, {"attachment_id": "b"}], "这里只需要一个图片"),
    ("file", {"media_id": "x", "kind": "voice"}, "这里需要图片或视频，您发送的是语音"),
    ("file", {"kind": "image"}, "请发送图片或视频"),
    ("location", {"lat": 95, "lng": 10}, "位置坐标不正确，请重新发送位置"),
    ("location", 42, "请发送位置，或输入详细地址"),
    ("person", "不存在的人", "没有找到“不存在的人”，请输入姓名或工号"),
    ("department", "市场部", "没有找到“市场部”部门，请输入部门名称"),
    ("order_number", "12345", "订单号格式不正确，请检查后重新输入"),
    ("loose_order", "订单!", "外部单号格式不正确，请检查后重新输入"),
    ("url", "not a link", "网址格式不正确，例如 https://example.com"),
    ("url", "ftp://example.com", "网址格式不正确，例如 https://example.com"),
    ("computed", "5", "该项由系统计算，无需填写"),
]


@pytest.mark.parametrize(("kind", "raw", "message"), BAD)
def test_bad_answers_give_the_customer_a_reason(kind: str, raw: Any, message: str) -> None:
    value, problem = parse(kind, raw)
    assert value is None
    assert problem == FieldProblem(FIELDS[kind]["key"], FIELDS[kind]["label"], message)


def test_every_field_type_is_covered_by_good_and_bad_cases() -> None:
    from bot.forms import FIELD_TYPES

    good_types = {FIELDS[kind]["type"] for kind, _, _ in GOOD}
    bad_types = {FIELDS[kind]["type"] for kind, _, _ in BAD}
    assert good_types | {"computed"} == set(FIELD_TYPES)
    assert bad_types == set(FIELD_TYPES)


def test_an_empty_answer_to_an_optional_field_is_no_value_and_no_problem() -> None:
    assert parse("text", "   ") == (None, None)
    assert parse("multiselect", []) == (None, None)


def test_an_empty_answer_to_a_required_field_asks_for_it() -> None:
    assert parse("required", "") == (None, FieldProblem("must", "必填项", "请填写必填项"))


def test_a_field_may_be_named_by_its_label() -> None:
    assert parse_answer(FORM, "联系电话", "138 0000 0001", make_ctx()) == ("13800000001", None)


def test_an_unknown_field_name_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="没有的字段"):
        parse_answer(FORM, "没有的字段", "x", make_ctx())


def test_ambiguous_choice_asks_for_the_number() -> None:
    form = form_of(
        {"key": "k", "label": "类型", "type": "select", "options": ["物流慢", "物流丢件"]}
    )
    assert (
        parse_answer(form, "k", "物流", make_ctx())[1].message == "有多个选项符合“物流”，请回复序号"
    )


def test_same_name_people_are_told_apart_by_id() -> None:
    from bot.domain.directory import Directory, Person

    directory = Directory(people={"a": Person("a", "王芳"), "b": Person("b", "王芳")})
    form = form_of({"key": "p", "label": "负责人", "type": "person"})
    _, problem = parse_answer(form, "p", "王芳", make_ctx(directory=directory))
    assert problem.message == "有多位“王芳”，请输入工号"


def test_select_option_spelled_like_a_number_wins_over_its_position() -> None:
    form = form_of({"key": "k", "label": "档位", "type": "select", "options": ["3", "1", "2"]})
    assert parse_answer(form, "k", "1", make_ctx())[0] == "1"
