"""The complaint timeline: every change, who made it and when. Append-only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.directory import Directory
from storage.models import TimelineEntry

# Entry kinds the customer may see in "查询" and on their page; internal notes stay internal.
CUSTOMER_VISIBLE_KINDS = frozenset(
    {"created", "step", "accepted", "reply", "closed", "reopened", "cancelled", "survey"}
)


def actor_name(actor: str, directory: Directory) -> str:
    """'person:zhangsan' -> 张三, 'customer' -> 客户, 'rule:X' -> 规则「X」, 'integration:c' ..."""
    kind, _, ident = actor.partition(":")
    if kind == "person":
        return directory.name_of(ident)
    if kind == "customer":
        return "客户"
    if kind == "rule":
        return f"规则「{ident}」"
    if kind == "integration":
        return f"集成「{ident}」"
    return "系统"


def add_entry(
    session: AsyncSession,
    complaint_id: int,
    *,
    at: datetime,
    actor: str,
    kind: str,
    summary: str,
    data: Mapping[str, Any] | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        complaint_id=complaint_id,
        at=at,
        actor=actor,
        kind=kind,
        summary=summary,
        data=dict(data or {}),
    )
    session.add(entry)
    return entry
