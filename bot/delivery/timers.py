"""The timer ticker: APScheduler only says "tick"; the database decides which timer fires, once.

Each tick claims due pending timers in one transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL,
so tickers in several workers split the due rows between them; `BEGIN IMMEDIATE` on SQLite, one
process), calls the service's `fire(session, timer)` for each inside its own SAVEPOINT, and marks
it fired in that same savepoint, so the notices `fire` writes to the outbox and the "fired" mark
commit together or not at all. The (subject, level) unique key means one row per reminder, and
the `status = 'pending'` check (under the row lock) means one firing per row.

Missed ticks cost nothing: a timer is a row with a due time, so the first tick after a restart
fires everything that came due meanwhile (`catch_up`, and the job's first run at start). The job
has no misfire grace time, coalesces a backlog of ticks into one, and never overlaps itself.

A `fire` that raises is rolled back to its savepoint (the other timers still fire), counted in
`attempts` with `last_error`, and tried again next tick; after `max_attempts` the timer is
marked "failed" so a poison timer cannot hold a batch forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.metrics import Metrics
from bot.delivery.outbox import utc_now
from bot.delivery.outcomes import error_text
from storage.db import Database
from storage.models import Timer

if TYPE_CHECKING:
    from apscheduler.job import Job
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

FireTimer = Callable[[AsyncSession, Timer], Awaitable[None]]

DEFAULT_BREACH_LEVELS = ("breached", "escalated")


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[Timer]:
    """Lock up to `limit` pending timers due at `now`, oldest first, skipping ones others hold."""
    stmt = (
        select(Timer)
        .where(Timer.status == "pending", Timer.due_at <= now)
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    if session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.scalars(stmt)).all())


class TimerTicker:
    """Fires due timers exactly once across any number of workers."""

    def __init__(
        self,
        db: Database,
        fire: FireTimer | None = None,
        *,
        batch: int = 100,
        max_batches: int = 50,
        max_attempts: int = 5,
        breach_levels: Iterable[str] = DEFAULT_BREACH_LEVELS,
        clock: Callable[[], datetime] = utc_now,
        metrics: Metrics | None = None,
    ):
        self.db = db
        self.fire = fire
        self.batch = batch
        self.max_batches = max_batches
        self.max_attempts = max_attempts
        self.breach_levels = frozenset(breach_levels)
        self.metrics = metrics
        self._clock = clock

    async def claim_due(self, session: AsyncSession, now: datetime, limit: int) -> list[Timer]:
        """See the module function `claim_due`."""
        return await claim_due(session, now, limit)

    async def tick(self, fire: FireTimer | None = None) -> int:
        """Fire every due timer, in batches of `batch` (one transaction each); how many fired."""
        return await self._run(fire, self.max_batches)

    async def catch_up(self, fire: FireTimer | None = None) -> int:
        """At start: fire everything that came due while no worker was running."""
        fired = await self._run(fire, None)
        if fired:
            log.info("timers: caught up %d timer(s) that came due while stopped", fired)
        return fired

    def schedule(
        self, scheduler: AsyncIOScheduler, interval: float, *, job_id: str = "timer-tick"
    ) -> Job:
        """Register the tick job: runs at once, no misfire grace, coalesced, never overlapping."""
        return scheduler.add_job(
            self._scheduled_tick,
            trigger="interval",
            seconds=interval,
            id=job_id,
            name="fire due timers",
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),
        )

    async def _scheduled_tick(self) -> None:
        # The scheduler cancels running jobs when it shuts down; a tick cut off inside its
        # transaction would leave a connection half-closed. The tick runs in a task of its own
        # that shutdown cannot cancel, and drain() waits for it.
        self._inflight = asyncio.ensure_future(self._logged_tick())
        await asyncio.shield(self._inflight)

    async def _logged_tick(self) -> None:
        try:
            await self.tick()
        except Exception:
            log.exception("timers: tick failed; the next tick tries again")

    async def drain(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109 - a grace period
        """Wait for a scheduled tick still in flight (at shutdown, after the scheduler stopped)."""
        task = getattr(self, "_inflight", None)
        if task is not None and not task.done():
            await asyncio.wait([task], timeout=timeout)

    async def _run(self, fire: FireTimer | None, max_batches: int | None) -> int:
        fire = fire or self.fire
        if fire is None:
            raise TypeError("TimerTicker needs a fire(session, timer) function")
        total = 0
        batches = 0
        while max_batches is None or batches < max_batches:
            batches += 1
            claimed, fired, failed = await self._tick_batch(fire)
            total += fired
            # A short batch means nothing else is due; a failure means stop until the next tick
            # (retrying at once would burn a poison timer's attempts in one tick).
            if claimed < self.batch or failed:
                break
        return total

    async def _tick_batch(self, fire: FireTimer) -> tuple[int, int, int]:
        """Claim and fire one batch in one transaction: (claimed, fired, failed)."""
        now = self._clock()
        fired_levels: list[str] = []
        failed = 0
        async with self.db.write() as session:
            timers = await claim_due(session, now, self.batch)
            for timer in timers:
                if inspect(timer).expired_attributes:  # a neighbour's savepoint rolled back
                    await session.refresh(timer)
                timer_id, level = timer.id, timer.level
                try:
                    async with session.begin_nested():
                        await fire(session, timer)
                        marked = await session.execute(
                            update(Timer)
                            .where(Timer.id == timer_id, Timer.status == "pending")
                            .values(status="fired", fired_at=now)
                            .execution_options(synchronize_session="fetch")
                        )
                except Exception as exc:
                    await self._note_failure(session, timer, exc)
                    failed += 1
                    continue
                if marked.rowcount == 1:  # type: ignore[attr-defined]
                    fired_levels.append(level)
                # else fire() settled the timer itself (e.g. cancelled it): not counted as fired
        if self.metrics is not None:
            for level in fired_levels:
                self.metrics.record_timer_fired(level, breach=level in self.breach_levels)
        return len(timers), len(fired_levels), failed

    async def _note_failure(self, session: AsyncSession, timer: Timer, exc: Exception) -> None:
        await session.refresh(timer)
        timer.attempts = (timer.attempts or 0) + 1
        timer.last_error = error_text(exc)
        if timer.attempts >= self.max_attempts:
            timer.status = "failed"
            log.error(
                "timers: %s/%s failed %d times, giving up: %s",
                timer.subject,
                timer.level,
                timer.attempts,
                timer.last_error,
                exc_info=exc,
            )
        else:
            log.warning(
                "timers: firing %s/%s failed (attempt %d), retrying next tick: %s",
                timer.subject,
                timer.level,
                timer.attempts,
                timer.last_error,
                exc_info=exc,
            )
        await session.flush()
