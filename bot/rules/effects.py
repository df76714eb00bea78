"""What evaluating rules asks the service to do: frozen, plain data, one class per action."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Recipient:
    """Who receives a message. For kind "customer" the id is the complaint number."""

    kind: Literal["person", "group", "customer"]
    id: str


@dataclass(frozen=True)
class Notify:
    rule: str
    recipients: tuple[Recipient, ...]
    message: str


@dataclass(frozen=True)
class SetField:
    rule: str
    key: str
    value: Any


@dataclass(frozen=True)
class Assign:
    """Hand the complaint to `person`; `department` is set when the complaint moves department."""

    rule: str
    person: str | None
    department: str | None


@dataclass(frozen=True)
class Escalate:
    rule: str
    recipients: tuple[Recipient, ...]
    message: str
    reassign_to: str | None = None


@dataclass(frozen=True)
class CallWebhook:
    rule: str
    url: str
    method: str
    headers: Mapping[str, str] = field(default_factory=dict)
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendSurvey:
    rule: str


@dataclass(frozen=True)
class RuleFailed:
    """A rule's condition or one of its actions could not run; `message` is for operators."""

    rule: str
    message: str


Effect = Notify | SetField | Assign | Escalate | CallWebhook | SendSurvey
RuleOutcome = Effect | RuleFailed
