"""`python -m bot outbox retry`: failed messages go back in the queue and are delivered once."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.base import AdapterContext
from bot.channels.wecom import WecomAdapter, build_adapter
from bot.cli import main
from bot.config.channels import WecomChannel
from bot.delivery.relay import OutboxRelay
from bot.delivery.tokens import AccessTokenCache
from storage.db import Database
from storage.models import OutboxMessage
from tests.fakes.feed import RecordingFeed
from tests.fakes.wecom_server import FakeWecom

CHANNEL = "staff-wecom"
SEND = "/cgi-bin/message/send"


@pytest.fixture
async def fake() -> AsyncIterator[FakeWecom]:
    server = FakeWecom()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def adapter(fake: FakeWecom, tmp_path: Path) -> AsyncIterator[WecomAdapter]:
    """The real WeCom adapter, pointed at the fake WeCom server."""
    config = WecomChannel(
        name=CHANNEL,
        type="wecom",
        corp_id=fake.corp_id,
        agent_id=str(fake.agent_id),
        secret=fake.secret,
        token="callback-token",
        encoding_aes_key=base64.b64encode(bytes(range(100, 132))).decode().rstrip("="),
        api_base=fake.base_url,
    )
    context = AdapterContext(tokens=AccessTokenCache(clock=fake.clock.time), data_dir=tmp_path)
    wecom = build_adapter(config, context)
    await wecom.start(RecordingFeed())
    yield wecom
    await wecom.stop()


async def _queue_notices(db: Database, *texts: str) -> list[int]:
    now = datetime.now(UTC) - timedelta(seconds=1)  # due already for the relay's own clock
    async with db.write() as s:
        rows = [
            OutboxMessage(
                idempotency_key=f"notice:{i}",
                kind="text",
                channel=CHANNEL,
                target="user:ZhangSan",
                payload={"text": text},
                status="pending",
                attempts=0,
                due_at=now,
                created_at=now,
            )
            for i, text in enumerate(texts)
        ]
        s.add_all(rows)
        await s.flush()
        return [r.id for r in rows]


async def _status(db: Database) -> dict[int, tuple[str, int]]:
    async with db.read() as s:
        rows = (await s.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        return {r.id: (r.status, r.attempts) for r in rows}


def _received(fake: FakeWecom) -> list[str]:
    return [body["text"]["content"] for body in fake.delivered]


async def _retry(
    db: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> str:
    """Run the command as an operator would, against the test database; its printed line."""
    monkeypatch.setenv("DATABASE_URL", db.url)
    capsys.readouterr()
    # The command runs its own event loop (asyncio.run): give it a thread of its own.
    assert await asyncio.to_thread(main, ["outbox", "retry", *args]) == 0
    return capsys.readouterr().out.strip()


async def test_failed_messages_are_requeued_and_then_delivered_once(
    db: Database,
    fake: FakeWecom,
    adapter: WecomAdapter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    relay = OutboxRelay(db, {CHANNEL: adapter}, max_attempts=1)
    [row] = await _queue_notices(db, "投诉 TS20261123-0001 待您受理")
    fake.fail_next(SEND, status=500)
    assert await relay.run_once() == 1
    assert await _status(db) == {row: ("failed", 1)}
    assert _received(fake) == []

    assert await _retry(db, monkeypatch, capsys) == (
        "requeued 1 failed message(s); the running service delivers them shortly"
    )
    assert await _status(db) == {row: ("pending", 0)}

    assert await relay.run_once() == 1
    assert await _status(db) == {row: ("sent", 1)}
    assert _received(fake) == ["投诉 TS20261123-0001 待您受理"]

    # Nothing is left to requeue or to send: the message arrived once.
    assert await _retry(db, monkeypatch, capsys) == (
        "requeued 0 failed message(s); the running service delivers them shortly"
    )
    assert await relay.run_once() == 0
    assert _received(fake) == ["投诉 TS20261123-0001 待您受理"]
    assert len(fake.requests_to(SEND)) == 2  # the failed try and the delivery


async def test_retry_with_ids_requeues_only_those_rows(
    db: Database,
    fake: FakeWecom,
    adapter: WecomAdapter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    relay = OutboxRelay(db, {CHANNEL: adapter}, max_attempts=1)
    first, second, third = await _queue_notices(db, "一", "二", "三")
    fake.fail_next(SEND, status=500, times=3)
    while await relay.run_once():
        pass
    assert await _status(db) == {first: ("failed", 1), second: ("failed", 1), third: ("failed", 1)}

    out = await _retry(db, monkeypatch, capsys, "--id", str(first), "--id", str(third))
    assert out.startswith("requeued 2 failed message(s)")
    while await relay.run_once():
        pass
    assert await _status(db) == {first: ("sent", 1), second: ("failed", 1), third: ("sent", 1)}
    assert sorted(_received(fake)) == sorted(["一", "三"])
