"""The threshold rule under load-shaped traffic (both databases): the example's 产品质量 rule
("5 on one order within 24 h") fires once, at the fifth, while complaints that cannot count
(another type, another order, no order) never load the 24 h window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from bot.channels.base import AdapterContext
from bot.channels.playground import build_adapter
from bot.config.loader import load_config
from bot.service.clock import FixedClock
from bot.service.wiring import Service, build_service
from bot.settings import Settings
from storage.db import Database
from storage.models import Complaint, TimelineEntry
from tests.conftest import EXAMPLE_CONFIG

RULE = "rule:产品质量投诉集中预警"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))


@pytest.fixture
def service(db: Database, clock: FixedClock) -> Service:
    """The domain service on the example config, the playground its only channel."""
    config = load_config(EXAMPLE_CONFIG)
    playground = build_adapter(config.channels["playground"], AdapterContext(clock=clock.now))
    return build_service(Settings(), config, db, {"playground": playground}, clock=clock)


def _values(order: str, kind: str = "产品质量") -> dict[str, str]:
    return {
        "客户姓名": "王小明",
        "联系电话": "13912345678",
        "投诉类型": kind,
        "问题描述": "收到的保温杯有裂缝，一倒水就漏",
        "订单号": order,
    }


async def _create(service: Service, values: dict[str, str]) -> str:
    async with service.rt.db.write() as session:
        lc = await service.complaints.create(
            session, values=values, channel="playground", actor="customer"
        )
    return lc.number


async def test_the_fifth_on_one_order_fires_once_and_others_do_not_count(
    service: Service, clock: FixedClock
):
    selects: list[str] = []

    def seen(conn, cursor, statement, params, context, executemany):  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "FROM complaints" in statement:
            selects.append(statement)

    engine = service.rt.db.write_engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        # Noise that can never count: other types, other orders.
        for order in ("202611230001", "202611230002"):
            await _create(service, _values(order, kind="物流问题"))
        window_loads = len(selects)
        await _create(service, _values("202611239999"))
        numbers = []
        for _ in range(5):
            clock.advance(timedelta(hours=1))
            numbers.append(await _create(service, _values("202611230001")))
        await _create(service, _values("202611230001"))  # the sixth: no second alert
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # 物流问题 complaints never matched the rule: no window was read for them.
    assert window_loads == 0
    async with service.rt.db.read() as session:
        alerts = (
            await session.execute(
                select(Complaint.number, TimelineEntry.summary)
                .join(TimelineEntry, TimelineEntry.complaint_id == Complaint.id)
                .where(TimelineEntry.actor == RULE)
            )
        ).all()
    assert [number for number, _ in alerts] == [numbers[4]]
    assert "5 起质量投诉" in alerts[0][1]
