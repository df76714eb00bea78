"""The timer ticker on SQLite and PostgreSQL: due timers fire once, with what fire() writes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import generate_latest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.metrics import Metrics
from bot.delivery.timers import DueTimer, TimerTicker, claim_due
from storage.db import Database
from storage.models import OutboxMessage, Timer
from tests.fakes.clock import FakeClock
from tests.integration.delivery.helpers import add_complaint, add_timers, minutes, timer_rows


def notify(fired: list[int]):  # noqa: ANN201 - a FireTimer
    """A fire() like the service's: writes a notice to the outbox and remembers the timer."""

    async def fire(session: AsyncSession, timer: DueTimer) -> None:
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

    async def fire(session: AsyncSession, timer: DueTimer) -> None:
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

    async def fire(session: AsyncSession, timer: DueTimer) -> None:
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

    async def fire(session: AsyncSession, timer: DueTimer) -> None:
        # the step finished meanwhile
        await session.execute(
            update(Timer).where(Timer.id == timer.id).values(status="cancelled", fired_at=None)
        )

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

    async def slow_fire(session: AsyncSession, timer: DueTimer) -> None:
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


async def test_claim_due_returns_plain_timers_oldest_first(db: Database) -> None:
    clock = FakeClock()
    complaint = await add_complaint(db, clock())
    ids = await add_timers(db, complaint, [clock() - minutes(i) for i in (1, 3, 2, -1)])
    async with db._write() as session, session.begin() as transaction:  # noqa: SLF001
        claimed = await claim_due(session, clock(), 10)
        await transaction.rollback()
    assert all(isinstance(t, DueTimer) for t in claimed)
    assert [t.id for t in claimed] == [ids[1], ids[2], ids[0]]  # by due time, the future one left
    assert claimed[0] == DueTimer(
        ids[1], complaint, "TS20261123-0001:handle:1", "handle", "warning", clock() - minutes(3)
    )


async def test_a_second_claim_skips_the_rows_a_first_one_holds(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer: a second claim waits instead")
    clock = FakeClock()
    complaint = await add_complaint(db, clock())
    ids = await add_timers(db, complaint, [clock() - minutes(3 - i) for i in range(3)])
    async with db._write() as first, first.begin() as first_tx:  # noqa: SLF001
        assert [t.id for t in await claim_due(first, clock(), 2)] == ids[:2]
        async with db._write() as second, second.begin() as second_tx:  # noqa: SLF001
            assert [t.id for t in await claim_due(second, clock(), 10)] == ids[2:]
            await second_tx.rollback()
        await first_tx.rollback()  # as if its worker died: the rows are due again
    async with db._write() as third, third.begin() as third_tx:  # noqa: SLF001
        assert [t.id for t in await claim_due(third, clock(), 10)] == ids
        await third_tx.rollback()


async def test_a_fire_cancelling_its_steps_timers_leaves_the_batch_recorded_fired(
    db: Database,
) -> None:
    clock = FakeClock()
    complaint = await add_complaint(db, clock())
    await add_timers(db, complaint, [clock() - minutes(1)], level="breached", subject_prefix="s")
    await add_timers(db, complaint, [clock()], level="escalated", subject_prefix="s")
    fired: list[int] = []
    write = notify(fired)

    async def fire(session: AsyncSession, timer: DueTimer) -> None:
        await write(session, timer)
        # what the service does when the step is left: its pending timers are cancelled
        await session.execute(
            update(Timer)
            .where(Timer.subject == timer.subject, Timer.status.in_(("pending", "paused")))
            .values(status="cancelled")
        )

    assert await TimerTicker(db, fire, clock=clock).tick() == 2
    assert len(fired) == 2  # both notices went out, so both are recorded fired
    assert [t.status for t in await timer_rows(db)] == ["fired", "fired"]


async def test_a_worker_killed_mid_tick_gives_its_timers_back(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("killing a worker's connection is the PostgreSQL deployment")
    clock = FakeClock()
    complaint = await add_complaint(db, clock())
    await add_timers(db, complaint, [clock() - minutes(1)] * 5)
    stuck_in, let_go = asyncio.Event(), asyncio.Event()
    doomed: list[int] = []
    write = notify(doomed)
    pids: list[int] = []

    async def hanging_fire(session: AsyncSession, timer: DueTimer) -> None:
        await write(session, timer)
        pids.append(await session.scalar(text("SELECT pg_backend_pid()")))
        stuck_in.set()
        await let_go.wait()

    fired: list[int] = []
    dying_db = Database(db.url, pool_size=1)
    try:
        dying = asyncio.create_task(TimerTicker(dying_db, hanging_fire, clock=clock).tick())
        await asyncio.wait_for(stuck_in.wait(), 30)
        healthy = TimerTicker(db, notify(fired), clock=clock)
        assert await healthy.tick() == 0  # the stuck worker holds all five
        async with db.read() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pids[0]})

        async def until_freed() -> int:
            while not (n := await healthy.tick()):  # noqa: ASYNC110 - another backend dies
                await asyncio.sleep(0.01)
            return n

        assert await asyncio.wait_for(until_freed(), 30) == 5
        let_go.set()
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the dead connection raises
            await dying
    finally:
        let_go.set()
        await dying_db.dispose()
    assert len(doomed) == 1 and sorted(fired) == [t.id for t in await timer_rows(db)]
    assert [t.status for t in await timer_rows(db)] == ["fired"] * 5
    assert len(await outbox_keys(db)) == 5  # the killed worker's notice never committed
