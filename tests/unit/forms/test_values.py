"""dump_values/load_values round trips, display_value and question_for texts."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from bot.forms import display_value, dump_values, load_values, question_for
from tests.unit.forms.example import SHANGHAI, example_directory, example_form, form_of

FORM = form_of(
    {"key": "name", "label": "姓名", "type": "text"},
    {"key": "qty", "label": "数量", "type": "number"},
    {"key": "amount", "label": "金额", "type": "money"},
    {"key": "day", "label": "日期", "type": "date"},
    {"key": "at", "label": "时间", "type": "datetime"},
    {"key": "tags", "label": "标签", "type": "multiselect", "options": ["甲", "乙"]},
    {"key": "ok", "label": "是否解决", "type": "boolean"},
    {"key": "score", "label": "评分", "type": "rating"},
    {"key": "files", "label": "附件", "type": "file", "multiple": True},
    {"key": "place", "label": "地点", "type": "location"},
    {"key": "owner", "label": "负责人", "type": "person"},
    {"key": "dept", "label": "部门", "type": "department"},
    {"key": "double", "label": "双倍", "type": "computed", "formula": "qty * 2"},
)
VALUES = {
    "name": "王小明",
    "qty": Decimal("2.5"),
    "amount": Decimal("1200.00"),
    "day": date(2026, 11, 23),
    "at": datetime(2026, 11, 23, 14, 5, tzinfo=SHANGHAI),
    "tags": ["甲", "乙"],
    "ok": True,
    "score": 4,
    "files": [{"attachment_id": "1", "kind": "image"}, {"attachment_id": "2", "kind": "video"}],
    "place": {"lat": 31.2304, "lng": 121.4737, "label": ""},
    "owner": "zhangsan",
    "dept": "logistics",
    "double": Decimal("5.0"),
}


def test_dump_is_json_safe_and_load_gives_the_typed_values_back() -> None:
    dumped = dump_values(FORM, VALUES)
    assert dumped["amount"] == "1200.00" and dumped["day"] == "2026-11-23"
    assert dumped["at"] == "2026-11-23T14:05:00+08:00"
    restored = load_values(FORM, json.loads(json.dumps(dumped)))
    assert restored == VALUES
    assert restored["at"].utcoffset() == timedelta(hours=8)


def test_load_recomputes_computed_fields_and_keeps_unknown_keys() -> None:
    restored = load_values(FORM, {"qty": "4", "double": "junk", "legacy": "旧数据"})
    assert restored == {"qty": Decimal(4), "double": Decimal(8), "legacy": "旧数据"}


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("name", "王小明", "王小明"),
        ("qty", Decimal("2.50"), "2.5"),
        ("qty", Decimal("1200"), "1200"),
        ("amount", Decimal("1200"), "¥1,200.00"),
        ("amount", Decimal("0.5"), "¥0.50"),
        ("day", date(2026, 11, 23), "2026-11-23"),
        ("at", datetime(2026, 11, 23, 14, 5, 59, tzinfo=SHANGHAI), "2026-11-23 14:05"),
        ("tags", ["甲", "乙"], "甲、乙"),
        ("ok", True, "是"),
        ("ok", False, "否"),
        ("score", 4, "★★★★☆"),
        ("score", 1, "★☆☆☆☆"),
        ("files", VALUES["files"], "图片 1 张、视频 1 个"),
        ("place", {"lat": 31.2304, "lng": 121.4737, "label": ""}, "31.230400, 121.473700"),
        ("place", {"lat": None, "lng": None, "label": "人民广场"}, "人民广场"),
        ("owner", "zhangsan", "张三"),
        ("dept", "logistics", "物流部"),
        ("double", timedelta(days=1, hours=2), "1天2小时"),
        ("name", None, "未填写"),
        ("tags", [], "未填写"),
    ],
)
def test_display_value_in_chinese(key: str, value: object, shown: str) -> None:
    field = FORM.require(key)
    assert display_value(field, value, directory=example_directory()) == shown


def test_display_without_a_directory_shows_the_id() -> None:
    assert display_value(FORM.require("owner"), "zhangsan") == "zhangsan"


EXAMPLE = example_form()


@pytest.mark.parametrize(
    ("key", "question"),
    [
        ("customer_name", "请输入客户姓名"),
        ("phone", "请输入联系电话（11位手机号）\n请留下11位手机号，方便我们联系您"),
        (
            "type",
            "请选择投诉类型：\n1. 产品质量\n2. 服务态度\n3. 物流问题\n4. 其他\n（回复序号或名称）",
        ),
        ("description", "请输入问题描述（至少5个字）"),
        ("media", "请发送相关图片/视频（图片或视频，可发送多个，发完请回复“完成”）"),
        ("complaint_date", "请输入投诉日期（例如 2026-11-23，也可回复“今天”“昨天”）"),
        ("compensation", "请输入赔偿金额（单位：元）"),
        ("satisfaction", "请为满意度打分（1-5分，5分最高）"),
    ],
)
def test_question_for_example_fields(key: str, question: str) -> None:
    assert question_for(EXAMPLE.require(key)) == question


@pytest.mark.parametrize(
    ("field", "question"),
    [
        ({"type": "boolean"}, "问题？（回复“是”或“否”）"),
        ({"type": "location"}, "请发送问题（可发送位置，或直接输入地址）"),
        ({"type": "image"}, "请发送问题（图片）"),
        ({"type": "email"}, "请输入问题（例如 name@example.com）"),
        ({"type": "text", "placeholder": "张三"}, "请输入问题（例如 张三）"),
        (
            {"type": "multiselect", "options": ["甲", "乙"]},
            "请选择问题（可多选）：\n1. 甲\n2. 乙\n（回复序号或名称，多个用逗号分隔）",
        ),
    ],
)
def test_question_for_other_types(field: dict, question: str) -> None:
    form = form_of({"key": "q", "label": "问题", **field})
    assert question_for(form.require("q")) == question
