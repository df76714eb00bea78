"""Rules in plain Chinese for the config view: 当 … 如果 … 就 … (pure functions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from yarl import URL

from bot.domain.directory import Directory
from bot.rules import CompiledRule
from bot.rules.catalog import EVENTS
from bot.rules.compiled import (
    AssignAction,
    CallWebhookAction,
    CompiledAction,
    EscalateAction,
    NotifyAction,
    SendSurveyAction,
    SetFieldAction,
    Target,
)
from bot.web.console_format import duration_text


@dataclass(frozen=True)
class RuleText:
    name: str
    enabled: bool
    when: str
    condition: str | None
    actions: tuple[str, ...]


def target_text(target: Target, directory: Directory) -> str:
    """张三, 角色「客服」, 投诉所在部门负责人, 客服部全体成员, 群「管理层群」, 当前处理人, 客户."""
    ident = target.id or ""
    if target.kind == "person":
        return directory.name_of(ident)
    if target.kind == "role":
        return f"角色「{ident}」"
    if target.kind == "department_head":
        if ident == "complaint":
            return "投诉所在部门负责人"
        return f"{directory.department_name(ident)}负责人"
    if target.kind == "department":
        if ident == "complaint":
            return "投诉所在部门全体成员"
        return f"{directory.department_name(ident)}全体成员"
    if target.kind == "group":
        group = directory.groups.get(ident)
        return f"群「{group.name if group else ident}」"
    if target.kind == "assignee":
        return "当前处理人"
    if target.kind == "customer":
        return "客户"
    return ident or target.kind


def _targets(targets: tuple[Target, ...], directory: Directory) -> str:
    return "、".join(target_text(t, directory) for t in targets)


def action_text(action: CompiledAction, directory: Directory, labels: Mapping[str, str]) -> str:
    """One action as a sentence; webhook addresses show only their host (paths may hold keys)."""
    if isinstance(action, NotifyAction):
        return f"通知 {_targets(action.targets, directory)}：「{action.message}」"
    if isinstance(action, SetFieldAction):
        return f"把「{labels.get(action.key, action.key)}」设为「{action.value}」"
    if isinstance(action, AssignAction):
        return f"转交给 {target_text(action.target, directory)}"
    if isinstance(action, EscalateAction):
        text = f"升级通知 {_targets(action.targets, directory)}：「{action.message}」"
        if action.reassign is not None:
            text += f"，并转交给 {target_text(action.reassign, directory)}"
        return text
    if isinstance(action, CallWebhookAction):
        host = URL(action.url).host or "?"
        return f"调用外部接口 {action.method} {host}"
    if isinstance(action, SendSurveyAction):
        return "邀请客户评价满意度"
    return type(action).__name__


def rule_text(rule: CompiledRule, directory: Directory, labels: Mapping[str, str]) -> RuleText:
    """The rule's when / if / then in words (`labels`: field key -> label)."""
    when = EVENTS.get(rule.event, rule.event)
    if rule.threshold is not None:
        t = rule.threshold
        what = f"满足「{t.match.source}」的投诉" if t.match is not None else "投诉"
        per = f"（按「{labels.get(t.group_by, t.group_by)}」分别计数）" if t.group_by else ""
        when = f"{duration_text(t.within)}内{what}达到 {t.count} 起{per}"
    return RuleText(
        name=rule.name,
        enabled=rule.enabled,
        when=when,
        condition=rule.condition.source if rule.condition is not None else None,
        actions=tuple(action_text(a, directory, labels) for a in rule.actions),
    )
