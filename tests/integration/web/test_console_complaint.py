"""One complaint's console page: values, attachments, timeline, SLA clocks, the flow diagram."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.appkeys import SERVICE, SETTINGS
from bot.config.loader import LoadedConfig
from bot.service.clock import FixedClock
from bot.settings import Settings
from storage.models import Attachment, Complaint
from tests.integration.web.test_console_list import QUALITY, create, to_department

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai


@pytest.fixture
async def console(
    aiohttp_client, app_settings: Settings, app_config: LoadedConfig, clock: FixedClock
) -> AsyncIterator[TestClient]:
    settings = app_settings.model_copy(update={"host": "127.0.0.1"})
    yield await aiohttp_client(create_app(settings, app_config, clock=clock, background=False))


def inline_svg(html: str) -> ET.Element:
    match = re.search(r"<svg .*?</svg>", html, re.S)
    assert match is not None, "no inline SVG on the page"
    return ET.fromstring(match.group(0))


def step_classes(svg: ET.Element) -> dict[str, str]:
    return {
        g.get("data-step"): g.get("class", "") for g in svg.iter(f"{SVG}g") if g.get("data-step")
    }


async def test_page_shows_values_timeline_and_running_clock(console: TestClient):
    number = await create(console.app[SERVICE], QUALITY)
    response = await console.get(f"/console/complaints/{number}")
    assert response.status == 200
    html = await response.text()
    assert f"投诉 {number}" in html and "待受理" in html
    # Form values by label, with their display text.
    assert "客户姓名" in html and "王小明" in html
    assert "问题描述" in html and "收到的保温杯有裂缝，一倒水就漏" in html
    # Timeline.
    assert "提交了投诉" in html and "进入「客服受理」" in html
    # SLA clock: 客服受理 has 2 h and the clock has not moved.
    assert "客服受理" in html and "处理时限" in html and "剩余 2小时" in html
    assert "2026-11-23 12:00" in html  # due, in Shanghai time


async def test_clock_turns_overdue_after_the_limit(console: TestClient, clock: FixedClock):
    service = console.app[SERVICE]
    number = await create(service, QUALITY)
    clock.advance(timedelta(hours=3, minutes=30))
    await service.ticker.tick()
    html = await (await console.get(f"/console/complaints/{number}")).text()
    assert "已超时 1小时30分钟" in html
    assert '<span class="badge danger">已超时</span>' in html


async def test_flow_diagram_highlights_the_current_step_and_tints_the_visited(
    console: TestClient,
):
    service = console.app[SERVICE]
    number = await create(service, QUALITY)
    await to_department(service, number)
    html = await (await console.get(f"/console/complaints/{number}")).text()
    classes = step_classes(inline_svg(html))
    assert set(classes) == {
        "accept",
        "route",
        "handle",
        "check_amount",
        "signoff",
        "followup",
        "end",
    }
    assert "current" in classes["handle"]
    assert "visited" in classes["accept"] and "visited" in classes["route"]
    assert "current" not in classes["accept"] and "visited" not in classes["followup"]
    # The same drawing alone, as an image.
    alone = await console.get(f"/console/complaints/{number}/flow.svg")
    assert alone.status == 200 and alone.content_type == "image/svg+xml"
    assert "current" in step_classes(ET.fromstring(await alone.text()))["handle"]


async def test_attachments_show_names_kinds_and_download(console: TestClient):
    service = console.app[SERVICE]
    number = await create(service, QUALITY)
    data_dir = console.app[SETTINGS].data_dir
    (data_dir / "attachments").mkdir(parents=True, exist_ok=True)
    (data_dir / "attachments" / "cup.jpg").write_bytes(b"\xff\xd8\xff-a-cup")
    async with service.rt.db.write() as s:
        complaint_id = (
            (await s.execute(Complaint.__table__.select().where(Complaint.number == number)))
            .first()
            .id
        )
        stored = Attachment(
            complaint_id=complaint_id,
            channel="playground",
            media_id=None,
            kind="image",
            file_path="attachments/cup.jpg",
            content_type="image/jpeg",
            size=12,
            meta={"filename": "杯子裂缝.jpg"},
            created_at=service.rt.now(),
        )
        remote = Attachment(
            complaint_id=complaint_id,
            channel="service",
            media_id="MEDIA_123",
            kind="video",
            meta={},
            created_at=service.rt.now(),
        )
        s.add_all([stored, remote])
        await s.flush()
        stored_id = stored.id
    html = await (await console.get(f"/console/complaints/{number}")).text()
    assert "杯子裂缝.jpg" in html and "图片" in html
    assert "视频" in html and "MEDIA_123" in html
    download = await console.get(f"/console/attachments/{stored_id}")
    assert download.status == 200
    assert await download.read() == b"\xff\xd8\xff-a-cup"
    assert "attachment" in download.headers["Content-Disposition"]
    assert (await console.get("/console/attachments/999999")).status == 404


async def test_unknown_complaint_is_a_404_page(console: TestClient):
    response = await console.get("/console/complaints/TS20990101-9999")
    assert response.status == 404
    assert "没有编号为 TS20990101-9999 的投诉" in await response.text()
    assert (await console.get("/console/complaints/TS20990101-9999/flow.svg")).status == 404


async def test_pages_forbid_inline_scripts_and_foreign_sources(console: TestClient):
    response = await console.get("/console/complaints")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    html = await response.text()
    assert "<script>" not in html and "http://" not in html.replace("http://www.w3.org", "")
    css = await console.get("/console/static/console.css")
    assert css.status == 200 and css.content_type == "text/css"
    assert (await console.get("/console/static/console.js")).status == 200
    assert (await console.get("/console/static/..%2Fauth.py")).status == 404
