"""Running rules: events, conditions, every action and target, failures kept to their rule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.directory import Directory, Person
from bot.rules import (
    EVENTS,
    Assign,
    CallWebhook,
    CompiledRule,
    Escalate,
    Notify,
    Recipient,
    RuleEvent,
    RuleFailed,
    SendSurvey,
    SetField,
    evaluate_rules,
)
from bot.rules.compiled import NotifyAction, Target
from tests.unit.rules.conftest import base_env

CompileOk = Callable[[dict[str, Any]], CompiledRule]


def notify_rule(when: str, condition: str | None = None, **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": f"{when} 通知",
        "when": when,
        "then": [{"notify": {"person": "zhangsan"}, "message": "投诉 {number}"}],
        **extra,
    }
    if condition is not None:
        rule["if"] = condition
    return rule


def run(rules: list[CompiledRule], event: str, directory: Directory, **env: Any) -> list[Any]:
    return evaluate_rules(rules, RuleEvent(event, base_env(**env)), directory=directory)


# -- events ------------------------------------------------------------------------------------


@pytest.mark.parametrize("event", [e for e in EVENTS if e != "threshold"])
def test_a_rule_fires_on_its_event_and_no_other(
    compile_ok: CompileOk, directory: Directory, event: str
) -> None:
    rule = compile_ok(notify_rule(event))
    expected = [Notify(rule.name, (Recipient("person", "zhangsan"),), "投诉 TS20261123-0001")]
    assert run([rule], event, directory) == expected
    for other in EVENTS:
        if other != event:
            assert run([rule], other, directory) == []


def test_threshold_event_runs_only_the_rule_it_names(
    compile_ok: CompileOk, directory: Directory
) -> None:
    def threshold_rule(name: str) -> CompiledRule:
        return compile_ok(
            {
                "name": name,
                "when": "threshold",
                "threshold": {"count": 2, "within": "1d"},
                "then": [{"notify": {"group": "management-group"}, "message": "{count} 起"}],
            }
        )

    first, second = threshold_rule("甲"), threshold_rule("乙")
    env = base_env(count=3)
    outcomes = evaluate_rules(
        [first, second], RuleEvent("threshold", env, rule="乙"), directory=directory
    )
    assert outcomes == [Notify("乙", (Recipient("group", "management-group"),), "3 起")]


def test_disabled_rules_do_not_run(compile_ok: CompileOk, directory: Directory) -> None:
    rule = compile_ok(notify_rule("complaint.created", enabled=False))
    assert run([rule], "complaint.created", directory) == []


def test_rules_run_in_order_against_the_same_environment(
    compile_ok: CompileOk, directory: Directory
) -> None:
    setter = compile_ok(
        {
            "name": "改状态",
            "when": "step.entered",
            "then": [{"set_field": {"field": "当前状态", "value": "处理中"}}],
        }
    )
    reader = compile_ok(notify_rule("step.entered", '当前状态 == "待受理"'))
    assert run([setter, reader], "step.entered", directory) == [
        SetField("改状态", "status", "处理中"),
        Notify(reader.name, (Recipient("person", "zhangsan"),), "投诉 TS20261123-0001"),
    ]


# -- conditions: every operator through a rule --------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        ('step == "部门处理"', True),
        ('step == "客户回访"', False),
        ('投诉类型 != "产品质量"', False),
        ("赔偿金额 > 1000", True),
        ("compensation >= 1500", True),
        ("赔偿金额 < 1000", False),
        ("赔偿金额 <= 1500.00", True),
        ('type in ["产品质量", "物流问题"]', True),
        ('type not in ["产品质量", "物流问题"]', False),
        ('问题描述 contains "裂纹"', True),
        ('`相关图片/视频` contains "photo.jpg"', True),
        ('step == "部门处理" and age > 24h', True),
        ('step == "客户回访" or age > 1d', True),
        ("not (age > 1d)", False),
        ("赔偿金额 * 2 - 1000 > 1999", True),
        ("赔偿金额 / 3 % 7 == 3", True),
        ("赔偿金额 % 7 == 0", False),
        ("-赔偿金额 < 0", True),
        ("created_at + age == now - 2h", False),
        ("now - created_at >= age", True),
        ("now - created_at > age", False),
        ("created_at >= 2026-11-23", True),
        ("满意度 > 3", False),  # unfilled: the condition is just false
        ("满意度 == null", True),
        ("len(问题描述) >= 5 and empty(满意度)", True),
        ("order_no", True),
    ],
)
def test_conditions_decide_whether_a_rule_fires(
    compile_ok: CompileOk, directory: Directory, condition: str, fires: bool
) -> None:
    rule = compile_ok(notify_rule("sla.breached", condition))
    assert bool(run([rule], "sla.breached", directory)) is fires


# -- actions -----------------------------------------------------------------------------------


def test_notify_renders_its_message(compile_ok: CompileOk, directory: Directory) -> None:
    rule = compile_ok(
        {
            "name": "新投诉通知客服主管",
            "when": "complaint.created",
            "then": [
                {
                    "notify": {"department_head": "cs"},
                    "message": "新投诉 {number}：{投诉类型}，客户 {客户姓名}，"
                    "赔偿 {赔偿金额}，已过 {age}",
                }
            ],
        }
    )
    assert run([rule], "complaint.created", directory) == [
        Notify(
            "新投诉通知客服主管",
            (Recipient("person", "zhangsan"),),
            "新投诉 TS20261123-0001：产品质量，客户 王女士，赔偿 1500，已过 1天6小时",
        )
    ]


def test_set_field_renders_text_values_and_keeps_others(
    compile_ok: CompileOk, directory: Directory
) -> None:
    rule = compile_ok(
        {
            "name": "写字段",
            "when": "step.completed",
            "then": [
                {"set_field": {"field": "当前状态", "value": "处理中（{step}）"}},
                {"set_field": {"field": "compensation", "value": 0}},
                {"set_field": {"field": "满意度", "value": None}},
            ],
        }
    )
    assert run([rule], "step.completed", directory) == [
        SetField("写字段", "status", "处理中（部门处理）"),
        SetField("写字段", "compensation", 0),
        SetField("写字段", "satisfaction", None),
    ]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"person": "boss"}, Assign("转交", "boss", None)),
        ({"department_head": "complaint"}, Assign("转交", "lisi", None)),
        ({"department_head": "logistics"}, Assign("转交", "zhaoliu", None)),
        ({"department": "logistics"}, Assign("转交", "zhaoliu", "logistics")),
        ({"department": "complaint"}, Assign("转交", "lisi", "product")),
    ],
)
def test_assign(compile_ok: CompileOk, directory: Directory, target: Any, expected: Assign) -> None:
    rule = compile_ok({"name": "转交", "when": "step.entered", "then": [{"assign": target}]})
    assert run([rule], "step.entered", directory) == [expected]


def test_escalate_notifies_and_may_reassign(compile_ok: CompileOk, directory: Directory) -> None:
    rule = compile_ok(
        {
            "name": "升级",
            "when": "sla.escalated",
            "then": [
                {
                    "escalate": {"role": "管理层"},
                    "message": "投诉 {number} 已升级",
                    "reassign": {"person": "boss"},
                },
                {"escalate": [{"role": "管理层"}, {"group": "management-group"}]},
            ],
        }
    )
    assert run([rule], "sla.escalated", directory) == [
        Escalate("升级", (Recipient("person", "boss"),), "投诉 TS20261123-0001 已升级", "boss"),
        Escalate(
            "升级",
            (Recipient("person", "boss"), Recipient("group", "management-group")),
            "投诉 TS20261123-0001（部门处理）已升级，请尽快处理",
            None,
        ),
    ]


def test_call_webhook_renders_its_payload(compile_ok: CompileOk, directory: Directory) -> None:
    rule = compile_ok(
        {
            "name": "同步工单",
            "when": "complaint.created",
            "then": [
                {
                    "call_webhook": {
                        "url": "https://crm.example.com/hook",
                        "headers": {"X-Key": 42},
                        "payload": {
                            "no": "{number}",
                            "type": "{投诉类型}",
                            "tags": ["{step}", 1],
                            "nested": {"amount": "{赔偿金额}"},
                            "fixed": True,
                        },
                    }
                },
                {"call_webhook": {"url": "http://localhost/x", "method": "get"}},
            ],
        }
    )
    assert run([rule], "complaint.created", directory) == [
        CallWebhook(
            "同步工单",
            "https://crm.example.com/hook",
            "POST",
            {"X-Key": "42"},
            {
                "no": "TS20261123-0001",
                "type": "产品质量",
                "tags": ["部门处理", 1],
                "nested": {"amount": "1500"},
                "fixed": True,
            },
        ),
        CallWebhook(
            "同步工单",
            "http://localhost/x",
            "GET",
            {},
            {"rule": "同步工单", "event": "complaint.created", "number": "TS20261123-0001"},
        ),
    ]


def test_send_survey(compile_ok: CompileOk, directory: Directory) -> None:
    rule = compile_ok({"name": "回访", "when": "complaint.closed", "then": [{"send_survey": {}}]})
    assert run([rule], "complaint.closed", directory) == [SendSurvey("回访")]


# -- targets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "recipients"),
    [
        ({"person": "lisi"}, [("person", "lisi")]),
        ({"role": "客服"}, [("person", "zhangsan"), ("person", "xiaomei")]),
        ({"department_head": "complaint"}, [("person", "lisi")]),
        ({"department_head": "finance"}, [("person", "qianqi")]),
        ({"department": "cs"}, [("person", "zhangsan"), ("person", "xiaomei")]),
        ({"department": "complaint"}, [("person", "lisi")]),
        ({"group": "cs-group"}, [("group", "cs-group")]),
        ({"assignee": True}, [("person", "lisi")]),
        ({"customer": True}, [("customer", "TS20261123-0001")]),
        (
            [{"role": "客服主管"}, {"department_head": "cs"}, {"person": "boss"}],
            [("person", "zhangsan"), ("person", "boss")],
        ),
    ],
)
def test_every_target_kind_resolves_to_recipients(
    compile_ok: CompileOk, directory: Directory, target: Any, recipients: list[tuple[str, str]]
) -> None:
    rule = compile_ok(
        {"name": "r", "when": "comment.added", "then": [{"notify": target, "message": "m"}]}
    )
    [outcome] = run([rule], "comment.added", directory)
    assert outcome == Notify("r", tuple(Recipient(kind, id) for kind, id in recipients), "m")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "env", "message"),
    [
        (
            {"department_head": "complaint"},
            {"department": None},
            "the complaint has no department yet",
        ),
        (
            {"department": "complaint"},
            {"department": "headless"},
            "department 'headless' has no members",
        ),
        (
            {"department_head": "complaint"},
            {"department": "headless"},
            "department 'headless' has no head",
        ),
        ({"assignee": True}, {"assignee": None}, "the complaint has no assignee"),
    ],
)
def test_a_target_that_is_no_one_fails_the_action_loudly(
    compile_ok: CompileOk, directory: Directory, target: Any, env: dict[str, Any], message: str
) -> None:
    rule = compile_ok(
        {"name": "r", "when": "comment.added", "then": [{"notify": target, "message": "m"}]}
    )
    assert run([rule], "comment.added", directory, **env) == [
        RuleFailed("r", f"then[0] notify: {message}")
    ]


def test_a_role_emptied_after_loading_fails_with_its_name(directory: Directory) -> None:
    rule = CompiledRule(
        "r", "comment.added", None, (NotifyAction((Target("role", "管理层"),), "m"),)
    )
    nobody = Directory(people={"x": Person("x", "X")}, roles=directory.roles)
    assert run([rule], "comment.added", nobody) == [
        RuleFailed("r", "then[0] notify: no one holds role '管理层'")
    ]


def test_assign_to_a_headless_complaint_department_fails(
    compile_ok: CompileOk, directory: Directory
) -> None:
    rule = compile_ok(
        {"name": "r", "when": "step.entered", "then": [{"assign": {"department": "complaint"}}]}
    )
    assert run([rule], "step.entered", directory, department="headless") == [
        RuleFailed("r", "then[0] assign: department 'headless' has no head")
    ]


# -- failures stay with their rule and action ---------------------------------------------------


def test_a_failing_condition_names_the_rule_and_others_still_run(
    compile_ok: CompileOk, directory: Directory
) -> None:
    broken = compile_ok({**notify_rule("sla.breached", "问题描述 > 5"), "name": "坏条件"})
    fine = compile_ok(notify_rule("sla.breached"))
    assert run([broken, fine], "sla.breached", directory) == [
        RuleFailed(
            "坏条件",
            "condition: cannot compare text with a number using '>' at column 6 in: 问题描述 > 5",
        ),
        Notify(fine.name, (Recipient("person", "zhangsan"),), "投诉 TS20261123-0001"),
    ]


def test_a_name_missing_from_the_event_fails_the_rule_not_the_run(
    compile_ok: CompileOk, directory: Directory
) -> None:
    rule = compile_ok(notify_rule("sla.breached", "赔偿金额 > 1"))
    outcomes = evaluate_rules(
        rules=[rule], event=RuleEvent("sla.breached", {}), directory=directory
    )
    assert outcomes == [
        RuleFailed(rule.name, "condition: unknown field '赔偿金额' at column 1 in: 赔偿金额 > 1")
    ]


def test_each_action_runs_on_its_own(compile_ok: CompileOk, directory: Directory) -> None:
    rule = compile_ok(
        {
            "name": "多个动作",
            "when": "sla.breached",
            "then": [
                {"notify": {"assignee": True}, "message": "催办 {number}"},
                {"notify": {"person": "boss"}, "message": "催办 {number}"},
                {"set_field": {"field": "当前状态", "value": "{step}"}},
            ],
        }
    )
    env = base_env(assignee=None)
    del env["step"]
    outcomes = evaluate_rules([rule], RuleEvent("sla.breached", env), directory=directory)
    assert outcomes == [
        RuleFailed("多个动作", "then[0] notify: the complaint has no assignee"),
        Notify("多个动作", (Recipient("person", "boss"),), "催办 TS20261123-0001"),
        RuleFailed("多个动作", "then[2] set_field: unknown field 'step' at column 2 in: {step}"),
    ]


def test_an_unexpected_error_is_contained(compile_ok: CompileOk, directory: Directory) -> None:
    class Exploding(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            raise RuntimeError("boom")

    rule = compile_ok(notify_rule("comment.added"))
    rule = CompiledRule(rule.name, rule.event, None, (NotifyAction((Target("assignee"),), "m"),))
    outcomes = evaluate_rules([rule], RuleEvent("comment.added", Exploding()), directory=directory)
    assert outcomes == [RuleFailed(rule.name, "then[0] notify: unexpected RuntimeError: boom")]


def test_values_of_every_kind_reach_templates_formatted(
    compile_ok: CompileOk, directory: Directory
) -> None:
    rule = compile_ok(
        {
            "name": "格式",
            "when": "comment.added",
            "then": [
                {
                    "notify": {"person": "boss"},
                    "message": "{created_at}|{age}|{赔偿金额}|{满意度}|{media}",
                }
            ],
        }
    )
    [outcome] = run(
        [rule],
        "comment.added",
        directory,
        compensation=Decimal("12.50"),
        age=timedelta(minutes=90),
    )
    assert isinstance(outcome, Notify)
    assert outcome.message == "2026-11-23 10:00|1小时30分钟|12.5||photo.jpg"


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.timedeltas(),
    st.datetimes(),
    st.lists(st.text(max_size=2), max_size=2),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(sorted(base_env())), VALUES))
def test_odd_event_values_never_escape_as_exceptions(
    compile_ok: CompileOk, directory: Directory, overrides: dict[str, Any]
) -> None:
    rules = [
        compile_ok(notify_rule("sla.breached", "赔偿金额 > 1000 and age > 1h")),
        compile_ok(
            {
                "name": "全部",
                "when": "sla.breached",
                "then": [
                    {
                        "notify": [{"assignee": True}, {"department": "complaint"}],
                        "message": "{age}",
                    },
                    {"assign": {"department_head": "complaint"}},
                    {"set_field": {"field": "当前状态", "value": "{created_at} {赔偿金额}"}},
                    {"call_webhook": {"url": "https://x", "payload": {"a": "{相关图片/视频}"}}},
                ],
            }
        ),
    ]
    env = {**base_env(), **overrides}
    outcomes = evaluate_rules(rules, RuleEvent("sla.breached", env), directory=directory)
    assert all(o.rule in ("sla.breached 通知", "全部") for o in outcomes)
