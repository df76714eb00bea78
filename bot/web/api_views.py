"""Complaints, customers and attachments as API answers (read in the caller's session)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.complaint import status_label
from bot.service.runtime import Runtime
from bot.service.timeline import actor_name
from bot.service.views import load_view, step_name
from bot.web.api_models import (
    AttachmentOut,
    CommentOut,
    ComplaintDetail,
    ComplaintSummary,
    CustomerOut,
    CustomerRef,
    LinkOut,
    TaskOut,
    TimelineOut,
    ValueOut,
)
from bot.workflow import WorkflowState
from storage.models import (
    Attachment,
    Comment,
    Complaint,
    ComplaintLink,
    Customer,
    TimelineEntry,
    WorkflowInstance,
)


def summary(c: Complaint) -> ComplaintSummary:
    return ComplaintSummary(
        number=c.number,
        status=c.status,  # type: ignore[arg-type]
        status_text=status_label(c.status),
        type=c.type,
        priority=c.priority,
        channel=c.channel,
        department=c.department,
        assignee=c.assignee,
        current_step=c.current_step,
        created_at=c.created_at,
        updated_at=c.updated_at,
        first_response_at=c.first_response_at,
        resolved_at=c.resolved_at,
        closed_at=c.closed_at,
    )


def attachment_out(a: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=a.id,
        kind=a.kind,
        filename=(a.meta or {}).get("filename"),
        content_type=a.content_type,
        size=a.size,
        sha256=a.sha256,
        downloadable=bool(a.file_path),
        created_at=a.created_at,
    )


def comment_out(c: Comment) -> CommentOut:
    return CommentOut(
        id=c.id, author=c.author, text=c.text, to_customer=c.to_customer, created_at=c.created_at
    )


def customer_out(c: Customer) -> CustomerOut:
    return CustomerOut(
        id=c.id,
        name=c.name,
        phone=c.phone,
        customer_no=c.customer_no,
        channel=c.channel,
        profile=dict(c.profile or {}),
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


async def comments_of(session: AsyncSession, complaint_id: int) -> list[CommentOut]:
    rows = await session.scalars(
        select(Comment).where(Comment.complaint_id == complaint_id).order_by(Comment.id)
    )
    return [comment_out(c) for c in rows]


async def attachments_of(session: AsyncSession, complaint_id: int) -> list[AttachmentOut]:
    rows = await session.scalars(
        select(Attachment).where(Attachment.complaint_id == complaint_id).order_by(Attachment.id)
    )
    return [attachment_out(a) for a in rows]


async def detail(session: AsyncSession, rt: Runtime, c: Complaint) -> ComplaintDetail:
    """Everything about one complaint: values, tasks, timeline, comments, files, links."""
    view = await load_view(session, rt, c, with_history=False)
    directory = rt.config.directory
    entries = await session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.complaint_id == c.id)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    )
    links = await session.scalars(
        select(ComplaintLink).where(ComplaintLink.complaint_id == c.id).order_by(ComplaintLink.id)
    )
    instance = await session.scalar(
        select(WorkflowInstance).where(WorkflowInstance.complaint_id == c.id)
    )
    flow = rt.config.flows.get(c.flow)
    tasks: list[TaskOut] = []
    if instance is not None:
        state = WorkflowState.from_dict(instance.state)
        tasks = [
            TaskOut(
                task_id=t.task_id,
                step_id=t.step_id,
                step_name=step_name(flow, t.step_id) if flow else None,
                assignee=t.assignee,
                candidates=list(t.candidates),
                accepted=t.accepted,
            )
            for t in state.tasks
        ]
    customer = await session.get(Customer, c.customer_id) if c.customer_id else None
    base: dict[str, Any] = summary(c).model_dump()
    return ComplaintDetail(
        **base,
        values=dict(c.values or {}),
        display=[ValueOut(key=v.key, label=v.label, text=v.text) for v in view.values],
        step_name=view.step_name,
        department_name=view.department_name or None,
        assignee_name=view.assignee_name or None,
        customer=(
            CustomerRef(
                id=customer.id,
                name=customer.name,
                phone=customer.phone,
                customer_no=customer.customer_no,
            )
            if customer
            else None
        ),
        tasks=tasks,
        timeline=[
            TimelineOut(
                at=e.at,
                actor=e.actor,
                actor_name=actor_name(e.actor, directory),
                kind=e.kind,
                summary=e.summary,
            )
            for e in entries
        ],
        comments=await comments_of(session, c.id),
        attachments=await attachments_of(session, c.id),
        links=[
            LinkOut(
                system=link.system,
                external_id=link.external_id,
                url=link.url,
                created_at=link.created_at,
            )
            for link in links
        ],
    )


async def find_complaint(session: AsyncSession, number: str) -> Complaint | None:
    return await session.scalar(select(Complaint).where(Complaint.number == number))
