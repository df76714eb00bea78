"""A refused workflow action leaves the complaint as it was: timeline, state, timers, outbox.

The caller catches the refusal inside its own transaction and commits (as a card click does, to
say why on the card), so anything the service wrote before refusing would be kept: nothing may be.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.errors import ActionRefused
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
HANDLE = "handle.1"

REFUSED = [
    pytest.param(
        Action(ActionKind.SUBMIT, "lisi", task_id=HANDLE), "请填写解决方案", id="submit-missing"
    ),
    pytest.param(
        Action(
            ActionKind.SUBMIT,
            "lisi",
            task_id=HANDLE,
            values={"solution": "换新", "type": "其他"},
        ),
        "「投诉类型」不能在这一步填写",
        id="submit-foreign-field",
    ),
    pytest.param(
        Action(ActionKind.ACCEPT, "xiaomei", task_id=HANDLE), "已由 李四 受理", id="accept-not-hers"
    ),
    pytest.param(
        Action(ActionKind.REMIND, "wangwu", task_id=HANDLE), "只有主管可以催办", id="remind"
    ),
    pytest.param(
        Action(ActionKind.REASSIGN, "wangwu", task_id=HANDLE, target="zhaoliu", text="换人"),
        "只有主管可以改派",
        id="reassign",
    ),
    pytest.param(
        Action(ActionKind.EXTEND, "boss", task_id=HANDLE, extend_by=timedelta(hours=4), text=""),
        "请填写延期原因",
        id="extend-no-reason",
    ),
    pytest.param(Action(ActionKind.CLOSE, "wangwu", text="结了"), "只有主管可以结案", id="close"),
    pytest.param(
        Action(ActionKind.COMMENT, "wangwu", text="我来看看"),
        "你不是该投诉的处理人",
        id="comment-outsider",
    ),
]


async def _snapshot(service: Service, complaint_id: int) -> dict[str, Any]:
    async with service.rt.db.read() as s:
        complaint = await s.get(Complaint, complaint_id)
        instance = await s.scalar(
            select(WorkflowInstance).where(WorkflowInstance.complaint_id == complaint_id)
        )
        assert complaint is not None and instance is not None
        timeline = (
            await s.execute(
                select(
                    TimelineEntry.id,
                    TimelineEntry.at,
                    TimelineEntry.actor,
                    TimelineEntry.kind,
                    TimelineEntry.summary,
                    TimelineEntry.data,
                )
                .where(TimelineEntry.complaint_id == complaint_id)
                .order_by(TimelineEntry.id)
            )
        ).all()
        return {
            "timeline": [tuple(row) for row in timeline],
            "complaint": (
                complaint.status,
                complaint.assignee,
                complaint.current_step,
                complaint.values,
                complaint.updated_at,
                complaint.reassigned,
            ),
            "workflow": (instance.revision, instance.state),
            "timers": sorted(
                tuple(r) for r in (await s.execute(select(Timer.id, Timer.status, Timer.due_at)))
            ),
            "outbox": sorted(
                tuple(r) for r in (await s.execute(select(OutboxMessage.id, OutboxMessage.kind)))
            ),
            "cards": sorted(
                tuple(r) for r in (await s.execute(select(CardMessage.id, CardMessage.version)))
            ),
        }


@pytest.mark.parametrize(("action", "reason"), REFUSED)
async def test_a_refused_action_leaves_the_timeline_unchanged(
    service: Service, clock: FixedClock, action: Action, reason: str
):
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=QUALITY, channel="playground", actor="customer"
        )
        task = lc.state.tasks[0].task_id
        for kind in (ActionKind.ACCEPT, ActionKind.SUBMIT):
            await service.complaints.act(s, lc.number, Action(kind, "xiaomei", task_id=task))
        await service.complaints.act(
            s, lc.number, Action(ActionKind.ACCEPT, "lisi", task_id=HANDLE)
        )
    before = await _snapshot(service, lc.complaint.id)
    assert before["timeline"]  # there is a story to keep

    clock.advance(timedelta(minutes=5))  # a write now would carry a new time
    async with service.rt.db.write() as s:  # the refusal is caught and the transaction commits
        with pytest.raises(ActionRefused) as refused:
            await service.complaints.act(s, lc.number, action)
    assert refused.value.reason == reason
    assert await _snapshot(service, lc.complaint.id) == before
