"""A complaint as plain data, the way cards, chat replies and the console see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

STATUS_LABELS = {
    "new": "待受理",
    "in_progress": "处理中",
    "resolved": "待回访",
    "closed": "已关闭",
    "cancelled": "已撤销",
}

STATUS_TONES = {
    "new": "warning",
    "in_progress": "info",
    "resolved": "info",
    "closed": "success",
    "cancelled": "muted",
}


def status_label(status: str) -> str:
    """The Chinese word a customer or employee sees for a lifecycle status."""
    return STATUS_LABELS.get(status, status)


@dataclass(frozen=True)
class ValueLine:
    """One form value, ready to show: key, label and the display text."""

    key: str
    label: str
    text: str


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    actor: str  # display name: 张三, 客户, 系统, 规则「…」
    summary: str
    customer_visible: bool = True


@dataclass(frozen=True)
class ComplaintView:
    """A snapshot of one complaint, loaded in one transaction, for rendering."""

    number: str
    status: str
    type: str | None
    step_id: str | None
    step_name: str | None
    department_name: str
    assignee_name: str
    customer_name: str
    created_at: datetime
    values: tuple[ValueLine, ...]
    timeline: tuple[TimelineLine, ...]
    history_note: str | None = None
    url: str | None = None
    overdue_by: str | None = None  # "超时 26 小时", for escalation cards

    @property
    def status_text(self) -> str:
        return status_label(self.status)

    def value(self, key: str) -> str:
        return next((v.text for v in self.values if v.key == key), "")


def short_time(at: datetime, tz: tzinfo) -> str:
    """11-23 14:05 in the organisation's time zone: what cards and chat lines show."""
    return at.astimezone(tz).strftime("%m-%d %H:%M")


def long_time(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
