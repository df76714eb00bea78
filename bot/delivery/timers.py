"""The timer ticker: APScheduler only says "tick"; the database decides which timer fires, once.

Each tick claims a batch of due pending timers in one transaction: a Core `SELECT … FOR UPDATE
SKIP LOCKED` (so tickers in several workers split the due rows between them; on SQLite, `BEGIN
IMMEDIATE` makes the one process the only writer) returning plain `DueTimer`s, not ORM objects,
then one UPDATE marks the whole batch fired. It calls the service's `fire(session, timer)` for
each inside its own SAVEPOINT, so the notices one `fire` writes to the outbox are undone alone
when it raises, and the batch's "fired" marks and all its notices commit together or not at all.
Nothing else sees "fired" before the commit: a worker killed mid-tick rolls back, and its timers
are pending again for the next tick, anywhere. The (subject, level) unique key means one row per
reminder, and the `status = 'pending'` check (under the row lock) means one firing per row.

A `fire` that finds its timer no longer applies settles the row itself (e.g. UPDATE it to
"cancelled", fired_at NULL); whatever is not "fired" at the end of the batch is not counted.

Missed ticks cost nothing: a timer is a row with a due time, so the first tick after a restart
fires everything that came due meanwhile (`catch_up`, and the job's first run at start). The job
has no misfire grace time, coalesces a backlog of ticks into one, and never overlaps itself.

A `fire` that raises is rolled back to its savepoint (the other timers still fire), its row is
set pending again with `attempts` + 1 and `last_error`, and it is tried again next tick; after
`max_attempts` the timer is marked "failed" so a poison timer cannot hold a batch forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Select, case, func, select, update
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

DEFAULT_BREACH_LEVELS = ("breached", "escalated")

# Core, not ORM: a claim of thousands of rows costs what the rows cost, not an object each.
TIMERS = Timer.__table__


# A NamedTuple, not the usual frozen dataclass: as immutable, but built 4x faster (a frozen
# dataclass's __init__ sets each field through object.__setattr__), ~10 ms of a 5,000-row claim.
class DueTimer(NamedTuple):
    """A claimed timer: what `fire` needs to know (its row is locked by the claim)."""

    id: int
    complaint_id: int
    subject: str
    step_id: str
    level: str
    due_at: datetime


FireTimer = Callable[[AsyncSession, DueTimer], Awaitable[object]]

_DUE_COLUMNS = (
    TIMERS.c.id,
    TIMERS.c.complaint_id,
    TIMERS.c.subject,
    TIMERS.c.step_id,
    TIMERS.c.level,
    TIMERS.c.due_at,
)


def claim_statement(now: datetime, limit: int, *, skip_locked: bool = True) -> Select[Any]:
    """The claim: up to `limit` due pending timers, oldest first, locked (others' skipped)."""
    stmt = (
        select(*_DUE_COLUMNS)
        .where(TIMERS.c.status == "pending", TIMERS.c.due_at <= now)
        .order_by(TIMERS.c.due_at, TIMERS.c.id)
        .limit(limit)
    )
    return stmt.with_for_update(skip_locked=True) if skip_locked else stmt


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[DueTimer]:
    """Lock up to `limit` pending timers due at `now`, oldest first, skipping ones others hold."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    rows = await session.execute(claim_statement(now, limit, skip_locked=not sqlite))
    return [DueTimer._make(row) for row in rows]


async def mark_fired(session: AsyncSession, timers: Sequence[DueTimer], now: datetime) -> None:
    """Mark claimed timers fired, in one statement (the caller's transaction holds their rows)."""
    if timers:
        await session.execute(
            update(TIMERS)
            .where(TIMERS.c.id.in_([t.id for t in timers]), TIMERS.c.status == "pending")
            .values(status="fired", fired_at=now)
        )


async def still_fired(session: AsyncSession, ids: Sequence[int]) -> list[str]:
    """The levels of those timers still marked fired (a `fire` may have settled its own)."""
    if not ids:
        return []
    stmt = select(TIMERS.c.level).where(TIMERS.c.id.in_(ids), TIMERS.c.status == "fired")
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

    async def claim_due(self, session: AsyncSession, now: datetime, limit: int) -> list[DueTimer]:
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
        failed = 0
        survived: list[int] = []
        async with self.db.write() as session:
            timers = await claim_due(session, now, self.batch)
            # Marked before any fire: a fire that cancels its step's pending timers must not
            # cancel one whose notices went out earlier in the batch.
            await mark_fired(session, timers, now)
            for timer in timers:
                try:
                    # SQLAlchemy sends the SAVEPOINT with fire's first statement, if any.
                    async with session.begin_nested():
                        await fire(session, timer)
                except Exception as exc:
                    await self._note_failure(session, timer, exc)
                    failed += 1
                    continue
                survived.append(timer.id)
            # One query for the batch instead of one per timer: which did fire() leave fired?
            fired_levels = await still_fired(session, survived)
        if self.metrics is not None:
            for level in fired_levels:
                self.metrics.record_timer_fired(level, breach=level in self.breach_levels)
        return len(timers), len(fired_levels), failed

    async def _note_failure(self, session: AsyncSession, timer: DueTimer, exc: Exception) -> None:
        """Pending again (the batch was marked fired), one more attempt; "failed" at the limit."""
        attempts = func.coalesce(TIMERS.c.attempts, 0) + 1
        last_error = error_text(exc)
        stmt = (
            update(TIMERS)
            .where(TIMERS.c.id == timer.id)
            .values(
                attempts=attempts,
                last_error=last_error,
                fired_at=None,
                status=case((attempts >= self.max_attempts, "failed"), else_="pending"),
            )
            .returning(TIMERS.c.attempts, TIMERS.c.status)
        )
        count, status = (await session.execute(stmt)).one()
        if status == "failed":
            log.error(
                "timers: %s/%s failed %d times, giving up: %s",
                timer.subject,
                timer.level,
                count,
                last_error,
                exc_info=exc,
            )
        else:
            log.warning(
                "timers: firing %s/%s failed (attempt %d), retrying next tick: %s",
                timer.subject,
                timer.level,
                count,
                last_error,
                exc_info=exc,
            )
