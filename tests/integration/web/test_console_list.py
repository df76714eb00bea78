"""The console's complaint list: filters, search (Chinese in values and names), paging."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient

from bot.app import create_app
from bot.appkeys import SERVICE
from bot.config.loader import LoadedConfig
from bot.service.clock import FixedClock
from bot.service.wiring import Service
from bot.settings import Settings
from bot.web import console_list
from bot.workflow import Action, ActionKind
from storage.models import Customer

QUALITY = {
    "客户姓名": "王小明",
    "联系电话": "13912345678",
    "投诉类型": "产品质量",
    "问题描述": "收到的保温杯有裂缝，一倒水就漏",
}
LOGISTICS = {
    "客户姓名": "李娜",
    "联系电话": "13987654321",
    "投诉类型": "物流问题",
    "订单号": "123456789012",
    "问题描述": "快递三天没有更新物流信息",
}
SERVICE_ATTITUDE = {
    "联系电话": "13700001111",
    "投诉类型": "服务态度",
    "问题描述": "门店店员态度很差，不理人",
}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai


@pytest.fixture
async def console(
    aiohttp_client, app_settings: Settings, app_config: LoadedConfig, clock: FixedClock
) -> AsyncIterator[TestClient]:
    """The whole app on loopback (console open without sign-in), fixed clock, no loops."""
    settings = app_settings.model_copy(update={"host": "127.0.0.1"})
    yield await aiohttp_client(create_app(settings, app_config, clock=clock, background=False))


async def create(service: Service, values: dict[str, str], *, customer: str | None = None) -> str:
    async with service.rt.db.write() as s:
        person = None
        if customer is not None:
            now = service.rt.now()
            person = Customer(
                channel="playground",
                external_id=f"c-{customer}",
                name=customer,
                phone=values["联系电话"],
                profile={},
                created_at=now,
                updated_at=now,
            )
            s.add(person)
            await s.flush()
        lc = await service.complaints.create(
            s, values=values, channel="playground", actor="customer", customer=person
        )
    return lc.number


async def to_department(service: Service, number: str) -> None:
    """小美 accepts and submits: the complaint moves on to 部门处理 with the department head."""
    async with service.rt.db.write() as s:
        await service.complaints.act(
            s, number, Action(ActionKind.ACCEPT, "xiaomei", task_id="accept.1")
        )
        await service.complaints.act(
            s, number, Action(ActionKind.SUBMIT, "xiaomei", task_id="accept.1")
        )


def numbers(html: str) -> list[str]:
    return re.findall(r'<a href="/console/complaints/(TS[0-9-]+)">', html)


async def page(console: TestClient, query: str = "") -> tuple[int, str]:
    response = await console.get(f"/console/complaints{query}")
    return response.status, await response.text()


async def test_list_shows_complaints_newest_first_with_chinese_labels(console: TestClient):
    service = console.app[SERVICE]
    first = await create(service, QUALITY)
    second = await create(service, LOGISTICS)
    status, html = await page(console)
    assert status == 200
    assert numbers(html) == [second, first]
    assert "待受理" in html and "王小明" in html and "物流问题" in html
    assert "客服受理" in html  # the current step by name
    assert 'class="badge warning"' in html  # the status badge's tone


async def test_filters_by_status_type_department_and_assignee(console: TestClient):
    service = console.app[SERVICE]
    quality = await create(service, QUALITY)
    logistics = await create(service, LOGISTICS)
    await to_department(service, quality)  # now 处理中 with 李四 (产品部)

    assert numbers((await page(console, "?status=in_progress"))[1]) == [quality]
    assert numbers((await page(console, "?status=new"))[1]) == [logistics]
    assert numbers((await page(console, "?type=物流问题"))[1]) == [logistics]
    assert numbers((await page(console, "?department=product"))[1]) == [quality]
    assert numbers((await page(console, "?assignee=lisi"))[1]) == [quality]
    status, html = await page(console, "?status=&type=&department=&assignee=&q=")
    assert status == 200 and len(numbers(html)) == 2  # the form's empty fields filter nothing


async def test_overdue_filter_marks_and_keeps_only_late_complaints(
    console: TestClient, clock: FixedClock
):
    service = console.app[SERVICE]
    late = await create(service, QUALITY)
    clock.advance(timedelta(hours=3))  # 客服受理 has 2 h
    on_time = await create(service, LOGISTICS)
    assert await service.ticker.tick() >= 1
    status, html = await page(console, "?overdue=1")
    assert status == 200 and numbers(html) == [late]
    assert "已超时" in html
    _, everything = await page(console)
    assert numbers(everything) == [on_time, late]
    assert everything.count('class="overdue"') == 1


@pytest.mark.parametrize(
    "text, which",
    [
        ("保温杯", "quality"),  # Chinese in the form values (stored with ensure_ascii=False)
        ("快递", "logistics"),
        ("王小明", "quality"),  # the customer's name as written in the form
        ("赵女士", "attitude"),  # the customer's name on the customer record
        ("1398765", "logistics"),  # part of a phone number
    ],
)
async def test_search_finds_chinese_text_names_and_numbers(
    console: TestClient, text: str, which: str
):
    service = console.app[SERVICE]
    made = {
        "quality": await create(service, QUALITY),
        "logistics": await create(service, LOGISTICS),
        "attitude": await create(service, SERVICE_ATTITUDE, customer="赵女士"),
    }
    status, html = await page(console, f"?q={text}")
    assert status == 200
    assert numbers(html) == [made[which]]


async def test_search_by_complaint_number(console: TestClient):
    service = console.app[SERVICE]
    first = await create(service, QUALITY)
    await create(service, LOGISTICS)
    assert numbers((await page(console, f"?q={first}"))[1]) == [first]


async def test_cursor_paging_walks_every_complaint_once(
    console: TestClient, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(console_list, "PAGE_SIZE", 2)
    service = console.app[SERVICE]
    made = [await create(service, QUALITY) for _ in range(3)]
    _, html = await page(console)
    assert numbers(html) == made[:0:-1]
    next_url = re.search(r'<a href="\?([^"]+)" rel="next">', html)
    assert next_url is not None
    _, rest = await page(console, "?" + next_url.group(1).replace("&amp;", "&"))
    assert numbers(rest) == [made[0]]
    assert 'rel="next"' not in rest


async def test_bad_filter_is_shown_not_a_crash(console: TestClient):
    status, html = await page(console, "?status=nope")
    assert status == 400
    assert "筛选条件有误" in html and "nope" in html
    status, html = await page(console, "?cursor=!!!")
    assert status == 400 and "翻页参数无效" in html


async def test_empty_list_says_so(console: TestClient):
    status, html = await page(console)
    assert status == 200 and "还没有投诉" in html
    home = await console.get("/console", allow_redirects=False)
    assert home.status == 302 and home.headers["Location"] == "/console/complaints"
