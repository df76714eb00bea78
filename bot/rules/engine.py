"""Run compiled rules against one event: pure functions from (rules, event, directory) to outcomes.

Every rule is evaluated against the same event environment (a set_field of one rule is not seen
by the next; the service applies effects afterwards). A failing condition or action becomes a
RuleFailed outcome; the other rules, and the other actions of the same rule, still run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.domain.directory import Directory
from bot.errors import BotError, ExpressionError
from bot.expr import render_template
from bot.expr.values import align_moments, equal
from bot.rules.compiled import (
    AssignAction,
    CallWebhookAction,
    CompiledAction,
    CompiledRule,
    EscalateAction,
    NotifyAction,
    SendSurveyAction,
    SetFieldAction,
    Target,
)
from bot.rules.effects import (
    Assign,
    CallWebhook,
    Effect,
    Escalate,
    Notify,
    Recipient,
    RuleFailed,
    RuleOutcome,
    SendSurvey,
    SetField,
)


@dataclass(frozen=True)
class RuleEvent:
    """Something that happened to a complaint; `env` maps field keys, labels and reserved names.

    For a threshold event, `rule` names the rule whose threshold was crossed: only it runs.
    """

    name: str
    env: Mapping[str, Any] = field(default_factory=dict)
    rule: str | None = None


class Unresolved(BotError):
    """A target resolved to no one, or a value the action needs is missing."""


def evaluate_rules(
    rules: Sequence[CompiledRule], event: RuleEvent, *, directory: Directory
) -> list[RuleOutcome]:
    """The outcomes of every enabled rule for this event whose condition holds, in rule order."""
    outcomes: list[RuleOutcome] = []
    for rule in rules:
        if not rule.enabled or rule.event != event.name:
            continue
        if event.rule is not None and rule.name != event.rule:
            continue
        if rule.condition is not None:
            try:
                if not rule.condition.is_true(event.env):
                    continue
            except ExpressionError as error:
                outcomes.append(RuleFailed(rule.name, f"condition: {_located(error)}"))
                continue
        for index, action in enumerate(rule.actions):
            outcomes.append(_run_isolated(rule, index, action, event, directory))
    return outcomes


def _run_isolated(
    rule: CompiledRule, index: int, action: CompiledAction, event: RuleEvent, directory: Directory
) -> RuleOutcome:
    where = f"then[{index}] {action_name(action)}"
    try:
        return run_action(rule.name, action, event, directory)
    except ExpressionError as error:
        return RuleFailed(rule.name, f"{where}: {_located(error)}")
    except BotError as error:
        return RuleFailed(rule.name, f"{where}: {error}")
    except Exception as error:  # a bug or an odd value must not stop the other rules
        return RuleFailed(rule.name, f"{where}: unexpected {type(error).__name__}: {error}")


def _located(error: ExpressionError) -> str:
    return f"{error.message} at column {error.position + 1} in: {error.source}"


def action_name(action: CompiledAction) -> str:
    return _ACTION_NAMES[type(action)]


_ACTION_NAMES: dict[type, str] = {
    NotifyAction: "notify",
    SetFieldAction: "set_field",
    AssignAction: "assign",
    EscalateAction: "escalate",
    CallWebhookAction: "call_webhook",
    SendSurveyAction: "send_survey",
}


def run_action(rule: str, action: CompiledAction, event: RuleEvent, directory: Directory) -> Effect:
    """One action's effect; raises Unresolved or ExpressionError when it cannot be built."""
    env = event.env
    if isinstance(action, NotifyAction):
        recipients = resolve_targets(action.targets, env, directory)
        return Notify(rule, recipients, render_template(action.message, env))
    if isinstance(action, SetFieldAction):
        value = action.value
        return SetField(
            rule, action.key, render_template(value, env) if isinstance(value, str) else value
        )
    if isinstance(action, AssignAction):
        return _assign(rule, action.target, env, directory)
    if isinstance(action, EscalateAction):
        recipients = resolve_targets(action.targets, env, directory)
        reassign_to = None
        if action.reassign is not None:
            reassign_to = _assign(rule, action.reassign, env, directory).person
        return Escalate(rule, recipients, render_template(action.message, env), reassign_to)
    if isinstance(action, CallWebhookAction):
        if action.payload is None:
            payload: Any = {"rule": rule, "event": event.name, "number": env.get("number")}
        else:
            payload = _render_payload(action.payload, env)
        return CallWebhook(rule, action.url, action.method, dict(action.headers), payload)
    return SendSurvey(rule)


def _render_payload(value: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        return render_template(value, env)
    if isinstance(value, Mapping):
        return {key: _render_payload(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_render_payload(item, env) for item in value]
    return value


def _department(target: Target, env: Mapping[str, Any]) -> str:
    department = env.get("department") if target.id == "complaint" else target.id
    if not department:
        raise Unresolved("the complaint has no department yet")
    return str(department)


def _assign(rule: str, target: Target, env: Mapping[str, Any], directory: Directory) -> Assign:
    if target.kind == "person":
        return Assign(rule, target.id, None)
    department = _department(target, env)
    head = directory.head_of(department)
    if head is None:
        raise Unresolved(f"department '{department}' has no head")
    # {department: x} moves the complaint there; {department_head: x} only hands it to the head.
    return Assign(rule, head, department if target.kind == "department" else None)


def resolve_targets(
    targets: Sequence[Target], env: Mapping[str, Any], directory: Directory
) -> tuple[Recipient, ...]:
    """Recipients for the targets, deduplicated in order; Unresolved when a target is no one."""
    found: list[Recipient] = []
    for target in targets:
        for recipient in _resolve(target, env, directory):
            if recipient not in found:
                found.append(recipient)
    return tuple(found)


def _resolve(target: Target, env: Mapping[str, Any], directory: Directory) -> list[Recipient]:
    kind, ref = target.kind, target.id or ""
    if kind == "person":
        return [Recipient("person", ref)]
    if kind == "group":
        return [Recipient("group", ref)]
    if kind == "customer":
        return [Recipient("customer", str(env.get("number") or ""))]
    if kind == "assignee":
        assignee = env.get("assignee")
        if not assignee:
            raise Unresolved("the complaint has no assignee")
        return [Recipient("person", str(assignee))]
    if kind == "role":
        members = directory.members_of_role(ref)
        if not members:
            raise Unresolved(f"no one holds role '{ref}'")
        return [Recipient("person", person) for person in members]
    department = _department(target, env)
    if kind == "department_head":
        head = directory.head_of(department)
        if head is None:
            raise Unresolved(f"department '{department}' has no head")
        return [Recipient("person", head)]
    members = directory.members_of_department(department)
    if not members:
        raise Unresolved(f"department '{department}' has no members")
    return [Recipient("person", person) for person in members]


def threshold_count(
    rule: CompiledRule, current: Mapping[str, Any], window: Sequence[Mapping[str, Any]]
) -> int | None:
    """How many matching complaints share `current`'s group in the window, once that reaches
    the rule's count; None when it does not (or when `current` itself does not match).

    `window` holds the envs of complaints created within `within` before `current`, current
    included (it is counted once either way). Entries with a created_at outside
    [current.created_at - within, current.created_at] are ignored, so the window edge is inclusive.
    A complaint whose match condition cannot be evaluated does not count.
    """
    threshold = rule.threshold
    if threshold is None or not _matches(rule, current):
        return None
    group = None
    if threshold.group_by is not None:
        group = current.get(threshold.group_by)
        if group is None or group == "":
            return None  # an unfilled group value (no order number) groups nothing
    count = 0
    seen_current = False
    for other in window:
        if other is current or other == current:
            if not seen_current:
                seen_current = True
                count += 1
            continue
        if not _in_window(threshold.within, current, other):
            continue
        if threshold.group_by is not None and not equal(other.get(threshold.group_by), group):
            continue
        if _matches(rule, other):
            count += 1
    if not seen_current:
        count += 1
    return count if count >= threshold.count else None


def _matches(rule: CompiledRule, env: Mapping[str, Any]) -> bool:
    assert rule.threshold is not None
    if rule.threshold.match is None:
        return True
    try:
        return rule.threshold.match.is_true(env)
    except ExpressionError:
        return False


def _in_window(within: Any, current: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    now, then = current.get("created_at"), other.get("created_at")
    if not isinstance(now, date) or not isinstance(then, date):
        return True  # the service chose the window; nothing to re-check
    now, then = align_moments(now, then)
    return bool(now - within <= then <= now)  # type: ignore[operator]
