"""A small organisation and form, shaped like config/example.yaml, for the rule tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.directory import Department, Directory, Group, Person
from bot.errors import ConfigProblem
from bot.rules import CompiledRule, RuleDefinition, compile_rules

SHANGHAI = timezone(timedelta(hours=8))

FIELDS = {
    "customer_name": "客户姓名",
    "phone": "联系电话",
    "type": "投诉类型",
    "order_no": "订单号",
    "description": "问题描述",
    "media": "相关图片/视频",
    "status": "当前状态",
    "compensation": "赔偿金额",
    "satisfaction": "满意度",
}
FIELD_NAMES = {**{key: key for key in FIELDS}, **{label: key for key, label in FIELDS.items()}}


def make_directory() -> Directory:
    people = [
        Person("zhangsan", "张三", "cs", ("客服", "客服主管")),
        Person("xiaomei", "小美", "cs", ("客服",)),
        Person("lisi", "李四", "product"),
        Person("zhaoliu", "赵六", "logistics"),
        Person("qianqi", "钱七", "finance", ("财务审核",)),
        Person("boss", "周总", "management", ("管理层",)),
    ]
    return Directory(
        people={p.id: p for p in people},
        departments={
            "cs": Department("cs", "客服部", "zhangsan"),
            "product": Department("product", "产品部", "lisi"),
            "logistics": Department("logistics", "物流部", "zhaoliu"),
            "finance": Department("finance", "财务部", "qianqi"),
            "management": Department("management", "管理层", "boss"),
            "headless": Department("headless", "无负责人部门", None),
            "empty": Department("empty", "空部门", "boss"),
        },
        roles={"客服": "", "客服主管": "", "管理层": "", "财务审核": "", "空角色": ""},
        groups={
            "cs-group": Group("cs-group", "客服部群", "staff-wecom"),
            "management-group": Group("management-group", "管理层群", "staff-dingtalk"),
        },
    )


def base_env(**overrides: Any) -> dict[str, Any]:
    """An event environment as the service builds it: keys, labels and reserved names."""
    values: dict[str, Any] = {
        "customer_name": "王女士",
        "phone": "13900000000",
        "type": "产品质量",
        "order_no": "202611230001",
        "description": "收到的杯子有裂纹",
        "media": ["photo.jpg"],
        "status": "待受理",
        "compensation": Decimal("1500.00"),
        "satisfaction": None,
    }
    reserved: dict[str, Any] = {
        "number": "TS20261123-0001",
        "step": "部门处理",
        "step_id": "handle",
        "department": "product",
        "department_name": "产品部",
        "assignee": "lisi",
        "assignee_name": "李四",
        "channel": "service",
        "created_at": datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI),
        "age": timedelta(hours=30),
        "event": "sla.breached",
        "level": 1,
        "actor": "lisi",
        "priority": "normal",
        "now": datetime(2026, 11, 24, 16, 0, tzinfo=SHANGHAI),
    }
    for key, value in overrides.items():
        if key in FIELDS:
            values[key] = value
        else:
            reserved[key] = value
    env = dict(values)
    env.update({FIELDS[key]: value for key, value in values.items()})
    env.update(reserved)
    return env


@pytest.fixture
def directory() -> Directory:
    return make_directory()


Compile = Callable[..., tuple[list[CompiledRule], list[ConfigProblem]]]


@pytest.fixture
def compile_yaml(directory: Directory) -> Compile:
    """Compile rule mappings as they come out of YAML."""

    def run(*rules: dict[str, Any]) -> tuple[list[CompiledRule], list[ConfigProblem]]:
        defs = [RuleDefinition.model_validate(rule) for rule in rules]
        return compile_rules(defs, field_names=FIELD_NAMES, directory=directory)

    return run


@pytest.fixture
def compile_ok(compile_yaml: Compile) -> Callable[..., CompiledRule]:
    """Compile one rule that must be valid."""

    def run(rule: dict[str, Any]) -> CompiledRule:
        rules, problems = compile_yaml(rule)
        assert problems == []
        [compiled] = rules
        return compiled

    return run
