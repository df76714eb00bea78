"""Hand-built rows for report tests: complaints, timers and survey answers at fixed local times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from storage.models import Complaint, SurveyAnswer, Timer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    microsecond: int = 0,
) -> datetime:
    """A Shanghai wall-clock time as an aware datetime."""
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=SHANGHAI)


def complaint(
    number: int,
    created: datetime,
    *,
    status: str = "new",
    type: str | None = "产品质量",
    channel: str = "service",
    department: str | None = "product",
    assignee: str | None = None,
    product: str | None = None,
    first_response: datetime | None = None,
    resolved: datetime | None = None,
    closed: datetime | None = None,
    reassigned: int = 0,
    reopened: int = 0,
    current_step: str | None = None,
) -> Complaint:
    values = {"product": product} if product is not None else {}
    return Complaint(
        id=number,
        number=f"TS{number:04d}",
        form="complaint",
        flow="complaint",
        values=values,
        status=status,
        type=type,
        channel=channel,
        department=department,
        assignee=assignee,
        current_step=current_step,
        created_at=created,
        updated_at=created,
        first_response_at=first_response,
        resolved_at=resolved,
        closed_at=closed,
        reassigned=reassigned,
        reopened=reopened,
    )


def timer(complaint_id: int, step: str, level: str, due: datetime, status: str) -> Timer:
    fired = due if status == "fired" else None
    return Timer(
        complaint_id=complaint_id,
        subject=f"TS{complaint_id:04d}:{step}:1",
        step_id=step,
        level=level,
        due_at=due,
        status=status,
        fired_at=fired,
    )


def answer(complaint_id: int, score: int, answered: datetime) -> SurveyAnswer:
    return SurveyAnswer(
        complaint_id=complaint_id, score=score, channel="service", answered_at=answered
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
