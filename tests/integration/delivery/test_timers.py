"""The timer ticker on SQLite and PostgreSQL: due timers fire once, with what fire() writes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.metrics import Metrics
from bot.delivery.timers import TimerTicker
from storage.db import Database
from storage.models import OutboxMessage, Timer
from tests.fakes.clock import FakeClock
from tests.integration.delivery.helpers import add_complaint, add_timers, minutes, timer_rows


def notify(fired: list[int]):  # noqa: ANN201 - a FireTimer
    """A fire() like the service's: writes a notice to the outbox and remembers the timer."""

    async def fire(session: AsyncSession, timer: Timer) -> None:
        fired.append(timer.id)
        session.add(
            OutboxMessage(
                idempotency_key=f"sla:{timer.subject}:{timer.level}",
                kind="text",
                channel="staff",
                target="user:supervisor",
                payload={"text": f"{timer.subject} {timer.level}"},
                status="pending",
                attempts=0,
                due_at=timer.due_at,
                created_at=timer.due_at,
            )
        )

    return fire


async def outbox_keys(db: Database) -> list[str]:
    async with db.read() as session:
        stmt = select(OutboxMessage.idempotency_key).order_by(OutboxMessage.id)
        return list((await session.scalars(stmt)).all())


async def test_due_timers_fire_once_with_their_notices(db: Database) -> None:
    clock = FakeClock()
    complaint = await add_complaint(db, clock())
    ids = await add_timers(db, complaint, [clock() - minutes(5), clock(), clock() + minutes(5)])
    fired: list[int] = []
    ticker = TimerTicker(db, notify(fired), clock=clock)
    assert await ticker.tick() == 2
    assert await ticker.tick() == 0
    assert fired == ids[:2]
    timers = await timer_rows(db)
    assert [(t.status, t.fired_at) for t in timers] == [
        ("fired", clock()),
        ("fired", clock()),
        ("pending", None),
    ]
    assert await outbox_keys(db) == [
        "sla:TS20261123-0001:handle:0:warning",
        "sla:TS20261123-0001:handle:1:warning",
    ]
    clock.advance(300)
    assert await ticker.tick() == 1 and fired == ids


async def test_a_failing_fire_rolls_back_only_itself_and_is_tried_next_tick(
    db: Database,
) -> None:
    clock = FakeClock()
    complaint = await add_complaint(db, clock())
    ids = await add_timers(db, complaint, [clock()] * 3)
    fired: list[int] = []
    write = notify(fired)
    broken = {ids[1]}

    async def fire(session: AsyncSession, timer: Timer) -> None:
        await write(session, timer)  # its outbox row must not survive the failure
        if timer.id in broken:
            raise RuntimeError("template missing")

    ticker = TimerTicker(db, fire, clock=clock)
    assert await ticker.tick() == 2
    timers = await timer_rows(db)
    assert [t.status for t in timers] == ["fired", "pending", "fired"]
    assert (timers[1].attempts, timers[1].last_error) == (1, "RuntimeError: template missing")
    assert await outbox_keys(db) == [
        "sla:TS20261123-0001:handle:0:warning",
        "sla:TS20261123-0001:handle:2:warning",
    ]
    broken.clear()
    assert await ticker.tick() == 1
    assert [t.status for t in await timer_rows(db)] == ["fired"] * 3


async def test_a_poison_timer_is_marked_failed_after_max_attempts(db: Database) -> None:
    clock = FakeClock()
    complaint = await add_complaint(db, clock())
    await add_timers(db, complaint, [clock()])

    async def fire(session: AsyncSession, timer: Timer) -> None:
        raise ValueError("bad flow")

    ticker = TimerTicker(db, fire, clock=clock, max_attempts=3)
    for _ in range(4):
        assert await ticker.tick() == 0
    [timer] = await timer_rows(db)
    assert (timer.status, timer.attempts, timer.last_error) == (
        "failed",
        3,
        "ValueError: bad flow",
    )


async def test_a_timer_fire_settles_itself_is_not_marked_fired(db: Database) -> None:
    clock = FakeClock()
    complaint = await add_complaint(db, clock())
    await add_timers(db, complaint, [clock()])

    async def fire(session: AsyncSession, timer: Timer) -> None:
        timer.status = "cancelled"  # the step finished meanwhile

    assert await TimerTicker(db, fire, clock=clock).tick() == 0
    [timer] = await timer_rows(db)
    assert (timer.status, timer.fired_at) == ("cancelled", None)


async def test_catch_up_fires_a_backlog_larger_than_a_batch(db: Database) -> None:
    clock = FakeClock()
    complaint = await add_complaint(db, clock())
    # Due while the service was down: hours ago, far beyond any misfire grace time.
    await add_timers(db, complaint, [clock() - minutes(600 - i) for i in range(10)])
    fired: list[int] = []
    ticker = TimerTicker(db, notify(fired), clock=clock, batch=3)
    assert await ticker.catch_up() == 10
    assert len(set(fired)) == 10


async def test_fired_breach_levels_count_as_sla_breaches(db: Database) -> None:
    clock = FakeClock()
    metrics = Metrics()
    complaint = await add_complaint(db, clock())
    await add_timers(db, complaint, [clock()], level="warning", subject_prefix="a")
    await add_timers(db, complaint, [clock()], level="breached", subject_prefix="b")
    await add_timers(db, complaint, [clock()], level="escalated", subject_prefix="c")
    await TimerTicker(db, notify([]), clock=clock, metrics=metrics).tick()
    text = generate_latest(metrics.registry).decode()
    assert 'sla_breaches_total{level="breached"} 1.0' in text
    assert 'sla_breaches_total{level="escalated"} 1.0' in text
    assert 'sla_breaches_total{level="warning"}' not in text
    assert 'timers_fired_total{level="warning"} 1.0' in text


async def test_scheduled_job_runs_at_start_without_misfire_grace(db: Database) -> None:
    now = datetime.now(UTC)
    complaint = await add_complaint(db, now)
    await add_timers(db, complaint, [now - minutes(60 * 24)])  # a day overdue
    fired: list[int] = []
    ticker = TimerTicker(db, notify(fired))
    scheduler = AsyncIOScheduler(timezone=UTC)
    job = ticker.schedule(scheduler, interval=3600)
    assert job.misfire_grace_time is None and job.coalesce is True and job.max_instances == 1
    scheduler.start()

    async def committed() -> bool:
        async with db.read() as session:
            status = await session.scalar(select(Timer.status))
        return status == "fired"

    try:
        # Wait for the job's transaction to commit, not just for fire() to run: a job still
        # holding its transaction when the test ends would block the next test's cleanup.
        async def until_committed() -> None:
            while not await committed():  # noqa: ASYNC110 - the commit is in another session
                await asyncio.sleep(0.01)

        await asyncio.wait_for(until_committed(), 30)
    finally:
        scheduler.shutdown(wait=False)
    assert len(fired) == 1


async def test_three_tickers_fire_each_due_timer_exactly_once(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("several tickers at once is the PostgreSQL deployment")
    clock = FakeClock()
    complaint = await add_complaint(db, clock())
    await add_timers(db, complaint, [clock() - minutes(1)] * 120)
    fired: list[int] = []
    write = notify(fired)

    async def slow_fire(session: AsyncSession, timer: Timer) -> None:
        await asyncio.sleep(0.001)  # let the other tickers' transactions interleave
        await write(session, timer)

    databases = [Database(db.url, pool_size=2) for _ in range(3)]
    try:
        tickers = [TimerTicker(d, slow_fire, clock=clock, batch=7) for d in databases]
        per_ticker = [0, 0, 0]
        for _ in range(3):
            counts_now = await asyncio.gather(*(t.tick() for t in tickers))
            per_ticker = [a + b for a, b in zip(per_ticker, counts_now, strict=True)]
    finally:
        for d in databases:
            await d.dispose()
    counts = Counter(fired)
    assert len(counts) == 120 and set(counts.values()) == {1}
    assert sum(per_ticker) == 120 and sum(1 for n in per_ticker if n) >= 2  # they did share
    assert [t.status for t in await timer_rows(db)] == ["fired"] * 120
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 120
