"""The rule vocabulary with Chinese descriptions: events, actions, targets, reserved names.

Plain tables, so an editor (or `check-config --help`) can list what a rule may say.
"""

from __future__ import annotations

from dataclasses import dataclass

# Re-exported: one list for forms, flows and rules (bot/domain/reserved.py).
from bot.domain.reserved import RESERVED_NAMES as RESERVED_NAMES

THRESHOLD_ONLY_NAMES: frozenset[str] = frozenset({"count"})

EVENTS: dict[str, str] = {
    "complaint.created": "新投诉登记完成",
    "step.entered": "投诉进入某个流程步骤",
    "step.completed": "某个流程步骤办理完成",
    "field.changed": "表单字段被修改",
    "sla.warning": "步骤即将超时（提醒）",
    "sla.breached": "步骤已超时",
    "sla.escalated": "步骤超时后升级",
    "complaint.closed": "投诉结案",
    "complaint.reopened": "投诉重新打开",
    "comment.added": "有人添加了备注",
    "survey.answered": "客户提交了满意度评价",
    "threshold": "一段时间内同类投诉达到数量（需配置 threshold）",
    "target.missed": "投诉超过首次响应或解决的目标时限（需配置 targets）",
}

# Extra names the service provides for some events, on top of the reserved ones.
EVENT_NAMES: dict[str, frozenset[str]] = {
    "field.changed": frozenset({"changed_field", "old_value", "new_value"}),
    "comment.added": frozenset({"comment"}),
    # target_kind: 首次响应 or 解决; target_limit: the limit in words (4小时); target_name.
    "target.missed": frozenset({"target_kind", "target_limit", "target_name"}),
}

TARGETS: dict[str, str] = {
    "person": "指定人员（人员 id）",
    "role": "担任某角色的所有人",
    "department_head": "部门负责人（complaint 表示投诉当前所在部门）",
    "department": "部门全体成员（complaint 表示投诉当前所在部门）",
    "group": "群聊（群 id）",
    "assignee": "投诉当前处理人（写 true）",
    "customer": "投诉的客户（写 true）",
}
ID_TARGETS = frozenset({"person", "role", "department_head", "department", "group"})
FLAG_TARGETS = frozenset({"assignee", "customer"})
# Targets that name exactly one person, as assign and escalate's reassign need.
SINGLE_PERSON_TARGETS = frozenset({"person", "department_head", "department"})


@dataclass(frozen=True)
class ActionSpec:
    """One action: what it does and the options written next to it (option -> description)."""

    name: str
    description: str
    options: dict[str, str]
    required: tuple[str, ...] = ()


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            "notify",
            "给目标发送通知消息",
            {"message": "消息模板，如 新投诉 {number}：{投诉类型}"},
            required=("message",),
        ),
        ActionSpec(
            "set_field",
            "修改表单字段的值：{field: 字段, value: 值或模板}",
            {},
        ),
        ActionSpec(
            "assign",
            "把投诉转给某人或某部门（部门负责人接手）",
            {},
        ),
        ActionSpec(
            "escalate",
            "升级：通知目标，可同时转交",
            {"message": "消息模板", "reassign": "同时转交给：{person: id} 等"},
        ),
        ActionSpec(
            "call_webhook",
            "调用外部接口：{url, method, headers, payload}",
            {},
        ),
        ActionSpec("send_survey", "邀请客户评价满意度", {}),
    )
}

WEBHOOK_OPTIONS: dict[str, str] = {
    "url": "接口地址（http:// 或 https://）",
    "method": "GET、POST、PUT、PATCH 或 DELETE，默认 POST",
    "headers": "请求头（名称: 值）",
    "payload": "请求体：键值对，文本值可用 {字段} 模板",
}
WEBHOOK_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

DEFAULT_ESCALATION_MESSAGE = "投诉 {number}（{step}）已升级，请尽快处理"
