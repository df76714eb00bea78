"""A burst of group notices to one DingTalk robot: complete, in order, never over 20 a minute.

DingTalk silences a robot for 10 minutes when it gets more than 20 messages in a minute
(130101). The whole service runs (create_app, the 管理层群 robot at the fake's oapi); its real
OutboxRelay with its LocalPacer reads the test's FakeClock, and so does the fake robot, so five
minutes of sending take no wall-clock time: the test moves the clock to the next due row
whenever nothing is due. Both databases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.delivery.pacing import LocalPacer
from bot.service.outbox import queue_message
from storage.db import Database
from storage.models import OutboxMessage
from tests.fakes.clock import FakeClock
from tests.fakes.dingtalk_gateway import FakeDingtalk, RecordedRequest
from tests.integration.channels.dingtalk.test_end_to_end_harness import (
    CHANNEL,
    MGMT_TOKEN,
    STAFF,
    Desk,
    open_desk,
)

ROBOT_SEND = "/robot/send"
GROUP = "group:management-group"
PER_MINUTE = 20
SILENCE = 600.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def gateway(clock: FakeClock) -> AsyncIterator[FakeDingtalk]:
    async with FakeDingtalk(clock=clock, known_users=set(STAFF.values())) as fake:
        yield fake


@pytest.fixture
async def desk(
    aiohttp_client, db: Database, tmp_path: Path, gateway: FakeDingtalk, clock: FakeClock
) -> AsyncIterator[Desk]:
    async with open_desk(aiohttp_client, db, tmp_path, gateway, clock) as running:
        yield running


async def queue_notices(desk: Desk, texts: list[str]) -> None:
    """Group notices in one transaction, as a rule notifying the 管理层群 writes them."""
    async with desk.db.write() as session:
        for text in texts:
            await queue_message(
                session,
                key=f"burst:{text}",
                kind="text",
                channel=CHANNEL,
                target=GROUP,
                payload={"text": text},
                now=desk.clock(),
            )


async def next_due(desk: Desk) -> float | None:
    """When the head of the queue is due (the rows behind it wait for it: order per target)."""
    async with desk.db.read() as session:
        due = await session.scalar(
            select(OutboxMessage.due_at)
            .where(OutboxMessage.status == "pending")
            .order_by(OutboxMessage.id)
            .limit(1)
        )
    if due is None:
        return None
    return (due if due.tzinfo else due.replace(tzinfo=desk.clock().tzinfo)).timestamp()


async def drain(desk: Desk, *, max_rounds: int = 1000) -> None:
    """Run the real relay; when nothing is due, move the clock to the next due row."""
    for _ in range(max_rounds):
        if await desk.service.relay.run_once():
            continue
        due = await next_due(desk)
        if due is None:
            return
        desk.clock.advance(max(0.0, due - desk.clock.time()))
    raise AssertionError(f"the outbox did not drain in {max_rounds} rounds")


def robot_calls(fake: FakeDingtalk) -> list[RecordedRequest]:
    return fake.calls(ROBOT_SEND)


def busiest_minute(stamps: list[float]) -> int:
    """The most sends any 60 s window [t, t + 60) holds (the robot's own counting)."""
    stamps = sorted(stamps)
    return max((sum(1 for s in stamps if t <= s < t + 60) for t in stamps), default=0)


def texts(fake: FakeDingtalk) -> list[str]:
    return [m["text"]["content"] for m in fake.group_messages[MGMT_TOKEN]]


async def test_a_hundred_notices_arrive_complete_in_order_never_over_twenty_a_minute(
    desk: Desk,
) -> None:
    assert isinstance(desk.service.relay.pacer, LocalPacer)
    start = desk.clock.time()
    burst = [f"通知 {n:03d}" for n in range(100)]
    await queue_notices(desk, burst)

    await drain(desk)

    assert texts(desk.fake) == burst  # all of them, each once, in the order queued
    calls = robot_calls(desk.fake)
    assert len(calls) == 100  # not one refused and retried
    assert busiest_minute([c.at for c in calls]) <= PER_MINUTE
    assert desk.fake.robot_silenced_until == {}  # the fake never answered 130101
    # Five full minutes of robot time went by (compressed: no test waits for them).
    assert desk.clock.time() - start >= 4 * 60
    assert all(c.query.get("sign") for c in calls)  # every call signed with the robot's secret
    async with desk.db.read() as session:
        statuses = (await session.scalars(select(OutboxMessage.status))).all()
    assert set(statuses) == {"sent"}


async def test_a_silenced_robot_is_waited_out_without_losing_or_doubling_a_notice(
    desk: Desk,
) -> None:
    first = [f"通知 {n:03d}" for n in range(5)]
    await queue_notices(desk, first)
    await drain(desk)
    assert texts(desk.fake) == first

    # DingTalk answers the next send with 130101: the robot is silent for 10 minutes.
    desk.fake.fail_next(
        ROBOT_SEND,
        status=200,
        body={"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
    )
    rest = [f"通知 {n:03d}" for n in range(5, 45)]
    await queue_notices(desk, rest)
    refused_at = desk.clock.time()
    await desk.service.relay.run_once()
    assert len(robot_calls(desk.fake)) == len(first) + 1
    # Nothing is sent while the silence lasts: not the refused notice, not the ones behind it.
    assert await desk.service.relay.run_once() == 0
    desk.clock.advance(SILENCE - 1)
    assert await desk.service.relay.run_once() == 0
    assert len(robot_calls(desk.fake)) == len(first) + 1

    await drain(desk)

    assert texts(desk.fake) == first + rest  # nothing lost, nothing doubled, order kept
    calls = robot_calls(desk.fake)
    assert len(calls) == len(first) + 1 + len(rest)  # one refused call, no hammering
    after = [c.at for c in calls[len(first) + 1 :]]
    assert min(after) >= refused_at + SILENCE
    assert busiest_minute([c.at for c in calls]) <= PER_MINUTE
    async with desk.db.read() as session:
        statuses = (await session.scalars(select(OutboxMessage.status))).all()
        attempts = (await session.scalars(select(OutboxMessage.attempts))).all()
    assert set(statuses) == {"sent"}
    assert max(attempts) == 1  # a rate limit is not a failed attempt
