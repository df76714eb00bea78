"""Rules after load-time checks: references resolved, expressions parsed, durations read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.expr import Expression


@dataclass(frozen=True)
class Target:
    """{person: id}, {role: name}, {department_head: complaint|id}, {department: complaint|id},
    {group: id}, {assignee: true} or {customer: true}."""

    kind: str
    id: str | None = None  # None for assignee and customer


@dataclass(frozen=True)
class NotifyAction:
    targets: tuple[Target, ...]
    message: str


@dataclass(frozen=True)
class SetFieldAction:
    key: str
    value: Any  # text values are templates


@dataclass(frozen=True)
class AssignAction:
    target: Target


@dataclass(frozen=True)
class EscalateAction:
    targets: tuple[Target, ...]
    message: str
    reassign: Target | None = None


@dataclass(frozen=True)
class CallWebhookAction:
    url: str
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] | None = None  # None: the default payload (rule, event, number)


@dataclass(frozen=True)
class SendSurveyAction:
    pass


CompiledAction = (
    NotifyAction
    | SetFieldAction
    | AssignAction
    | EscalateAction
    | CallWebhookAction
    | SendSurveyAction
)


@dataclass(frozen=True)
class CompiledThreshold:
    count: int
    within: timedelta
    match: Expression | None = None
    group_by: str | None = None  # a field key or a reserved name


@dataclass(frozen=True)
class CompiledRule:
    name: str
    event: str
    condition: Expression | None
    actions: tuple[CompiledAction, ...]
    threshold: CompiledThreshold | None = None
    enabled: bool = True
