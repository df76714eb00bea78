"""Read-only JSON API: complaints with filters and cursor paging, one complaint with its timeline."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import Select, String, cast, exists, or_, select

from bot.appkeys import DATABASE, SERVICE
from bot.domain.complaint import status_label
from bot.service.views import load_view
from storage.models import Comment, Complaint, Customer, Timer, TimelineEntry

routes = web.RouteTableDef()

MAX_PAGE = 200
STATUSES = ("new", "in_progress", "resolved", "closed", "cancelled")


class BadQuery(web.HTTPBadRequest):
    def __init__(self, field: str, message: str):
        super().__init__(
            text=web.json_response({"errors": [{"field": field, "message": message}]}).text,
            content_type="application/json",
        )


def _cursor_decode(raw: str | None) -> int | None:
    if not raw:
        return None
    try:
        return int(base64.urlsafe_b64decode(raw.encode() + b"==").decode())
    except (ValueError, UnicodeDecodeError):
        raise BadQuery("cursor", "invalid cursor; pass the next_cursor of a previous page") from None


def _cursor_encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def _time(name: str, raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise BadQuery(name, "expected an ISO 8601 date-time, e.g. 2026-11-23T00:00:00+08:00") from None
    if value.tzinfo is None:
        raise BadQuery(name, "the date-time needs a time zone offset, e.g. +08:00")
    return value


def filtered(query: Any, now: datetime) -> Select[Any]:
    """The complaint filters shared by the list, the CSV export and the console."""
    stmt = select(Complaint)
    status = query.get("status")
    if status:
        wanted = [s for s in status.split(",") if s]
        bad = [s for s in wanted if s not in STATUSES]
        if bad:
            raise BadQuery("status", f"unknown status {bad[0]!r}; one of {', '.join(STATUSES)}")
        stmt = stmt.where(Complaint.status.in_(wanted))
    for name in ("type", "department", "assignee", "channel"):
        if value := query.get(name):
            stmt = stmt.where(getattr(Complaint, name) == value)
    if (since := _time("created_from", query.get("created_from"))) is not None:
        stmt = stmt.where(Complaint.created_at >= since)
    if (until := _time("created_to", query.get("created_to"))) is not None:
        stmt = stmt.where(Complaint.created_at < until)
    if query.get("overdue") in ("1", "true", "yes"):
        stmt = stmt.where(
            exists().where(
                Timer.complaint_id == Complaint.id,
                Timer.step_id == Complaint.current_step,
                Timer.level == "breached",
                Timer.status == "fired",
            ),
            Complaint.status.not_in(("closed", "cancelled")),
        )
    if q := (query.get("q") or "").strip():
        if "\x00" in q:
            raise BadQuery("q", "the search text contains a NUL character")
        like = f"%{q}%"
        stmt = stmt.outerjoin(Customer, Customer.id == Complaint.customer_id).where(
            or_(
                Complaint.number.ilike(like),
                Customer.name.ilike(like),
                Customer.phone.ilike(like),
                cast(Complaint.values, String).ilike(like),
                exists().where(
                    TimelineEntry.complaint_id == Complaint.id, TimelineEntry.summary.ilike(like)
                ),
            )
        )
    return stmt


def complaint_summary(c: Complaint) -> dict[str, Any]:
    return {
        "number": c.number,
        "status": c.status,
        "status_text": status_label(c.status),
        "type": c.type,
        "channel": c.channel,
        "department": c.department,
        "assignee": c.assignee,
        "current_step": c.current_step,
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
        "first_response_at": c.first_response_at.isoformat() if c.first_response_at else None,
        "resolved_at": c.resolved_at.isoformat() if c.resolved_at else None,
        "closed_at": c.closed_at.isoformat() if c.closed_at else None,
    }


@routes.get("/api/v1/complaints")
async def list_complaints(request: web.Request) -> web.Response:
    """Newest first; `limit` (≤ 200) and `cursor` page through the result."""
    service = request.app[SERVICE]
    try:
        limit = min(int(request.query.get("limit", "50")), MAX_PAGE)
    except ValueError:
        raise BadQuery("limit", "limit must be a whole number") from None
    if limit < 1:
        raise BadQuery("limit", "limit must be at least 1")
    stmt = filtered(request.query, service.rt.now())
    if (after := _cursor_decode(request.query.get("cursor"))) is not None:
        stmt = stmt.where(Complaint.id < after)
    stmt = stmt.order_by(Complaint.id.desc()).limit(limit + 1)
    async with request.app[DATABASE].read() as session:
        rows = list((await session.scalars(stmt)).unique().all())
    page, more = rows[:limit], len(rows) > limit
    return web.json_response(
        {
            "items": [complaint_summary(c) for c in page],
            "next_cursor": _cursor_encode(page[-1].id) if more and page else None,
        }
    )


@routes.get("/api/v1/complaints/{number}")
async def get_complaint(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    number = request.match_info["number"]
    async with request.app[DATABASE].read() as session:
        complaint = await session.scalar(select(Complaint).where(Complaint.number == number))
        if complaint is None:
            raise web.HTTPNotFound(
                text=f'{{"error": "no complaint {number}"}}', content_type="application/json"
            )
        view = await load_view(session, service.rt, complaint)
        entries = (
            await session.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.complaint_id == complaint.id)
                .order_by(TimelineEntry.at, TimelineEntry.id)
            )
        ).all()
        comments = (
            await session.scalars(select(Comment).where(Comment.complaint_id == complaint.id))
        ).all()
    body = complaint_summary(complaint)
    body.update(
        values=complaint.values,
        display=[{"key": v.key, "label": v.label, "text": v.text} for v in view.values],
        step_name=view.step_name,
        department_name=view.department_name,
        assignee_name=view.assignee_name,
        timeline=[
            {"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "summary": e.summary}
            for e in entries
        ],
        comments=[
            {"author": c.author, "text": c.text, "to_customer": c.to_customer,
             "created_at": c.created_at.isoformat()}
            for c in comments
        ],
    )
    return web.json_response(body)
