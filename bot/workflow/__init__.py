"""Flow definitions (pydantic) and a pure engine: (definition, state, action) -> (state, effects).

Patterns live in small modules of their own (exclusive.py, signoff.py, timers.py); runner.py runs
automatic steps until only human steps remain; guards.py says who may do what; engine.py applies
actions; check.py validates a definition at load time; calendar.py counts working time.
"""

from __future__ import annotations

from bot.workflow.calendar import AlwaysOpen, Calendar, CalendarConfig, WorkingCalendar
from bot.workflow.check import check_flow
from bot.workflow.context import (
    CUSTOMER,
    FLOW_ACTIONS,
    RESERVED_NAMES,
    TASK_ACTIONS,
    Action,
    ActionKind,
    FlowContext,
)
from bot.workflow.definition import (
    COMPLAINT,
    AssigneeRule,
    Branch,
    EndStep,
    ExclusiveStep,
    FieldAccess,
    FlowDefinition,
    ParallelStep,
    Step,
    TaskStep,
    field_access,
)
from bot.workflow.effects import (
    AssigneeChanged,
    Commented,
    ConditionFailed,
    DeadlineExtended,
    DepartmentChanged,
    Effect,
    FieldsWritten,
    FlowEnded,
    Reminded,
    Reopened,
    StepCompleted,
    StepEntered,
    TaskAccepted,
    TaskClosed,
    TaskOpened,
    TimerRequested,
    TimersCancelled,
    effect_to_dict,
)
from bot.workflow.engine import FLOW_KEY, act, available_actions, lifecycle_status, start
from bot.workflow.state import (
    MIGRATIONS,
    STATE_VERSION,
    Signature,
    Task,
    Transition,
    Visit,
    WorkflowState,
)

__all__ = [
    "COMPLAINT",
    "CUSTOMER",
    "FLOW_ACTIONS",
    "FLOW_KEY",
    "MIGRATIONS",
    "RESERVED_NAMES",
    "STATE_VERSION",
    "TASK_ACTIONS",
    "Action",
    "ActionKind",
    "AlwaysOpen",
    "AssigneeChanged",
    "AssigneeRule",
    "Branch",
    "Calendar",
    "CalendarConfig",
    "Commented",
    "ConditionFailed",
    "DeadlineExtended",
    "DepartmentChanged",
    "Effect",
    "EndStep",
    "ExclusiveStep",
    "FieldAccess",
    "FieldsWritten",
    "FlowContext",
    "FlowDefinition",
    "FlowEnded",
    "ParallelStep",
    "Reminded",
    "Reopened",
    "Signature",
    "Step",
    "StepCompleted",
    "StepEntered",
    "Task",
    "TaskAccepted",
    "TaskClosed",
    "TaskOpened",
    "TaskStep",
    "TimerRequested",
    "TimersCancelled",
    "Transition",
    "Visit",
    "WorkflowState",
    "WorkingCalendar",
    "act",
    "available_actions",
    "check_flow",
    "effect_to_dict",
    "field_access",
    "lifecycle_status",
    "start",
]
