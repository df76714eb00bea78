"""The supervisor's escalation card, clicked: 催办, 改派, 延期 act; a stale click does nothing."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.channels.base import CardClick
from bot.service.clock import FixedClock
from bot.service.wiring import Service
from bot.workflow import Action, ActionKind
from storage.models import (
    CardMessage,
    Complaint,
    OutboxMessage,
    TimelineEntry,
    Timer,
    WorkflowInstance,
)

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
}
# The conftest clock starts here; 部门处理 is entered at this instant.
HANDLE_ENTERED = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
_clicks = itertools.count(1)


@dataclass(frozen=True)
class Escalated:
    number: str
    complaint_id: int
    card: CardMessage  # the escalation card 周总 (boss) holds


async def _escalated(service: Service, clock: FixedClock) -> Escalated:
    """A complaint with 李四 in 部门处理 for 49 h: reminded, then escalated to 周总 with a card."""
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=QUALITY, channel="playground", actor="customer"
        )
        task = lc.state.tasks[0].task_id
        for kind in (ActionKind.ACCEPT, ActionKind.SUBMIT):
            await service.complaints.act(s, lc.number, Action(kind, "xiaomei", task_id=task))
    clock.advance(timedelta(hours=49))
    while await service.ticker.tick():
        pass
    async with service.rt.db.read() as s:
        cards = (await s.scalars(select(CardMessage).where(CardMessage.kind == "escalation"))).all()
    assert [(c.person_id, c.task_id, c.settled) for c in cards] == [("boss", "handle.1", False)]
    return Escalated(lc.number, lc.complaint.id, cards[0])


async def _click(
    service: Service,
    card: CardMessage,
    clock: FixedClock,
    action: str,
    *,
    selections: Mapping[str, tuple[str, ...]] | None = None,
    inputs: Mapping[str, str] | None = None,
) -> None:
    """周总 presses `action` on his escalation card in the playground."""
    await service.dispatcher.feed(
        CardClick(
            channel=card.channel,
            dedupe_key=f"click:{next(_clicks)}",
            sender="boss",
            card_ref=card.card_ref,
            action=action,
            sent_at=clock.now(),
            selections=dict(selections or {}),
            inputs=dict(inputs or {}),
        )
    )


async def _timeline(service: Service, complaint_id: int) -> list[tuple[Any, ...]]:
    async with service.rt.db.read() as s:
        rows = await s.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.complaint_id == complaint_id)
            .order_by(TimelineEntry.id)
        )
        return [(e.id, e.at, e.actor, e.kind, e.summary) for e in rows]


async def _shown(service: Service, card: CardMessage) -> dict[str, Any]:
    """The latest version of a card, as queued for its holder."""
    async with service.rt.db.read() as s:
        record = await s.get(CardMessage, card.id)
        assert record is not None
        key = f"card:{record.channel}:{record.card_ref}:v{record.version}"
        payload = await s.scalar(
            select(OutboxMessage.payload).where(OutboxMessage.idempotency_key == key)
        )
    assert payload is not None
    return payload["card"]


async def _complaint(service: Service, number: str) -> Complaint:
    async with service.rt.db.read() as s:
        complaint = await s.scalar(select(Complaint).where(Complaint.number == number))
    assert complaint is not None
    return complaint


async def _texts(service: Service, target: str) -> list[str]:
    async with service.rt.db.read() as s:
        rows = await s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "text", OutboxMessage.target == target)
            .order_by(OutboxMessage.id)
        )
        return [m.payload["text"] for m in rows]


async def test_remind_from_the_escalation_card_nudges_the_holder(
    service: Service, clock: FixedClock
):
    esc = await _escalated(service, clock)
    before = await _timeline(service, esc.complaint_id)
    texts_before = await _texts(service, "user:lisi")

    await _click(service, esc.card, clock, "remind")

    after = await _timeline(service, esc.complaint_id)
    assert after[: len(before)] == before
    assert [(actor, kind, summary) for _id, _at, actor, kind, summary in after[len(before) :]] == [
        ("person:boss", "reminded", "催办 李四")
    ]
    assert await _texts(service, "user:lisi") == [
        *texts_before,
        f"周总 催办：投诉 {esc.number}「部门处理」已超时，请尽快处理。",
    ]
    card = await _shown(service, esc.card)
    assert card["actions"] == []
    assert card["outcome"].startswith("已由 周总 催办")
    complaint = await _complaint(service, esc.number)
    assert (complaint.assignee, complaint.current_step) == ("lisi", "handle")


async def test_reassign_from_the_escalation_card_hands_the_task_to_the_chosen_person(
    service: Service, clock: FixedClock
):
    esc = await _escalated(service, clock)
    before = await _timeline(service, esc.complaint_id)

    await _click(service, esc.card, clock, "reassign", selections={"assignee": ("wangwu",)})

    complaint = await _complaint(service, esc.number)
    assert (complaint.assignee, complaint.current_step, complaint.reassigned) == (
        "wangwu",
        "handle",
        1,
    )
    after = await _timeline(service, esc.complaint_id)
    assert [(actor, kind, summary) for _id, _at, actor, kind, summary in after[len(before) :]] == [
        ("person:boss", "assigned", "将任务转派给 王五")
    ]
    async with service.rt.db.read() as s:
        holders = (
            await s.scalars(
                select(CardMessage.person_id).where(
                    CardMessage.task_id == "handle.1", CardMessage.kind == "task"
                )
            )
        ).all()
    assert "wangwu" in holders  # the chosen person now holds the task's card
    card = await _shown(service, esc.card)
    assert card["actions"] == [] and card["outcome"].startswith("已由 周总 改派")


async def test_reassign_without_choosing_anyone_is_refused(service: Service, clock: FixedClock):
    esc = await _escalated(service, clock)
    before = await _timeline(service, esc.complaint_id)

    await _click(service, esc.card, clock, "reassign")

    assert await _timeline(service, esc.complaint_id) == before
    assert (await _complaint(service, esc.number)).assignee == "lisi"
    card = await _shown(service, esc.card)
    assert card["notice"] == "请先选择要转派给谁"
    assert "reassign" in {a["id"] for a in card["actions"]}  # still his to act on


async def test_extend_from_the_escalation_card_moves_the_deadlines(
    service: Service, clock: FixedClock
):
    esc = await _escalated(service, clock)
    before = await _timeline(service, esc.complaint_id)

    await _click(
        service, esc.card, clock, "extend", inputs={"extend_by": "2d", "reason": "等待配件"}
    )

    after = await _timeline(service, esc.complaint_id)
    assert [(actor, kind, summary) for _id, _at, actor, kind, summary in after[len(before) :]] == [
        ("person:boss", "extended", "延期 2天：等待配件")
    ]
    async with service.rt.db.read() as s:
        timers = {
            t.level: (t.status, t.due_at)
            for t in (await s.scalars(select(Timer).where(Timer.step_id == "handle"))).all()
        }
    # Extended at hour 49, 25 h past the 24 h limit: the 2 days count from now (hour 49 + 48),
    # not from the missed deadline (which would be hour 72: late again within a day), and the
    # escalation keeps its 24 h after the limit.
    assert timers == {
        "breached": ("pending", HANDLE_ENTERED + timedelta(hours=49 + 48)),
        "escalated": ("pending", HANDLE_ENTERED + timedelta(hours=49 + 48 + 24)),
    }
    assert await service.ticker.tick() == 0  # nothing is late any more
    card = await _shown(service, esc.card)
    assert card["actions"] == [] and card["outcome"].startswith("已由 周总 延期")


async def test_a_short_extension_of_a_late_step_does_not_remind_again_at_once(
    service: Service, clock: FixedClock
):
    """延期 1天 at hour 49 of a 24 h step: due at hour 73, not at hour 48 (already past)."""
    esc = await _escalated(service, clock)
    reminders = await _texts(service, "user:lisi")
    await _click(
        service, esc.card, clock, "extend", inputs={"extend_by": "1d", "reason": "等待配件"}
    )
    assert await service.ticker.tick() == 0
    assert await _texts(service, "user:lisi") == reminders
    clock.advance(timedelta(hours=23, minutes=59))
    assert await service.ticker.tick() == 0
    clock.advance(timedelta(minutes=2))
    assert await service.ticker.tick() == 1  # the extended limit, passed: reminded once more


async def test_a_click_after_the_step_is_done_is_refused_and_changes_nothing(
    service: Service, clock: FixedClock
):
    esc = await _escalated(service, clock)
    async with service.rt.db.write() as s:
        await service.complaints.act(
            s, esc.number, Action(ActionKind.ACCEPT, "lisi", task_id="handle.1")
        )
        await service.complaints.act(
            s,
            esc.number,
            Action(ActionKind.SUBMIT, "lisi", task_id="handle.1", values={"solution": "换新"}),
        )
    settled = await _shown(service, esc.card)
    assert settled["actions"] == []  # the escalation card already says the step is over

    async def snapshot() -> tuple[Any, ...]:
        async with service.rt.db.read() as s:
            complaint = await s.scalar(select(Complaint).where(Complaint.number == esc.number))
            instance = await s.scalar(
                select(WorkflowInstance).where(WorkflowInstance.complaint_id == esc.complaint_id)
            )
            timers = (await s.execute(select(Timer.id, Timer.status, Timer.due_at))).all()
            sends = (
                await s.execute(
                    select(OutboxMessage.id, OutboxMessage.target).where(
                        OutboxMessage.kind != "card_update"
                    )
                )
            ).all()
        assert complaint is not None and instance is not None
        return (
            await _timeline(service, esc.complaint_id),
            (complaint.status, complaint.assignee, complaint.current_step, complaint.updated_at),
            (instance.revision, instance.state),
            sorted(timers),
            sorted(sends),
        )

    before = await snapshot()
    clock.advance(timedelta(minutes=5))
    clicks: list[tuple[str, dict[str, tuple[str, ...]], dict[str, str]]] = [
        ("remind", {}, {}),
        ("take_over", {}, {}),
        ("reassign", {"assignee": ("wangwu",)}, {}),
        ("extend", {}, {"extend_by": "1d", "reason": "再等等"}),
    ]
    for action, selections, inputs in clicks:
        await _click(service, esc.card, clock, action, selections=selections, inputs=inputs)
        assert await snapshot() == before, action
        card = await _shown(service, esc.card)
        assert card["actions"] == [], action  # still settled: no buttons come back
        assert card["notice"] == "该步骤已完成", action  # and the refusal says why
        assert card["outcome"] == settled["outcome"], action
