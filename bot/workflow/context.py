"""What the service hands the engine: the run-time context and the action someone took."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.directory import Directory

# Re-exported: one list for forms, flows and rules (bot/domain/reserved.py).
from bot.domain.reserved import RESERVED_NAMES as RESERVED_NAMES

# The actor id the service uses for the customer (who may comment and withdraw the complaint).
CUSTOMER = "customer"
# The actor id for rule-driven changes (assign, escalate with reassign): acts with a supervisor's
# rights, because a business person configured it.
SYSTEM = "system"


class ActionKind(StrEnum):
    """Everything a person can do to a running flow."""

    ACCEPT = "accept"  # take the task (first response; claims a shared queue)
    TRANSFER = "transfer"  # the holder hands the task to another person
    ASSIGN_DEPARTMENT = "assign_department"  # move the complaint to another department
    COMMENT = "comment"
    SUBMIT = "submit"  # fill the step's fields and complete it
    APPROVE = "approve"  # sign-off
    REJECT = "reject"  # sign-off: back to on_reject
    REOPEN = "reopen"  # after resolved/closed: start over
    CLOSE = "close"  # a supervisor ends the flow now
    CANCEL = "cancel"  # the customer withdrew
    REMIND = "remind"  # 催办
    REASSIGN = "reassign"  # 改派
    TAKE_OVER = "take_over"  # 接手
    EXTEND = "extend"  # 延期


# Actions aimed at one task (need task_id) and at the whole flow.
TASK_ACTIONS = (
    ActionKind.ACCEPT,
    ActionKind.SUBMIT,
    ActionKind.APPROVE,
    ActionKind.REJECT,
    ActionKind.TRANSFER,
    ActionKind.ASSIGN_DEPARTMENT,
    ActionKind.REMIND,
    ActionKind.REASSIGN,
    ActionKind.TAKE_OVER,
    ActionKind.EXTEND,
)
FLOW_ACTIONS = (ActionKind.COMMENT, ActionKind.REOPEN, ActionKind.CLOSE, ActionKind.CANCEL)


@dataclass(frozen=True)
class FlowContext:
    """The world around a flow at the moment of an action."""

    env: Mapping[str, Any]  # form values by key and label, plus the reserved names
    department: str | None  # the complaint's department id
    directory: Directory
    now: datetime
    # field key and label -> key (as given to check_flow); lets steps name fields by label
    form_fields: Mapping[str, str] = field(default_factory=dict)

    def field_key(self, name: str) -> str:
        """The key for a field named by key or label (the name itself when unknown)."""
        return self.form_fields.get(name, name)

    def field_label(self, key: str) -> str:
        """A field's label for messages (the key when the form has no label for it)."""
        for name, target in self.form_fields.items():
            if target == key and name != key:
                return name
        return key


@dataclass(frozen=True)
class Action:
    """One person's action; `target` is a person id (transfer/reassign) or a department id."""

    kind: ActionKind
    actor: str
    task_id: str | None = None
    target: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""
    extend_by: timedelta | None = None
    # 延期 on a step already past its limit: how late it is (the service measures it in working
    # time), so the extension counts from now rather than from the deadline already missed.
    overdue_by: timedelta = timedelta(0)
