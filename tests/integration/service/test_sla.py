"""Service levels through the service: reminders, escalation cards and their actions, pausing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.channels.base import CardClick
from bot.service.clock import FixedClock
from bot.service.wiring import Service
from bot.workflow import Action, ActionKind
from storage.models import CardMessage, Complaint, OutboxMessage, TimelineEntry, Timer

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
}


async def _at_department(service: Service) -> str:
    """A complaint accepted by 小美 and now with 李四 (产品部) in 部门处理."""
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=QUALITY, channel="playground", actor="customer"
        )
        task = lc.state.tasks[0].task_id
        await service.complaints.act(
            s, lc.number, Action(ActionKind.ACCEPT, "xiaomei", task_id=task)
        )
        await service.complaints.act(
            s, lc.number, Action(ActionKind.SUBMIT, "xiaomei", task_id=task)
        )
    return lc.number


async def _outbox(service: Service, **where: str) -> list[OutboxMessage]:
    async with service.rt.db.read() as s:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(OutboxMessage, key) == value)
        return list((await s.scalars(stmt)).all())


async def _story(service: Service) -> list[str]:
    async with service.rt.db.read() as s:
        return [
            e.summary
            for e in (await s.scalars(select(TimelineEntry).order_by(TimelineEntry.id))).all()
        ]


async def test_late_step_reminds_then_escalates_once(service: Service, clock: FixedClock):
    await _at_department(service)
    clock.advance(timedelta(hours=23))
    assert await service.ticker.tick() == 0

    clock.advance(timedelta(hours=2))  # 25 h in 部门处理: past its 24 h limit
    assert await service.ticker.tick() == 1
    reminders = [m for m in await _outbox(service, kind="text", target="user:lisi")]
    assert any("已超过24小时未完成" in m.payload["text"] for m in reminders)

    clock.advance(timedelta(hours=24))  # 49 h: escalated to 管理层 (周总) with an escalation card
    assert await service.ticker.tick() == 1
    cards = await _outbox(service, kind="card", target="user:boss")
    assert len(cards) == 1
    card = cards[0].payload["card"]
    assert card["kind"] == "escalation"
    assert {a["id"] for a in card["actions"]} == {"remind", "reassign", "take_over", "extend"}
    assert any(f["label"] == "超时" for f in card["fields"])

    # A second tick, or three, fire nothing again.
    for _ in range(3):
        assert await service.ticker.tick() == 0
    assert len(await _outbox(service, kind="card", target="user:boss")) == 1
    story = await _story(service)
    assert story.count("「部门处理」已超时") == 1


async def test_supervisor_takes_over_from_the_escalation_card(service: Service, clock: FixedClock):
    number = await _at_department(service)
    clock.advance(timedelta(hours=49))
    await service.ticker.tick()
    await service.ticker.tick()
    async with service.rt.db.read() as s:
        record = await s.scalar(select(CardMessage).where(CardMessage.kind == "escalation"))
    click = CardClick(
        channel="playground",
        dedupe_key="click:1",
        sender="boss",
        card_ref=record.card_ref,
        action="take_over",
        sent_at=clock.now(),
    )
    await service.dispatcher.feed(click)
    async with service.rt.db.read() as s:
        complaint = await s.scalar(select(Complaint).where(Complaint.number == number))
    assert complaint.assignee == "boss"
    # The escalation card shows the outcome and no more buttons.
    updates = await _outbox(service, kind="card_update", target="user:boss")
    assert updates and updates[-1].payload["card"]["actions"] == []

    # The same click delivered again changes nothing.
    before = await _story(service)
    await service.dispatcher.feed(click)
    assert await _story(service) == before


async def test_extend_rearms_the_timers(service: Service, clock: FixedClock):
    number = await _at_department(service)
    clock.advance(timedelta(hours=25))
    await service.ticker.tick()
    async with service.rt.db.write() as s:
        await service.complaints.act(
            s,
            number,
            Action(
                ActionKind.EXTEND,
                "lisi",
                task_id="handle.1",
                text="等待配件",
                extend_by=timedelta(hours=24),
            ),
        )
    async with service.rt.db.read() as s:
        timers = {
            t.level: t
            for t in (await s.scalars(select(Timer).where(Timer.step_id == "handle"))).all()
        }
    assert timers["breached"].status == "pending"
    assert timers["breached"].due_at > clock.now()
    assert "延期 1天：等待配件" in await _story(service)


async def test_paused_clock_waits_for_the_customer(service: Service, clock: FixedClock):
    number = await _at_department(service)
    clock.advance(timedelta(hours=10))
    async with service.rt.db.write() as s:
        assert (
            await service.sla.pause(s, number, actor="person:lisi", reason="需要客户补充照片") == 2
        )
    clock.advance(timedelta(hours=100))
    assert await service.ticker.tick() == 0  # paused: nothing fires however long we wait
    async with service.rt.db.write() as s:
        assert await service.sla.resume(s, number, actor="customer") == 2
    clock.advance(timedelta(hours=13))
    assert await service.ticker.tick() == 0  # 10 h + 13 h used of 24 h
    clock.advance(timedelta(hours=2))
    assert await service.ticker.tick() == 1
