"""Service levels: a due timer becomes an sla.* event; the clock stops while a customer answers."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.expr import duration_in_chinese
from bot.service.complaints import ComplaintService
from bot.service.loaded import LoadedComplaint, load_complaint
from bot.service.targets import fire_target, is_target_timer, target_subject
from bot.service.views import step_name
from storage.models import Timer

if TYPE_CHECKING:
    from bot.delivery.timers import DueTimer

log = logging.getLogger(__name__)

LEVEL_EVENTS = {"warning": "sla.warning", "breached": "sla.breached", "escalated": "sla.escalated"}
LEVEL_WORDS = {"warning": "即将超时", "breached": "已超时", "escalated": "严重超时，已升级"}


def _activation_is_current(lc: LoadedComplaint, timer: DueTimer) -> bool:
    """A timer belongs to one activation of a step; a later visit of that step has its own."""
    _number, _, rest = timer.subject.partition(":")
    step_id, _, activation = rest.rpartition(":")
    return (
        step_id in lc.state.current
        and str(lc.state.activations.get(step_id)) == activation
        and not lc.state.ended
    )


class SlaService:
    def __init__(self, complaints: ComplaintService):
        self.complaints = complaints
        self.rt = complaints.rt

    async def fire(self, session: AsyncSession, timer: DueTimer) -> bool:
        """Fire one claimed timer in the caller's transaction; False when it no longer applies."""
        if is_target_timer(timer):
            return await fire_target(self.complaints, session, timer)
        now = self.rt.now()
        lc = await load_complaint(session, self.rt, complaint_id=timer.complaint_id)
        if not _activation_is_current(lc, timer):
            # The ticker's claim marked the row fired; a stale timer is cancelled instead.
            await session.execute(
                update(Timer).where(Timer.id == timer.id).values(status="cancelled", fired_at=None)
            )
            return False
        overdue = await self._overdue_since(session, timer)
        overdue_text = (
            f"超时 {duration_in_chinese(now - overdue)}" if overdue and now > overdue else None
        )
        step = step_name(lc.flow, timer.step_id)
        change = self.complaints.begin(session, lc, actor="system", now=now)
        change.note(
            "sla", f"「{step}」{LEVEL_WORDS.get(timer.level, timer.level)}", level=timer.level
        )
        change.event(LEVEL_EVENTS[timer.level], level=timer.level, overdue_by=overdue_text)
        await self.complaints.commit_change(change)
        return True

    async def _overdue_since(self, session: AsyncSession, timer: DueTimer) -> datetime | None:
        """When the step's limit passed: the due time of its 'breached' timer."""
        if timer.level == "breached":
            return timer.due_at
        return await session.scalar(
            select(Timer.due_at).where(Timer.subject == timer.subject, Timer.level == "breached")
        )

    async def pause(self, session: AsyncSession, number: str, *, actor: str, reason: str) -> int:
        """Stop the clock of the current step (waiting on the customer); returns timers paused."""
        now = self.rt.now()
        lc = await load_complaint(session, self.rt, number=number)
        timers = await self._current_timers(session, lc, ("pending",))
        for timer in timers:
            left = (
                self.rt.calendar.elapsed(now, timer.due_at) if timer.due_at > now else timedelta(0)
            )
            timer.status, timer.remaining_seconds = "paused", left.total_seconds()
        change = self.complaints.begin(session, lc, actor=actor, now=now)
        change.note("paused", "等待客户补充信息，计时暂停" + (f"：{reason}" if reason else ""))
        await self.complaints.commit_change(change)
        return len(timers)

    async def resume(self, session: AsyncSession, number: str, *, actor: str) -> int:
        """Restart a paused clock with the time that was left; returns timers resumed."""
        now = self.rt.now()
        lc = await load_complaint(session, self.rt, number=number)
        timers = await self._current_timers(session, lc, ("paused",))
        for timer in timers:
            left = timedelta(seconds=timer.remaining_seconds or 0)
            timer.due_at = self.rt.calendar.add(now, left)
            timer.status, timer.remaining_seconds = "pending", None
        if timers:
            change = self.complaints.begin(session, lc, actor=actor, now=now)
            change.note("resumed", "客户已补充信息，恢复计时")
            # The holders' cards said 等待客户补充: show them the clock running again.
            change.pending.touched.update(task.task_id for task in lc.state.tasks)
            await self.complaints.commit_change(change)
        return len(timers)

    async def _current_timers(
        self, session: AsyncSession, lc: LoadedComplaint, statuses: tuple[str, ...]
    ) -> list[Timer]:
        subjects = [
            f"{lc.number}:{step}:{lc.state.activations.get(step)}" for step in lc.state.current
        ]
        # The complaint's targets wait with the step: time the customer takes is not ours.
        subjects.append(target_subject(lc.number))
        rows = await session.scalars(
            select(Timer).where(Timer.subject.in_(subjects), Timer.status.in_(statuses))
        )
        return list(rows.all())
