"""The clock of a complaint's targets: started when it is created, checked when it runs out.

Each target is one timer row (subject "{number}:target", level first_response or resolution) that
the ticker claims like any step timer. Nothing cancels it early: when it comes due the complaint
is looked at, and a target already met (a first response given, the complaint resolved) is
cancelled then. That keeps every place that answers or resolves a complaint free of target code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.targets import TARGET_KINDS, TargetConfig
from bot.errors import ExpressionError
from bot.expr import Expression, duration_in_chinese, parse
from bot.service.loaded import load_complaint
from bot.service.runtime import Runtime
from bot.service.views import condition_env
from storage.models import Timer

if TYPE_CHECKING:
    from bot.delivery.timers import DueTimer
    from bot.service.change import ComplaintChange
    from bot.service.complaints import ComplaintService

log = logging.getLogger(__name__)

TARGET_STEP = "target"  # the timers' step_id: not a flow step


def target_subject(number: str) -> str:
    return f"{number}:{TARGET_STEP}"


@lru_cache(maxsize=256)
def _condition(source: str) -> Expression:
    """A target's condition, parsed once: matching runs for every new complaint."""
    return parse(source)


def matching_target(
    targets: tuple[TargetConfig, ...], env: Mapping[str, Any]
) -> TargetConfig | None:
    """The first entry whose condition holds for the complaint (`env`: its condition names)."""
    for target in targets:
        if target.if_ is None:
            return target
        try:
            if _condition(target.if_).is_true(env):
                return target
        except ExpressionError as exc:
            # A type mismatch on this complaint's values (checked config, odd data): next entry.
            log.warning("target %s: condition not evaluated: %s", target.name, exc)
    return None


class TargetClock:
    """A ComplaintService listener: on complaint.created, one timer per target of its entry."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    async def __call__(self, change: ComplaintChange, event: str, env: Mapping[str, Any]) -> None:
        if event != "complaint.created" or not self.rt.config.targets:
            return
        target = matching_target(self.rt.config.targets, env)
        if target is None:
            return
        c = change.complaint
        for kind in TARGET_KINDS:
            limit = target.limit(kind)
            if limit is None:
                continue
            change.session.add(
                Timer(
                    complaint_id=c.id,
                    subject=target_subject(c.number),
                    step_id=TARGET_STEP,
                    level=kind,
                    due_at=self.rt.calendar.add(c.created_at, limit),
                    status="pending",
                )
            )


def is_target_timer(timer: DueTimer) -> bool:
    return timer.step_id == TARGET_STEP and timer.level in TARGET_KINDS


async def fire_target(complaints: ComplaintService, session: AsyncSession, timer: DueTimer) -> bool:
    """A target ran out: `target.missed` unless it was met in time (then the timer is cancelled)."""
    rt = complaints.rt
    lc = await load_complaint(session, rt, complaint_id=timer.complaint_id)
    c = lc.complaint
    met = (
        c.first_response_at is not None
        if timer.level == "first_response"
        else c.resolved_at is not None or c.status in ("resolved", "closed", "cancelled")
    )
    if met or c.status == "cancelled":
        await session.execute(
            update(Timer).where(Timer.id == timer.id).values(status="cancelled", fired_at=None)
        )
        return False
    now = rt.now()
    target = matching_target(rt.config.targets, condition_env(rt, c, lc.values, now=now))
    # The limit as configured (the due time moves while the clock waits on the customer); for an
    # entry no longer in the config, the working time from creation to the due time.
    configured = target.limit(timer.level) if target is not None else None
    limit = duration_in_chinese(configured or rt.calendar.elapsed(c.created_at, timer.due_at))
    word = TARGET_KINDS[timer.level]
    change = complaints.begin(session, lc, actor="system", now=now)
    change.note("sla", f"超过{word}目标时限（{limit}）", level=timer.level)
    change.event(
        "target.missed",
        level=timer.level,
        target_kind=word,
        target_limit=limit,
        target_name=target.name if target else None,
    )
    await complaints.commit_change(change)
    return True
