"""Per-step timers: warning before the limit, breached at the limit, escalated after longer."""

from __future__ import annotations

from datetime import timedelta

from bot.workflow.definition import ParallelStep, TaskStep
from bot.workflow.effects import TimerRequested


def subject(step_id: str, activation: int) -> str:
    """The timer subject of one step activation: a new activation never inherits old timers."""
    return f"{step_id}:{activation}"


def timer_requests(
    step: TaskStep | ParallelStep, activation: int, extension: timedelta = timedelta(0)
) -> list[TimerRequested]:
    """The timers a step activation needs, shifted by any deadline extension so far."""
    limit, warn_before, escalate_after = step.durations()
    name = subject(step.id, activation)
    out = []
    if limit is not None:
        if warn_before is not None and timedelta(0) < warn_before < limit:
            out.append(TimerRequested(name, step.id, "warning", limit - warn_before + extension))
        out.append(TimerRequested(name, step.id, "breached", limit + extension))
    if escalate_after is not None:
        out.append(TimerRequested(name, step.id, "escalated", escalate_after + extension))
    return out
