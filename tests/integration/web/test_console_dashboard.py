"""The console dashboard: KPI tiles this week against last, and every report chart inline."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.appkeys import SERVICE
from bot.config.loader import LoadedConfig
from bot.config.model import CHART_NAMES
from bot.service.clock import FixedClock
from bot.settings import Settings
from tests.integration.web.test_console_list import LOGISTICS, QUALITY, create, to_department


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai


@pytest.fixture
async def console(
    aiohttp_client, app_settings: Settings, app_config: LoadedConfig, clock: FixedClock
) -> AsyncIterator[TestClient]:
    settings = app_settings.model_copy(update={"host": "127.0.0.1"})
    yield await aiohttp_client(create_app(settings, app_config, clock=clock, background=False))


def tile(html: str, key: str) -> str:
    match = re.search(
        rf'data-kpi="{key}">\s*<div class="tile-label">[^<]*</div>\s*'
        r'<div class="tile-value">([^<]*)</div>',
        html,
    )
    assert match is not None, f"no tile {key}"
    return match.group(1)


async def test_dashboard_counts_this_week_and_draws_every_chart(
    console: TestClient, clock: FixedClock
):
    service = console.app[SERVICE]
    clock.advance(timedelta(days=-7))  # one complaint last week
    await create(service, LOGISTICS)
    clock.advance(timedelta(days=7))
    first = await create(service, QUALITY)
    await create(service, QUALITY)
    await create(service, LOGISTICS)
    await to_department(service, first)
    clock.advance(timedelta(hours=30))  # 部门处理 (24 h) and 客服受理 (2 h) run late
    await service.ticker.tick()

    response = await console.get("/console/dashboard")
    assert response.status == 200
    html = await response.text()
    assert "2026-W48" in html
    assert tile(html, "received") == "3"
    assert "上期 1" in html
    assert tile(html, "open_now") == "4"
    assert int(tile(html, "current_breaches")) >= 1
    for name in CHART_NAMES:
        assert f'data-chart="{name}"' in html
    assert "投诉类型占比" in html and "产品质量" in html
    for svg in re.findall(r"<svg .*?</svg>", html, re.S):
        ET.fromstring(svg)  # every inline chart is well-formed
    assert first in html  # in the overdue list


async def test_dashboard_reads_a_period_and_refuses_nonsense(console: TestClient):
    await create(console.app[SERVICE], QUALITY)
    response = await console.get("/console/dashboard?period=2026-11")
    assert response.status == 200
    html = await response.text()
    assert "2026-11" in html and tile(html, "received") == "1"
    assert 'href="?period=2026-10"' in html and 'href="?period=2026-12"' in html
    bad = await console.get("/console/dashboard?period=next-tuesday")
    assert bad.status == 400
    assert "周期无法识别" in await bad.text()


async def test_empty_dashboard_says_there_is_no_data(console: TestClient):
    html = await (await console.get("/console/dashboard")).text()
    assert tile(html, "received") == "0"
    assert "本期暂无数据" in html
