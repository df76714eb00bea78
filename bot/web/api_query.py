"""Shared query pieces: the complaint filters (list, CSV export, console) and cursor paging."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, String, cast, exists, or_, select

from bot.web.api_core import ApiError
from bot.web.api_models import MAX_ID
from bot.web.api_params import ComplaintFilter
from storage.models import Complaint, Customer, TimelineEntry, Timer


def decode_cursor(raw: str | None) -> int | None:
    """The id a page continues after; ApiError 400 for anything we did not hand out."""
    if not raw:
        return None
    try:
        text = base64.urlsafe_b64decode(raw.encode("ascii") + b"==").decode("ascii")
    except (ValueError, UnicodeError, binascii.Error):
        text = ""
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise ApiError(
            400, "invalid cursor; pass the next_cursor of a previous page", field="cursor"
        )
    return int(text)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def page_of(rows: list[Any], limit: int) -> tuple[list[Any], str | None]:
    """The page and the cursor of the next one (rows were fetched with limit + 1)."""
    page = rows[:limit]
    more = len(rows) > limit and bool(page)
    return page, encode_cursor(page[-1].id) if more else None


def _utc(name: str, value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ApiError(400, "the date-time is out of range", field=name) from None


def like_pattern(text: str) -> str:
    """%text% with LIKE's wildcards in `text` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered(f: ComplaintFilter) -> Select[Any]:
    """The complaint filters shared by the list, the CSV export and the console."""
    stmt = select(Complaint)
    if f.status:
        stmt = stmt.where(Complaint.status.in_([s for s in f.status.split(",") if s]))
    for name in ("type", "department", "assignee", "channel"):
        value = getattr(f, name)
        if value:
            stmt = stmt.where(getattr(Complaint, name) == value)
    if f.created_from is not None:
        stmt = stmt.where(Complaint.created_at >= _utc("created_from", f.created_from))
    if f.created_to is not None:
        stmt = stmt.where(Complaint.created_at < _utc("created_to", f.created_to))
    if f.overdue:
        stmt = stmt.where(
            exists().where(
                Timer.complaint_id == Complaint.id,
                Timer.step_id == Complaint.current_step,
                Timer.level == "breached",
                Timer.status == "fired",
            ),
            Complaint.status.not_in(("closed", "cancelled")),
        )
    q = (f.q or "").strip()
    if q:
        like = like_pattern(q)
        stmt = stmt.outerjoin(Customer, Customer.id == Complaint.customer_id).where(
            or_(
                Complaint.number.ilike(like, escape="\\"),
                Customer.name.ilike(like, escape="\\"),
                Customer.phone.ilike(like, escape="\\"),
                cast(Complaint.values, String).ilike(like, escape="\\"),
                exists().where(
                    TimelineEntry.complaint_id == Complaint.id,
                    TimelineEntry.summary.ilike(like, escape="\\"),
                ),
            )
        )
    return stmt
