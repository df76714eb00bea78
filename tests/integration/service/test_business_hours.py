"""Time limits counted in office hours through the service: a working `calendar:` in the config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.channels.base import AdapterContext
from bot.channels.playground import build_adapter
from bot.config.loader import LoadedConfig, load_config_text
from bot.service.clock import FixedClock
from bot.service.wiring import Service, build_service
from bot.settings import Settings
from storage.db import Database
from storage.models import TimelineEntry, Timer
from tests.fakes.configs import example_data

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
}
# Friday 2026-11-27 17:50 in Shanghai (UTC+8): ten working minutes left that day.
FRIDAY_1750 = datetime(2026, 11, 27, 9, 50, tzinfo=UTC)
# Office hours 09:00-12:00 and 13:30-18:00: 4 working hours from Fri 17:50 are 10 min on the
# Friday, 3 h in the morning, then 50 min after lunch: 14:20 on the next working day.
MONDAY_1420 = datetime(2026, 11, 30, 6, 20, tzinfo=UTC)
TUESDAY_1420 = datetime(2026, 12, 1, 6, 20, tzinfo=UTC)
SATURDAY_1420 = datetime(2026, 11, 28, 6, 20, tzinfo=UTC)


def _config(calendar: dict[str, Any]) -> LoadedConfig:
    """The example config with a working calendar and a 4 h limit on 客服受理."""
    data = example_data()
    data["calendar"] = calendar
    for step in data["flows"]["complaint"]["steps"]:
        if step["id"] == "accept":
            step["time_limit"] = "4h"
    return load_config_text(yaml.safe_dump(data, allow_unicode=True), source="business.yaml")


def _service(db: Database, config: LoadedConfig, clock: FixedClock) -> Service:
    playground = build_adapter(config.channels["playground"], AdapterContext(clock=clock.now))
    return build_service(Settings(), config, db, {"playground": playground}, clock=clock)


OFFICE = {"weekdays": [1, 2, 3, 4, 5], "hours": ["09:00-12:00", "13:30-18:00"]}


@pytest.mark.parametrize(
    ("calendar", "due"),
    [
        pytest.param(OFFICE, MONDAY_1420, id="over-the-weekend"),
        pytest.param({**OFFICE, "holidays": ["2026-11-30"]}, TUESDAY_1420, id="monday-holiday"),
        pytest.param(
            {"weekdays": ["周一", "周二", "周三", "周四", "周五"], "holidays": ["2026-11-30"]},
            TUESDAY_1420,
            id="chinese-weekdays-default-hours",
        ),
        pytest.param({**OFFICE, "workdays": ["2026-11-28"]}, SATURDAY_1420, id="adjusted-saturday"),
    ],
)
async def test_a_friday_evening_limit_falls_on_the_next_working_day(
    db: Database, calendar: dict[str, Any], due: datetime
):
    clock = FixedClock(FRIDAY_1750)
    service = _service(db, _config(calendar), clock)
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=QUALITY, channel="playground", actor="customer"
        )
    async with service.rt.db.read() as s:
        timers = (await s.scalars(select(Timer).where(Timer.complaint_id == lc.complaint.id))).all()
    assert [(t.step_id, t.level, t.status, t.due_at) for t in timers] == [
        ("accept", "breached", "pending", due)
    ]

    # The ticker agrees: nothing a minute before, the reminder at the instant.
    clock.at = due - timedelta(minutes=1)
    assert await service.ticker.tick() == 0
    clock.at = due
    assert await service.ticker.tick() == 1
    async with service.rt.db.read() as s:
        notes = (
            await s.scalars(select(TimelineEntry.summary).where(TimelineEntry.kind == "sla"))
        ).all()
    assert notes == ["「客服受理」已超时"]


async def test_without_a_calendar_the_limit_counts_every_hour(db: Database):
    data = example_data()
    for step in data["flows"]["complaint"]["steps"]:
        if step["id"] == "accept":
            step["time_limit"] = "4h"
    config = load_config_text(yaml.safe_dump(data, allow_unicode=True), source="always.yaml")
    service = _service(db, config, FixedClock(FRIDAY_1750))
    async with service.rt.db.write() as s:
        await service.complaints.create(s, values=QUALITY, channel="playground", actor="customer")
    async with service.rt.db.read() as s:
        due = await s.scalar(select(Timer.due_at).where(Timer.step_id == "accept"))
    assert due == FRIDAY_1750 + timedelta(hours=4)
