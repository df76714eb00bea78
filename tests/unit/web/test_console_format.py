"""How the console words durations, SLA clocks and assignees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.directory import Department, Directory, Person
from bot.web.console_format import assignee_text, clock_line, duration_text
from bot.workflow import AssigneeRule

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value, text",
    [
        (timedelta(seconds=30), "不到1分钟"),
        (timedelta(minutes=12), "12分钟"),
        (timedelta(hours=2), "2小时"),
        (timedelta(hours=3, minutes=20, seconds=59), "3小时20分钟"),
        (timedelta(days=1), "1天"),
        (timedelta(days=2, hours=5, minutes=9), "2天5小时"),
        (timedelta(hours=-3), "3小时"),
    ],
)
def test_duration_text(value: timedelta, text: str):
    assert duration_text(value) == text


def clock(status: str, due: timedelta, **kw):
    return clock_line(
        step="部门处理",
        level=kw.pop("level", "breached"),
        status=status,
        due_at=NOW + due,
        now=NOW,
        tz=TZ,
        **kw,
    )


def test_pending_clock_shows_time_left_and_warns_in_the_last_hour():
    line = clock("pending", timedelta(hours=5, minutes=30))
    assert (line.state, line.tone, line.level) == ("剩余 5小时30分钟", "ok", "处理时限")
    assert line.due == "2026-11-23 15:30"
    assert clock("pending", timedelta(minutes=40)).tone == "warning"


def test_late_clock_says_how_late():
    assert clock("fired", timedelta(hours=-26)).state == "已超时 1天2小时"
    assert clock("fired", timedelta(hours=-26)).tone == "danger"
    assert clock("pending", timedelta(minutes=-5)).state == "已超时 5分钟"  # not ticked yet
    assert clock("fired", timedelta(hours=-1), level="warning").tone == "warning"


def test_finished_and_paused_clocks_are_quiet():
    over = clock("fired", timedelta(hours=-1), running=False)
    assert over.state == "已到期（该步骤已结束）" and over.tone == "muted"
    paused = clock("paused", timedelta(hours=1), remaining_seconds=5400)
    assert paused.state == "已暂停（剩余 1小时30分钟）"


def test_target_clocks_read_as_targets():
    assert clock("pending", timedelta(hours=2), level="first_response").level == "首次响应目标"
    missed = clock("fired", timedelta(hours=-3), level="resolution")
    assert (missed.level, missed.state, missed.tone) == ("解决目标", "已超时 3小时", "danger")


def test_assignee_text():
    directory = Directory(
        people={"lisi": Person("lisi", "李四")},
        departments={"product": Department("product", "产品部", "lisi")},
    )
    assert assignee_text(AssigneeRule(person="lisi"), directory) == "李四"
    assert assignee_text(AssigneeRule(role="客服"), directory) == "角色「客服」"
    assert (
        assignee_text(AssigneeRule(department_head="complaint"), directory) == "投诉所在部门负责人"
    )
    assert assignee_text(AssigneeRule(department_head="product"), directory) == "产品部负责人"
    assert assignee_text(AssigneeRule(department="product"), directory) == "产品部（共享队列）"
    assert (
        assignee_text(AssigneeRule(department="complaint"), directory) == "投诉所在部门（共享队列）"
    )
