"""Read one complaint into plain data: its typed values, the condition environment, a view."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.complaint import ComplaintView, TimelineLine, ValueLine, short_time, status_label
from bot.forms import FormDefinition, display_value, form_env, load_values
from bot.service.runtime import Runtime
from bot.service.timeline import CUSTOMER_VISIBLE_KINDS, actor_name
from bot.workflow import FlowDefinition
from storage.models import Complaint, Customer, TimelineEntry


def typed_values(form: FormDefinition, complaint: Complaint) -> dict[str, Any]:
    return load_values(form, complaint.values or {})


def step_name(flow: FlowDefinition, step_id: str | None) -> str | None:
    if step_id is None:
        return None
    return flow.step(step_id).name if flow.has_step(step_id) else step_id


def condition_env(
    rt: Runtime,
    complaint: Complaint,
    values: Mapping[str, Any],
    *,
    now: datetime,
    event: str | None = None,
    actor: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Form values by key and label plus the reserved names (.notes/HELPERS.md)."""
    directory = rt.config.directory
    form = rt.config.forms[complaint.form]
    flow = rt.config.flows[complaint.flow]
    env = form_env(form, values)
    env.update(
        number=complaint.number,
        step=step_name(flow, complaint.current_step),
        step_id=complaint.current_step,
        department=complaint.department,
        department_name=directory.department_name(complaint.department) or None,
        assignee=complaint.assignee,
        assignee_name=directory.name_of(complaint.assignee) or None,
        channel=complaint.channel,
        created_at=complaint.created_at,
        age=now - complaint.created_at,
        event=event,
        level=None,
        count=None,
        actor=actor,
        priority=complaint.priority,
        status=complaint.status,
        now=now,
        # Event-specific names (bot/rules/catalog.py EVENT_NAMES); empty unless an event sets them
        changed_field=None,
        old_value=None,
        new_value=None,
        comment=None,
    )
    if extra:
        env.update(extra)
    return env


async def customer_history_note(
    session: AsyncSession, rt: Runtime, complaint: Complaint
) -> str | None:
    """第3次投诉 · 上次 11-02 物流问题（已关闭）, or 首次投诉; None without a known customer."""
    if complaint.customer_id is None:
        return None
    earlier = (
        await session.execute(
            select(Complaint.created_at, Complaint.type, Complaint.status)
            .where(Complaint.customer_id == complaint.customer_id, Complaint.id != complaint.id)
            .where(Complaint.created_at <= complaint.created_at)
            .order_by(Complaint.created_at.desc())
            .limit(1)
        )
    ).first()
    if earlier is None:
        return "首次投诉"
    count = await session.scalar(
        select(func.count())
        .select_from(Complaint)
        .where(Complaint.customer_id == complaint.customer_id)
        .where(Complaint.created_at <= complaint.created_at)
    )
    last = f"{short_time(earlier.created_at, rt.tz)[:5]} {earlier.type or '投诉'}"
    return f"第{count}次投诉 · 上次 {last}（{status_label(earlier.status)}）"


async def timeline_lines(
    session: AsyncSession, rt: Runtime, complaint_id: int, *, customer_only: bool = False
) -> tuple[TimelineLine, ...]:
    stmt = (
        select(TimelineEntry)
        .where(TimelineEntry.complaint_id == complaint_id)
        .order_by(TimelineEntry.at, TimelineEntry.id)
    )
    if customer_only:
        stmt = stmt.where(TimelineEntry.kind.in_(CUSTOMER_VISIBLE_KINDS))
    rows = (await session.scalars(stmt)).all()
    directory = rt.config.directory
    return tuple(
        TimelineLine(
            at=row.at,
            actor=actor_name(row.actor, directory),
            summary=row.summary,
            customer_visible=row.kind in CUSTOMER_VISIBLE_KINDS,
        )
        for row in rows
    )


async def load_view(
    session: AsyncSession,
    rt: Runtime,
    complaint: Complaint,
    *,
    overdue_by: str | None = None,
    with_history: bool = True,
) -> ComplaintView:
    """A snapshot of `complaint` for cards, chat answers and pages."""
    directory = rt.config.directory
    form = rt.config.forms[complaint.form]
    flow = rt.config.flows[complaint.flow]
    values = typed_values(form, complaint)
    lines = tuple(
        ValueLine(f.key, f.label, display_value(f, values.get(f.key), directory=directory))
        for f in form.fields
        if values.get(f.key) not in (None, "", [], ())
    )
    customer_name = ""
    if complaint.customer_id is not None:
        customer = await session.get(Customer, complaint.customer_id)
        customer_name = (customer.name or "") if customer else ""
    customer_name = customer_name or str(values.get("customer_name") or "")
    return ComplaintView(
        number=complaint.number,
        status=complaint.status,
        type=complaint.type,
        step_id=complaint.current_step,
        step_name=step_name(flow, complaint.current_step),
        department_name=directory.department_name(complaint.department),
        assignee_name=directory.name_of(complaint.assignee),
        customer_name=customer_name,
        created_at=complaint.created_at,
        values=lines,
        timeline=await timeline_lines(session, rt, complaint.id),
        history_note=await customer_history_note(session, rt, complaint) if with_history else None,
        url=f"{rt.public_base_url}/console/complaints/{complaint.number}",
        overdue_by=overdue_by,
    )
