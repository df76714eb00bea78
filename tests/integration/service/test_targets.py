"""First-response and resolution targets: a missed one raises target.missed once; a met one
stays quiet; the entry is chosen by the complaint's type and priority (both databases)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config.loader import LoadedConfig, load_config_text
from bot.service.clock import FixedClock
from bot.service.loaded import load_complaint
from bot.service.wiring import Service
from bot.workflow import Action, ActionKind
from storage.models import OutboxMessage, Timer
from tests.conftest import EXAMPLE_CONFIG

LAST_RULE_LINE = '        message: "24小时内同一订单/产品已收到 {count} 起质量投诉，请关注"\n'
MISSED_RULE = """  - name: 超过服务目标提醒客服主管
    when: target.missed
    then:
      - notify: {department_head: cs}
        message: "投诉 {number} 超过{target_kind}目标（{target_limit}，{target_name}）"
"""
TARGETS = """
targets:
  - name: 产品质量
    if: 投诉类型 == "产品质量"
    first_response: 2h
    resolution: 48h
  - name: 一般
    first_response: 4h
"""
QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
}
LOGISTICS = {**QUALITY, "投诉类型": "物流问题", "问题描述": "快递三天没有更新"}


@pytest.fixture
def config() -> LoadedConfig:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert LAST_RULE_LINE in text
    text = text.replace(LAST_RULE_LINE, LAST_RULE_LINE + MISSED_RULE, 1) + TARGETS
    return load_config_text(text, source="targets.yaml", environ={})


async def _create(service: Service, values: dict[str, str]) -> str:
    async with service.rt.db.write() as s:
        lc = await service.complaints.create(
            s, values=values, channel="playground", actor="customer"
        )
    return lc.number


async def _accept(service: Service, number: str) -> None:
    """小美 accepts 客服受理: the complaint's first response."""
    async with service.rt.db.write() as s:
        lc = await load_complaint(s, service.rt, number=number)
        task = lc.state.tasks[0].task_id
        await service.complaints.act(s, number, Action(ActionKind.ACCEPT, "xiaomei", task_id=task))


async def _alerts(service: Service) -> list[str]:
    """What 张三 (head of 客服部) was told about missed targets."""
    async with service.rt.db.read() as s:
        rows = (
            await s.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.target == "user:zhangsan", OutboxMessage.kind == "text")
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [r.payload["text"] for r in rows if "目标（" in r.payload["text"]]


async def _timers(service: Service) -> dict[str, tuple[str, str]]:
    async with service.rt.db.read() as s:
        rows = (await s.scalars(select(Timer).where(Timer.step_id == "target"))).all()
    return {f"{r.subject.split(':')[0]}/{r.level}": (r.status, r.due_at.isoformat()) for r in rows}


async def test_the_first_matching_entry_sets_the_targets(service: Service, clock: FixedClock):
    quality = await _create(service, QUALITY)
    other = await _create(service, LOGISTICS)
    timers = await _timers(service)
    start = clock.now()
    assert timers == {
        f"{quality}/first_response": ("pending", (start + timedelta(hours=2)).isoformat()),
        f"{quality}/resolution": ("pending", (start + timedelta(hours=48)).isoformat()),
        # 一般 has no resolution target.
        f"{other}/first_response": ("pending", (start + timedelta(hours=4)).isoformat()),
    }


async def test_a_missed_first_response_is_raised_once(service: Service, clock: FixedClock):
    number = await _create(service, QUALITY)
    clock.advance(timedelta(hours=1, minutes=59))
    await service.ticker.tick()
    assert await _alerts(service) == []

    clock.advance(timedelta(minutes=2))
    await service.ticker.tick()
    for _ in range(3):
        await service.ticker.tick()
    assert await _alerts(service) == [f"投诉 {number} 超过首次响应目标（2小时，产品质量）"]
    assert (await _timers(service))[f"{number}/first_response"][0] == "fired"


async def test_a_first_response_in_time_keeps_the_target_quiet(service: Service, clock: FixedClock):
    number = await _create(service, QUALITY)
    clock.advance(timedelta(minutes=30))
    await _accept(service, number)
    clock.advance(timedelta(hours=3))
    await service.ticker.tick()
    assert await _alerts(service) == []
    assert (await _timers(service))[f"{number}/first_response"][0] == "cancelled"


async def test_an_unresolved_complaint_misses_its_resolution_target(
    service: Service, clock: FixedClock
):
    number = await _create(service, QUALITY)
    await _accept(service, number)
    clock.advance(timedelta(hours=48, minutes=1))
    await service.ticker.tick()
    alerts = await _alerts(service)
    assert alerts == [f"投诉 {number} 超过解决目标（2天，产品质量）"]


async def test_the_resolution_clock_stops_while_waiting_on_the_customer(
    service: Service, clock: FixedClock
):
    number = await _create(service, QUALITY)
    await _accept(service, number)
    clock.advance(timedelta(hours=10))
    async with service.rt.db.write() as s:
        await service.sla.pause(s, number, actor="person:xiaomei", reason="等客户照片")
    clock.advance(timedelta(hours=40))  # 50 h since creation, 10 h of them counted
    await service.ticker.tick()
    assert await _alerts(service) == []
    async with service.rt.db.write() as s:
        await service.sla.resume(s, number, actor="customer")
    clock.advance(timedelta(hours=37, minutes=59))  # 47 h 59 min counted
    await service.ticker.tick()
    assert await _alerts(service) == []
    clock.advance(timedelta(minutes=2))
    await service.ticker.tick()
    assert await _alerts(service) == [f"投诉 {number} 超过解决目标（2天，产品质量）"]
