"""Load-time checks: the example config compiles; each broken rule gets its own message, path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bot.rules import (
    AssignAction,
    CallWebhookAction,
    EscalateAction,
    NotifyAction,
    RuleDefinition,
    SendSurveyAction,
    SetFieldAction,
    Target,
    compile_rules,
)
from tests.unit.rules.conftest import FIELD_NAMES, Compile

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "example.yaml"


def example_section() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def test_the_example_config_rules_compile(directory: Any) -> None:
    data = example_section()
    names: dict[str, str] = {}
    for field in data["forms"]["complaint"]["fields"]:
        names[field["key"]] = field["key"]
        names[field["label"]] = field["key"]
    defs = [RuleDefinition.model_validate(rule) for rule in data["rules"]]
    rules, problems = compile_rules(defs, field_names=names, directory=directory)
    assert problems == []
    assert [r.name for r in rules] == [r["name"] for r in data["rules"]]
    by_name = {r.name: r for r in rules}
    assert by_name["提交方案后状态改为处理中"].actions == (
        SetFieldAction("current_status", "处理中"),
    )
    threshold = by_name["产品质量投诉集中预警"].threshold
    assert threshold is not None
    assert (threshold.count, threshold.within, threshold.group_by) == (
        5,
        timedelta(hours=24),
        "order_no",
    )
    assert by_name["部门处理超时升级管理层"].actions == (
        EscalateAction(
            (Target("role", "管理层"),),
            "投诉 {number} 的「部门处理」已超过48小时未完成，已升级至管理层",
        ),
    )


def test_rule_definition_accepts_if_by_alias_and_by_name() -> None:
    by_alias = RuleDefinition.model_validate({"name": "a", "when": "x", "if": "1", "then": [{}]})
    by_name = RuleDefinition(name="a", when="x", if_="1", then=[{}])
    assert by_alias.if_ == by_name.if_ == "1"


@pytest.mark.parametrize(
    "rule",
    [
        {"name": "a", "when": "complaint.created", "then": [], "if": "true"},
        {"name": "a", "when": "complaint.created", "then": [{"send_survey": {}}], "iff": "x"},
        {"name": "", "when": "complaint.created", "then": [{"send_survey": {}}]},
        {"when": "complaint.created", "then": [{"send_survey": {}}]},
    ],
)
def test_the_yaml_shape_is_checked_by_pydantic(rule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RuleDefinition.model_validate(rule)


def test_every_action_compiles(compile_ok: Any) -> None:
    rule = compile_ok(
        {
            "name": "全部动作",
            "when": "step.entered",
            "if": 'step == "部门处理"',
            "enabled": False,
            "then": [
                {"notify": [{"role": "客服"}, {"group": "cs-group"}], "message": "投诉 {number}"},
                {"set_field": {"field": "当前状态", "value": "处理中 {step}"}},
                {"assign": {"department": "logistics"}},
                {"escalate": {"role": "管理层"}, "reassign": {"person": "boss"}},
                {
                    "call_webhook": {
                        "url": "https://example.com/hook",
                        "method": "put",
                        "headers": {"X-Token": "abc"},
                        "payload": {"no": "{number}", "type": "{投诉类型}", "n": 1},
                    }
                },
                {"send_survey": None},
            ],
        }
    )
    assert rule.enabled is False
    assert rule.condition is not None and rule.condition.names == {"step"}
    assert rule.actions == (
        NotifyAction((Target("role", "客服"), Target("group", "cs-group")), "投诉 {number}"),
        SetFieldAction("status", "处理中 {step}"),
        AssignAction(Target("department", "logistics")),
        EscalateAction(
            (Target("role", "管理层"),),
            "投诉 {number}（{step}）已升级，请尽快处理",
            Target("person", "boss"),
        ),
        CallWebhookAction(
            "https://example.com/hook",
            "PUT",
            {"X-Token": "abc"},
            {"no": "{number}", "type": "{投诉类型}", "n": 1},
        ),
        SendSurveyAction(),
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"person": "lisi"}, Target("person", "lisi")),
        ({"role": "客服"}, Target("role", "客服")),
        ({"department_head": "complaint"}, Target("department_head", "complaint")),
        ({"department_head": "cs"}, Target("department_head", "cs")),
        ({"department": "complaint"}, Target("department", "complaint")),
        ({"department": "logistics"}, Target("department", "logistics")),
        ({"group": "management-group"}, Target("group", "management-group")),
        ({"assignee": True}, Target("assignee")),
        ({"customer": True}, Target("customer")),
    ],
)
def test_every_target_kind_compiles(compile_ok: Any, target: Any, expected: Target) -> None:
    rule = compile_ok(
        {"name": "r", "when": "comment.added", "then": [{"notify": target, "message": "m"}]}
    )
    assert rule.actions == (NotifyAction((expected,), "m"),)


def test_reserved_and_event_names_are_allowed(compile_ok: Any) -> None:
    compile_ok(
        {
            "name": "r",
            "when": "field.changed",
            "if": "changed_field == 'type' and old_value != new_value and age > 1h and priority",
            "then": [
                {"notify": {"assignee": True}, "message": "{assignee_name} {department_name}"}
            ],
        }
    )


# -- broken rules: each with its own message and path -------------------------------------------

NOTIFY = {"notify": {"role": "客服"}, "message": "m"}

BROKEN: list[tuple[dict[str, Any], tuple[Any, ...], str]] = [
    (
        {"name": "r", "when": "sla.breachd", "then": [NOTIFY]},
        (0, "when"),
        "rule 'r': unknown event 'sla.breachd' (did you mean 'sla.breached'?); expected one of: "
        "complaint.created, step.entered, step.completed, field.changed, sla.warning, "
        "sla.breached, sla.escalated, complaint.closed, complaint.reopened, comment.added, "
        "survey.answered, threshold, target.missed",
    ),
    (
        {
            "name": "部门处理超时催办",
            "when": "sla.breached",
            "if": "产品不 == 1",
            "then": [NOTIFY],
        },
        (0, "if"),
        "rule '部门处理超时催办': unknown field '产品不' at column 1 in: 产品不 == 1",
    ),
    (
        {"name": "r", "when": "sla.breached", "if": "step ==", "then": [NOTIFY]},
        (0, "if"),
        "rule 'r': expected a value after '==' at column 8 in: step ==",
    ),
    (
        {"name": "r", "when": "sla.breached", "if": "投诉类行 == 'a'", "then": [NOTIFY]},
        (0, "if"),
        "rule 'r': unknown field '投诉类行' (did you mean '投诉类型'?) "
        "at column 1 in: 投诉类行 == 'a'",
    ),
    (
        {"name": "r", "when": "sla.breached", "if": "count > 3", "then": [NOTIFY]},
        (0, "if"),
        "rule 'r': unknown field 'count' (it is only set in rules with when: threshold) "
        "at column 1 in: count > 3",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"role": "客服主任"}, "message": "m"}],
        },
        (0, "then", 0, "notify", "role"),
        "rule 'r': unknown role '客服主任' (did you mean '客服主管'?) (declare it under roles:)",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"role": "空角色"}, "message": "m"}],
        },
        (0, "then", 0, "notify", "role"),
        "rule 'r': no one holds role '空角色' (give it to someone under people:)",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"person": "lisi2"}, "message": "m"}],
        },
        (0, "then", 0, "notify", "person"),
        "rule 'r': unknown person 'lisi2' (did you mean 'lisi'?)",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"department_head": "marketing"}, "message": "m"}],
        },
        (0, "then", 0, "notify", "department_head"),
        "rule 'r': unknown department 'marketing' (or write complaint)",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"department_head": "headless"}, "message": "m"}],
        },
        (0, "then", 0, "notify", "department_head"),
        "rule 'r': department 'headless' has no head",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"group": "cs"}, "message": "m"}],
        },
        (0, "then", 0, "notify", "group"),
        "rule 'r': unknown group 'cs'",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": [NOTIFY["notify"], {"rol": "x"}], "message": "m"}],
        },
        (0, "then", 0, "notify", 1, "rol"),
        "rule 'r': unknown target 'rol' (did you mean 'role'?); expected one of: person, role, "
        "department_head, department, group, assignee, customer",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"role": "客服", "person": "lisi"}, "message": "m"}],
        },
        (0, "then", 0, "notify"),
        "rule 'r': a target names exactly one of: person, role, department_head, department, "
        "group, assignee, customer; got {'role': '客服', 'person': 'lisi'}",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"assignee": "yes"}, "message": "m"}],
        },
        (0, "then", 0, "notify", "assignee"),
        "rule 'r': write {assignee: true}, got 'yes'",
    ),
    (
        {"name": "r", "when": "step.entered", "then": [{"notify": "客服", "message": "m"}]},
        (0, "then", 0, "notify"),
        "rule 'r': expected a target like {role: 客服} or a list of them, got '客服'",
    ),
    (
        {"name": "r", "when": "step.entered", "then": [{"notify": {"role": "客服"}}]},
        (0, "then", 0),
        "rule 'r': notify needs message: (消息模板，如 新投诉 {number}：{投诉类型})",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"role": "客服"}, "message": "客户 {客户性名}"}],
        },
        (0, "then", 0, "message"),
        "rule 'r': unknown field '客户性名' (did you mean '客户姓名'?) "
        "at column 5 in: 客户 {客户性名}",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"role": "客服"}, "message": "投诉 {number"}],
        },
        (0, "then", 0, "message"),
        "rule 'r': unclosed '{' (close the placeholder with '}', or write '{{' for a brace) "
        "at column 4 in: 投诉 {number",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"role": "客服"}, "message": "m", "to": "x"}],
        },
        (0, "then", 0, "to"),
        "rule 'r': unknown option 'to' for notify (allowed: message)",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notfy": {"role": "客服"}, "message": "m"}],
        },
        (0, "then", 0, "notfy"),
        "rule 'r': unknown action 'notfy' (did you mean 'notify'?); expected one of: notify, "
        "set_field, assign, escalate, call_webhook, send_survey",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"notify": {"role": "客服"}, "send_survey": {}, "message": "m"}],
        },
        (0, "then", 0),
        "rule 'r': one action per item, found notify and send_survey: start each with its own '- '",
    ),
    (
        {"name": "r", "when": "step.entered", "then": [{"message": "m"}]},
        (0, "then", 0),
        "rule 'r': an action needs one of: notify, set_field, assign, escalate, call_webhook, "
        "send_survey",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"set_field": {"field": "产品不", "value": 1}}],
        },
        (0, "then", 0, "set_field", "field"),
        "rule 'r': unknown field '产品不'",
    ),
    (
        {"name": "r", "when": "step.entered", "then": [{"set_field": {"field": "当前状态"}}]},
        (0, "then", 0, "set_field"),
        "rule 'r': write set_field: {field: 字段, value: 值}, got {'field': '当前状态'}",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"set_field": {"field": "当前状态", "value": "{nope}"}}],
        },
        (0, "then", 0, "set_field", "value"),
        "rule 'r': unknown field 'nope' at column 2 in: {nope}",
    ),
    (
        {"name": "r", "when": "step.entered", "then": [{"assign": {"role": "客服"}}]},
        (0, "then", 0, "assign", "role"),
        "rule 'r': assign needs one person: use person, department_head or department, not role",
    ),
    (
        {"name": "r", "when": "step.entered", "then": [{"assign": [{"person": "lisi"}]}]},
        (0, "then", 0, "assign"),
        "rule 'r': assign takes one target like {person: lisi}, got [{'person': 'lisi'}]",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"escalate": {"role": "管理层"}, "reassign": {"group": "cs-group"}}],
        },
        (0, "then", 0, "reassign", "group"),
        "rule 'r': reassign needs one person: use person, department_head or department, not group",
    ),
    (
        {"name": "r", "when": "step.entered", "then": [{"call_webhook": {"url": "ftp://x"}}]},
        (0, "then", 0, "call_webhook", "url"),
        "rule 'r': url must start with https:// or http://, got 'ftp://x'",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"call_webhook": {"url": "https://x", "method": "FETCH"}}],
        },
        (0, "then", 0, "call_webhook", "method"),
        "rule 'r': unknown method 'FETCH'; expected one of: GET, POST, PUT, PATCH, DELETE",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"call_webhook": {"url": "https://x", "body": {}}}],
        },
        (0, "then", 0, "call_webhook", "body"),
        "rule 'r': unknown option 'body' for call_webhook (allowed: url, method, headers, payload)",
    ),
    (
        {
            "name": "r",
            "when": "step.entered",
            "then": [{"call_webhook": {"url": "https://x", "payload": {"a": ["x{nope}"]}}}],
        },
        (0, "then", 0, "call_webhook", "payload", "a", 0),
        "rule 'r': unknown field 'nope' at column 3 in: x{nope}",
    ),
    (
        {"name": "r", "when": "complaint.closed", "then": [{"send_survey": {"message": "x"}}]},
        (0, "then", 0, "send_survey"),
        "rule 'r': send_survey takes no options; write send_survey: {}, got {'message': 'x'}",
    ),
    (
        {"name": "r", "when": "threshold", "then": [NOTIFY]},
        (0, "when"),
        "rule 'r': when: threshold needs threshold: {count: 5, within: 24h, match: ...}",
    ),
    (
        {
            "name": "r",
            "when": "complaint.created",
            "threshold": {"count": 2, "within": "1h"},
            "then": [NOTIFY],
        },
        (0, "threshold"),
        "rule 'r': threshold: only applies to when: threshold, not 'complaint.created'",
    ),
    (
        {
            "name": "r",
            "when": "threshold",
            "threshold": {"count": 0, "within": "1h"},
            "then": [NOTIFY],
        },
        (0, "threshold", "count"),
        "rule 'r': count must be at least 1, got 0",
    ),
    (
        {
            "name": "r",
            "when": "threshold",
            "threshold": {"count": 5, "within": "24"},
            "then": [NOTIFY],
        },
        (0, "threshold", "within"),
        "rule 'r': duration '24' has no unit: add s, m, h, d or w (e.g. 24m or 24h)",
    ),
    (
        {
            "name": "r",
            "when": "threshold",
            "threshold": {"count": 5, "within": "0h"},
            "then": [NOTIFY],
        },
        (0, "threshold", "within"),
        "rule 'r': within must be longer than 0, got '0h'",
    ),
    (
        {
            "name": "r",
            "when": "threshold",
            "threshold": {"count": 5, "within": "1d", "match": "count > 1"},
            "then": [NOTIFY],
        },
        (0, "threshold", "match"),
        "rule 'r': unknown field 'count' (it is only set in rules with when: threshold) "
        "at column 1 in: count > 1",
    ),
    (
        {
            "name": "r",
            "when": "threshold",
            "threshold": {"count": 5, "within": "1d", "group_by": "订单"},
            "then": [NOTIFY],
        },
        (0, "threshold", "group_by"),
        "rule 'r': unknown field '订单' (did you mean '订单号'?)",
    ),
]


@pytest.mark.parametrize(("rule", "path", "message"), BROKEN, ids=[m[:60] for _, _, m in BROKEN])
def test_broken_rule_gets_its_own_message_and_path(
    compile_yaml: Compile, rule: dict[str, Any], path: tuple[Any, ...], message: str
) -> None:
    rules, problems = compile_yaml(rule)
    assert [(p.path, p.message) for p in problems] == [(path, message)]
    assert rules == []


def test_broken_rules_have_distinct_messages() -> None:
    assert len({message for _, _, message in BROKEN}) == len(BROKEN) >= 10


def test_duplicate_rule_names_are_reported_on_the_second(compile_yaml: Compile) -> None:
    rule = {"name": "同名", "when": "complaint.created", "then": [{"send_survey": {}}]}
    rules, problems = compile_yaml(rule, {**rule, "when": "complaint.closed"})
    assert [(p.path, p.message) for p in problems] == [
        ((1, "name"), "rule '同名': duplicate rule name (rule 0 has it too)")
    ]
    assert [r.event for r in rules] == ["complaint.created"]


def test_all_problems_of_a_rule_are_reported_at_once(compile_yaml: Compile) -> None:
    _, problems = compile_yaml(
        {"name": "ok", "when": "complaint.created", "then": [{"send_survey": {}}]},
        {
            "name": "many",
            "when": "nope",
            "if": "a == b",
            "then": [{"notify": {"role": "x"}, "message": "{c}"}],
        },
    )
    assert [p.path for p in problems] == [
        (1, "when"),
        (1, "if"),
        (1, "if"),
        (1, "then", 0, "notify", "role"),
        (1, "then", 0, "message"),
    ]


def test_problems_can_be_placed_under_the_rules_section(compile_yaml: Compile) -> None:
    _, [problem] = compile_yaml({"name": "r", "when": "x", "then": [{"send_survey": {}}]})
    assert problem.under("rules").path == ("rules", 0, "when")


def test_known_events_and_group_ids_can_be_narrowed(directory: Any) -> None:
    rule = RuleDefinition.model_validate(
        {
            "name": "r",
            "when": "complaint.created",
            "then": [{"notify": {"group": "g2"}, "message": "m"}],
        }
    )
    rules, problems = compile_rules(
        [rule],
        field_names=FIELD_NAMES,
        directory=directory,
        known_events=["complaint.created"],
        group_ids=["g2"],
    )
    assert problems == [] and len(rules) == 1
    _, problems = compile_rules(
        [rule], field_names=FIELD_NAMES, directory=directory, known_events=["complaint.closed"]
    )
    assert [p.path for p in problems] == [(0, "when"), (0, "then", 0, "notify", "group")]


def test_numeric_ids_from_yaml_are_read_as_text(compile_yaml: Compile, directory: Any) -> None:
    _, [problem] = compile_yaml(
        {
            "name": "r",
            "when": "complaint.created",
            "then": [{"notify": {"person": 101}, "message": "m"}],
        }
    )
    assert problem.message == "rule 'r': unknown person '101'"
