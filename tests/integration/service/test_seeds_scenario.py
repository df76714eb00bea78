"""The seeds' reference scenario through the domain service, with no platform (both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.errors import ActionRefused
from bot.service.clock import FixedClock
from bot.service.wiring import Service
from bot.workflow import Action, ActionKind
from storage.models import Complaint, OutboxMessage, SurveyAnswer, TimelineEntry, Timer

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
    "订单号": "202611230001",
}


async def _timeline(service: Service, number: str) -> list[tuple[str, str]]:
    async with service.rt.db.read() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
        rows = await session.scalars(
            select(TimelineEntry)
            .where(TimelineEntry.complaint_id == complaint.id)
            .order_by(TimelineEntry.at, TimelineEntry.id)
        )
        return [(r.actor, r.summary) for r in rows]


async def test_quality_complaint_goes_from_intake_to_survey(service: Service, clock: FixedClock):
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=QUALITY, channel="playground", actor="customer"
        )
    number = lc.number
    assert number == "TS20261123-0001"
    assert lc.complaint.status == "new"
    accept_task = lc.state.tasks[0]
    assert accept_task.step_id == "accept" and set(accept_task.candidates) == {
        "zhangsan",
        "xiaomei",
    }

    clock.advance(timedelta(minutes=5))
    async with service.rt.db.write() as s:
        lc = await service.complaints.act(
            s, number, Action(ActionKind.ACCEPT, "xiaomei", task_id=accept_task.task_id)
        )
    assert lc.complaint.status == "in_progress" and lc.complaint.first_response_at == clock.now()

    async with service.rt.db.write() as s:
        lc = await service.complaints.act(
            s, number, Action(ActionKind.SUBMIT, "xiaomei", task_id=accept_task.task_id)
        )
    # 产品质量 branches to 产品部, whose head 李四 gets the handling task.
    assert lc.complaint.department == "product"
    handle = lc.state.tasks[0]
    assert handle.step_id == "handle" and handle.assignee == "lisi"

    clock.advance(timedelta(hours=3))
    async with service.rt.db.write() as s:
        await service.complaints.act(
            s, number, Action(ActionKind.ACCEPT, "lisi", task_id=handle.task_id)
        )
        lc = await service.complaints.act(
            s,
            number,
            Action(
                ActionKind.SUBMIT,
                "lisi",
                task_id=handle.task_id,
                values={"solution": "补发新杯并赠送优惠券", "compensation": 50},
            ),
        )
    followup = lc.state.tasks[0]
    assert followup.step_id == "followup"
    assert lc.complaint.status == "resolved" and lc.complaint.resolved_at == clock.now()
    assert lc.values["current_status"] == "待回访"

    clock.advance(timedelta(hours=1))
    async with service.rt.db.write() as s:
        await service.complaints.act(
            s, number, Action(ActionKind.ACCEPT, "zhangsan", task_id=followup.task_id)
        )
        lc = await service.complaints.act(
            s, number, Action(ActionKind.SUBMIT, "zhangsan", task_id=followup.task_id)
        )
    assert lc.complaint.status == "closed" and lc.state.ended

    async with service.rt.db.write() as s:
        await service.complaints.answer_survey(
            s, number, score=5, comment="处理很快", channel="playground"
        )
    async with service.rt.db.read() as s:
        answer = await s.scalar(select(SurveyAnswer))
        timers = (await s.scalars(select(Timer))).all()
    assert (answer.score, answer.comment) == (5, "处理很快")
    # Every timer of a completed step was cancelled.
    assert {t.status for t in timers} == {"cancelled"}

    story = [summary for _actor, summary in await _timeline(service, number)]
    for expected in (
        "提交了投诉（体验台）",
        "进入「客服受理」",
        "受理了「客服受理」",
        "分派至 产品部",
        "进入「部门处理」",
        "填写了 解决方案、赔偿金额",
        "进入「客户回访」",
        "投诉已关闭",
        "评价 ★★★★★：处理很快",
    ):
        assert expected in story, expected
    timeline = await _timeline(service, number)
    assert ("person:lisi", "受理了「部门处理」") in timeline


async def test_new_complaint_notifies_the_customer_service_head(service: Service):
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=QUALITY, channel="playground", actor="customer"
        )
    async with service.rt.db.read() as s:
        texts = (await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "text"))).all()
    assert [(m.target, m.payload["text"]) for m in texts] == [
        ("user:zhangsan", f"新投诉 {lc.number}：产品质量，客户 王小明")
    ]


async def test_a_refused_action_changes_nothing(service: Service):
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=QUALITY, channel="playground", actor="customer"
        )
    task = lc.state.tasks[0]
    async with service.rt.db.read() as s:
        before = (await s.scalar(select(Complaint))).updated_at
        outbox_before = len((await s.scalars(select(OutboxMessage))).all())
    with pytest.raises(ActionRefused) as refused:
        async with service.rt.db.write() as s:
            await service.complaints.act(
                s, lc.number, Action(ActionKind.SUBMIT, "lisi", task_id=task.task_id)
            )
    assert refused.value.reason
    async with service.rt.db.read() as s:
        complaint = await s.scalar(select(Complaint))
        assert complaint.updated_at == before and complaint.status == "new"
        assert len((await s.scalars(select(OutboxMessage))).all()) == outbox_before
