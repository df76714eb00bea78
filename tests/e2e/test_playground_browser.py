"""The whole product in a real browser: file, accept, branch, remind, resolve, rate.

Each step saves a screenshot under $TEST_ARTIFACTS/<test name>/ (default test-artifacts/).
"""

from __future__ import annotations

import json
import re
import struct
import urllib.request
import zlib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

pytestmark = pytest.mark.e2e

NUMBER = re.compile(r"TS\d{8}-\d{4}")
SHANGHAI = ZoneInfo("Asia/Shanghai")
ANSWERS = (
    ("王小明", "请输入联系电话"),
    ("13912345678", "客户编号"),
    ("跳过", "请选择投诉类型"),
    ("1", "订单号"),
    ("202611230001", "问题描述"),
    ("收到的保温杯有裂缝，一倒水就漏", "相关图片"),
)


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


class Playground:
    """The page, in the words of the product."""

    def __init__(self, page: Page, shots: Path):
        self.page = page
        self.shots = shots
        self.chat = page.locator("#customer-chat")
        self.inbox = page.locator("#staff-feed-box")
        self.step = 0

    def shot(self, name: str) -> None:
        self.step += 1
        self.page.screenshot(path=str(self.shots / f"{self.step:02d}-{name}.png"))

    def customer_says(self, text: str, expected: str) -> None:
        before = self.chat.locator("li.msg.theirs").count()
        self.page.fill("#customer-input", text)
        self.page.press("#customer-input", "Enter")
        expect(self.chat.locator("li.msg.theirs")).to_have_count(before + 1)
        expect(self.chat.locator("li.msg.theirs").last).to_contain_text(expected)

    def open_inbox_of(self, person: str) -> None:
        self.page.locator(f'#people [role="tab"][data-id="{person}"]').click()
        expect(self.page.locator(f'#people [data-id="{person}"]')).to_have_attribute(
            "aria-selected", "true"
        )

    def card(self, number: str, *, with_action: str | None = None) -> Locator:
        has = f':has(button[data-action="{with_action}"])' if with_action else ""
        return self.inbox.locator(f'article.card[data-number="{number}"]{has}').last

    def press(self, number: str, action: str) -> None:
        self.card(number, with_action=action).locator(f'button[data-action="{action}"]').click()


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_a_complaint_from_chat_to_five_stars(
    server: str, browser: Browser, artifacts: Path
) -> None:
    expect.set_options(timeout=15_000)
    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    pg = Playground(page, artifacts)
    try:
        page.goto(f"{server}/playground")
        expect(page.locator("body")).to_have_attribute("data-live", "on")
        pg.shot("start")

        # The person picker works from the keyboard (a tablist: arrow keys move the choice).
        page.locator('#people [data-id="zhangsan"]').focus()
        page.keyboard.press("ArrowRight")
        expect(page.locator('#people [data-id="xiaomei"]')).to_have_attribute(
            "aria-selected", "true"
        )
        expect(page.locator('#people [data-id="xiaomei"]')).to_be_focused()

        # The customer shares a location, then files a complaint with a photo.
        page.click("#attach-toggle")
        page.select_option("#location-preset", "lujiazui")
        page.click("#send-location")
        expect(pg.chat.locator("li.msg.mine.kind-location:not(.pending)")).to_have_count(1)
        page.locator(".menu-item", has_text="我要投诉").click()
        expect(pg.chat.locator("li.msg.theirs").last).to_contain_text("请输入客户姓名")
        for text, expected in ANSWERS:
            pg.customer_says(text, expected)
        page.click("#attach-toggle")
        page.set_input_files(
            "#customer-image",
            files=[{"name": "cup.png", "mimeType": "image/png", "buffer": tiny_png()}],
        )
        expect(pg.chat.locator("li.msg.mine.kind-image:not(.pending) img")).to_have_count(1)
        pg.customer_says("完成", "请确认")
        pg.customer_says("确认提交", "您的投诉已提交")
        found = NUMBER.search(pg.chat.locator("li.msg.theirs").last.inner_text())
        assert found, "the customer is given a complaint number"
        number = found.group(0)
        pg.shot("filed")

        # 客服部: 张三 accepts on his WeCom card, and sees what WeCom and DingTalk would be sent.
        pg.open_inbox_of("zhangsan")
        pg.press(number, "accept")
        expect(pg.card(number, with_action="submit")).to_be_visible()
        expect(pg.chat).to_contain_text(f"您的投诉 {number} 已由 张三 受理")
        pg.shot("accepted")
        card = pg.card(number, with_action="submit")
        card.locator(".raw-toggle").click()
        raw = card.locator(".card-raw")
        expect(raw).to_be_visible()
        expect(raw).to_contain_text('"template_card"')
        expect(raw).to_contain_text('"ZhangSan"')
        raw.locator('.raw-tab[data-platform="dingtalk"]').click()
        expect(raw).to_contain_text('"cardParamMap"')
        pg.shot("platform-payload")
        card.locator(".raw-toggle").click()
        expect(raw).to_be_hidden()
        pg.press(number, "submit")
        expect(pg.card(number)).to_contain_text("已由 张三 提交")

        # 产品质量 branches to 产品部: its head 李四 gets the card on DingTalk and accepts it.
        pg.open_inbox_of("lisi")
        expect(pg.card(number, with_action="accept")).to_contain_text("当前步骤：部门处理")
        expect(pg.card(number)).to_have_class(re.compile("platform-dingtalk"))
        pg.press(number, "accept")
        expect(pg.card(number, with_action="submit")).to_be_visible()
        pg.shot("branched")

        # A day later the 24 h limit has passed: the reminder reaches the department head.
        page.get_by_role("button", name="快进 24 小时").click()
        expect(page.locator("#clock-offset")).to_contain_text("24")
        expect(pg.inbox.locator("li.msg.theirs").last).to_contain_text(
            f"投诉 {number} 的「部门处理」已超过24小时未完成"
        )
        pg.shot("reminder")

        # 李四 writes the solution; 张三 does the follow-up and closes it.
        handling = pg.card(number, with_action="submit")
        handling.locator('[data-input="solution"]').fill("补发新杯并赠送优惠券")
        handling.locator('[data-input="compensation"]').fill("50")
        pg.press(number, "submit")
        expect(pg.card(number)).to_contain_text("已由 李四 提交")
        assert get_json(f"{server}/api/v1/complaints/{number}")["status"] == "resolved"
        pg.shot("resolved")
        pg.open_inbox_of("zhangsan")
        pg.press(number, "accept")
        pg.press(number, "submit")

        # The customer is asked for a score and gives five stars.
        expect(pg.chat.locator("li.msg.theirs").last).to_contain_text("请为本次服务打分")
        pg.customer_says("5", "★★★★★")
        pg.shot("rated")

        # The weekly digest the service sent at start is in the management group, charts and all.
        page.locator('#group-tabs [data-id="management-group"]').click()
        group = page.locator("#group-feed-box")
        expect(group).to_contain_text("客服周报")
        chart = group.locator("li.kind-image img").first
        expect(chart).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=chart.element_handle()
        )
        pg.shot("group-digest")

        # The staff console lists it as closed (open without sign-in: loopback only).
        page.goto(f"{server}/console/complaints")
        row = page.locator("tr", has_text=number)
        expect(row).to_be_visible()
        expect(row).to_contain_text("已关闭")
        pg.shot("console-list")
        complaint = get_json(f"{server}/api/v1/complaints/{number}")
        assert complaint["status"] == "closed"
        assert complaint["values"]["solution"] == "补发新杯并赠送优惠券"
        story = [entry["summary"] for entry in complaint["timeline"]]
        assert "评价 ★★★★★" in story
        assert any("分派至 产品部" in s for s in story)

        # The dashboard counts it: one new complaint in the week it was filed, none still open.
        created = datetime.fromisoformat(complaint["created_at"]).astimezone(SHANGHAI)
        year, week, _ = created.isocalendar()
        period = f"{year}-W{week:02d}"
        page.goto(f"{server}/console/dashboard?period={period}")
        expect(page.locator("body")).to_contain_text(period)
        expect(page.locator('[data-kpi="received"] .tile-value')).to_have_text("1")
        expect(page.locator('[data-kpi="open_now"] .tile-value')).to_have_text("0")
        expect(page.locator('[data-chart="type_share"]')).to_contain_text("产品质量")
        pg.shot("console-dashboard")
        assert errors == [], errors
    except Exception:
        page.screenshot(path=str(artifacts / "failure.png"))
        raise
    finally:
        page.close()
