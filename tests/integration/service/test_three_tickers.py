"""Three workers' tickers over one database, firing the real SLA service: each notice once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.channels.base import AdapterContext
from bot.channels.playground import build_adapter
from bot.config.loader import LoadedConfig
from bot.service.clock import FixedClock
from bot.service.wiring import Service, build_service
from bot.settings import Settings
from bot.workflow import Action, ActionKind
from storage.db import Database
from storage.models import OutboxMessage, TimelineEntry, Timer

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
}
COMPLAINTS = 8
REMINDER = "的「部门处理」已超过24小时未完成，请尽快处理"


@pytest.fixture
async def workers(
    db: Database, config: LoadedConfig, clock: FixedClock
) -> AsyncIterator[list[Service]]:
    """Three services, each with its own engine (own connections) on the one test database."""
    databases = [Database(db.url) for _ in range(3)]
    services = []
    for database in databases:
        playground = build_adapter(config.channels["playground"], AdapterContext(clock=clock.now))
        service = build_service(
            Settings(), config, database, {"playground": playground}, clock=clock
        )
        service.ticker.batch = 3  # small batches: the tickers interleave more
        services.append(service)
    try:
        yield services
    finally:
        for database in databases:
            await database.dispose()


async def _at_department(service: Service) -> int:
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=QUALITY, channel="playground", actor="customer"
        )
        task = lc.state.tasks[0].task_id
        for kind in (ActionKind.ACCEPT, ActionKind.SUBMIT):
            await service.complaints.act(s, lc.number, Action(kind, "xiaomei", task_id=task))
    return lc.complaint.id


async def test_three_tickers_queue_each_reminder_and_escalation_once(
    workers: list[Service], clock: FixedClock
):
    ids = [await _at_department(workers[i % 3]) for i in range(COMPLAINTS)]
    clock.advance(timedelta(hours=49))  # both the 24 h reminder and the 48 h escalation are due

    fired = sum(await asyncio.gather(*(w.ticker.tick() for w in workers)))
    for _ in range(5):  # a ticker that met only locked rows stops early; later ticks mop up
        fired += sum(await asyncio.gather(*(w.ticker.tick() for w in workers)))

    async with workers[0].rt.db.read() as s:
        rows = (await s.scalars(select(OutboxMessage))).all()
        timers = (await s.scalars(select(Timer).where(Timer.step_id == "handle"))).all()
        notes = (await s.execute(select(TimelineEntry.complaint_id, TimelineEntry.summary))).all()
    # Outbox rows per complaint and level: the 24 h reminder is a text to 李四 (the 催办 rule),
    # the 48 h escalation an escalation card to 周总 (the 升级 rule).
    queued = Counter(
        (r.complaint_id, "breached" if r.kind == "text" else "escalated", r.target)
        for r in rows
        if (r.kind == "text" and REMINDER in r.payload["text"])
        or (r.kind == "card" and r.payload["card"]["kind"] == "escalation")
    )
    assert queued == Counter(
        {(i, "breached", "user:lisi"): 1 for i in ids}
        | {(i, "escalated", "user:boss"): 1 for i in ids}
    )
    assert Counter((t.complaint_id, t.level, t.status) for t in timers) == Counter(
        {(i, level, "fired"): 1 for i in ids for level in ("breached", "escalated")}
    )
    sla_notes = Counter(
        (cid, summary) for cid, summary in notes if summary.startswith("「部门处理」")
    )
    assert sla_notes == Counter(
        {(i, s): 1 for i in ids for s in ("「部门处理」已超时", "「部门处理」严重超时，已升级")}
    )
    assert fired == 2 * COMPLAINTS
