"""The outbox relay on SQLite and PostgreSQL: outcomes, order per target, pacing, leases, stop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prometheus_client import generate_latest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.base import SendResult
from bot.delivery.metrics import Metrics
from bot.delivery.outbox import (
    OutcomeHooks,
    claim_rows,
    record_outcome,
    record_outcomes,
    requeue_failed,
)
from bot.delivery.outcomes import Backoff, Outcome
from bot.delivery.pacing import LocalPacer
from bot.delivery.relay import OutboxRelay
from storage.db import Database
from storage.models import InboundEvent, OutboxMessage
from tests.fakes.clock import FakeClock
from tests.fakes.scripted_adapter import ScriptedAdapter, hang_until
from tests.integration.delivery.helpers import add_outbox, outbox_row, outbox_rows

HALF = Backoff(base=2.0, cap=900.0, rng=lambda: 0.5)


def make_relay(
    db: Database, clock: FakeClock, *adapters: ScriptedAdapter, **kwargs: object
) -> OutboxRelay:
    options: dict[str, object] = {"clock": clock, "backoff": HALF, "lease": 60.0}
    options.update(kwargs)
    return OutboxRelay(db, {a.name: a for a in adapters}, **options)  # type: ignore[arg-type]


async def test_delivered_row_is_sent_with_receipt_and_its_idempotency_key(db: Database) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter()
    adapter.script(SendResult.delivered(response_code="rc-9", msgid="m1"))
    [row_id] = await add_outbox(db, clock(), ["user:zhangsan"])
    assert await make_relay(db, clock, adapter).run_once() == 1
    row = await outbox_row(db, row_id)
    assert row.status == "sent" and row.sent_at == clock()
    assert row.receipt == {"response_code": "rc-9", "msgid": "m1"}
    assert row.lease_until is None and row.lease_owner is None and row.attempts == 1
    assert adapter.keys == ["k0"] and adapter.calls[0].attempt == 1


async def test_later_puts_the_row_back_without_counting_an_attempt(db: Database) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter()
    adapter.script(SendResult.later(30, "errcode 45009: api freq out of limit"))
    [row_id] = await add_outbox(db, clock(), ["user:openid-1"])
    relay = make_relay(db, clock, adapter)
    await relay.run_once()
    row = await outbox_row(db, row_id)
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.due_at == clock() + timedelta(seconds=30)
    assert row.last_error == "errcode 45009: api freq out of limit"
    assert await relay.run_once() == 0  # not due yet
    clock.advance(30)
    assert await relay.run_once() == 1
    assert (await outbox_row(db, row_id)).status == "sent"


async def test_transport_error_backs_off_with_jitter_and_counts(db: Database) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter()
    adapter.script(ConnectionResetError("peer reset"))
    [row_id] = await add_outbox(db, clock(), ["user:a"])
    await make_relay(db, clock, adapter).run_once()
    row = await outbox_row(db, row_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.due_at == clock() + timedelta(seconds=0.5 * 2.0 * 2)
    assert row.last_error == "ConnectionResetError: peer reset"


async def test_last_retry_marks_the_row_failed_with_the_reason(db: Database) -> None:
    clock = FakeClock()
    metrics = Metrics()
    adapter = ScriptedAdapter()
    adapter.script(*(ConnectionError("503 from platform") for _ in range(3)))
    [row_id] = await add_outbox(db, clock(), ["group:ops"])
    relay = make_relay(db, clock, adapter, max_attempts=3, metrics=metrics)
    for _ in range(3):
        assert await relay.run_once() == 1
        clock.advance(3600)
    row = await outbox_row(db, row_id)
    assert row.status == "failed" and row.attempts == 3
    assert row.last_error == "gave up after 3 attempts: ConnectionError: 503 from platform"
    assert await relay.run_once() == 0
    text = generate_latest(metrics.registry).decode()
    assert 'sends_total{channel="staff",kind="text",outcome="gave_up"} 1.0' in text
    assert 'send_failures_total{channel="staff",code="ConnectionError"} 3.0' in text


async def test_permanent_failure_fails_at_once_and_runs_the_failed_hook(db: Database) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter()
    adapter.script(SendResult.failed("errcode 40003: invalid openid", permanent=True))
    [row_id] = await add_outbox(db, clock(), ["user:nobody"])
    relay = make_relay(db, clock, adapter)
    reasons: list[str] = []

    @relay.on_failed
    async def note(session: AsyncSession, row: OutboxMessage, reason: str) -> None:
        assert row.status == "failed"
        reasons.append(reason)
        session.add(
            InboundEvent(channel="hook", dedupe_key=f"failed:{row.id}", received_at=clock())
        )

    await relay.run_once()
    row = await outbox_row(db, row_id)
    assert (row.status, row.last_error, row.attempts) == (
        "failed",
        "errcode 40003: invalid openid",
        1,
    )
    assert reasons == ["errcode 40003: invalid openid"]
    async with db.read() as session:
        marks = (await session.scalars(select(InboundEvent.dedupe_key))).all()
    assert marks == [f"failed:{row_id}"]


async def test_sent_hook_writes_in_the_same_transaction_and_a_failing_hook_keeps_sent(
    db: Database,
) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter()
    adapter.script(SendResult.delivered(response_code="rc-1"))
    [row_id] = await add_outbox(db, clock(), ["user:lisi"])
    relay = make_relay(db, clock, adapter)
    seen: list[tuple[int, str]] = []

    @relay.on_sent
    async def store_code(session: AsyncSession, row: OutboxMessage, result: SendResult) -> None:
        seen.append((row.id, result.receipt["response_code"]))
        session.add(InboundEvent(channel="hook", dedupe_key="rc-1", received_at=clock()))

    @relay.on_sent
    async def broken(session: AsyncSession, row: OutboxMessage, result: SendResult) -> None:
        session.add(InboundEvent(channel="hook", dedupe_key="never", received_at=clock()))
        raise RuntimeError("bug in a hook")

    await relay.run_once()
    assert seen == [(row_id, "rc-1")]
    assert (await outbox_row(db, row_id)).status == "sent"
    async with db.read() as session:
        marks = (await session.scalars(select(InboundEvent.dedupe_key))).all()
    assert marks == ["rc-1"]


async def test_channel_without_adapter_stays_pending_until_the_channel_is_on(
    db: Database,
) -> None:
    clock = FakeClock()
    [row_id] = await add_outbox(db, clock(), ["user:wangwu"], channel="staff-wecom")
    off = OutboxRelay(db, {}, clock=clock)
    assert await off.run_once() == 1
    row = await outbox_row(db, row_id)
    assert (row.status, row.attempts, row.last_error) == (
        "pending",
        0,
        "channel staff-wecom is off",
    )
    assert row.due_at == clock() + timedelta(seconds=3600)

    adapter = ScriptedAdapter("staff-wecom")
    on = make_relay(db, clock, adapter, idle=0.01)
    task = asyncio.create_task(on.run())
    await asyncio.wait_for(adapter.started.wait(), 10)
    await on.stop()
    await asyncio.wait_for(task, 10)
    assert (await outbox_row(db, row_id)).status == "sent"


async def test_later_rows_of_a_target_wait_behind_an_earlier_one(db: Database) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter()
    ids = await add_outbox(db, clock(), ["group:ops", "group:ops", "user:a", "group:ops"])
    adapter.script(SendResult.later(10, "429 too many requests"), key="k0")
    relay = make_relay(db, clock, adapter)
    assert await relay.run_once() == 2  # the heads of group:ops and user:a only
    assert await relay.run_once() == 0  # k0 waits, so k1 and k3 wait too
    clock.advance(10)
    while await relay.run_once():
        pass
    assert adapter.keys == ["k0", "k2", "k0", "k1", "k3"]
    assert [r.status for r in await outbox_rows(db)] == ["sent"] * len(ids)


async def test_paced_row_comes_back_when_a_slot_frees_and_other_targets_go_on(
    db: Database,
) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter(per_minute=2)
    await add_outbox(db, clock(), ["group:ops"] * 3 + ["group:sales"])
    relay = make_relay(db, clock, adapter, pacer=LocalPacer(clock=clock.time))
    for _ in range(5):
        await relay.run_once()
    assert adapter.keys == ["k0", "k3", "k1"]
    paced = (await outbox_rows(db))[2]
    assert paced.status == "pending" and paced.attempts == 0
    assert paced.due_at == clock() + timedelta(seconds=61)
    clock.advance(61)
    assert await relay.run_once() == 1
    assert adapter.keys == ["k0", "k3", "k1", "k2"]


async def test_expired_lease_returns_the_row_to_the_queue(db: Database) -> None:
    clock = FakeClock()
    [row_id] = await add_outbox(db, clock(), ["user:a"])
    # A relay that claimed the row and died before recording anything.
    [dead] = await claim_rows(
        db, now=clock(), limit=10, lease=timedelta(seconds=60), owner="dead-relay"
    )
    adapter = ScriptedAdapter()
    relay = make_relay(db, clock, adapter)
    assert await relay.run_once() == 0
    clock.advance(61)
    assert await relay.run_once() == 1
    assert adapter.keys == ["k0"] and adapter.calls[0].attempt == 2
    # The dead relay's late "retry" cannot undo the delivery.
    late = Outcome("pending", "retry", due_in=5, error="late")
    assert not await record_outcome(db, dead, late, owner="dead-relay", now=clock())
    row = await outbox_row(db, row_id)
    assert (row.status, row.attempts) == ("sent", 2)


async def test_outcomes_recorded_together_each_follow_the_lease_rules(db: Database) -> None:
    clock = FakeClock()
    ids = await add_outbox(db, clock(), ["user:a", "user:b", "user:c", "user:d"])
    lease = timedelta(seconds=60)
    rows = await claim_rows(db, now=clock(), limit=10, lease=lease, owner="me")
    assert [r.id for r in rows] == ids and [r.attempts for r in rows] == [1, 1, 1, 1]
    sent_to: list[str] = []
    failed_for: list[str] = []

    async def on_sent(session: AsyncSession, row: OutboxMessage, result: SendResult) -> None:
        sent_to.append(row.target)
        if row.target == "user:b":
            raise RuntimeError("a hook's trouble keeps the outcome")

    async def on_failed(session: AsyncSession, row: OutboxMessage, reason: str) -> None:
        failed_for.append(f"{row.target}: {reason}")

    hooks = OutcomeHooks(sent=[on_sent], failed=[on_failed])
    answers = await record_outcomes(
        db,
        [
            (rows[0], Outcome("sent", "sent", receipt={"msgid": "m0"}), None),
            (rows[1], Outcome("sent", "sent"), None),
            (rows[2], Outcome("failed", "failed", error="bad openid"), None),
            (rows[3], Outcome("pending", "retry", due_in=5, error="later"), None),
        ],
        owner="me",
        now=clock(),
        hooks=hooks,
    )
    assert answers == [True, True, True, True]
    assert sent_to == ["user:a", "user:b"] and failed_for == ["user:c: bad openid"]
    stored = {r.id: r for r in await outbox_rows(db)}
    assert [stored[i].status for i in ids] == ["sent", "sent", "failed", "pending"]
    assert stored[ids[0]].receipt == {"msgid": "m0"}
    assert stored[ids[3]].due_at == clock() + timedelta(seconds=5)
    assert all(stored[i].lease_owner is None for i in ids)
    # Recorded again, the leases long gone: each answer is False and nothing changes.
    again = await record_outcomes(
        db,
        [
            (rows[0], Outcome("sent", "sent"), None),
            (rows[3], Outcome("failed", "failed", error="late"), None),
        ],
        owner="me",
        now=clock(),
    )
    assert again == [False, False]
    assert (await outbox_row(db, ids[3])).status == "pending"


async def test_requeue_failed_puts_failed_rows_back(db: Database) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter()
    adapter.script(*(SendResult.failed("bad", permanent=True) for _ in range(3)))
    ids = await add_outbox(db, clock(), ["user:a", "user:b", "user:c"])
    relay = make_relay(db, clock, adapter)
    await relay.run_once()
    assert [r.status for r in await outbox_rows(db)] == ["failed"] * 3
    assert await requeue_failed(db, [ids[1]], now=clock()) == 1
    assert await requeue_failed(db, [], now=clock()) == 0
    assert await relay.run_once() == 1
    assert [r.status for r in await outbox_rows(db)] == ["failed", "sent", "failed"]
    assert await requeue_failed(db, now=clock()) == 2
    row = await outbox_row(db, ids[0])
    assert (row.status, row.attempts, row.due_at) == ("pending", 0, clock())


async def test_stop_finishes_quick_sends_and_releases_a_hanging_one(db: Database) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter()
    never = asyncio.Event()
    adapter.script(hang_until(never), key="k1")
    ids = await add_outbox(db, clock(), ["user:a", "user:b"])
    relay = make_relay(db, clock, adapter)
    batch = asyncio.create_task(relay.run_once())
    await asyncio.wait_for(adapter.wait_for_calls(2), 10)
    await relay.stop(grace=0.05)
    assert await batch == 2
    quick, hung = await outbox_row(db, ids[0]), await outbox_row(db, ids[1])
    assert quick.status == "sent"
    assert (hung.status, hung.lease_until, hung.lease_owner) == ("pending", None, None)
    assert await relay.run_once() == 0  # a stopped relay claims nothing
    other = make_relay(db, clock, ScriptedAdapter())
    assert await other.run_once() == 1  # at once: no lease to wait out


async def test_a_send_slower_than_the_send_timeout_is_retried(db: Database) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter()
    adapter.script(hang_until(asyncio.Event()))
    [row_id] = await add_outbox(db, clock(), ["user:a"])
    await make_relay(db, clock, adapter, send_timeout=0.05).run_once()
    row = await outbox_row(db, row_id)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error == "TimeoutError: no answer within 0.05 s"


async def test_run_stops_when_the_stop_event_is_set(db: Database) -> None:
    clock = FakeClock()
    adapter = ScriptedAdapter()
    await add_outbox(db, clock(), [f"user:{i}" for i in range(5)])
    relay = make_relay(db, clock, adapter, idle=0.01, batch=2)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.wait_for(adapter.wait_for_calls(5), 10)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert sorted(adapter.keys) == [f"k{i}" for i in range(5)]
    assert [r.status for r in await outbox_rows(db)] == ["sent"] * 5  # rows in hand finished


async def test_a_second_relay_never_overtakes_a_row_in_flight_for_the_same_target(
    db: Database,
) -> None:
    clock = FakeClock()
    await add_outbox(db, clock(), ["user:a", "user:a", "user:b"])
    # Relay one holds k0 (user:a) and is still sending it.
    [held] = await claim_rows(db, now=clock(), limit=1, lease=timedelta(seconds=60), owner="one")
    assert held.idempotency_key == "k0"
    adapter = ScriptedAdapter()
    two = make_relay(db, clock, adapter)
    assert await two.run_once() == 1
    assert adapter.keys == ["k2"]  # k1 waits for k0, whoever holds it
    await record_outcome(db, held, Outcome("sent", "sent"), owner="one", now=clock())
    assert await two.run_once() == 1
    assert adapter.keys == ["k2", "k1"]


async def test_relays_running_at_once_send_each_row_once(db: Database) -> None:
    clock = FakeClock()
    await add_outbox(db, clock(), [f"user:{i}" for i in range(60)])
    adapters = [ScriptedAdapter() for _ in range(3)]
    relays = [make_relay(db, clock, a, batch=7) for a in adapters]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.run_once():
            pass

    await asyncio.gather(*(drain(r) for r in relays))
    keys = [k for a in adapters for k in a.keys]
    assert sorted(keys) == sorted(f"k{i}" for i in range(60))
    assert [r.status for r in await outbox_rows(db)] == ["sent"] * 60
